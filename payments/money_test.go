package payments_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

var manager = paymentstest.Manager

func TestPartialCaptureThenRefundOfAPreauth(t *testing.T) {
	e := paymentstest.New(t, "")
	pre := e.Approved(2000, models.KindPreauth)
	_, err := e.Operate(pre, models.KindRefund, 500, "nothing charged yet")
	paymentstest.RefusedWith(t, err, "capture the preauth first")
	capture := e.Settled(pre, models.KindCapture, 1500, "", models.TxApproved)
	if capture.RequestSerial == "" || capture.ApprovalCode == "" || capture.ParentOrderID != pre.ClientOrderID {
		t.Errorf("capture %+v", capture)
	}
	ops := e.GW.Operations(pre.ClientOrderID)
	if len(ops) != 1 || ops[0].Kind != "capture" || ops[0].AmountMinor != 1500 || ops[0].Status != "approved" || ops[0].SerialNumber != capture.RequestSerial {
		t.Fatalf("gateway operations: %+v", ops)
	}
	_, err = e.Operate(pre, models.KindCapture, 500, "")
	paymentstest.RefusedWith(t, err, "captured once")
	_, err = e.Operate(pre, models.KindRelease, 2000, "")
	paymentstest.RefusedWith(t, err, "refund it instead")
	e.Settled(pre, models.KindRefund, 1500, "returned", models.TxApproved)
	if got, _ := e.Tx.ByID(context.Background(), pre.ID); got.State != models.TxApproved {
		t.Errorf("the preauth itself: %s", got.State)
	}
	all, _ := e.Tx.Operations(context.Background(), pre.ID)
	if b := models.BalanceOf(pre, all); !b.Captured || b.Taken != 1500 || b.Refunded != 1500 || b.Refundable != 0 {
		t.Errorf("balance %+v", b)
	}
}

func TestReleaseOfAPreauth(t *testing.T) {
	e := paymentstest.New(t, "")
	pre := e.Approved(3000, models.KindPreauth)
	_, err := e.Operate(pre, models.KindRelease, 1000, "")
	paymentstest.RefusedWith(t, err, "whole hold")
	e.Settled(pre, models.KindRelease, 3000, "", models.TxApproved)
	if ops := e.GW.Operations(pre.ClientOrderID); len(ops) != 1 || ops[0].Kind != "reversal" || ops[0].Status != "approved" {
		t.Fatalf("gateway operations: %+v", ops)
	}
	_, err = e.Operate(pre, models.KindCapture, 3000, "")
	paymentstest.RefusedWith(t, err, "was released")
}

// Two partial refunds, then one more than remains: refused here with the amount that
// remains, before anything reaches the gateway. A double submit of one form is one refund.
func TestPartialRefundsDoubleSubmitAndOverRefund(t *testing.T) {
	e := paymentstest.New(t, "")
	sale := e.Approved(1500, models.KindSale)
	var wg sync.WaitGroup
	results := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := e.Pay.Operate(context.Background(), payments.OperationInput{Key: "same-form", ParentID: sale.ID, Kind: models.KindRefund,
				AmountMinor: 500, Reason: "damaged", Actor: manager})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil && !errors.Is(err, payments.ErrAlreadyDone) {
			t.Errorf("double submit: %v", err)
		}
	}
	ops, _ := e.Tx.Operations(context.Background(), sale.ID)
	if len(ops) != 1 {
		t.Fatalf("four submits of one form made %d refunds", len(ops))
	}
	e.WaitState(ops[0].ID, models.TxApproved, true)
	e.Settled(sale, models.KindRefund, 700, "second item", models.TxApproved)
	_, err := e.Operate(sale, models.KindRefund, 400, "too much")
	paymentstest.RefusedWith(t, err, "At most 3.00\u00a0EUR can still be refunded")
	if ops := e.GW.Operations(sale.ClientOrderID); len(ops) != 2 {
		t.Errorf("gateway has %d returns, want 2", len(ops))
	}
	// A declined refund (cents .51) leaves the amount refundable.
	e.Settled(sale, models.KindRefund, 51, "declined one", models.TxDeclined)
	e.Settled(sale, models.KindRefund, 300, "the rest", models.TxApproved)
}

