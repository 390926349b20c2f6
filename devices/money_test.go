package devices_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
)

var manager = devices.Actor{ID: 7, Name: "mia"}

// approved takes a payment of kind to approved (by callback).
func (e *payEnv) approved(amount int64, kind models.TxKind) models.Transaction {
	e.t.Helper()
	tx := e.start(amount, kind, "visa")
	tx = e.waitState(tx.ID, models.TxApproved, true)
	e.expect(devices.TypeResult)
	return tx
}

var opKeys int

// operate asks for an operation with a fresh one-time key.
func (e *payEnv) operate(parent models.Transaction, kind models.TxKind, amount int64, reason string) (models.Transaction, error) {
	opKeys++
	return e.pay.Operate(context.Background(), devices.OperationInput{Key: fmt.Sprintf("key-%d", opKeys), ParentID: parent.ID,
		Kind: kind, AmountMinor: amount, Reason: reason, Actor: manager})
}

// settled asks for an operation and waits for its final state.
func (e *payEnv) settled(parent models.Transaction, kind models.TxKind, amount int64, reason string, want models.TxState) models.Transaction {
	e.t.Helper()
	op, err := e.operate(parent, kind, amount, reason)
	if err != nil {
		e.t.Fatalf("%s %d: %v", kind, amount, err)
	}
	return e.waitState(op.ID, want, true)
}

func refusedWith(t *testing.T, err error, want string) {
	t.Helper()
	var oerr *models.OperationError
	if !errors.As(err, &oerr) || !strings.Contains(oerr.Message, want) {
		t.Errorf("got %v, want a refusal with %q", err, want)
	}
}

func TestPartialCaptureThenRefundOfAPreauth(t *testing.T) {
	e := newPayEnv(t, "")
	pre := e.approved(2000, models.KindPreauth)
	_, err := e.operate(pre, models.KindRefund, 500, "nothing charged yet")
	refusedWith(t, err, "capture the preauth first")
	capture := e.settled(pre, models.KindCapture, 1500, "", models.TxApproved)
	if capture.RequestSerial == "" || capture.ApprovalCode == "" || capture.ParentOrderID != pre.ClientOrderID {
		t.Errorf("capture %+v", capture)
	}
	ops := e.gw.Operations(pre.ClientOrderID)
	if len(ops) != 1 || ops[0].Kind != "capture" || ops[0].AmountMinor != 1500 || ops[0].Status != "approved" || ops[0].SerialNumber != capture.RequestSerial {
		t.Fatalf("gateway operations: %+v", ops)
	}
	_, err = e.operate(pre, models.KindCapture, 500, "")
	refusedWith(t, err, "captured once")
	_, err = e.operate(pre, models.KindRelease, 2000, "")
	refusedWith(t, err, "refund it instead")
	e.settled(pre, models.KindRefund, 1500, "returned", models.TxApproved)
	if got, _ := e.tx.ByID(context.Background(), pre.ID); got.State != models.TxApproved {
		t.Errorf("the preauth itself: %s", got.State)
	}
	all, _ := e.tx.Operations(context.Background(), pre.ID)
	if b := models.BalanceOf(pre, all); !b.Captured || b.Taken != 1500 || b.Refunded != 1500 || b.Refundable != 0 {
		t.Errorf("balance %+v", b)
	}
}

func TestReleaseOfAPreauth(t *testing.T) {
	e := newPayEnv(t, "")
	pre := e.approved(3000, models.KindPreauth)
	_, err := e.operate(pre, models.KindRelease, 1000, "")
	refusedWith(t, err, "whole hold")
	e.settled(pre, models.KindRelease, 3000, "", models.TxApproved)
	if ops := e.gw.Operations(pre.ClientOrderID); len(ops) != 1 || ops[0].Kind != "reversal" || ops[0].Status != "approved" {
		t.Fatalf("gateway operations: %+v", ops)
	}
	_, err = e.operate(pre, models.KindCapture, 3000, "")
	refusedWith(t, err, "was released")
}

