// Package models holds the portal's GORM models and their queries, with the business rules
// that belong to the data (the payment state machine, validation). It knows nothing of the
// web layer or the gateway protocol.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/plugin/dbresolver"
)

// ErrNotFound means the row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict means a unique value is already taken.
var ErrConflict = errors.New("conflict")

// translate maps GORM's errors onto ours at the models boundary.
func translate(err error) error {
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrConflict
	}
	return err
}

// ownerOnly creates the SQLite file readable by its owner only (the merchant's ledger: users'
// password hashes, the gateway's control key), or tightens an existing one; SQLite gives its
// -wal and -shm files the same mode.
func ownerOnly(path string) error {
	if strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("models: create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("models: %s: %w", p, err)
		}
	}
	return nil
}

// Open opens the database: PostgreSQL for a postgres:// URL, otherwise the SQLite file at dsn.
func Open(dsn string, now func() time.Time, log *slog.Logger) (*gorm.DB, error) {
	if now == nil {
		now = time.Now
	}
	cfg := &gorm.Config{
		TranslateError: true,
		PrepareStmt:    true,
		NowFunc:        func() time.Time { return now().UTC() },
		Logger:         newGormLogger(log),
	}
	if IsPostgres(dsn) {
		db, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			return nil, fmt.Errorf("models: open postgres: %w", err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		// Several instances share the server's connections (100 by default). Every open
		// connection is kept when idle: one closed after a burst is reopened by the next, and
		// a new connection costs a server process and a SCRAM handshake (thousands of
		// PBKDF2 rounds on each side) — under load it was the callback path's largest cost.
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		if err := useHotSQL(db, sqlDB, sqlDB, true); err != nil {
			return nil, fmt.Errorf("models: postgres statements: %w", err)
		}
		return db, nil
	}
	// SQLite, configured in this one place:
	// - WAL lets readers (pages, the poller) proceed while one writer commits;
	// - foreign_keys is off by default in SQLite and must be asked for on every connection;
	// - busy_timeout waits for a lock instead of failing at once with SQLITE_BUSY;
	// - _txlock=immediate takes the write lock at BEGIN, so two transactions that read then
	//   write cannot deadlock on the lock upgrade.
	// One open connection: SQLite has one writer anyway, and a single connection makes every
	// transaction serial, which the state machine's read-modify-write relies on.
	if err := ownerOnly(dsn); err != nil {
		return nil, err
	}
	db, err := gorm.Open(sqlite.Open("file:"+dsn+"?_journal_mode=WAL&_foreign_keys=on&_busy_timeout=10000&_txlock=immediate"), cfg)
	if err != nil {
		return nil, fmt.Errorf("models: open sqlite %s: %w", dsn, err)
	}
	writer, err := db.DB()
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	// Reads outside a transaction (pages, lookups, live renders) go to a pool of read-only
	// connections: in WAL mode they read the last commit without waiting for the writer, so a
	// batch being committed does not stall every page. Reads inside a transaction stay on
	// the writer and see its own changes.
	readers, err := sql.Open("sqlite3", "file:"+dsn+"?_journal_mode=WAL&_foreign_keys=on&_busy_timeout=10000&_query_only=1")
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("models: open sqlite readers %s: %w", dsn, err)
	}
	readers.SetMaxOpenConns(4)
	readers.SetMaxIdleConns(4)
	err = db.Use(dbresolver.Register(dbresolver.Config{Replicas: []gorm.Dialector{&sqlite.Dialector{Conn: readers}}}))
	if err != nil {
		writer.Close()
		readers.Close()
		return nil, fmt.Errorf("models: sqlite read pool: %w", err)
	}
	if err := useHotSQL(db, writer, readers, false); err != nil {
		writer.Close()
		readers.Close()
		return nil, fmt.Errorf("models: sqlite statements: %w", err)
	}
	return db, nil
}

// IsPostgres reports whether dsn is a PostgreSQL URL (anything else is a SQLite path).
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Close closes every connection pool Open made for db.
func Close(db *gorm.DB) error {
	var errs []error
	if h := hotOf(db); h != nil {
		h.close()
	}
	if r, ok := db.Config.Plugins[(&dbresolver.DBResolver{}).Name()].(*dbresolver.DBResolver); ok {
		r.Call(func(p gorm.ConnPool) error {
			if c, ok := p.(interface{ Close() error }); ok {
				errs = append(errs, c.Close())
			}
			return nil
		})
	}
	if sqlDB, err := db.DB(); err == nil {
		errs = append(errs, sqlDB.Close())
	}
	return errors.Join(errs...)
}

// migration is one recorded, ordered step after AutoMigrate.
type migration struct {
	Name string
	Run  func(tx *gorm.DB) error
}

// schemaMigration records the steps that ran.
type schemaMigration struct {
	Name  string `gorm:"primaryKey;size:128"`
	RanAt time.Time
}

