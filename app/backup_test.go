package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/prometheus/client_golang/prometheus"
)

// Every scheduled backup lands in the audit log and in /metrics, failures too.
func TestBackupRunsAreAuditedAndMeasured(t *testing.T) {
	db, err := models.Open(filepath.Join(t.TempDir(), "portal.db"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	models.Migrate(db)
	audit := &models.Audit{DB: db}
	reg := prometheus.NewRegistry()
	report := backupReport(reg, audit, slog.New(slog.DiscardHandler))
	report(context.Background(), models.BackupInfo{Path: "/b/portal-1.db", Size: 4096, Duration: 120 * time.Millisecond}, []string{"portal-0.db"}, nil)
	report(context.Background(), models.BackupInfo{Path: "/b/portal-2.db"}, nil, errors.New("no space left on device"))
	evs, _ := audit.List(context.Background(), models.AuditFilter{Action: "backup."})
	if len(evs) != 2 || evs[0].Action != "backup.failed" || !strings.Contains(evs[0].Detail, "no space") || evs[1].Action != "backup.taken" {
		t.Errorf("audit %+v", evs)
	}
	var text strings.Builder
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		text.WriteString(mf.String())
	}
	for _, want := range []string{"portal_backup_last_size_bytes", "4096", "portal_backup_failures_total", "portal_backup_last_success_timestamp_seconds"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
