package jobs

import (
	"context"
	"log/slog"
	"time"
)

// PreauthReleases releases preauths held past their endpoint's automatic release age: at
// start, then every Interval (hourly by default).
type PreauthReleases struct {
	Release  func(ctx context.Context) (int, error)
	Log      *slog.Logger
	Interval time.Duration
}

// Run releases until ctx is done.
func (j *PreauthReleases) Run(ctx context.Context) error {
	every := j.Interval
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := j.Release(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			j.Log.Error("automatic preauth release", "error", err)
		case n > 0:
			j.Log.Info("automatic preauth release", "released", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
