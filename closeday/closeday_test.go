package closeday_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments/paymentstest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var manual = closeday.TriggerInput{EndpointID: 1, Actor: models.Actor{ID: 1, Name: "admin", IP: "192.0.2.1"}}

type closeGateways struct{ c *mapi.Client }

func (g closeGateways) CloseGateway(context.Context, uint) (closeday.Gateway, error) {
	return g.c, nil
}

func closer(e *paymentstest.Env) *closeday.Service {
	s := closeday.New(closeday.Deps{Store: &models.CloseDays{DB: e.DB}, Gateways: closeGateways{e.Client},
		Sweeper: e.Pay, Audit: e.Audit, Metrics: closeday.NewMetrics(prometheus.NewRegistry()), Live: live.Nowhere,
		Log: slog.New(slog.DiscardHandler), Now: e.Now.Now})
	s.SweepWait = 300 * time.Millisecond
	return s
}

// closeOutcomes has s count its closes in a registry of its own, and returns a check of the
// counts by outcome (reconciled, differs, explained, failed).
func closeOutcomes(e *paymentstest.Env, s *closeday.Service) func(reconciled, differs, explained, failed int) {
	reg := prometheus.NewRegistry()
	s.Metrics = closeday.NewMetrics(reg)
	return func(reconciled, differs, explained, failed int) {
		e.T.Helper()
		want := fmt.Sprintf(`
# HELP portal_close_days_total Close Day outcomes: reconciled, differs, explained (a difference accounted for later) or failed.
# TYPE portal_close_days_total counter
portal_close_days_total{outcome="differs"} %d
portal_close_days_total{outcome="explained"} %d
portal_close_days_total{outcome="failed"} %d
portal_close_days_total{outcome="reconciled"} %d
`, differs, explained, failed, reconciled)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "portal_close_days_total"); err != nil {
			e.T.Error(err)
		}
	}
}

func approvedSales(e *paymentstest.Env, amounts ...int64) {
	e.T.Helper()
	for _, a := range amounts {
		tx := e.Start(a, models.KindSale, "visa")
		e.WaitState(tx.ID, models.TxApproved, true)
		e.Expect(devices.TypeResult)
	}
}

func waitClose(t *testing.T, s *closeday.Service, id uint, state models.CloseState) models.CloseDay {
	t.Helper()
	s.Wait()
	c, err := s.Store.ByID(context.Background(), id)
	if err != nil || c.State != state {
		t.Fatalf("close %d: %s (%s) %v, want %s", id, c.State, c.Error, err, state)
	}
	return c
}

func TestConcurrentTriggersCloseOnce(t *testing.T) {
	e := paymentstest.New(t, "")
	approvedSales(e, 1042, 1000, 1084)
	declined := e.Start(1051, models.KindSale, "visa") // declined: not counted
	e.WaitState(declined.ID, models.TxDeclined, true)
	e.Expect(devices.TypeResult)
	s := closer(e)
	var wg sync.WaitGroup
	ids := make([]uint, 6)
	errs := make([]error, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Trigger(context.Background(), manual)
			ids[i], errs[i] = c.ID, err
		}()
	}
	wg.Wait()
	started := 0
	for i, err := range errs {
		if err == nil {
			started++
		} else if !errors.Is(err, models.ErrCloseRunning) {
			t.Fatalf("trigger %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("trigger %d got close %d, others %d", i, ids[i], ids[0])
		}
	}
	if started != 1 {
		t.Errorf("%d triggers started a close, want 1", started)
	}
	c := waitClose(t, s, ids[0], models.CloseFinished)
	if c.SaleCount != 3 || c.SaleSumMinor != 3126 || c.GwSaleCount != 3 || c.GwSaleSumMinor != 3126 || c.Code39 != "00" || c.Mismatch {
		t.Errorf("close %+v", c)
	}
	covered, _ := s.Store.Covered(context.Background(), c.ID)
	if len(covered) != 3 {
		t.Errorf("close covers %d payments, want 3", len(covered))
	}
	// A trigger moments later joins the finished close; a later one is a new close, from zero.
	if again, err := s.Trigger(context.Background(), manual); !errors.Is(err, models.ErrCloseRunning) || again.ID != c.ID {
		t.Errorf("trigger right after the close: %d, %v; want to join close %d", again.ID, err, c.ID)
	}
	s.Store.Now = func() time.Time { return time.Now().Add(models.CloseJoinWindow + time.Second) }
	c2, err := s.Trigger(context.Background(), manual)
	if err != nil {
		t.Fatal(err)
	}
	if c2 = waitClose(t, s, c2.ID, models.CloseFinished); c2.SaleCount != 0 || c2.GwSaleCount != 0 {
		t.Errorf("second close %+v", c2)
	}
}

