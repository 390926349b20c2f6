package payments_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// The service writes the audit entry of each action itself, with the actor it was given (and
// the address a person came from), so no caller can do the action and skip the entry.
func TestPaymentActionsAuditThemselves(t *testing.T) {
	e := paymentstest.New(t, "")
	e.Gateways.RefundApproval = 1000
	ctx := context.Background()
	sam := payments.Actor{ID: 1, Name: "sam", IP: "203.0.113.5"}
	one := func(action string) models.AuditEvent {
		t.Helper()
		es := e.Audit.Events(action)
		if len(es) != 1 {
			t.Fatalf("%s: %d entries, want 1: %+v", action, len(es), es)
		}
		return es[0]
	}

	tx, err := e.Pay.Start(ctx, payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, Amount: "12.50", Actor: sam})
	if err != nil {
		t.Fatal(err)
	}
	e.Expect(devices.TypePresentCard)
	want := models.AuditEvent{ActorID: 1, ActorName: "sam", RemoteIP: "203.0.113.5", Action: "payment.start", Subject: tx.ClientOrderID,
		Detail: "sale 12.50 EUR on " + e.Reader.Serial}
	if got := one("payment.start"); got != want {
		t.Errorf("start audit:\n got %+v\nwant %+v", got, want)
	}
	if _, err := e.Pay.Cancel(ctx, tx.ID, sam); err != nil {
		t.Fatal(err)
	}
	e.Expect(devices.TypeCancel)
	if got := one("payment.cancel"); got.ActorName != "sam" || got.Subject != tx.ClientOrderID || got.Detail != "" {
		t.Errorf("cancel audit: %+v", got)
	}
	if _, err := e.Pay.Cancel(ctx, tx.ID, sam); err != nil {
		t.Fatal(err)
	}
	one("payment.cancel") // cancelling a cancelled payment changes nothing and is not audited again

	sale := e.Approved(5000, models.KindSale)
	refund, err := e.Operate(sale, models.KindRefund, 500, "damaged box")
	if err != nil {
		t.Fatal(err)
	}
	if got := one("payment.refund"); got.ActorName != paymentstest.Manager.Name || got.Subject != refund.ClientOrderID ||
		got.Detail != fmt.Sprintf("refund 5.00 EUR of %s: damaged box", sale.ClientOrderID) {
		t.Errorf("refund audit: %+v", got)
	}
	e.WaitState(refund.ID, models.TxApproved, true)

	// Above the approval limit: requested, then approved by a second person; another one rejected.
	big, err := e.Operate(sale, models.KindRefund, 2000, "wrong size")
	if err != nil || big.State != models.TxAwaitingApproval {
		t.Fatalf("a refund above the limit: %s %v", big.State, err)
	}
	if got := one("payment.refund_requested"); got.Subject != big.ClientOrderID ||
		got.Detail != fmt.Sprintf("refund 20.00 EUR of %s: wrong size; waits for a second person's approval", sale.ClientOrderID) {
		t.Errorf("request audit: %+v", got)
	}
	if _, err := e.Pay.Approve(ctx, big.ID, sam); err != nil {
		t.Fatal(err)
	}
	if got := one("payment.refund_approved"); got.ActorName != "sam" || got.RemoteIP != sam.IP || got.Detail != "refund 20.00 EUR asked by mia" {
		t.Errorf("approval audit: %+v", got)
	}
	e.WaitState(big.ID, models.TxApproved, true)
	other, err := e.Operate(sale, models.KindRefund, 1500, "changed mind")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pay.Reject(ctx, other.ID, "  not our policy ", sam); err != nil {
		t.Fatal(err)
	}
	if got := one("payment.refund_rejected"); got.Subject != other.ClientOrderID || got.Detail != "refund 15.00 EUR asked by mia: rejected by sam: not our policy" {
		t.Errorf("rejection audit: %+v", got)
	}
	if _, err := e.Pay.Reject(ctx, other.ID, "again", sam); err == nil {
		t.Error("a second rejection was not refused")
	}
	one("payment.refund_rejected")
}
