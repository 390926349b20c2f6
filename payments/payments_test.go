package payments_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

func TestPaymentApprovedByCallback(t *testing.T) {
	e := paymentstest.New(t, "")
	tx := e.Start(1042, models.KindSale, "visa")
	got := e.WaitState(tx.ID, models.TxApproved, false)
	if got.GatewayOrderID == "" || len(got.ApprovalCode) != 6 || got.CardLast4 != "1111" || got.CardBIN != "411111" ||
		got.CardBrand != "VISA" || got.NextCheckAt != nil || got.FinalAt == nil {
		t.Errorf("approved payment %+v", got)
	}
	res := e.Expect(devices.TypeResult).(devices.Result)
	if res.Tx != tx.ClientOrderID || res.Status != "approved" {
		t.Errorf("reader told %+v", res)
	}
	// The gateway's retry of the same callback, a forged one and a mismatched one change nothing.
	cb := mapi.Callback{Status: "approved", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "10.42"}
	if out, err := applyCallback(e, cb.Query(e.Key)); err != nil || out != payments.CallbackDuplicate {
		t.Errorf("repeated callback: %s, %v", out, err)
	}
	forged := mapi.Callback{Status: "declined", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "10.42"}
	if _, err := applyCallback(e, forged.Query("guessed-key")); !errors.Is(err, mapi.ErrBadControl) {
		t.Errorf("forged callback: %v", err)
	}
	other := mapi.Callback{Status: "declined", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "99.99"}
	if _, err := applyCallback(e, other.Query(e.Key)); !errors.Is(err, payments.ErrCallbackMismatch) {
		t.Errorf("amount mismatch: %v", err)
	}
	late := mapi.Callback{Status: "declined", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "10.42"}
	if out, err := applyCallback(e, late.Query(e.Key)); err != nil || out != payments.CallbackConflict {
		t.Errorf("contradicting callback: %s, %v", out, err)
	}
	unknown := mapi.Callback{Status: "approved", OrderID: "1", MerchantOrder: "PNOTOURS", Type: "sale", Amount: "1.00"}
	if out, err := applyCallback(e, unknown.Query(e.Key)); err != nil || out != payments.CallbackUnknown {
		t.Errorf("unknown order: %s, %v", out, err)
	}
	final, _ := e.Tx.ByID(context.Background(), tx.ID)
	if final.State != models.TxApproved || final.ApprovalCode != got.ApprovalCode {
		t.Errorf("after the bad callbacks: %s %s", final.State, final.ApprovalCode)
	}
}

func TestPaymentOutcomesByPollingWithCallbacksLost(t *testing.T) {
	e := paymentstest.New(t, "")
	e.GW.SetFaults(sandbox.Faults{CallbacksOff: true})
	for _, tt := range []struct {
		amount int64
		kind   models.TxKind
		card   string
		want   models.TxState
		code   string
	}{
		{1051, models.KindSale, "visa", models.TxDeclined, "51"},
		{1066, models.KindSale, "visa", models.TxFiltered, "66"},
		{1091, models.KindSale, "visa", models.TxError, "91"},
		{1000, models.KindSale, "visa-expired", models.TxDeclined, "54"},
		{1077, models.KindPreauth, "mastercard", models.TxApproved, ""}, // long processing: only polling finishes it
		{1078, models.KindSale, "visa", models.TxApproved, ""},          // unknown for a while
	} {
		tx := e.Start(tt.amount, tt.kind, tt.card)
		got := e.WaitState(tx.ID, tt.want, true)
		if got.ErrorCode != tt.code || (tt.code != "" && got.ErrorMessage == "") {
			t.Errorf("%d: code %q message %q", tt.amount, got.ErrorCode, got.ErrorMessage)
		}
		e.Expect(devices.TypeResult)
	}
}

func TestSaleTimeoutRecoversByClientOrderID(t *testing.T) {
	e := paymentstest.New(t, "")
	e.GW.SetFaults(sandbox.Faults{Sync5xxAfterCreate: 1, CallbacksOff: true})
	tx := e.Start(1000, models.KindSale, "visa")
	got := e.WaitState(tx.ID, models.TxUnknown, false)
	if got.GatewayOrderID != "" {
		t.Errorf("an order id after a 502: %s", got.GatewayOrderID)
	}
	got = e.WaitState(tx.ID, models.TxApproved, true)
	if got.GatewayOrderID == "" {
		t.Error("the order id was not learnt from the status request")
	}
	evs, _ := e.Tx.Events(context.Background(), tx.ID)
	requests := 0
	for _, ev := range evs {
		if ev.Source == "response" {
			requests++
		}
	}
	if requests != 1 {
		t.Errorf("%d sale responses recorded, want 1: the sale must not be resent", requests)
	}
}

