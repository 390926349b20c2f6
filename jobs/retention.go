package jobs

import (
	"context"
	"log/slog"
	"time"
)

// Retention deletes what anonymous callers filled in once it is older than Keep: at start,
// then every Interval (daily by default). The callback log is its one user today.
type Retention struct {
	Name     string // for the log, e.g. "callback log"
	Prune    func(ctx context.Context, before time.Time) (int64, error)
	Keep     time.Duration
	Log      *slog.Logger
	Now      func() time.Time
	Interval time.Duration // default 24h
}

// Run prunes until ctx is done.
func (r *Retention) Run(ctx context.Context) error {
	every := r.Interval
	if every <= 0 {
		every = 24 * time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce prunes what is older than Keep now.
func (r *Retention) RunOnce(ctx context.Context) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	n, err := r.Prune(ctx, now().Add(-r.Keep))
	switch {
	case err != nil && ctx.Err() == nil:
		r.Log.Error("retention", "what", r.Name, "error", err)
	case n > 0:
		r.Log.Info("retention", "what", r.Name, "deleted", n, "older_than", r.Keep.String())
	}
}
