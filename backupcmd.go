package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/example/mposportal/app"
	"github.com/example/mposportal/models"
)

// runBackup is `portal backup -to FILE`: a consistent copy of the embedded database, taken
// while the portal keeps running.
func runBackup(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stdout)
	data := fs.String("data", envOr("PORTAL_DATA_DIR", "data"), "the portal's data directory (PORTAL_DATA_DIR)")
	to := fs.String("to", "", "the backup file to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Getenv("DATABASE_URL") != "" {
		return errors.New("backup: the portal runs on PostgreSQL: back it up with pg_dump (see the README)")
	}
	if *to == "" {
		return errors.New("backup: -to FILE is required")
	}
	info, err := models.BackupSQLite(ctx, filepath.Join(*data, "portal.db"), *to)
	if err != nil {
		return err
	}
	s, err := models.CheckBackup(ctx, *to)
	if err != nil {
		return fmt.Errorf("backup: the copy does not check out: %w", err)
	}
	fmt.Fprintf(stdout, "backup written to %s (%d bytes, %s): %s\n", info.Path, info.Size, info.Duration.Round(time.Millisecond), describe(s))
	return nil
}

// runRestore is `portal restore -from FILE`: it replaces the embedded database with a backup,
// after checking the backup and that no portal is using the data directory; the replaced
// file is kept aside.
func runRestore(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stdout)
	data := fs.String("data", envOr("PORTAL_DATA_DIR", "data"), "the portal's data directory (PORTAL_DATA_DIR)")
	from := fs.String("from", "", "the backup file to restore (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("restore: -from FILE is required")
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	release, err := app.LockDataDir(*data)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer release()
	s, err := models.CheckBackup(ctx, *from)
	if err != nil {
		return fmt.Errorf("restore: %w: nothing was replaced", err)
	}
	target := filepath.Join(*data, "portal.db")
	aside := ""
	if _, err := os.Stat(target); err == nil {
		aside = target + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(target+suffix, aside+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("restore: keeping the current database aside: %w", err)
			}
		}
	}
	if err := copyFile(*from, target); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s into %s: %s\n", *from, target, describe(s))
	if aside != "" {
		fmt.Fprintf(stdout, "the database it replaced is kept as %s\n", aside)
	}
	return nil
}

func describe(s models.BackupSummary) string {
	last := "none"
	if s.LastPayment != nil {
		last = s.LastPayment.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%d payments (last started %s), %d closes, %d users", s.Payments, last, s.Closes, s.Users)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(to)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
