package jobs

import (
	"context"
	"log/slog"
	"time"
)

// PresenceSweeper marks readers offline when their heartbeats stop (a connection can die
// without a close frame: a reader out of range, a dead battery).
type PresenceSweeper struct {
	Sweep    func(ctx context.Context) (int, error)
	Log      *slog.Logger
	Interval time.Duration // default 5s
}

// Run sweeps until ctx is done.
func (p *PresenceSweeper) Run(ctx context.Context) error {
	every := p.Interval
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := p.Sweep(ctx); err != nil && ctx.Err() == nil {
				p.Log.Error("presence sweep", "error", err)
			} else if n > 0 {
				p.Log.Info("readers went offline", "count", n)
			}
		}
	}
}