// unknownClose takes one approved sale and a manual close that the gateway answers with a
// 5xx: the close is left with its outcome unknown and a retry scheduled.
func unknownClose(t *testing.T) (*paymentstest.Env, *closeday.Service, models.CloseDay) {
	t.Helper()
	e := paymentstest.New(t, "")
	approvedSales(e, 1000)
	e.GW.SetFaults(sandbox.Faults{CloseDay5xxAfter: 1})
	s := closer(e)
	c, err := s.Trigger(context.Background(), manual)
	if err != nil {
		t.Fatal(err)
	}
	return e, s, waitClose(t, s, c.ID, models.CloseUnknown)
}

func TestCloseTimeoutRetriesWithSameRequestID(t *testing.T) {
	e, s, c := unknownClose(t)
	if c.NextCheckAt == nil {
		t.Fatal("no retry scheduled")
	}
	// A second trigger meanwhile joins the unsettled close.
	if again, err := s.Trigger(context.Background(), manual); !errors.Is(err, models.ErrCloseRunning) || again.ID != c.ID {
		t.Errorf("trigger during an unknown outcome: %v (close %d)", err, again.ID)
	}
	e.Now.Add(closeday.RetryAfter + time.Second)
	if err := s.Watch(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := waitClose(t, s, c.ID, models.CloseFinished)
	if got.RequestID != c.RequestID || got.Attempts != 2 || got.GwSaleCount != 1 || got.Mismatch {
		t.Errorf("after the retry: %+v", got)
	}
	// The gateway closed exactly once: a new close (past the join window) has nothing to count.
	s.Store.Now = func() time.Time { return time.Now().Add(models.CloseJoinWindow + time.Second) }
	c3, _ := s.Trigger(context.Background(), manual)
	if c3 = waitClose(t, s, c3.ID, models.CloseFinished); c3.GwSaleCount != 0 {
		t.Errorf("the retry closed a second time: %+v", c3)
	}
}

// A due close another instance holds is left to it: the watcher retries it only once that
// lease has run out (its holder died).
func TestWatchLeavesACloseAnotherInstanceHolds(t *testing.T) {
	e, s, c := unknownClose(t)
	now := e.Now.Now()
	if _, ok, err := s.Store.Lease(context.Background(), c.ID, now, c.NextCheckAt.Add(time.Hour)); !ok || err != nil {
		t.Fatalf("the other instance's lease: %v, %v", ok, err)
	}
	e.Now.Add(closeday.RetryAfter + time.Second)
	if err := s.Watch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := waitClose(t, s, c.ID, models.CloseUnknown); got.Attempts != 1 {
		t.Fatalf("the watcher worked on a held close: %d attempts", got.Attempts)
	}
	e.Now.Add(time.Hour)
	if err := s.Watch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := waitClose(t, s, c.ID, models.CloseFinished); got.Attempts != 2 || got.RequestID != c.RequestID {
		t.Errorf("after the lease ran out: %+v", got)
	}
}

func TestCloseMismatchAndLockedGateAreFlagged(t *testing.T) {
	e := paymentstest.New(t, "")
	approvedSales(e, 1000)
	// A sale the portal does not know of (taken elsewhere on the same gate).
	req := e.Request(2000)
	if _, err := e.Client.Sale(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	e.WaitGateway(req.ClientOrderID, "approved") // the gateway counts it from now on
	s := closer(e)
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseFinished)
	if !c.Mismatch || c.Code39 != "95" || c.GwSaleCount != 2 || c.SaleCount != 1 || c.Raw == "" {
		t.Errorf("mismatching close %+v", c)
	}
}

func TestLockedGateWatchdog(t *testing.T) {
	e := paymentstest.NewWith(t, "", func(cfg *sandbox.Config) { cfg.CloseDuration = time.Hour })
	s := closer(e)
	c, _ := s.Trigger(context.Background(), manual)
	c = waitClose(t, s, c.ID, models.CloseLocked)
	if !c.IsDayClosing || c.NextCheckAt == nil {
		t.Fatalf("locked close %+v", c)
	}
	e.Now.Add(closeday.LockWatchdog + time.Second)
	s.Watch(context.Background())
	c, _ = s.Store.ByID(context.Background(), c.ID)
	if c.State != models.CloseLocked || c.Error == "" {
		t.Errorf("still locked: %s %q", c.State, c.Error)
	}
}

func TestScheduledCloseOncePerBusinessDayAcrossRestartAndDST(t *testing.T) {
	e := paymentstest.New(t, "")
	sc := closeday.Schedule{EndpointID: 1, CloseTime: "03:30", TimeZone: "Europe/Riga"}
	loc, _ := time.LoadLocation("Europe/Riga")
	// 2026-03-29: clocks jump 03:00 → 04:00 (03:30 does not exist); 2026-10-25: 04:00 → 03:00
	// (03:30 happens twice).
	for _, start := range []time.Time{time.Date(2026, 3, 28, 12, 0, 0, 0, loc), time.Date(2026, 10, 24, 12, 0, 0, 0, loc)} {
		e.Now.Set(start)
		s := closer(e)
		days := map[string]int{}
		for step := 0; step < 2*24*4; step++ { // every 15 minutes for two days
			if step == 60 {
				s = closer(e) // a restart: a new service on the same database
			}
			n, err := s.RunSchedules(context.Background(), []closeday.Schedule{sc})
			if err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				days[e.Now.Now().In(loc).Format("2006-01-02")] += n
			}
			s.Wait()
			e.Now.Add(15 * time.Minute)
		}
		// Noon on the first day is past 03:30 already, so three business days are closed,
		// the DST day among them, each exactly once.
		if len(days) != 3 {
			t.Errorf("from %s: closes on %v, want one on each of three days", start.Format("2006-01-02"), days)
		}
		for d, n := range days {
			if n != 1 {
				t.Errorf("%s: %d scheduled closes", d, n)
			}
		}
	}
}

