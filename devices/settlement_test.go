package devices_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
)

// Settlement integrity: every approved sale ends in exactly one close that the gateway
// confirmed, and every difference with the gateway's totals is explained payment by payment.
// Each test is one way the books used to go wrong, driven through the sandbox's faults.

// startHeld starts a payment and lets hold run before the card is read (to black the order out
// at the gateway before it exists there).
func (e *payEnv) startHeld(amount int64, hold func(order string)) models.Transaction {
	e.t.Helper()
	tx, err := e.pay.Start(context.Background(), devices.StartInput{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: amount, Actor: devices.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.expect(devices.TypePresentCard)
	hold(tx.ClientOrderID)
	card, _ := virtual.CardByID("visa")
	read, err := e.reader.Read(card, virtual.Chip)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.pay.CardRead(context.Background(), e.reader.Serial, &devices.CardRead{Type: devices.TypeCardRead, Tx: tx.ClientOrderID,
		EncryptedData: read.EncryptedData, KSN: read.KSN, EncryptedType: read.EncryptedType, EntryMode: string(read.EntryMode),
		PANFirstDigits: read.PANFirstDigits, PANLastDigits: read.PANLastDigits}); err != nil {
		e.t.Fatal(err)
	}
	return tx
}

// waitGateway waits (on a deadline) until the gateway holds the order in status.
func (e *payEnv) waitGateway(order, status string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if o, ok := e.gw.Order(order); ok && o.Status == status {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the gateway never had %s %s", order, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func covered(t *testing.T, s *devices.CloseDays, id uint) int {
	t.Helper()
	ts, err := s.Store.Covered(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(ts)
}

// waitFor waits (on a deadline) until cond holds for the payment.
func (e *payEnv) waitFor(id uint, what string, cond func(models.Transaction) bool) models.Transaction {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tx, _ := e.tx.ByID(context.Background(), id)
		if cond(tx) {
			return tx
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("payment %s: %s (review %q) never %s", tx.ClientOrderID, tx.State, tx.Review, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A refused close keeps none of its payments: the next close counts them and agrees with the
// gateway. A click moments after the refusal is a new close, not the failed one.
func TestRefusedCloseReleasesItsPayments(t *testing.T) {
	e := newPayEnv(t, "")
	e.approvedSales(1000, 2050)
	s := e.closer()
	outcomes := e.closeOutcomes(s)
	e.gw.SetFaults(sandbox.Faults{RefuseCloseDay: 1})
	c, err := s.Trigger(context.Background(), manual)
	if err != nil {
		t.Fatal(err)
	}
	c = waitClose(t, s, c.ID, models.CloseFailed)
	if !strings.Contains(c.Error, "refused") || !strings.Contains(c.Error, "10") {
		t.Errorf("refusal reason %q", c.Error)
	}
	if n := covered(t, s, c.ID); n != 0 {
		t.Errorf("the refused close still holds %d payments", n)
	}
	if tot, _ := s.Store.Totals(context.Background(), 1); tot.SaleCount != 2 || tot.SaleSumMinor != 3050 {
		t.Errorf("pre-flight after the refusal: %+v, want the 2 sales", tot)
	}
	c2, err := s.Trigger(context.Background(), manual) // within the join window of the failed close
	if err != nil || c2.ID == c.ID {
		t.Fatalf("a click after a refused close joined it: %d %v", c2.ID, err)
	}
	c2 = waitClose(t, s, c2.ID, models.CloseFinished)
	if c2.Code39 != "00" || c2.Mismatch || c2.SaleCount != 2 || covered(t, s, c2.ID) != 2 {
		t.Errorf("the next close %+v covers %d", c2, covered(t, s, c2.ID))
	}
	if a := e.audit.actions(); !slices.Contains(a, "closeday.failed") || !slices.Contains(a, "closeday.finished") {
		t.Errorf("audit %v", a)
	}
	outcomes(1, 0, 0, 1)
}

// While a close's outcome is unknown the counter is closed on its endpoint (a sale the gateway
// would count in that close must not be taken); the retry uses the same request id, the
// gateway replays its answer and the books agree.
func TestUnknownCloseHoldsTheCounterAndRetriesTheSameRequest(t *testing.T) {
	e := newPayEnv(t, "")
	e.approvedSales(1000)
	s := e.closer()
	e.gw.SetFaults(sandbox.Faults{CloseDay5xxAfter: 1})
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseUnknown)
	_, err := e.pay.Start(context.Background(), devices.StartInput{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: 700, Actor: devices.Actor{ID: 1, Name: "sam"}})
	var se *devices.StartError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "closed") {
		t.Fatalf("a sale while the close's outcome is unknown: %v", err)
	}
	e.now.Add(devices.CloseRetryAfter + time.Second)
	if err := s.Watch(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := waitClose(t, s, c.ID, models.CloseFinished)
	if got.RequestID != c.RequestID || got.Attempts != 2 || got.Mismatch || covered(t, s, c.ID) != 1 {
		t.Errorf("after the retry: %+v", got)
	}
	// The counter is open again.
	e.approvedSales(700)
}

// A close whose requests never reach the gateway backs off, gives up after CloseMaxAttempts,
// releases its payments and says so; the next close counts them.
func TestUnansweredCloseGivesUpAndReleases(t *testing.T) {
	e := newPayEnv(t, "")
	e.approvedSales(1000)
	s := e.closer()
	e.gw.SetFaults(sandbox.Faults{CloseDayDropBefore: devices.CloseMaxAttempts})
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseUnknown)
	var gaps []time.Duration
	for c.State == models.CloseUnknown {
		gaps = append(gaps, c.NextCheckAt.Sub(e.now.Now()))
		e.now.Add(devices.CloseRetryMax + time.Second)
		if err := s.Watch(context.Background()); err != nil {
			t.Fatal(err)
		}
		c, _ = s.Store.ByID(context.Background(), c.ID)
	}
	if c.State != models.CloseFailed || c.Attempts != devices.CloseMaxAttempts || !strings.Contains(c.Error, "no answer") {
		t.Fatalf("after %d attempts: %s %q", c.Attempts, c.State, c.Error)
	}
	if !slices.IsSorted(gaps) || gaps[0] >= gaps[len(gaps)-1] || gaps[len(gaps)-1] > devices.CloseRetryMax {
		t.Errorf("retry gaps do not back off: %v", gaps)
	}
	if covered(t, s, c.ID) != 0 {
		t.Error("the given-up close holds payments")
	}
	c2, _ := s.Trigger(context.Background(), manual)
	if c2 = waitClose(t, s, c2.ID, models.CloseFinished); c2.Code39 != "00" || c2.SaleCount != 1 {
		t.Errorf("next close %+v", c2)
	}
}

// A sale request that reaches the gateway after the client gave up: "not found" once is not
// the end; the payment stays "outcome unknown" and takes the gateway's approval.
func TestLateSaleRequestIsNotFailedEarly(t *testing.T) {
	e := newPayEnv(t, "")
	e.gw.SetFaults(sandbox.Faults{DelaySale: 3 * time.Second, DelaySaleCount: 1, CallbacksOff: true})
	tx := e.start(1000, models.KindSale, "visa")
	e.waitState(tx.ID, models.TxUnknown, false) // the client's 2 s timeout
	e.poll()
	got, _ := e.tx.ByID(context.Background(), tx.ID)
	if got.State != models.TxUnknown || got.NotFound != 1 {
		t.Fatalf("after one 'not found': %s (%d answers)", got.State, got.NotFound)
	}
	got = e.waitState(tx.ID, models.TxApproved, true)
	if got.GatewayOrderID == "" || got.Review != "" {
		t.Errorf("approved late request: order %q review %q", got.GatewayOrderID, got.Review)
	}
}

// When the window has passed and the gateway still approves (the request was held even
// longer), the approval is not lost: the payment becomes approved, loudly flagged, audited,
// and the failure reason is gone.
func TestLateApprovalAfterFailureIsFlagged(t *testing.T) {
	e := newPayEnv(t, "")
	e.pay.UnknownWindow = time.Millisecond
	e.gw.SetFaults(sandbox.Faults{DelaySale: 4 * time.Second, DelaySaleCount: 1})
	tx := e.start(1000, models.KindSale, "visa")
	e.waitState(tx.ID, models.TxUnknown, false)
	for range devices.UnknownAnswers {
		e.now.Add(time.Second)
		e.poll()
	}
	failed, _ := e.tx.ByID(context.Background(), tx.ID)
	if failed.State != models.TxFailed || failed.ErrorMessage == "" {
		t.Fatalf("past the window: %s %q", failed.State, failed.ErrorMessage)
	}
	// The held request reaches the gateway; its approval arrives by callback, is confirmed by
	// asking, and replaces the failure.
	got := e.waitFor(tx.ID, "flagged as a late approval", func(t models.Transaction) bool {
		if t.Review == models.ReviewConfirm {
			e.poll()
		}
		return t.State == models.TxApproved
	})
	if got.Review != models.ReviewLateApproval || got.ErrorMessage != "" || got.ErrorCode != "" || !got.NeedsAttention() {
		t.Errorf("late approval: review %q error %q/%q", got.Review, got.ErrorCode, got.ErrorMessage)
	}
	if !slices.Contains(e.audit.actions(), "payment."+models.ReviewLateApproval) {
		t.Errorf("late approval not audited: %v", e.audit.actions())
	}
	queue, _ := e.tx.NeedsAttention(context.Background(), 10)
	if len(queue) != 1 || queue[0].ID != tx.ID {
		t.Errorf("attention queue %v", queue)
	}
	if _, err := e.pay.Acknowledge(context.Background(), tx.ID, "refunded the second payment", devices.Actor{ID: 2, Name: "ann"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.tx.ByID(context.Background(), tx.ID); got.Review != "" || got.State != models.TxApproved {
		t.Errorf("after acknowledging: %s %q", got.State, got.Review)
	}
}

// A genuinely signed callback that changes a final status is never dropped: it is confirmed
// with the gateway, applied, flagged; the payment counts by its latest status; a decline
// reason never sits on an approved payment.
func TestFinalStatusChangesAreAppliedAndFlagged(t *testing.T) {
	e := newPayEnv(t, "")
	e.approvedSales(1000)
	tx, _ := e.tx.ByID(context.Background(), 1)
	if err := e.gw.ChangeStatus(tx.ClientOrderID, "declined", "05", "Do not honor"); err != nil {
		t.Fatal(err)
	}
	got := e.waitFor(tx.ID, "declined", func(t models.Transaction) bool {
		if t.Review == models.ReviewConfirm {
			if t.State != models.TxApproved || t.ErrorMessage != "" {
				e.t.Errorf("while confirming: %s %q", t.State, t.ErrorMessage)
			}
			e.poll()
		}
		return t.State == models.TxDeclined
	})
	if got.Review != models.ReviewStatusChanged || got.ErrorCode != "05" || got.ErrorMessage == "" {
		t.Errorf("changed to declined: review %q error %q %q", got.Review, got.ErrorCode, got.ErrorMessage)
	}
	// It counts by its latest status: the close counts nothing, like the gateway.
	s := e.closer()
	c, _ := s.Trigger(context.Background(), manual)
	if c = waitClose(t, s, c.ID, models.CloseFinished); c.SaleCount != 0 || c.Mismatch {
		t.Errorf("close after the change: %+v", c)
	}
	// And back: approved again, the decline reason is gone.
	if err := e.gw.ChangeStatus(tx.ClientOrderID, "approved", "", ""); err != nil {
		t.Fatal(err)
	}
	got = e.waitFor(tx.ID, "approved again", func(t models.Transaction) bool {
		if t.Review == models.ReviewConfirm {
			e.poll()
		}
		return t.State == models.TxApproved
	})
	if got.ErrorCode != "" || got.ErrorMessage != "" || got.Review == "" {
		t.Errorf("approved again: error %q %q review %q", got.ErrorCode, got.ErrorMessage, got.Review)
	}
	s.Store.Now = func() time.Time { return time.Now().Add(models.CloseJoinWindow + time.Second) }
	c2, _ := s.Trigger(context.Background(), manual)
	if c2 = waitClose(t, s, c2.ID, models.CloseFinished); c2.SaleCount != 1 || c2.GwSaleCount != 1 || c2.Mismatch {
		t.Errorf("close after approval again: %+v", c2)
	}
}

// A sale approved at the gateway whose callbacks and polls fail until after the close: that
// close differs (95) and the difference is explained by exactly that payment, which joins the
// close as an adjustment; the next close agrees.
func TestDifferenceIsExplainedAndTheNextCloseAgrees(t *testing.T) {
	e := newPayEnv(t, "")
	e.approvedSales(1000)
	hidden := e.startHeld(2000, e.gw.Blackout)
	e.waitState(hidden.ID, models.TxProcessing, false)
	e.waitGateway(hidden.ClientOrderID, "approved")
	s := e.closer()
	outcomes := e.closeOutcomes(s)
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseFinished)
	if !c.Mismatch || c.Code39 != "95" || c.Explained || c.SaleCount != 1 || c.GwSaleCount != 2 || c.NextCheckAt == nil {
		t.Fatalf("close with a hidden approval: %+v", c)
	}
	outcomes(0, 1, 0, 0)
	e.gw.EndBlackout(hidden.ClientOrderID)
	e.waitState(hidden.ID, models.TxApproved, false) // its callback arrives
	e.now.Add(2 * time.Minute)
	if err := s.Watch(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Store.ByID(context.Background(), c.ID)
	adj, _ := s.Store.Adjustments(context.Background(), c.ID)
	if !c.Explained || c.AdjustCount != 1 || c.AdjustMinor != 2000 || len(adj) != 1 || adj[0].TransactionID != hidden.ID || adj[0].Kind != models.AdjustAdded {
		t.Fatalf("explained close %+v, adjustments %+v", c, adj)
	}
	if got, _ := e.tx.ByID(context.Background(), hidden.ID); got.CloseDayID == nil || *got.CloseDayID != c.ID {
		t.Errorf("the hidden payment is in close %v, want %d", got.CloseDayID, c.ID)
	}
	s.Store.Now = func() time.Time { return time.Now().Add(models.CloseJoinWindow + time.Second) }
	c2, _ := s.Trigger(context.Background(), manual)
	if c2 = waitClose(t, s, c2.ID, models.CloseFinished); c2.Code39 != "00" || c2.SaleCount != 0 || c2.Mismatch {
		t.Errorf("the next close: %+v", c2)
	}
	if a := e.audit.actions(); !slices.Contains(a, "closeday.mismatch") || !slices.Contains(a, "closeday.explained") {
		t.Errorf("audit %v", a)
	}
	outcomes(1, 1, 1, 0)
}

// The pre-close sweep asks the gateway about open payments: a sale whose callback was lost
// is counted because the sweep learnt its approval, so the close agrees at once.
func TestSweepLearnsLostApprovalsBeforeTheClose(t *testing.T) {
	e := newPayEnv(t, "")
	e.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	tx := e.start(1500, models.KindSale, "visa")
	e.waitState(tx.ID, models.TxProcessing, false)
	e.waitGateway(tx.ClientOrderID, "approved") // no callback comes
	s := e.closer()
	c, _ := s.Trigger(context.Background(), manual)
	if c = waitClose(t, s, c.ID, models.CloseFinished); c.Mismatch || c.SaleCount != 1 {
		t.Errorf("close after the sweep: %+v", c)
	}
}

// "Needs review" asks once more before flagging; after an outage the first poll asks the
// gateway (which had approved) instead of flagging; a flagged payment is still asked about
// every few minutes and resolves itself when the gateway answers.
func TestNeedsReviewAsksFirstAndKeepsAsking(t *testing.T) {
	e := newPayEnv(t, "")
	e.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	// An outage of more than an hour; the gateway approved meanwhile.
	a := e.startHeld(1100, e.gw.Blackout)
	e.waitState(a.ID, models.TxProcessing, false)
	e.now.Add(devices.CheckDeadline + time.Minute)
	e.waitGateway(a.ClientOrderID, "approved")
	e.gw.EndBlackout(a.ClientOrderID)
	e.poll()
	if got, _ := e.tx.ByID(context.Background(), a.ID); got.State != models.TxApproved || got.Review != "" {
		t.Errorf("after the outage: %s %q, want approved", got.State, got.Review)
	}
	e.expect(devices.TypeResult)
	// Still no answer at the deadline: needs review, asked again every ReviewEvery.
	b := e.startHeld(1200, e.gw.Blackout)
	e.waitState(b.ID, models.TxProcessing, false)
	e.now.Add(devices.CheckDeadline + time.Minute)
	e.poll()
	got, _ := e.tx.ByID(context.Background(), b.ID)
	if got.State != models.TxNeedsReview || got.NextCheckAt == nil {
		t.Fatalf("at the deadline: %s next %v", got.State, got.NextCheckAt)
	}
	e.waitGateway(b.ClientOrderID, "approved")
	e.gw.EndBlackout(b.ClientOrderID)
	if got, err := e.pay.Recheck(context.Background(), b.ID, "re-checked by ann"); err != nil || got.State != models.TxApproved {
		t.Errorf("re-check now: %s %v", got.State, err)
	}
}

// A payment the gateway cannot tell us about is resolved by hand with a reason; "charged"
// needs a second person.
func TestManualResolutionTakesTwoPeopleForMoney(t *testing.T) {
	e := newPayEnv(t, "")
	ctx := context.Background()
	past := time.Now().Add(-2 * time.Hour)
	mk := func() models.Transaction {
		tx := models.Transaction{ClientOrderID: devices.NewClientOrderID(), EndpointID: 1, ReaderID: e.readerID, ReaderSerial: e.reader.Serial,
			Kind: models.KindSale, AmountMinor: 4200, Currency: "EUR", State: models.TxNeedsReview, GatewayOrderID: "9999999", SentAt: &past}
		if err := e.tx.Create(ctx, &tx, "test"); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	ann, bob := devices.Actor{ID: 2, Name: "ann"}, devices.Actor{ID: 3, Name: "bob"}
	x := mk()
	var re *devices.ReviewError
	if _, err := e.pay.Resolve(ctx, x.ID, models.TxApproved, " ", ann); !errors.As(err, &re) {
		t.Errorf("no reason: %v", err)
	}
	if _, err := e.pay.Resolve(ctx, x.ID, models.TxApproved, "bank statement shows it", ann); !errors.Is(err, devices.ErrResolutionProposed) {
		t.Fatalf("first person: %v", err)
	}
	if got, _ := e.tx.ByID(ctx, x.ID); got.State != models.TxNeedsReview || got.ResolveByName != "ann" {
		t.Errorf("after the proposal: %s by %q", got.State, got.ResolveByName)
	}
	if _, err := e.pay.Resolve(ctx, x.ID, models.TxApproved, "again", ann); !errors.As(err, &re) {
		t.Errorf("the proposer approving: %v", err)
	}
	got, err := e.pay.Resolve(ctx, x.ID, models.TxApproved, "checked the statement too", bob)
	if err != nil || got.State != models.TxApproved || got.Review != "" || got.ResolveTo != "" {
		t.Errorf("second person: %s %q %v", got.State, got.Review, err)
	}
	y := mk()
	if got, err := e.pay.Resolve(ctx, y.ID, models.TxFailed, "customer paid cash instead", ann); err != nil || got.State != models.TxFailed {
		t.Errorf("not charged: %s %v", got.State, err)
	}
	if _, err := e.pay.Resolve(ctx, y.ID, models.TxFailed, "twice", bob); !errors.As(err, &re) {
		t.Errorf("resolving a settled payment: %v", err)
	}
}

// The portal down across the scheduled close time: one catch-up close, labelled with the days
// it covers; a day a close already covers is not closed again by the schedule.
func TestScheduleCatchesUpOnceAfterDowntime(t *testing.T) {
	e := newPayEnv(t, "")
	loc, _ := time.LoadLocation("Europe/Riga")
	set := time.Date(2026, 11, 20, 10, 0, 0, 0, loc)
	e.now.mu.Lock()
	e.now.now = set
	e.now.mu.Unlock()
	sc := devices.Schedule{EndpointID: 1, CloseTime: "23:00", TimeZone: "Europe/Riga", Since: set}
	s := e.closer()
	// Down from before the 20th's close until the morning of the 22nd.
	e.now.Add(46 * time.Hour)
	n, err := s.RunSchedules(context.Background(), []devices.Schedule{sc})
	if err != nil || n != 1 {
		t.Fatalf("catch-up: %d closes, %v", n, err)
	}
	s.Wait()
	cs, _ := s.Store.List(context.Background(), models.CloseFilter{})
	if len(cs) != 1 || cs[0].Trigger != models.TriggerCatchUp || cs[0].DaysFrom != "2026-11-20" || cs[0].DaysTo != "2026-11-21" {
		t.Fatalf("catch-up close %+v", cs)
	}
	for range 3 {
		if n, _ := s.RunSchedules(context.Background(), []devices.Schedule{sc}); n != 0 {
			t.Errorf("caught up again: %d", n)
		}
	}
	// A manual close on the 22nd covers it: the schedule leaves that day alone.
	e.now.Add(12 * time.Hour) // 22nd, 20:00
	m, _ := s.Trigger(context.Background(), devices.TriggerInput{EndpointID: 1, Actor: "admin", DaysFrom: "2026-11-22", DaysTo: "2026-11-22"})
	waitClose(t, s, m.ID, models.CloseFinished)
	e.now.Add(4 * time.Hour) // 23rd, 00:00
	if n, _ := s.RunSchedules(context.Background(), []devices.Schedule{sc}); n != 0 {
		t.Errorf("the schedule closed a day already closed: %d", n)
	}
	e.now.Add(23 * time.Hour) // 23rd, 23:00
	if n, _ := s.RunSchedules(context.Background(), []devices.Schedule{sc}); n != 1 {
		t.Errorf("the 23rd's close: %d", n)
	}
	s.Wait()
	cs, _ = s.Store.List(context.Background(), models.CloseFilter{Limit: 1})
	if cs[0].Trigger != models.TriggerSchedule || cs[0].DaysTo != "2026-11-23" {
		t.Errorf("on-time close %+v", cs[0])
	}
	if a := e.audit.actions(); slices.Index(a, "closeday.start") < 0 {
		t.Errorf("scheduled closes not audited: %v", a)
	}
}

func TestExplainDifference(t *testing.T) {
	tx := func(id uint, minor int64) models.Transaction { return models.Transaction{ID: id, AmountMinor: minor} }
	for _, tt := range []struct {
		name          string
		adds, removes []models.Transaction
		dCount        int
		dSum          int64
		want          []uint // adds then removes
		ok            bool
	}{
		{"nothing to explain", nil, nil, 0, 0, nil, true},
		{"all candidates", []models.Transaction{tx(1, 100), tx(2, 250)}, nil, 2, 350, []uint{1, 2}, true},
		{"a subset", []models.Transaction{tx(1, 100), tx(2, 250), tx(3, 400)}, nil, 1, 250, []uint{2}, true},
		{"added and removed", []models.Transaction{tx(1, 100)}, []models.Transaction{tx(9, 40)}, 0, 60, []uint{1, 9}, true},
		{"no fit", []models.Transaction{tx(1, 100)}, nil, 1, 99, nil, false},
		{"a difference with no candidate", nil, nil, 1, 500, nil, false},
	} {
		a, r, ok := devices.ExplainDifference(tt.adds, tt.removes, tt.dCount, tt.dSum)
		var got []uint
		for _, x := range append(a, r...) {
			got = append(got, x.ID)
		}
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v %v, want %v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// A payment still "waiting for card" whose order the gateway has (its card read was never
// recorded: a database restored from a backup taken mid-payment) takes the gateway's status
// at the card watchdog instead of failing as "not charged".
func TestCardWatchdogAsksTheGatewayFirst(t *testing.T) {
	e := newPayEnv(t, "")
	e.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	tx, err := e.pay.Start(context.Background(), devices.StartInput{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: 1042,
		Actor: devices.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(devices.TypePresentCard)
	req := e.request(1042)
	req.ClientOrderID = tx.ClientOrderID
	if _, err := e.client.Sale(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	e.waitGateway(tx.ClientOrderID, "approved")
	e.now.Add(devices.CardTimeout + time.Minute)
	e.poll()
	if got, _ := e.tx.ByID(context.Background(), tx.ID); got.State != models.TxApproved || got.GatewayOrderID == "" {
		t.Errorf("past the card timeout with the order at the gateway: %s (order %q), want approved", got.State, got.GatewayOrderID)
	}
}
