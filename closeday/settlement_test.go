package closeday_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// Settlement integrity: every approved sale ends in exactly one close that the gateway
// confirmed, and every difference with the gateway's totals is explained payment by payment.
// Each test is one way the books used to go wrong, driven through the sandbox's faults.

func covered(t *testing.T, s *closeday.Service, id uint) int {
	t.Helper()
	ts, err := s.Store.Covered(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(ts)
}

// A refused close keeps none of its payments: the next close counts them and agrees with the
// gateway. A click moments after the refusal is a new close, not the failed one.
func TestRefusedCloseReleasesItsPayments(t *testing.T) {
	e := paymentstest.New(t, "")
	approvedSales(e, 1000, 2050)
	s := closer(e)
	outcomes := closeOutcomes(e, s)
	e.GW.SetFaults(sandbox.Faults{RefuseCloseDay: 1})
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
	if a := e.Audit.Actions(); !slices.Contains(a, "closeday.failed") || !slices.Contains(a, "closeday.finished") {
		t.Errorf("audit %v", a)
	}
	outcomes(1, 0, 0, 1)
}

// While a close's outcome is unknown the counter is closed on its endpoint (a sale the gateway
// would count in that close must not be taken); the retry uses the same request id, the
// gateway replays its answer and the books agree.
func TestUnknownCloseHoldsTheCounterAndRetriesTheSameRequest(t *testing.T) {
	e := paymentstest.New(t, "")
	approvedSales(e, 1000)
	s := closer(e)
	e.GW.SetFaults(sandbox.Faults{CloseDay5xxAfter: 1})
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseUnknown)
	_, err := e.Pay.Start(context.Background(), payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 700, Actor: payments.Actor{ID: 1, Name: "sam"}})
	var se *models.ValidationError
	if !errors.As(err, &se) || !strings.Contains(se.Message(), "closed") {
		t.Fatalf("a sale while the close's outcome is unknown: %v", err)
	}
	e.Now.Add(closeday.RetryAfter + time.Second)
	if err := s.Watch(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := waitClose(t, s, c.ID, models.CloseFinished)
	if got.RequestID != c.RequestID || got.Attempts != 2 || got.Mismatch || covered(t, s, c.ID) != 1 {
		t.Errorf("after the retry: %+v", got)
	}
	// The counter is open again.
	approvedSales(e, 700)
}