func TestDueBusinessDay(t *testing.T) {
	loc, _ := time.LoadLocation("America/New_York")
	set := time.Date(2026, 11, 24, 12, 0, 0, 0, loc)
	sc := closeday.Schedule{CloseTime: "23:30", TimeZone: "America/New_York", Since: set}
	late := closeday.Schedule{CloseTime: "23:30", TimeZone: "America/New_York", Since: time.Date(2026, 11, 24, 23, 56, 0, 0, loc)}
	for _, tt := range []struct {
		sc  closeday.Schedule
		at  time.Time
		day string
		due bool
	}{
		{sc, time.Date(2026, 11, 24, 23, 29, 0, 0, loc), "", false}, // the 23rd's close was before the schedule existed
		{sc, time.Date(2026, 11, 24, 23, 30, 0, 0, loc), "2026-11-24", true},
		{sc, time.Date(2026, 11, 25, 0, 10, 0, 0, loc), "2026-11-24", true}, // UTC is already the 25th 05:10; the local day decides
		{sc, time.Date(2026, 11, 27, 9, 0, 0, 0, loc), "2026-11-26", true},  // after downtime: the latest day due
		{late, time.Date(2026, 11, 24, 23, 57, 0, 0, loc), "", false},       // set at 23:56 for 23:30: starts tomorrow
		{late, time.Date(2026, 11, 25, 23, 30, 0, 0, loc), "2026-11-25", true},
	} {
		day, _, due := closeday.DueBusinessDay(tt.sc, tt.at.UTC())
		if day != tt.day || due != tt.due {
			t.Errorf("at %s: %q %v, want %q %v", tt.at, day, due, tt.day, tt.due)
		}
	}
}