// Two partial refunds, then one more than remains: refused here with the amount that
// remains, before anything reaches the gateway. A double submit of one form is one refund.
func TestPartialRefundsDoubleSubmitAndOverRefund(t *testing.T) {
	e := newPayEnv(t, "")
	sale := e.approved(1500, models.KindSale)
	var wg sync.WaitGroup
	results := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := e.pay.Operate(context.Background(), devices.OperationInput{Key: "same-form", ParentID: sale.ID, Kind: models.KindRefund,
				AmountMinor: 500, Reason: "damaged", Actor: manager})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil && !errors.Is(err, devices.ErrAlreadyDone) {
			t.Errorf("double submit: %v", err)
		}
	}
	ops, _ := e.tx.Operations(context.Background(), sale.ID)
	if len(ops) != 1 {
		t.Fatalf("four submits of one form made %d refunds", len(ops))
	}
	e.waitState(ops[0].ID, models.TxApproved, true)
	e.settled(sale, models.KindRefund, 700, "second item", models.TxApproved)
	_, err := e.operate(sale, models.KindRefund, 400, "too much")
	refusedWith(t, err, "At most 3.00\u00a0EUR can still be refunded")
	if ops := e.gw.Operations(sale.ClientOrderID); len(ops) != 2 {
		t.Errorf("gateway has %d returns, want 2", len(ops))
	}
	// A declined refund (cents .51) leaves the amount refundable.
	e.settled(sale, models.KindRefund, 51, "declined one", models.TxDeclined)
	e.settled(sale, models.KindRefund, 300, "the rest", models.TxApproved)
}

// A 502 on the return: the portal asks the gateway before anything else and never sends a
// second return.
func TestReturnWithLostAnswerIsFoundNotResent(t *testing.T) {
	e := newPayEnv(t, "")
	sale := e.approved(2500, models.KindSale)
	e.gw.SetFaults(sandbox.Faults{Money5xxAfterCreate: 1})
	op, err := e.operate(sale, models.KindRefund, 1000, "lost answer")
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor(op.ID, "the lost answer is recorded", func(t models.Transaction) bool { return t.State != models.TxSending })
	got := e.waitState(op.ID, models.TxApproved, true)
	if got.RequestSerial == "" {
		t.Error("the refund's serial was not learnt")
	}
	if ops := e.gw.Operations(sale.ClientOrderID); len(ops) != 1 || ops[0].SerialNumber != got.RequestSerial {
		t.Errorf("gateway operations after a lost answer: %+v", ops)
	}
	evs, _ := e.tx.Events(context.Background(), op.ID)
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
	e := newPayEnv(t, "")
	sale := e.approved(1200, models.KindSale)
	q := (mapi.Callback{Status: mapi.StatusApproved, OrderID: sale.GatewayOrderID, MerchantOrder: sale.ClientOrderID, Type: "reversal",
		Amount: "12.00", ApprovalCode: "123456"}).Query(e.key)
	outcome, _, err := e.pay.ApplyCallback(context.Background(), 1, e.key, q)
	if err != nil || outcome != devices.CallbackNotWaiting {
		t.Fatalf("reversal callback: %s %v", outcome, err)
	}
	if ops, _ := e.tx.Operations(context.Background(), sale.ID); len(ops) != 0 {
		t.Errorf("a callback created %d operations", len(ops))
	}
	if got, _ := e.tx.ByID(context.Background(), sale.ID); got.State != models.TxApproved || got.Kind != models.KindSale {
		t.Errorf("the sale: %s %s", got.Kind, got.State)
	}
	// A capture callback for a sale is the same.
	q.Set("type", "capture")
	q.Set("control", mapi.CallbackControl(string(mapi.StatusApproved), sale.GatewayOrderID, sale.ClientOrderID, e.key))
	if outcome, _, err := e.pay.ApplyCallback(context.Background(), 1, e.key, q); err != nil || outcome != devices.CallbackNotWaiting {
		t.Errorf("capture callback: %s %v", outcome, err)
	}
}

