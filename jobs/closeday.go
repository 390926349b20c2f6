package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/example/mposportal/closeday"
)

// CloseDayJob retries closes with an unknown outcome, re-checks locked gates, and runs the
// automatic daily closes. What is due lives in the database (close rows and their unique
// business day), so a restart neither loses nor repeats a close.
type CloseDayJob struct {
	Closes    *closeday.Service
	Schedules func(ctx context.Context) ([]closeday.Schedule, error)
	Log       *slog.Logger
	Interval  time.Duration // default 20s
}

// Run works until ctx is done.
func (j *CloseDayJob) Run(ctx context.Context) error {
	every := j.Interval
	if every <= 0 {
		every = 20 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := j.Closes.Watch(ctx); err != nil && ctx.Err() == nil {
			j.Log.Error("close day watchdog", "error", err)
		}
		scs, err := j.Schedules(ctx)
		if err != nil {
			j.Log.Error("close day schedules", "error", err)
			continue
		}
		if n, err := j.Closes.RunSchedules(ctx, scs); err != nil && ctx.Err() == nil {
			j.Log.Error("scheduled close day", "error", err)
		} else if n > 0 {
			j.Log.Info("scheduled close day started", "count", n)
		}
	}
}
