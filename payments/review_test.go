package payments_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// Payments whose outcome a person must know about: a late approval after a failure, a
// payment with no final status after the polling deadline, a resolution by hand.

// When the window has passed and the gateway still approves (the request was held even
// longer), the approval is not lost: the payment becomes approved, loudly flagged, audited,
// and the failure reason is gone.
func TestLateApprovalAfterFailureIsFlagged(t *testing.T) {
	e := paymentstest.New(t, "")
	e.Pay.UnknownWindow = time.Millisecond
	e.GW.SetFaults(sandbox.Faults{DelaySale: 4 * time.Second, DelaySaleCount: 1})
	tx := e.Start(1000, models.KindSale, "visa")
	e.WaitState(tx.ID, models.TxUnknown, false)
	for range payments.UnknownAnswers {
		e.Now.Add(time.Second)
		e.Poll()
	}
	failed, _ := e.Tx.ByID(context.Background(), tx.ID)
	if failed.State != models.TxFailed || failed.ErrorMessage == "" {
		t.Fatalf("past the window: %s %q", failed.State, failed.ErrorMessage)
	}
	// The held request reaches the gateway; its approval arrives by callback, is confirmed by
	// asking, and replaces the failure.
	got := e.WaitFor(tx.ID, "flagged as a late approval", func(t models.Transaction) bool {
		if t.Review == models.ReviewConfirm {
			e.Poll()
		}
		return t.State == models.TxApproved
	})
	if got.Review != models.ReviewLateApproval || got.ErrorMessage != "" || got.ErrorCode != "" || !got.NeedsAttention() {
		t.Errorf("late approval: review %q error %q/%q", got.Review, got.ErrorCode, got.ErrorMessage)
	}
	if !slices.Contains(e.Audit.Actions(), "payment."+models.ReviewLateApproval) {
		t.Errorf("late approval not audited: %v", e.Audit.Actions())
	}
	queue, _ := e.Tx.NeedsAttention(context.Background(), 10)
	if len(queue) != 1 || queue[0].ID != tx.ID {
		t.Errorf("attention queue %v", queue)
	}
	if _, err := e.Pay.Acknowledge(context.Background(), tx.ID, "refunded the second payment", payments.Actor{ID: 2, Name: "ann"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Tx.ByID(context.Background(), tx.ID); got.Review != "" || got.State != models.TxApproved {
		t.Errorf("after acknowledging: %s %q", got.State, got.Review)
	}
	if es := e.Audit.Events("payment.acknowledge"); len(es) != 1 || es[0].ActorID != 2 || es[0].Detail != "refunded the second payment" {
		t.Errorf("acknowledge audit: %+v", es)
	}
}

// "Needs review" asks once more before flagging; after an outage the first poll asks the
// gateway (which had approved) instead of flagging; a flagged payment is still asked about
// every few minutes and resolves itself when the gateway answers.
func TestNeedsReviewAsksFirstAndKeepsAsking(t *testing.T) {
	e := paymentstest.New(t, "")
	e.GW.SetFaults(sandbox.Faults{CallbacksOff: true})
	// An outage of more than an hour; the gateway approved meanwhile.
	a := e.StartHeld(1100, e.GW.Blackout)
	e.WaitState(a.ID, models.TxProcessing, false)
	e.Now.Add(payments.CheckDeadline + time.Minute)
	e.WaitGateway(a.ClientOrderID, "approved")
	e.GW.EndBlackout(a.ClientOrderID)
	e.Poll()
	if got, _ := e.Tx.ByID(context.Background(), a.ID); got.State != models.TxApproved || got.Review != "" {
		t.Errorf("after the outage: %s %q, want approved", got.State, got.Review)
	}
	e.Expect(devices.TypeResult)
	// Still no answer at the deadline: needs review, asked again every ReviewEvery.
	b := e.StartHeld(1200, e.GW.Blackout)
	e.WaitState(b.ID, models.TxProcessing, false)
	e.Now.Add(payments.CheckDeadline + time.Minute)
	e.Poll()
	got, _ := e.Tx.ByID(context.Background(), b.ID)
	if got.State != models.TxNeedsReview || got.NextCheckAt == nil {
		t.Fatalf("at the deadline: %s next %v", got.State, got.NextCheckAt)
	}
	e.WaitGateway(b.ClientOrderID, "approved")
	e.GW.EndBlackout(b.ClientOrderID)
	if got, err := e.Pay.Recheck(context.Background(), b.ID, payments.Actor{ID: 2, Name: "ann"}); err != nil || got.State != models.TxApproved {
		t.Errorf("re-check now: %s %v", got.State, err)
	}
	if es := e.Audit.Events("payment.recheck"); len(es) != 1 || es[0].ActorName != "ann" || es[0].Subject != b.ClientOrderID || es[0].Detail != "status now approved" {
		t.Errorf("re-check audit: %+v", es)
	}
}

// A payment the gateway cannot tell us about is resolved by hand with a reason; "charged"
// needs a second person.
func TestManualResolutionTakesTwoPeopleForMoney(t *testing.T) {
	e := paymentstest.New(t, "")
	ctx := context.Background()
	past := time.Now().Add(-2 * time.Hour)
	mk := func() models.Transaction {
		tx := models.Transaction{ClientOrderID: payments.NewClientOrderID(), EndpointID: 1, ReaderID: e.ReaderID, ReaderSerial: e.Reader.Serial,
			Kind: models.KindSale, AmountMinor: 4200, Currency: "EUR", State: models.TxNeedsReview, GatewayOrderID: "9999999", SentAt: &past}
		if err := e.Tx.Create(ctx, &tx, "test"); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	ann, bob := payments.Actor{ID: 2, Name: "ann"}, payments.Actor{ID: 3, Name: "bob"}
	x := mk()
	var re *models.ValidationError
	if _, err := e.Pay.Resolve(ctx, x.ID, models.TxApproved, " ", ann); !errors.As(err, &re) {
		t.Errorf("no reason: %v", err)
	}
	if _, err := e.Pay.Resolve(ctx, x.ID, models.TxApproved, "bank statement shows it", ann); !errors.Is(err, payments.ErrResolutionProposed) {
		t.Fatalf("first person: %v", err)
	}
	if got, _ := e.Tx.ByID(ctx, x.ID); got.State != models.TxNeedsReview || got.ResolveByName != "ann" {
		t.Errorf("after the proposal: %s by %q", got.State, got.ResolveByName)
	}
	if _, err := e.Pay.Resolve(ctx, x.ID, models.TxApproved, "again", ann); !errors.As(err, &re) {
		t.Errorf("the proposer approving: %v", err)
	}
	got, err := e.Pay.Resolve(ctx, x.ID, models.TxApproved, "checked the statement too", bob)
	if err != nil || got.State != models.TxApproved || got.Review != "" || got.ResolveTo != "" {
		t.Errorf("second person: %s %q %v", got.State, got.Review, err)
	}
	y := mk()
	if got, err := e.Pay.Resolve(ctx, y.ID, models.TxFailed, "customer paid cash instead", ann); err != nil || got.State != models.TxFailed {
		t.Errorf("not charged: %s %v", got.State, err)
	}
	if _, err := e.Pay.Resolve(ctx, y.ID, models.TxFailed, "twice", bob); !errors.As(err, &re) {
		t.Errorf("resolving a settled payment: %v", err)
	}
	// The service audits each step itself, refusals not at all.
	if es := e.Audit.Events("payment.resolve_proposed"); len(es) != 1 || es[0].ActorName != "ann" || es[0].Subject != x.ClientOrderID ||
		es[0].Detail != "charged: bank statement shows it" {
		t.Errorf("proposal audit: %+v", es)
	}
	es := e.Audit.Events("payment.resolve")
	if len(es) != 2 || es[0].ActorName != "bob" || es[0].Detail != "resolved as approved: checked the statement too" ||
		es[1].ActorName != "ann" || es[1].Subject != y.ClientOrderID || es[1].Detail != "resolved as failed: customer paid cash instead" {
		t.Errorf("resolve audit: %+v", es)
	}
}
