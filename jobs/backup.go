package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/example/mposportal/models"
)

// Backups takes the daily backup of the embedded database at a set local time, keeps the
// newest Keep files in Dir and reports every run (Report: audit log and metrics). A failed
// run (a full or read-only folder) is reported and retried the next day; payments never wait
// for it.
type Backups struct {
	DBPath string
	Dir    string
	At     string // "HH:MM" local time
	Keep   int
	Log    *slog.Logger
	Now    func() time.Time
	Report func(ctx context.Context, info models.BackupInfo, pruned []string, err error)
}

func (b *Backups) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// next is the first time at or after now that the backup is due.
func (b *Backups) next(now time.Time) (time.Time, error) {
	hm, err := time.Parse("15:04", b.At)
	if err != nil {
		return time.Time{}, fmt.Errorf("backup time %q: use HH:MM", b.At)
	}
	at := time.Date(now.Year(), now.Month(), now.Day(), hm.Hour(), hm.Minute(), 0, 0, now.Location())
	if at.Before(now) {
		at = at.AddDate(0, 0, 1)
	}
	return at, nil
}

// Run takes a backup every day at At until ctx is done.
func (b *Backups) Run(ctx context.Context) error {
	for {
		at, err := b.next(b.now())
		if err != nil {
			return err
		}
		t := time.NewTimer(at.Sub(b.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		b.RunOnce(ctx)
	}
}

// RunOnce takes one backup now, named by its time (so names sort by age), and prunes.
func (b *Backups) RunOnce(ctx context.Context) (models.BackupInfo, error) {
	to := filepath.Join(b.Dir, "portal-"+b.now().UTC().Format("20060102T150405Z")+".db")
	info, err := models.BackupSQLite(ctx, b.DBPath, to)
	var pruned []string
	if err == nil {
		pruned, err = models.PruneBackups(b.Dir, "portal-*.db", max(b.Keep, 1))
	}
	if err != nil {
		b.Log.Error("backup failed", "to", to, "error", err)
	} else {
		b.Log.Info("backup taken", "to", to, "bytes", info.Size, "duration_ms", info.Duration.Milliseconds(), "pruned", len(pruned))
	}
	if b.Report != nil {
		b.Report(ctx, info, pruned, err)
	}
	return info, err
}