// A 502 on the return: the portal asks the gateway before anything else and never sends a
// second return.
func TestReturnWithLostAnswerIsFoundNotResent(t *testing.T) {
	e := paymentstest.New(t, "")
	sale := e.Approved(2500, models.KindSale)
	e.GW.SetFaults(sandbox.Faults{Money5xxAfterCreate: 1, CallbacksOff: true}) // no notice can overtake the lost answer
	op, err := e.Operate(sale, models.KindRefund, 1000, "lost answer")
	if err != nil {
		t.Fatal(err)
	}
	e.WaitFor(op.ID, "the lost answer is recorded", func(t models.Transaction) bool { return t.State != models.TxSending })
	got := e.WaitState(op.ID, models.TxApproved, true)
	if got.RequestSerial == "" {
		t.Error("the refund's serial was not learnt")
	}
	if ops := e.GW.Operations(sale.ClientOrderID); len(ops) != 1 || ops[0].SerialNumber != got.RequestSerial {
		t.Errorf("gateway operations after a lost answer: %+v", ops)
	}
	evs, _ := e.Tx.Events(context.Background(), op.ID)
	var unknown bool
	for _, ev := range evs {
		unknown = unknown || ev.ToState == models.TxUnknown
	}
	if !unknown {
		t.Error("the timeline does not show the unknown outcome")
	}
}

// The receiver rule (§13.4): a replayed approved sale callback relabelled type=reversal is
// correctly signed, but no refund is waiting: nothing changes.
func TestReversalCallbackWithoutARefundChangesNothing(t *testing.T) {
	e := paymentstest.New(t, "")
	sale := e.Approved(1200, models.KindSale)
	q := (mapi.Callback{Status: mapi.StatusApproved, OrderID: sale.GatewayOrderID, MerchantOrder: sale.ClientOrderID, Type: "reversal",
		Amount: "12.00", ApprovalCode: "123456"}).Query(e.Key)
	outcome, err := applyCallback(e, q)
	if err != nil || outcome != payments.CallbackNotWaiting {
		t.Fatalf("reversal callback: %s %v", outcome, err)
	}
	if ops, _ := e.Tx.Operations(context.Background(), sale.ID); len(ops) != 0 {
		t.Errorf("a callback created %d operations", len(ops))
	}
	if got, _ := e.Tx.ByID(context.Background(), sale.ID); got.State != models.TxApproved || got.Kind != models.KindSale {
		t.Errorf("the sale: %s %s", got.Kind, got.State)
	}
	// A capture callback for a sale is the same.
	q.Set("type", "capture")
	q.Set("control", mapi.CallbackControl(string(mapi.StatusApproved), sale.GatewayOrderID, sale.ClientOrderID, e.Key))
	if outcome, err := applyCallback(e, q); err != nil || outcome != payments.CallbackNotWaiting {
		t.Errorf("capture callback: %s %v", outcome, err)
	}
}

// Preauths past the endpoint's automatic release age are released by the system, once.
func TestStalePreauthsAreReleased(t *testing.T) {
	e := paymentstest.New(t, "")
	e.DB.Exec("INSERT INTO endpoints (id, name, endpoint_id, login, control_key, currency, base_url, enabled, preauth_warn_days, preauth_release_days) VALUES (1, 'Main', '1', 'l', 'k', 'EUR', 'http://x', true, 2, 5)")
	old := e.Approved(900, models.KindPreauth)
	young := e.Approved(700, models.KindPreauth)
	e.DB.Model(&models.Transaction{}).Where("id = ?", old.ID).Update("created_at", e.Now.Now().AddDate(0, 0, -6))
	n, err := e.Pay.ReleaseStale(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("released %d, %v", n, err)
	}
	ops, _ := e.Tx.Operations(context.Background(), old.ID)
	if len(ops) != 1 || ops[0].Kind != models.KindRelease || ops[0].StartedByName != "system" {
		t.Fatalf("operations of the old preauth: %+v", ops)
	}
	e.WaitState(ops[0].ID, models.TxApproved, true)
	if ops, _ := e.Tx.Operations(context.Background(), young.ID); len(ops) != 0 {
		t.Error("a young preauth was released")
	}
	if n, _ := e.Pay.ReleaseStale(context.Background()); n != 0 {
		t.Errorf("released again: %d", n)
	}
	// The job's release is audited by the service, once, as the system's.
	es := e.Audit.Events("payment.auto_release")
	if len(es) != 1 || es[0].ActorName != "system" || es[0].Subject != ops[0].ClientOrderID ||
		es[0].Detail != fmt.Sprintf("preauth %s 9.00 EUR held 6 days: released automatically", old.ClientOrderID) {
		t.Errorf("the automatic release's audit: %+v", es)
	}
	if es := e.Audit.Events("payment.release"); len(es) != 0 {
		t.Errorf("the automatic release is audited twice: %+v", es)
	}
}
