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
	CheckStatus(ctx context.Context, id uint) error
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

// Run polls until ctx is done.
func (p *StatusPoller) Run(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		// Drain: when a batch was full there is more due work; take it before sleeping.
		for {
			n, err := p.RunOnce(ctx)
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

func (p *StatusPoller) batch() int {
	if p.Batch <= 0 {
		return 500
	}
	return p.Batch
}

// RunOnce checks every payment due now (up to one batch) and returns how many it took.
// A failed check is logged and left to its own schedule; it never stops the others.
func (p *StatusPoller) RunOnce(ctx context.Context) (int, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	due, err := p.Checks.DueStatusChecks(ctx, now(), p.batch())
	if err != nil || len(due) == 0 {
		return 0, err
	}
	workers := p.Workers
	if workers <= 0 {
		workers = 32
	}
	work := make(chan models.DueCheck)
	var wg sync.WaitGroup
	for range min(workers, len(due)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				if p.Metrics != nil {
					p.Metrics.pollLag.Observe(now().Sub(d.Due).Seconds())
				}
				if err := p.Checks.CheckStatus(ctx, d.ID); err != nil && ctx.Err() == nil {
					p.Log.Warn("status check failed", slog.Uint64("transaction", uint64(d.ID)), slog.Any("error", err))
				}
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
