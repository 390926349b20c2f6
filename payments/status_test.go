package payments_test

import (
	"context"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// Status checks that settle a payment whose request or card read went astray.

// A sale request that reaches the gateway after the client gave up: "not found" once is not
// the end; the payment stays "outcome unknown" and takes the gateway's approval.
func TestLateSaleRequestIsNotFailedEarly(t *testing.T) {
	e := paymentstest.New(t, "")
	e.GW.SetFaults(sandbox.Faults{DelaySale: 3 * time.Second, DelaySaleCount: 1, CallbacksOff: true})
	tx := e.Start(1000, models.KindSale, "visa")
	e.WaitState(tx.ID, models.TxUnknown, false) // the client's 2 s timeout
	e.Poll()
	got, _ := e.Tx.ByID(context.Background(), tx.ID)
	if got.State != models.TxUnknown || got.NotFound != 1 {
		t.Fatalf("after one 'not found': %s (%d answers)", got.State, got.NotFound)
	}
	got = e.WaitState(tx.ID, models.TxApproved, true)
	if got.GatewayOrderID == "" || got.Review != "" {
		t.Errorf("approved late request: order %q review %q", got.GatewayOrderID, got.Review)
	}
}

// A payment still "waiting for card" whose order the gateway has (its card read was never
// recorded: a database restored from a backup taken mid-payment) takes the gateway's status
// at the card watchdog instead of failing as "not charged".
func TestCardWatchdogAsksTheGatewayFirst(t *testing.T) {
	e := paymentstest.New(t, "")
	e.GW.SetFaults(sandbox.Faults{CallbacksOff: true})
	tx, err := e.Pay.Start(context.Background(), payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 1042,
		Actor: payments.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		t.Fatal(err)
	}
	e.Expect(devices.TypePresentCard)
	req := e.Request(1042)
	req.ClientOrderID = tx.ClientOrderID
	if _, err := e.Client.Sale(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	e.WaitGateway(tx.ClientOrderID, "approved")
	e.Now.Add(payments.CardTimeout + time.Minute)
	e.Poll()
	if got, _ := e.Tx.ByID(context.Background(), tx.ID); got.State != models.TxApproved || got.GatewayOrderID == "" {
		t.Errorf("past the card timeout with the order at the gateway: %s (order %q), want approved", got.State, got.GatewayOrderID)
	}
}