func TestCancelAndCardErrors(t *testing.T) {
	e := paymentstest.New(t, "")
	ctx := context.Background()
	tx, err := e.Pay.Start(ctx, payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 500, Actor: payments.Actor{Name: "sam"}})
	if err != nil {
		t.Fatal(err)
	}
	e.Expect(devices.TypePresentCard)
	if _, err := e.Pay.Cancel(ctx, tx.ID, payments.Actor{Name: "sam"}); err != nil {
		t.Fatal(err)
	}
	e.Expect(devices.TypeCancel)
	card, _ := virtual.CardByID("visa")
	read, _ := e.Reader.Read(card, virtual.Chip)
	e.Pay.CardRead(ctx, e.Reader.Serial, &devices.CardRead{Tx: tx.ClientOrderID, EncryptedData: read.EncryptedData, KSN: read.KSN, EncryptedType: "dukpt-tdes", EntryMode: "chip"})
	got, _ := e.Tx.ByID(ctx, tx.ID)
	if got.State != models.TxCancelled || got.GatewayOrderID != "" {
		t.Errorf("card read after cancel: %+v", got)
	}
	tx2, _ := e.Pay.Start(ctx, payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 500, Actor: payments.Actor{Name: "sam"}})
	e.Expect(devices.TypePresentCard)
	e.Pay.CardError(ctx, e.Reader.Serial, &devices.CardError{Tx: tx2.ClientOrderID, Reason: devices.CardErrorTimeout})
	got, _ = e.Tx.ByID(ctx, tx2.ID)
	if got.State != models.TxFailed || got.ErrorMessage != "no card was presented in time" {
		t.Errorf("card timeout: %+v", got)
	}
	var se *models.ValidationError
	for _, in := range []payments.StartInput{
		{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 0},
		{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: -100},
		{ReaderID: e.ReaderID, Kind: "refund", AmountMinor: 100},
		{ReaderID: 999, Kind: models.KindSale, AmountMinor: 100},
	} {
		if _, err := e.Pay.Start(ctx, in); !errors.As(err, &se) {
			t.Errorf("Start(%+v) = %v, want a refusal", in, err)
		}
	}
}

func TestRestartMidProcessingAndReviewDeadline(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "portal.db")
	e := paymentstest.New(t, dbPath)
	e.GW.SetFaults(sandbox.Faults{CallbacksOff: true})
	tx := e.Start(1077, models.KindSale, "visa")
	e.WaitState(tx.ID, models.TxProcessing, false)
	e.Pay.Close()
	// A new portal process on the same database: the schedule is in the rows.
	e2 := paymentstest.New(t, dbPath)
	e2.GW.SetFaults(sandbox.Faults{CallbacksOff: true})
	due, _ := e2.Pay.DueStatusChecks(context.Background(), time.Now().Add(time.Hour), 10)
	if len(due) != 1 || due[0].ID != tx.ID {
		t.Fatalf("after restart the due checks are %v, want [%d]", due, tx.ID)
	}
	// Its sandbox is a different gateway that never saw the order: after the deadline, and one
	// last question, it is for review, and it is still asked about every few minutes.
	e2.Now.Add(payments.CheckDeadline + time.Minute)
	e2.Poll()
	got, _ := e2.Tx.ByID(context.Background(), tx.ID)
	if got.State != models.TxNeedsReview || got.NextCheckAt == nil || got.NextCheckAt.Sub(e2.Now.Now()) < payments.ReviewEvery-time.Second {
		t.Errorf("past the polling deadline: %s next %v", got.State, got.NextCheckAt)
	}
}

// A process that dies mid-payment leaves rows behind; the watchdogs settle them on the same
// poller schedule: a payment still waiting for its card fails (nothing was sent), and a
// payment still "sending" is asked for by client_orderid and takes the gateway's answer.
func TestWatchdogsSettlePaymentsOfADeadProcess(t *testing.T) {
	e := paymentstest.New(t, "")
	ctx := context.Background()
	waiting, err := e.Pay.Start(ctx, payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 500, Actor: payments.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		t.Fatal(err)
	}
	e.Expect(devices.TypePresentCard)
	// Two payments whose card was read by a process that then died: one request reached the
	// gateway, one never left.
	reached := e.Request(1042)
	if _, err := e.Client.Sale(ctx, reached); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Second)
	mk := func(order string) models.Transaction {
		tx := models.Transaction{ClientOrderID: order, EndpointID: 1, ReaderID: e.ReaderID, ReaderSerial: e.Reader.Serial,
			Kind: models.KindSale, AmountMinor: 1042, Currency: "EUR", State: models.TxSending, NextCheckAt: &past}
		if err := e.Tx.Create(ctx, &tx, "test"); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	sent, lost := mk(reached.ClientOrderID), mk(payments.NewClientOrderID())

	// Before the watchdog is due nothing happens to the waiting payment.
	e.Poll()
	if got, _ := e.Tx.ByID(ctx, waiting.ID); got.State != models.TxWaitingCard {
		t.Fatalf("waiting payment is %s before its watchdog", got.State)
	}
	if got := e.WaitState(sent.ID, models.TxApproved, true); got.GatewayOrderID == "" {
		t.Errorf("the recovered sale has no gateway order id")
	}
	// "Not found" once proves nothing (the request may still arrive): outcome unknown until
	// the window has passed and the gateway said so several times.
	e.Poll()
	e.WaitState(lost.ID, models.TxUnknown, false)
	for range payments.UnknownAnswers + 1 {
		e.Poll()
	}
	if got, _ := e.Tx.ByID(ctx, lost.ID); got.State != models.TxUnknown || got.NotFound < payments.UnknownAnswers {
		t.Fatalf("within the window the lost request is %s after %d answers, want unknown_outcome", got.State, got.NotFound)
	}
	e.Now.Add(payments.DefaultUnknownWindow)
	if got := e.WaitState(lost.ID, models.TxFailed, true); got.GatewayOrderID != "" || got.ErrorMessage == "" {
		t.Errorf("the lost request got order %s (%q)", got.GatewayOrderID, got.ErrorMessage)
	}
	e.Now.Add(payments.CardTimeout + time.Minute)
	e.Poll()
	got, _ := e.Tx.ByID(ctx, waiting.ID)
	if got.State != models.TxFailed || got.NextCheckAt != nil {
		t.Errorf("waiting payment past its watchdog: %s next %v", got.State, got.NextCheckAt)
	}
	if l, _ := e.GW.Ledger(); len(l) != 1 {
		t.Errorf("the gateway has %d orders, want 1", len(l))
	}
}

