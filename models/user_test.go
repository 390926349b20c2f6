package models_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/example/mposportal/models"
	"gorm.io/gorm"
)

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := &models.Users{DB: openDB(t)}
	hash, _ := models.HashPassword("Secret-123")
	u := models.User{Username: "Alice", Name: "Alice A", Role: models.RoleAdmin, PasswordHash: hash}
	if err := s.Create(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, &models.User{Username: "alice", Name: "Other", Role: models.RoleStaff, PasswordHash: hash}); !errors.Is(err, models.ErrConflict) {
		t.Errorf("duplicate username (other case): %v, want ErrConflict", err)
	}
	got, err := s.ByUsername(ctx, "ALICE")
	if err != nil || got.ID != u.ID || !got.CheckPassword("Secret-123") || got.CheckPassword("secret-123") {
		t.Errorf("ByUsername = %+v, %v", got, err)
	}
	if _, err := s.ByUsername(ctx, "bob"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	if _, err := s.ByID(ctx, 999); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
	if n, _ := s.ActiveAdmins(ctx); n != 1 {
		t.Errorf("ActiveAdmins = %d, want 1", n)
	}
	got.Disabled = true
	if err := s.Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ActiveAdmins(ctx); n != 0 {
		t.Errorf("ActiveAdmins after disabling = %d, want 0", n)
	}
	if models.CheckDummyPassword("Secret-123") {
		t.Error("the dummy check passed")
	}
}

func TestValidatePassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"Secret-123": true, "Aa1!aaaa": true, "Pässwörd-1": true, "correct Horse 9": true,
		"Aa1!aaa": false, "secret-123": false, "SECRET-123": false, "Secret-abc": false, "Secret123": false,
		"": false, "Aa1!" + string(make([]byte, 70)): false,
	} {
		if got := models.ValidatePassword(pw) == ""; got != ok {
			t.Errorf("ValidatePassword(%q) ok = %v, want %v", pw, got, ok)
		}
	}
	for name, ok := range map[string]bool{"alice": true, "a.b-c_d": true, "ab": false, "Alice": false, "al ice": false, "x@y": false} {
		if got := models.ValidateUsername(name) == ""; got != ok {
			t.Errorf("ValidateUsername(%q) ok = %v, want %v", name, got, ok)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := openDB(t) // migrated once
	var before, after int64
	db.Table("schema_migrations").Count(&before)
	if err := models.Migrate(db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	db.Table("schema_migrations").Count(&after)
	if before < 4 || after != before {
		t.Errorf("schema_migrations has %d rows after one run and %d after two, want one per step, each once", before, after)
	}
}

func TestDatabaseFileIsOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	db, err := models.Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want -rw-------", filepath.Base(p), st.Mode().Perm())
		}
	}
}

// A database made by the code before the payment indexes were trimmed ends with the same
// indexes on transactions as a new one: the single-column indexes a composite covers, or a
// partial one replaced, are dropped.
func TestMigrateTrimsThePaymentIndexes(t *testing.T) {
	db := openDB(t)
	want := transactionIndexes(t, db)
	for _, name := range []string{"idx_tx_next_check", "idx_tx_close_day", "idx_tx_review", "idx_tx_parent"} {
		if !slices.Contains(want, name) {
			t.Errorf("a new database has no %s: %v", name, want)
		}
	}
	// The indexes the old tags made, and its migration record gone: as an older database.
	for _, col := range []string{"reader_id", "business_day", "reader_serial", "next_check_at", "close_day_id", "review", "parent_id"} {
		if err := db.Exec("CREATE INDEX idx_transactions_" + col + " ON transactions (" + col + ")").Error; err != nil {
			t.Fatal(err)
		}
	}
	db.Exec("DELETE FROM schema_migrations WHERE name LIKE '%payments keep only the indexes%'")
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	if got := transactionIndexes(t, db); !slices.Equal(got, want) {
		t.Errorf("after the upgrade transactions has indexes\n%v\nwant\n%v", got, want)
	}
}

// transactionIndexes names the indexes on transactions, sorted (primary key aside).
func transactionIndexes(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var names []string
	q := "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transactions' AND name NOT LIKE 'sqlite_autoindex%'"
	if db.Dialector.Name() == "postgres" {
		q = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'transactions' AND indexname <> 'transactions_pkey'"
	}
	if err := db.Raw(q).Scan(&names).Error; err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}
