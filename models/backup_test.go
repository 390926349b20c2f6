package models_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// A backup taken while payments are being written is a consistent copy: it checks out, and
// every payment it holds is the same as in the database.
func TestBackupWhileWritingIsConsistent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portal.db")
	db, err := models.Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	s := &models.Transactions{DB: db}
	ctx := context.Background()
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tx := models.Transaction{ClientOrderID: fmt.Sprintf("PB%06d", i), EndpointID: 1, ReaderID: uint(i + 1), ReaderSerial: "SBX-0001",
				Kind: models.KindSale, AmountMinor: int64(100 + i), Currency: "EUR", State: models.TxApproved}
			if err := s.Create(ctx, &tx, "test"); err != nil {
				t.Error(err)
				return
			}
			written.Add(1)
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); written.Load() < 200; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d payments written", written.Load())
		}
	}
	to := filepath.Join(dir, "backups", "b.db")
	info, err := models.BackupSQLite(ctx, path, to)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(to); st == nil || st.Mode().Perm() != 0o600 || info.Size != st.Size() {
		t.Errorf("backup file mode or size: %v %d", st, info.Size)
	}
	sum, err := models.CheckBackup(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Payments < 200 || sum.Payments > written.Load() || sum.LastPayment == nil {
		t.Errorf("backup holds %d payments (last %v); %d were written, at least 200 before it started", sum.Payments, sum.LastPayment, written.Load())
	}
	copyDB, err := models.Open(to, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(copyDB)
	var inCopy []models.Transaction
	copyDB.Order("id").Find(&inCopy)
	for _, c := range inCopy {
		var orig models.Transaction
		db.First(&orig, c.ID)
		if orig.ClientOrderID != c.ClientOrderID || orig.AmountMinor != c.AmountMinor || orig.State != c.State {
			t.Fatalf("payment %d differs in the backup", c.ID)
		}
	}
	if int64(len(inCopy)) != sum.Payments || inCopy[len(inCopy)-1].ID != uint(len(inCopy)) {
		t.Errorf("the backup is not a prefix of the writes: %d rows, last id %d", len(inCopy), inCopy[len(inCopy)-1].ID)
	}
}

func TestCheckBackupRefusesWhatIsNotSound(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "portal.db")
	db, _ := models.Open(path, nil, nil)
	models.Migrate(db)
	db.Exec("CREATE TABLE filler (x TEXT)")
	for i := range 200 {
		db.Exec("INSERT INTO filler VALUES (?)", fmt.Sprintf("%0500d", i))
	}
	models.Close(db)
	good := filepath.Join(dir, "good.db")
	if _, err := models.BackupSQLite(ctx, path, good); err != nil {
		t.Fatal(err)
	}
	if _, err := models.CheckBackup(ctx, good); err != nil {
		t.Fatalf("a sound backup: %v", err)
	}
	b, _ := os.ReadFile(good)
	corrupt := filepath.Join(dir, "corrupt.db")
	bad := append([]byte(nil), b...)
	for i := len(bad) / 2; i < len(bad)/2+8192 && i < len(bad); i++ {
		bad[i] ^= 0x5a
	}
	os.WriteFile(corrupt, bad, 0o600)
	truncated := filepath.Join(dir, "truncated.db")
	os.WriteFile(truncated, b[:len(b)/3], 0o600)
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte("this is not a database"), 0o600)
	newer := filepath.Join(dir, "newer.db")
	os.WriteFile(newer, b, 0o600)
	ndb, _ := models.Open(newer, nil, nil)
	ndb.Exec("INSERT INTO schema_migrations (name, ran_at) VALUES ('2099-01-01 a step from the future', CURRENT_TIMESTAMP)")
	models.Close(ndb)
	for _, p := range []string{corrupt, truncated, garbage, newer, filepath.Join(dir, "missing.db")} {
		if _, err := models.CheckBackup(ctx, p); !errors.Is(err, models.ErrBadBackup) {
			t.Errorf("%s: %v, want ErrBadBackup", filepath.Base(p), err)
		}
	}
}

func TestPruneBackupsKeepsExactlyTheNewest(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("portal-202611%02dT030000Z.db", i+1)), []byte("x"), 0o600)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
	gone, err := models.PruneBackups(dir, "portal-*.db", 14)
	if err != nil || len(gone) != 6 || gone[0] != "portal-20261101T030000Z.db" {
		t.Fatalf("pruned %v, %v", gone, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "portal-*.db"))
	if len(left) != 14 || filepath.Base(left[0]) != "portal-20261107T030000Z.db" {
		t.Errorf("kept %d, oldest %s", len(left), filepath.Base(left[0]))
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Error("a file that is not a backup was removed")
	}
}