// With refunds and captures in the day, our close totals agree with the gateway's.
func TestCloseDayWithRefundsAndCapturesReconciles(t *testing.T) {
	e := newPayEnv(t, "")
	sale := e.approved(1500, models.KindSale)
	pre := e.approved(4000, models.KindPreauth)
	e.settled(sale, models.KindRefund, 500, "partial", models.TxApproved)
	e.settled(pre, models.KindCapture, 2500, "", models.TxApproved)
	released := e.approved(800, models.KindPreauth)
	e.settled(released, models.KindRelease, 800, "", models.TxApproved)
	s := e.closer()
	tot, _ := s.Store.Totals(context.Background(), 1)
	if tot.SaleCount != 2 || tot.SaleSumMinor != 4000 || tot.ReversalCount != 2 || tot.ReversalSumMinor != 1300 || tot.OpenPreauths != 0 {
		t.Errorf("pre-flight: %+v", tot)
	}
	c, err := s.Trigger(context.Background(), manual)
	if err != nil {
		t.Fatal(err)
	}
	c = waitClose(t, s, c.ID, models.CloseFinished)
	if c.Code39 != "00" || c.Mismatch || c.ReversalCount != 2 || c.GwReversalCount != 2 || c.GwReversalMinor != 1300 || c.GwSaleSumMinor != 4000 {
		t.Errorf("close: %+v", c)
	}
	if n := covered(t, s, c.ID); n != 4 {
		t.Errorf("the close covers %d rows, want the sale, the capture, the refund and the release", n)
	}
}

func TestOperationsWaitWhileTheDayCloses(t *testing.T) {
	e := newPayEnv(t, "")
	sale := e.approved(1000, models.KindSale)
	s := e.closer()
	e.gw.SetFaults(sandbox.Faults{CloseDay5xxAfter: 1})
	c, _ := s.Trigger(context.Background(), manual)
	s.Wait()
	if c, _ = s.Store.ByID(context.Background(), c.ID); c.Settled() {
		t.Skipf("the close settled at once: %s", c.State)
	}
	_, err := e.operate(sale, models.KindRefund, 100, "during the close")
	refusedWith(t, err, "being closed")
}

// Preauths past the endpoint's automatic release age are released by the system, once.
func TestStalePreauthsAreReleased(t *testing.T) {
	e := newPayEnv(t, "")
	e.db.Exec("INSERT INTO endpoints (id, name, endpoint_id, login, control_key, currency, base_url, enabled, preauth_warn_days, preauth_release_days) VALUES (1, 'Main', '1', 'l', 'k', 'EUR', 'http://x', true, 2, 5)")
	old := e.approved(900, models.KindPreauth)
	young := e.approved(700, models.KindPreauth)
	e.db.Model(&models.Transaction{}).Where("id = ?", old.ID).Update("created_at", e.now.Now().AddDate(0, 0, -6))
	n, err := e.pay.ReleaseStale(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("released %d, %v", n, err)
	}
	ops, _ := e.tx.Operations(context.Background(), old.ID)
	if len(ops) != 1 || ops[0].Kind != models.KindRelease || ops[0].StartedByName != "system" {
		t.Fatalf("operations of the old preauth: %+v", ops)
	}
	e.waitState(ops[0].ID, models.TxApproved, true)
	if ops, _ := e.tx.Operations(context.Background(), young.ID); len(ops) != 0 {
		t.Error("a young preauth was released")
	}
	if n, _ := e.pay.ReleaseStale(context.Background()); n != 0 {
		t.Errorf("released again: %d", n)
	}
	found := false
	for _, a := range e.audit.actions() {
		found = found || a == "payment.auto_release"
	}
	if !found {
		t.Error("the automatic release is not audited")
	}
}
