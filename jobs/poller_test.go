package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/jobs"
	"github.com/example/mposportal/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// checks is an in-memory schedule: due[id] is when id is next due; CheckStatus reschedules it
// five seconds later, as the real one does after a non-final answer.
type checks struct {
	mu       sync.Mutex
	due      map[uint]time.Time
	checked  map[uint]int
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	failID   uint
	// overlap is closed when two checks are in flight at once; the first check waits for it
	// (on a deadline), so a poller that runs its workers one by one shows as maxSeen 1.
	overlap     chan struct{}
	overlapOnce sync.Once
}

func (c *checks) DueStatusChecks(_ context.Context, now time.Time, limit int) ([]models.DueCheck, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due []models.DueCheck
	for id, at := range c.due {
		if !at.After(now) && len(due) < limit {
			due = append(due, models.DueCheck{ID: id, Due: at})
			c.due[id] = now.Add(time.Minute) // leased until the check reschedules it
		}
	}
	return due, nil
}

func (c *checks) CheckStatus(_ context.Context, d models.DueCheck) error {
	id := d.ID
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxSeen.Load()
		if n <= m || c.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if c.overlap != nil {
		if n >= 2 {
			c.overlapOnce.Do(func() { close(c.overlap) })
		}
		select {
		case <-c.overlap:
		case <-time.After(2 * time.Second):
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked[id]++
	if id == c.failID {
		return errors.New("gateway timeout")
	}
	c.due[id] = c.due[id].Add(5 * time.Second)
	return nil
}

func TestStatusPollerChecksEachDuePaymentOnce(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	c := &checks{due: map[uint]time.Time{}, checked: map[uint]int{}, failID: 7, overlap: make(chan struct{})}
	for id := uint(1); id <= 100; id++ {
		c.due[id] = now.Add(-time.Second) // due
	}
	for id := uint(101); id <= 110; id++ {
		c.due[id] = now.Add(3 * time.Second) // not yet
	}
	reg := prometheus.NewRegistry()
	p := &jobs.StatusPoller{Checks: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }, Batch: 40, Workers: 4, Metrics: jobs.NewMetrics(reg)}

	var total int
	for {
		n, err := p.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if n > 40 {
			t.Fatalf("RunOnce took %d, more than the batch of 40", n)
		}
		total += n
	}
	if total != 100 {
		t.Errorf("checked %d payments, want the 100 due ones", total)
	}
	for id := uint(1); id <= 110; id++ {
		want := 0
		if id <= 100 {
			want = 1
		}
		if c.checked[id] != want {
			t.Errorf("payment %d checked %d times, want %d", id, c.checked[id], want)
		}
	}
	if m := c.maxSeen.Load(); m > 4 || m < 2 {
		t.Errorf("at most %d checks ran at once; want between 2 and the 4 workers", m)
	}
	// Each check ran 1 s after it was due (the clock stands still).
	want := `
# HELP portal_status_check_lag_seconds How late a due status check started, against the time it was due.
# TYPE portal_status_check_lag_seconds histogram
portal_status_check_lag_seconds_bucket{le="0.05"} 0
portal_status_check_lag_seconds_bucket{le="0.1"} 0
portal_status_check_lag_seconds_bucket{le="0.25"} 0
portal_status_check_lag_seconds_bucket{le="0.5"} 0
portal_status_check_lag_seconds_bucket{le="1"} 100
portal_status_check_lag_seconds_bucket{le="2.5"} 100
portal_status_check_lag_seconds_bucket{le="5"} 100
portal_status_check_lag_seconds_bucket{le="10"} 100
portal_status_check_lag_seconds_bucket{le="30"} 100
portal_status_check_lag_seconds_bucket{le="60"} 100
portal_status_check_lag_seconds_bucket{le="+Inf"} 100
portal_status_check_lag_seconds_sum 100
portal_status_check_lag_seconds_count 100
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "portal_status_check_lag_seconds"); err != nil {
		t.Error(err)
	}
}

func TestStatusPollerRunStopsWithContext(t *testing.T) {
	c := &checks{due: map[uint]time.Time{}, checked: map[uint]int{}}
	p := &jobs.StatusPoller{Checks: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Interval: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestRetentionPrunesWhatIsOlderThanKeep(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	var asked []time.Time
	r := &jobs.Retention{Name: "callback log", Keep: 90 * 24 * time.Hour, Now: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler), Prune: func(_ context.Context, before time.Time) (int64, error) {
			asked = append(asked, before)
			return 3, nil
		}}
	r.RunOnce(context.Background())
	if len(asked) != 1 || !asked[0].Equal(now.Add(-90*24*time.Hour)) {
		t.Errorf("pruned before %v, want 90 days before now", asked)
	}
}

// Run keeps its workers between leases: every due payment is checked (a lease of a full batch
// is followed at once by the next), none twice while it stays leased, and when Run returns no
// check is still running.
func TestStatusPollerRunChecksEveryDuePayment(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	c := &checks{due: map[uint]time.Time{}, checked: map[uint]int{}}
	for id := uint(1); id <= 300; id++ {
		c.due[id] = now.Add(-time.Second)
	}
	p := &jobs.StatusPoller{Checks: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }, Interval: time.Millisecond, Batch: 25, Workers: 4}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.mu.Lock()
		n := len(c.checked)
		c.mu.Unlock()
		if n == 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 300 due payments checked", n)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if n := c.inFlight.Load(); n != 0 {
		t.Errorf("%d checks still running after Run returned", n)
	}
	if m := c.maxSeen.Load(); m > 4 {
		t.Errorf("%d checks at once, want at most 4 workers", m)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.checked {
		if n != 1 {
			t.Errorf("payment %d checked %d times while its lease held", id, n)
		}
	}
}