// migrations run once each, in order, after AutoMigrate. Only ever append to this list.
var migrations = []migration{
	{"2026-11-24 usernames are stored lower-case", func(tx *gorm.DB) error {
		return tx.Exec("UPDATE users SET username = LOWER(username)").Error
	}},
	{"2026-11-27 one payment waiting for a card per reader", func(tx *gorm.DB) error {
		// Payments left waiting side by side on one reader by the old code: nothing of them
		// reached the gateway, so all but the newest end here (the watchdog would fail them).
		if err := tx.Exec(`UPDATE transactions SET state = ?, error_message = ?, next_check_at = NULL
			WHERE state = ? AND id NOT IN (SELECT MAX(id) FROM transactions WHERE state = ? GROUP BY reader_id)`,
			TxFailed, "ended at upgrade: another payment was waiting on the same reader", TxWaitingCard, TxWaitingCard).Error; err != nil {
			return err
		}
		// A partial unique index, the same on SQLite and PostgreSQL: at most one payment per
		// reader waits for a card, whatever instance or code path inserts it.
		return tx.Exec(`CREATE UNIQUE INDEX IF NOT EXISTS idx_tx_reader_waiting ON transactions (reader_id) WHERE state = 'waiting_card'`).Error
	}},
	{"2026-11-27 one money operation at a time per payment", func(tx *gorm.DB) error {
		// A capture, release or refund whose outcome is open holds its payment: a second one
		// is refused by the database, whichever instance starts it, so what remains to refund
		// is always computed from settled operations.
		return tx.Exec(`CREATE UNIQUE INDEX IF NOT EXISTS idx_tx_parent_open ON transactions (parent_id)
			WHERE parent_id IS NOT NULL AND state IN ('awaiting_approval', 'sending', 'processing', 'unknown_outcome', 'needs_review')`).Error
	}},
	{"2026-11-27 one open shift per cashier", func(tx *gorm.DB) error {
		return tx.Exec(`CREATE UNIQUE INDEX IF NOT EXISTS idx_shift_open ON shifts (user_id) WHERE ended_at IS NULL`).Error
	}},
	{"2026-11-27 payments keep only the indexes their queries use", func(tx *gorm.DB) error {
		// Each state change writes an entry in every index of transactions. These were
		// covered by a composite index that starts with the same column (reader, business
		// day), used by no query (reader serial), or replaced by partial indexes of the rows
		// where the column is set (AutoMigrate made those: idx_tx_next_check, idx_tx_close_day,
		// idx_tx_review, idx_tx_parent).
		for _, ix := range []string{"reader_id", "business_day", "reader_serial", "next_check_at", "close_day_id", "review", "parent_id"} {
			if err := tx.Exec("DROP INDEX IF EXISTS idx_transactions_" + ix).Error; err != nil {
				return err
			}
		}
		return nil
	}},
}

// All is every model the portal stores, for AutoMigrate.
func All() []any {
	return []any{&User{}, &AuditEvent{}, &Endpoint{}, &Session{}, &Reader{}, &ReaderEvent{}, &Transaction{}, &TxEvent{}, &CallbackDelivery{}, &CloseDay{}, &CloseAdjustment{}, &RecoveryCode{}, &Shift{}, &ReceiptMail{}}
}

// Migrate brings the schema up to date: AutoMigrate for additive changes, then the ordered
// steps that have not run yet, each in its own transaction and recorded.
func Migrate(db *gorm.DB) error {
	if err := db.AutoMigrate(append(All(), &schemaMigration{})...); err != nil {
		return fmt.Errorf("models: automigrate: %w", err)
	}
	for _, m := range migrations {
		err := db.Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("name = ?", m.Name).Count(&n).Error; err != nil || n > 0 {
				return err
			}
			if err := m.Run(tx); err != nil {
				return err
			}
			return tx.Create(&schemaMigration{Name: m.Name, RanAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("models: migration %q: %w", m.Name, err)
		}
	}
	return nil
}

// gormLogger sends GORM's errors and slow queries to slog; "record not found" is not an error.
type gormLogger struct{ log *slog.Logger }

func newGormLogger(log *slog.Logger) logger.Interface {
	if log == nil {
		return logger.Discard
	}
	return gormLogger{log}
}

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface           { return l }
func (l gormLogger) Info(ctx context.Context, msg string, args ...any)  {}
func (l gormLogger) Warn(ctx context.Context, msg string, args ...any)  {}
func (l gormLogger) Error(ctx context.Context, msg string, args ...any) {}
func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if err == nil || errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, context.Canceled) {
		if d := time.Since(begin); d > 500*time.Millisecond {
			sql, _ := fc()
			l.log.Warn("slow query", "duration_ms", d.Milliseconds(), "sql", truncateSQL(sql))
		}
		return
	}
	sql, _ := fc()
	l.log.Debug("query failed", "error", err, "sql", truncateSQL(sql))
}

// truncateSQL keeps log lines short; values are not logged in full.
func truncateSQL(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