// A close whose requests never reach the gateway backs off, gives up after CloseMaxAttempts,
// releases its payments and says so; the next close counts them.
func TestUnansweredCloseGivesUpAndReleases(t *testing.T) {
	e := paymentstest.New(t, "")
	approvedSales(e, 1000)
	s := closer(e)
	e.GW.SetFaults(sandbox.Faults{CloseDayDropBefore: closeday.MaxAttempts})
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseUnknown)
	var gaps []time.Duration
	for c.State == models.CloseUnknown {
		gaps = append(gaps, c.NextCheckAt.Sub(e.Now.Now()))
		e.Now.Add(closeday.RetryMax + time.Second)
		if err := s.Watch(context.Background()); err != nil {
			t.Fatal(err)
		}
		c, _ = s.Store.ByID(context.Background(), c.ID)
	}
	if c.State != models.CloseFailed || c.Attempts != closeday.MaxAttempts || !strings.Contains(c.Error, "no answer") {
		t.Fatalf("after %d attempts: %s %q", c.Attempts, c.State, c.Error)
	}
	if !slices.IsSorted(gaps) || gaps[0] >= gaps[len(gaps)-1] || gaps[len(gaps)-1] > closeday.RetryMax {
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

// A genuinely signed callback that changes a final status is never dropped: it is confirmed
// with the gateway, applied, flagged; the payment counts by its latest status; a decline
// reason never sits on an approved payment.
func TestFinalStatusChangesAreAppliedAndFlagged(t *testing.T) {
	e := paymentstest.New(t, "")
	approvedSales(e, 1000)
	tx, _ := e.Tx.ByID(context.Background(), 1)
	if err := e.GW.ChangeStatus(tx.ClientOrderID, "declined", "05", "Do not honor"); err != nil {
		t.Fatal(err)
	}
	got := e.WaitFor(tx.ID, "declined", func(t models.Transaction) bool {
		if t.Review == models.ReviewConfirm {
			if t.State != models.TxApproved || t.ErrorMessage != "" {
				e.T.Errorf("while confirming: %s %q", t.State, t.ErrorMessage)
			}
			e.Poll()
		}
		return t.State == models.TxDeclined
	})
	if got.Review != models.ReviewStatusChanged || got.ErrorCode != "05" || got.ErrorMessage == "" {
		t.Errorf("changed to declined: review %q error %q %q", got.Review, got.ErrorCode, got.ErrorMessage)
	}
	// It counts by its latest status: the close counts nothing, like the gateway.
	s := closer(e)
	c, _ := s.Trigger(context.Background(), manual)
	if c = waitClose(t, s, c.ID, models.CloseFinished); c.SaleCount != 0 || c.Mismatch {
		t.Errorf("close after the change: %+v", c)
	}
	// And back: approved again, the decline reason is gone.
	if err := e.GW.ChangeStatus(tx.ClientOrderID, "approved", "", ""); err != nil {
		t.Fatal(err)
	}
	got = e.WaitFor(tx.ID, "approved again", func(t models.Transaction) bool {
		if t.Review == models.ReviewConfirm {
			e.Poll()
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
	e := paymentstest.New(t, "")
	approvedSales(e, 1000)
	hidden := e.StartHeld(2000, e.GW.Blackout)
	e.WaitState(hidden.ID, models.TxProcessing, false)
	e.WaitGateway(hidden.ClientOrderID, "approved")
	s := closer(e)
	outcomes := closeOutcomes(e, s)
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseFinished)
	if !c.Mismatch || c.Code39 != "95" || c.Explained || c.SaleCount != 1 || c.GwSaleCount != 2 || c.NextCheckAt == nil {
		t.Fatalf("close with a hidden approval: %+v", c)
	}
	outcomes(0, 1, 0, 0)
	e.GW.EndBlackout(hidden.ClientOrderID)
	e.WaitState(hidden.ID, models.TxApproved, false) // its callback arrives
	e.Now.Add(2 * time.Minute)
	if err := s.Watch(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Store.ByID(context.Background(), c.ID)
	adj, _ := s.Store.Adjustments(context.Background(), c.ID)
	if !c.Explained || c.AdjustCount != 1 || c.AdjustMinor != 2000 || len(adj) != 1 || adj[0].TransactionID != hidden.ID || adj[0].Kind != models.AdjustAdded {
		t.Fatalf("explained close %+v, adjustments %+v", c, adj)
	}
	if got, _ := e.Tx.ByID(context.Background(), hidden.ID); got.CloseDayID == nil || *got.CloseDayID != c.ID {
		t.Errorf("the hidden payment is in close %v, want %d", got.CloseDayID, c.ID)
	}
	s.Store.Now = func() time.Time { return time.Now().Add(models.CloseJoinWindow + time.Second) }
	c2, _ := s.Trigger(context.Background(), manual)
	if c2 = waitClose(t, s, c2.ID, models.CloseFinished); c2.Code39 != "00" || c2.SaleCount != 0 || c2.Mismatch {
		t.Errorf("the next close: %+v", c2)
	}
	if a := e.Audit.Actions(); !slices.Contains(a, "closeday.mismatch") || !slices.Contains(a, "closeday.explained") {
		t.Errorf("audit %v", a)
	}
	outcomes(1, 1, 1, 0)
}

// The pre-close sweep asks the gateway about open payments: a sale whose callback was lost
// is counted because the sweep learnt its approval, so the close agrees at once.
func TestSweepLearnsLostApprovalsBeforeTheClose(t *testing.T) {
	e := paymentstest.New(t, "")
	e.GW.SetFaults(sandbox.Faults{CallbacksOff: true})
	tx := e.Start(1500, models.KindSale, "visa")
	e.WaitState(tx.ID, models.TxProcessing, false)
	e.WaitGateway(tx.ClientOrderID, "approved") // no callback comes
	s := closer(e)
	c, _ := s.Trigger(context.Background(), manual)
	if c = waitClose(t, s, c.ID, models.CloseFinished); c.Mismatch || c.SaleCount != 1 {
		t.Errorf("close after the sweep: %+v", c)
	}
}

// The portal down across the scheduled close time: one catch-up close, labelled with the days
// it covers; a day a close already covers is not closed again by the schedule.
func TestScheduleCatchesUpOnceAfterDowntime(t *testing.T) {
	e := paymentstest.New(t, "")
	loc, _ := time.LoadLocation("Europe/Riga")
	set := time.Date(2026, 11, 20, 10, 0, 0, 0, loc)
	e.Now.Set(set)
	sc := closeday.Schedule{EndpointID: 1, CloseTime: "23:00", TimeZone: "Europe/Riga", Since: set}
	s := closer(e)
	// Down from before the 20th's close until the morning of the 22nd.
	e.Now.Add(46 * time.Hour)
	n, err := s.RunSchedules(context.Background(), []closeday.Schedule{sc})
	if err != nil || n != 1 {
		t.Fatalf("catch-up: %d closes, %v", n, err)
	}
	s.Wait()
	cs, _ := s.Store.List(context.Background(), models.CloseFilter{})
	if len(cs) != 1 || cs[0].Trigger != models.TriggerCatchUp || cs[0].DaysFrom != "2026-11-20" || cs[0].DaysTo != "2026-11-21" {
		t.Fatalf("catch-up close %+v", cs)
	}
	for range 3 {
		if n, _ := s.RunSchedules(context.Background(), []closeday.Schedule{sc}); n != 0 {
			t.Errorf("caught up again: %d", n)
		}
	}
	// A manual close on the 22nd covers it: the schedule leaves that day alone.
	e.Now.Add(12 * time.Hour) // 22nd, 20:00
	m, _ := s.Trigger(context.Background(), closeday.TriggerInput{EndpointID: 1, Actor: models.Actor{ID: 3, Name: "admin", IP: "192.0.2.7"}, DaysFrom: "2026-11-22", DaysTo: "2026-11-22"})
	waitClose(t, s, m.ID, models.CloseFinished)
	e.Now.Add(4 * time.Hour) // 23rd, 00:00
	if n, _ := s.RunSchedules(context.Background(), []closeday.Schedule{sc}); n != 0 {
		t.Errorf("the schedule closed a day already closed: %d", n)
	}
	e.Now.Add(23 * time.Hour) // 23rd, 23:00
	if n, _ := s.RunSchedules(context.Background(), []closeday.Schedule{sc}); n != 1 {
		t.Errorf("the 23rd's close: %d", n)
	}
	s.Wait()
	cs, _ = s.Store.List(context.Background(), models.CloseFilter{Limit: 1})
	if cs[0].Trigger != models.TriggerSchedule || cs[0].DaysTo != "2026-11-23" {
		t.Errorf("on-time close %+v", cs[0])
	}
	// The service audits every close it starts, the schedule's as the schedule's.
	var starts []string
	for _, ev := range e.Audit.Events("closeday.start") {
		starts = append(starts, ev.ActorName+": "+ev.Detail)
		if ev.ActorName == "admin" && (ev.ActorID != 3 || ev.RemoteIP != "192.0.2.7") {
			t.Errorf("the manual close is audited as %+v, without the admin's id and address", ev)
		}
	}
	want := []string{
		"catch-up: catch-up close started by schedule, covering the business days 2026-11-20 to 2026-11-21",
		"admin: manual close started by admin, business day 2026-11-22",
		"schedule: schedule close started by schedule, business day 2026-11-23",
	}
	if !slices.Equal(starts, want) {
		t.Errorf("closes audited:\n got %q\nwant %q", starts, want)
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
		a, r, ok := closeday.ExplainDifference(tt.adds, tt.removes, tt.dCount, tt.dSum)
		var got []uint
		for _, x := range append(a, r...) {
			got = append(got, x.ID)
		}
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v %v, want %v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// With refunds and captures in the day, our close totals agree with the gateway's.
func TestCloseDayWithRefundsAndCapturesReconciles(t *testing.T) {
	e := paymentstest.New(t, "")
	sale := e.Approved(1500, models.KindSale)
	pre := e.Approved(4000, models.KindPreauth)
	e.Settled(sale, models.KindRefund, 500, "partial", models.TxApproved)
	e.Settled(pre, models.KindCapture, 2500, "", models.TxApproved)
	released := e.Approved(800, models.KindPreauth)
	e.Settled(released, models.KindRelease, 800, "", models.TxApproved)
	s := closer(e)
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
	e := paymentstest.New(t, "")
	sale := e.Approved(1000, models.KindSale)
	s := closer(e)
	e.GW.SetFaults(sandbox.Faults{CloseDay5xxAfter: 1})
	c, _ := s.Trigger(context.Background(), manual)
	s.Wait()
	if c, _ = s.Store.ByID(context.Background(), c.ID); c.Settled() {
		t.Skipf("the close settled at once: %s", c.State)
	}
	_, err := e.Operate(sale, models.KindRefund, 100, "during the close")
	paymentstest.RefusedWith(t, err, "being closed")
}
