package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Backups of the embedded SQLite database: a consistent copy taken while payments keep
// flowing (VACUUM INTO reads one snapshot in its own read transaction, which in WAL mode never
// holds up the writer), and the checks a restore makes before it replaces anything.

// BackupInfo describes one backup file.
type BackupInfo struct {
	Path     string
	Size     int64
	Duration time.Duration
}

// BackupSQLite writes a consistent copy of the SQLite database at dbPath to `to`, readable by
// its owner only. The copy is written next to `to` under a temporary name and renamed when
// complete, so `to` is never a torn file.
func BackupSQLite(ctx context.Context, dbPath, to string) (BackupInfo, error) {
	start := time.Now()
	info := BackupInfo{Path: to}
	if _, err := os.Stat(dbPath); err != nil {
		return info, fmt.Errorf("models: backup: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return info, fmt.Errorf("models: backup folder: %w", err)
	}
	tmp := to + ".partial"
	os.Remove(tmp)
	// A connection of its own, not the portal's writer: the copy must not queue behind
	// payments or make them wait.
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=10000")
	if err != nil {
		return info, fmt.Errorf("models: backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		os.Remove(tmp)
		return info, fmt.Errorf("models: backup into %s: %w", to, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return info, fmt.Errorf("models: backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return info, err
	}
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return info, fmt.Errorf("models: backup: %w", err)
	}
	st, err := os.Stat(to)
	if err != nil {
		return info, err
	}
	info.Size, info.Duration = st.Size(), time.Since(start)
	return info, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("models: backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("models: backup: %w", err)
	}
	return nil
}

// BackupSummary is what a backup holds, for the person restoring it.
type BackupSummary struct {
	Payments    int64
	LastPayment *time.Time
	Closes      int64
	Users       int64
	Migrations  int
}

// ErrBadBackup is returned for a file that is not a sound backup of this portal.
var ErrBadBackup = errors.New("not a sound portal backup")

// CheckBackup opens a backup read-only and checks it before a restore: SQLite's integrity
// check passes, it is a portal database, and it has no schema step this portal does not know
// (a backup from a newer version). Steps it lacks are run by the portal at its next start.
func CheckBackup(ctx context.Context, path string) (BackupSummary, error) {
	var s BackupSummary
	if _, err := os.Stat(path); err != nil {
		return s, fmt.Errorf("%w: %v", ErrBadBackup, err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrBadBackup, err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		return s, fmt.Errorf("%w: integrity check: %q %v", ErrBadBackup, check, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT name FROM schema_migrations")
	if err != nil {
		return s, fmt.Errorf("%w: no schema record: %v", ErrBadBackup, err)
	}
	known := make([]string, len(migrations))
	for i, m := range migrations {
		known[i] = m.Name
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return s, fmt.Errorf("%w: %v", ErrBadBackup, err)
		}
		if !slices.Contains(known, name) {
			rows.Close()
			return s, fmt.Errorf("%w: it was made by a newer portal (schema step %q)", ErrBadBackup, name)
		}
		s.Migrations++
	}
	rows.Close()
	var last sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), MAX(created_at) FROM transactions").Scan(&s.Payments, &last); err != nil {
		return s, fmt.Errorf("%w: payments: %v", ErrBadBackup, err)
	}
	if last.Valid {
		for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
			if t, err := time.Parse(layout, last.String); err == nil {
				s.LastPayment = &t
				break
			}
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM close_days").Scan(&s.Closes); err != nil {
		return s, fmt.Errorf("%w: closes: %v", ErrBadBackup, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&s.Users); err != nil {
		return s, fmt.Errorf("%w: users: %v", ErrBadBackup, err)
	}
	return s, nil
}

// PruneBackups keeps the newest keep files matching pattern in dir (names sort by time) and
// deletes the rest; it returns the deleted names.
func PruneBackups(dir, pattern string, keep int) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var gone []string
	for len(files) > keep {
		if err := os.Remove(files[0]); err != nil {
			return gone, fmt.Errorf("models: prune backups: %w", err)
		}
		gone, files = append(gone, filepath.Base(files[0])), files[1:]
	}
	return gone, nil
}
