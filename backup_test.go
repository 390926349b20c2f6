package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/app"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/jobs"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"gorm.io/gorm"
)

// TestBackupWhilePaymentsFlowAndRestore takes a backup with the built binary while 200 sales
// flow through a running portal (callbacks partly lost, polling busy), restores it into a
// fresh data folder and starts a portal on it: every payment that was final before the backup
// started is there unchanged, and the portal settles the rest with the gateway's ledger
// without losing or doubling anything.
func TestBackupWhilePaymentsFlowAndRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the portal binary")
	}
	dir := t.TempDir()
	bin := buildPortal(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw, gwURL := startGateway(t, dir, []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second},
		sandbox.Faults{DropCallbackPct: 30, Seed: 11})
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	readerIDs, codes := seedChaosPortal(t, filepath.Join(data, "portal.db"), gwURL, gw)

	start := func(dataDir string) (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "-addr", addr, "-data", dataDir, "-sandbox-addr", "off", "-backup-time", "off")
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitHealthy(t, "http://"+addr)
		return cmd, "http://" + addr
	}
	a, urlA := start(data)
	defer func() { a.Process.Kill(); a.Wait() }()
	for i, tr := range gw.TestReaders() {
		ag := &virtual.Agent{Reader: virtual.New(tr.Serial, "2.1.0", tr.IPEK(), tr.IKSN), PortalURL: urlA,
			TapDelay: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if err := ag.Pair(ctx, codes[i]); err != nil {
			t.Fatal(err)
		}
		go ag.Run(ctx)
	}
	counter := newCounterClient(t, urlA, "staff", nil)
	const total = 200
	var started atomic.Int64
	var wg sync.WaitGroup
	for _, id := range readerIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for started.Load() < total {
				if counter.startSale(id, 100+started.Load()*3) {
					started.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	for started.Load() < total/2 {
		time.Sleep(20 * time.Millisecond)
	}
	// What was final before the backup started must come back unchanged.
	src, err := models.Open(filepath.Join(data, "portal.db"), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(src)
	before := finalPayments(t, src)
	backup := filepath.Join(dir, "backup.db")
	out, err := exec.Command(bin, "backup", "-data", data, "-to", backup).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "backup written") {
		t.Fatalf("backup while running: %v\n%s", err, out)
	}
	wg.Wait()
	waitSettled(t, src, 4*time.Minute)
	a.Process.Signal(os.Interrupt)
	a.Wait()

	// A restore into a fresh folder, then a portal on it.
	fresh := filepath.Join(dir, "restored")
	out, err = exec.Command(bin, "restore", "-data", fresh, "-from", backup).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "restored") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	b, _ := start(fresh)
	defer func() { b.Process.Kill(); b.Wait() }()
	restored, err := models.Open(filepath.Join(fresh, "portal.db"), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(restored)
	waitSettled(t, restored, 4*time.Minute)
	after := finalPayments(t, restored)
	for id, p := range before {
		if got, ok := after[id]; !ok || got != p {
			t.Errorf("payment %s final before the backup: %+v, after the restore %+v (found %v)", id, p, got, ok)
		}
	}
	// Whatever the restored portal holds agrees with the gateway; what it lacks was started
	// after the backup.
	ledger, _ := gw.Ledger()
	atGateway := map[string]sandbox.LedgerOrder{}
	for _, o := range ledger {
		atGateway[o.ClientOrderID] = o
	}
	var all []models.Transaction
	restored.Find(&all)
	for _, tx := range all {
		o, ok := atGateway[tx.ClientOrderID]
		switch {
		case ok && models.StateFromGateway(o.Status) != tx.State:
			t.Errorf("%s: restored portal says %s, the gateway %s", tx.ClientOrderID, tx.State, o.Status)
		case !ok && tx.State != models.TxFailed && tx.State != models.TxCancelled:
			t.Errorf("%s: restored portal says %s, the gateway never had it", tx.ClientOrderID, tx.State)
		}
	}
	var later int64
	src.Model(&models.Transaction{}).Where("client_order_id NOT IN ?", clientIDs(all)).Count(&later)
	if int64(len(all))+later != countAll(src) || len(before) == 0 {
		t.Errorf("restored %d payments, %d started after the backup, %d in all; %d were final before it", len(all), later, countAll(src), len(before))
	}
	t.Logf("%d payments final before the backup, %d restored, %d started after it", len(before), len(all), later)
}

type finalPayment struct {
	State  models.TxState
	Amount int64
	Order  string
}

func finalPayments(t *testing.T, db *gorm.DB) map[string]finalPayment {
	t.Helper()
	var ts []models.Transaction
	if err := db.Find(&ts).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]finalPayment{}
	for _, tx := range ts {
		if tx.State.Final() {
			out[tx.ClientOrderID] = finalPayment{tx.State, tx.AmountMinor, tx.GatewayOrderID}
		}
	}
	return out
}

func clientIDs(ts []models.Transaction) []string {
	ids := []string{""}
	for _, t := range ts {
		ids = append(ids, t.ClientOrderID)
	}
	return ids
}

func countAll(db *gorm.DB) int64 {
	var n int64
	db.Model(&models.Transaction{}).Count(&n)
	return n
}

// A restore refuses to replace the database of a running portal and a backup that does not
// check out; a good one replaces the database and keeps the old one aside.
func TestRestoreRefusesARunningPortalAndABadBackup(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	db, err := models.Open(filepath.Join(data, "portal.db"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	models.Migrate(db)
	models.Close(db)
	good := filepath.Join(dir, "good.db")
	var out bytes.Buffer
	if err := runBackup(ctx, []string{"-data", data, "-to", good}, &out); err != nil {
		t.Fatal(err)
	}
	release, err := app.LockDataDir(data) // a portal running on data
	if err != nil {
		t.Fatal(err)
	}
	if err := runRestore(ctx, []string{"-data", data, "-from", good}, &out); err == nil || !strings.Contains(err.Error(), "already using") {
		t.Errorf("restore under a running portal: %v", err)
	}
	release()
	bad := filepath.Join(dir, "bad.db")
	os.WriteFile(bad, []byte("not a database at all"), 0o600)
	if err := runRestore(ctx, []string{"-data", data, "-from", bad}, &out); err == nil || !strings.Contains(err.Error(), "nothing was replaced") {
		t.Errorf("restore of a bad file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "portal.db")); err != nil {
		t.Error("a refused restore touched the database")
	}
	out.Reset()
	if err := runRestore(ctx, []string{"-data", data, "-from", good}, &out); err != nil {
		t.Fatal(err)
	}
	aside, _ := filepath.Glob(filepath.Join(data, "portal.db.replaced-*"))
	if len(aside) != 1 || !strings.Contains(out.String(), "kept as") || !strings.Contains(out.String(), "0 payments") {
		t.Errorf("after the restore: aside %v, said %q", aside, out.String())
	}
}

// A backup that cannot be written (its folder is not a folder) is reported as failed, and
// the database keeps working.
func TestScheduledBackupFailureIsReported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portal.db")
	db, err := models.Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	models.Migrate(db)
	blocker := filepath.Join(dir, "not-a-folder")
	os.WriteFile(blocker, []byte("x"), 0o600)
	var reported error
	b := &jobs.Backups{DBPath: path, Dir: filepath.Join(blocker, "backups"), At: "03:00", Keep: 14, Log: slog.New(slog.DiscardHandler),
		Report: func(_ context.Context, _ models.BackupInfo, _ []string, err error) { reported = err }}
	if _, err := b.RunOnce(context.Background()); err == nil || reported == nil {
		t.Errorf("a backup into a file: %v, reported %v", err, reported)
	}
	tx := models.Transaction{ClientOrderID: "PAFTER", EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001", Kind: models.KindSale,
		AmountMinor: 100, Currency: "EUR", State: models.TxWaitingCard}
	if err := (&models.Transactions{DB: db}).Create(context.Background(), &tx, "after a failed backup"); err != nil {
		t.Errorf("payments after a failed backup: %v", err)
	}
	b.Dir = filepath.Join(dir, "backups")
	day := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	b.Now = func() time.Time { return day } // backups are named by their time
	for range 3 {
		if _, err := b.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		day = day.AddDate(0, 0, 1)
	}
	b.Keep = 2
	if _, err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "backups", "portal-*.db")); len(left) != 2 {
		t.Errorf("%d backups kept, want 2", len(left))
	}
}
