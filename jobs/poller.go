// Package jobs runs the portal's background work. Every job keeps its schedule in the
// database, so a restart loses nothing, and each has Run(ctx) error that returns when ctx ends.
package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/example/mposportal/models"
)

// StatusChecks is what the status poller needs: which payments are due for a status request,
// and a way to check one. Check does the request and applies the answer (including
// rescheduling or stopping); the poller only decides when and how many at once.
type StatusChecks interface {
	DueStatusChecks(ctx context.Context, now time.Time, limit int) ([]models.DueCheck, error)
	// CheckStatus checks one leased payment; d.Due, when it was due, anchors its next check.
	CheckStatus(ctx context.Context, d models.DueCheck) error
}

// StatusPoller asks the gateway for the status of every payment that has no final status yet,
// on the schedule stored with each payment (first 3 s after the sale response, then every 5 s).
type StatusPoller struct {
	Checks   StatusChecks
	Log      *slog.Logger
	Now      func() time.Time
	Interval time.Duration // how often to look for due checks (default 200ms)
	Batch    int           // how many due payments to take per look (default 500)
	Workers  int           // status requests in flight at once (default 32)
	Metrics  *Metrics      // nil: the lag is not measured
}

// Run polls until ctx is done, and returns once its workers have. The workers take leased
// payments one at a time, and the next lease is taken as soon as the last payment of the one
// before is handed out, not when its slowest check ends: one slow answer does not hold up the
// payments due behind it.
func (p *StatusPoller) Run(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	work := make(chan models.DueCheck)
	var wg sync.WaitGroup
	for range p.workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				p.check(ctx, d)
			}
		}()
	}
	defer wg.Wait()
	defer close(work)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		// Drain: when a lease was full there is more due work; take it before sleeping.
		for {
			n, err := p.feed(ctx, work)
			if err != nil && ctx.Err() == nil {
				p.Log.Error("status poller", slog.Any("error", err))
			}
			if n < p.batch() || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// feed leases the payments due now (up to one batch) and hands them to work; it returns how
// many it leased.
func (p *StatusPoller) feed(ctx context.Context, work chan<- models.DueCheck) (int, error) {
	due, err := p.Checks.DueStatusChecks(ctx, p.now(), p.batch())
	for _, d := range due {
		select {
		case work <- d:
		case <-ctx.Done():
			return len(due), err // the rest are checked when their lease ends
		}
	}
	return len(due), err
}

func (p *StatusPoller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *StatusPoller) batch() int {
	if p.Batch <= 0 {
		return 500
	}
	return p.Batch
}

func (p *StatusPoller) workers() int {
	if p.Workers <= 0 {
		return 32
	}
	return p.Workers
}

// check checks one leased payment; a failure is logged and leaves it to its own schedule.
func (p *StatusPoller) check(ctx context.Context, d models.DueCheck) {
	if p.Metrics != nil {
		p.Metrics.pollLag.Observe(p.now().Sub(d.Due).Seconds())
	}
	if err := p.Checks.CheckStatus(ctx, d); err != nil && ctx.Err() == nil {
		p.Log.Warn("status check failed", slog.Uint64("transaction", uint64(d.ID)), slog.Any("error", err))
	}
}

// RunOnce checks every payment due now (up to one batch) and returns how many it took, once
// all are checked. A failed check is logged and left to its own schedule; it never stops the
// others.
func (p *StatusPoller) RunOnce(ctx context.Context) (int, error) {
	due, err := p.Checks.DueStatusChecks(ctx, p.now(), p.batch())
	if err != nil || len(due) == 0 {
		return 0, err
	}
	work := make(chan models.DueCheck)
	var wg sync.WaitGroup
	for range min(p.workers(), len(due)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				p.check(ctx, d)
			}
		}()
	}
	for _, d := range due {
		select {
		case work <- d:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	return len(due), nil
}