// misdirected is a gateway whose status answers are about another order.
type misdirected struct{ payments.Gateway }

func (misdirected) Status(context.Context, mapi.StatusRequest) (*mapi.StatusResponse, error) {
	return &mapi.StatusResponse{Status: mapi.StatusApproved, MerchantOrderID: "SOMEONE-ELSE", OrderID: "1", ApprovalCode: "999999"}, nil
}

type misdirectedGateways struct{}

func (misdirectedGateways) Gateway(context.Context, uint) (payments.Gateway, payments.Merchant, error) {
	return misdirected{}, payments.Merchant{Currency: "EUR"}, nil
}

func TestStatusAnswerAboutAnotherOrderChangesNothing(t *testing.T) {
	e := paymentstest.New(t, "")
	ctx := context.Background()
	past := time.Now().Add(-time.Second)
	tx := models.Transaction{ClientOrderID: "PMINE", GatewayOrderID: "1969999", EndpointID: 1, ReaderID: e.ReaderID, ReaderSerial: e.Reader.Serial,
		Kind: models.KindSale, AmountMinor: 1042, Currency: "EUR", State: models.TxProcessing, NextCheckAt: &past}
	if err := e.Tx.Create(ctx, &tx, "test"); err != nil {
		t.Fatal(err)
	}
	e.Pay.Gateways = misdirectedGateways{}
	if err := e.Pay.CheckStatus(ctx, models.DueCheck{ID: tx.ID, Due: past}); !errors.Is(err, payments.ErrCallbackMismatch) {
		t.Fatalf("CheckStatus = %v, want a mismatch", err)
	}
	got, _ := e.Tx.ByID(ctx, tx.ID)
	if got.State != models.TxProcessing || got.ApprovalCode != "" || got.NextCheckAt == nil {
		t.Errorf("after a misdirected answer: %s approval %q next %v", got.State, got.ApprovalCode, got.NextCheckAt)
	}
}

// A payment above the endpoint's confirmation amount needs the amount typed twice; nothing
// reaches the reader until it is.
func TestLargePaymentNeedsTheAmountTwice(t *testing.T) {
	e := paymentstest.New(t, "")
	e.Gateways.ConfirmAbove = 50000
	start := func(again string) error {
		_, err := e.Pay.Start(context.Background(), payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 100000,
			AmountAgain: again, Actor: payments.Actor{ID: 1, Name: "sam"}})
		return err
	}
	for again, want := range map[string]string{"": "type it again", "100.00": "differ", "1000,01": "differ"} {
		var se *models.ValidationError
		if err := start(again); !errors.As(err, &se) || se.Field() != "amount_again" || !strings.Contains(se.Message(), want) {
			t.Errorf("typed again %q: %v, want a refusal saying %q", again, err, want)
		}
	}
	select {
	case m := <-e.Sent:
		t.Fatalf("the reader was asked before the amount was confirmed: %#v", m)
	default:
	}
	if err := start("1000,00"); err != nil {
		t.Fatalf("confirmed: %v", err)
	}
	e.Expect(devices.TypePresentCard)
}

// applyCallback applies a callback that came to endpoint 1, returning its outcome.
func applyCallback(e *paymentstest.Env, q url.Values) (payments.CallbackOutcome, error) {
	res, err := e.Pay.ApplyCallback(context.Background(), payments.Callback{EndpointID: 1, Key: e.Key, Query: q})
	return res.Outcome, err
}
