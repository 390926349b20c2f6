// Command mposportal is the merchant back-office portal for card-present (mPOS) payments.
//
// main reads the configuration and runs the portal that package app builds from it; it also
// holds the command-line tools (reader, backup, restore).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones for scheduled closes, even on a machine without zoneinfo

	"github.com/example/mposportal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 {
		cmds := map[string]func(context.Context, []string, io.Writer) error{"reader": runReader, "backup": runBackup, "restore": runRestore}
		if cmd, ok := cmds[os.Args[1]]; ok {
			if err := cmd(ctx, os.Args[2:], os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, "mposportal:", err)
				os.Exit(1)
			}
			return
		}
	}
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mposportal:", err)
		os.Exit(1)
	}
}

// config is the portal's configuration and how it logs.
type config struct {
	app.Config
	LogJSON bool
}

// parseConfig reads the configuration: flags override environment variables, which override
// defaults.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	var cfg config
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", env("PORTAL_ADDR", "127.0.0.1:8080"), "portal listen address (PORTAL_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", env("PORTAL_DATA_DIR", "data"), "directory for the embedded SQLite databases (PORTAL_DATA_DIR)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", env("DATABASE_URL", ""), "postgres://… for PostgreSQL; default SQLite in the data dir (DATABASE_URL)")
	fs.BoolVar(&cfg.LogJSON, "log-json", env("PORTAL_LOG_JSON", "") == "1", "log as JSON (PORTAL_LOG_JSON=1)")
	fs.BoolVar(&cfg.CookieSecure, "cookie-secure", env("PORTAL_COOKIE_SECURE", "") == "1", "mark cookies Secure, for HTTPS (PORTAL_COOKIE_SECURE=1)")
	fs.BoolVar(&cfg.SecondFactorOptional, "second-factor-optional", env("PORTAL_SECOND_FACTOR_OPTIONAL", "") == "1", "let administrators and managers sign in without an authenticator app (PORTAL_SECOND_FACTOR_OPTIONAL=1)")
	fs.StringVar(&cfg.SandboxAddr, "sandbox-addr", env("SANDBOX_ADDR", "127.0.0.1:8081"), `embedded sandbox gateway listen address, or "off" (SANDBOX_ADDR)`)
	fs.BoolVar(&cfg.SandboxAnyCallbackPort, "sandbox-any-callback-port", env("SANDBOX_ANY_CALLBACK_PORT", "") == "1", "let the sandbox call back on any port (SANDBOX_ANY_CALLBACK_PORT=1)")
	fs.StringVar(&cfg.PublicURL, "public-url", env("PORTAL_PUBLIC_URL", ""), "the portal's URL as the gateway reaches it, for callbacks (PORTAL_PUBLIC_URL)")
	fs.StringVar(&cfg.SandboxPublicURL, "sandbox-public-url", env("SANDBOX_PUBLIC_URL", ""), "the sandbox's base URL as clients see it (SANDBOX_PUBLIC_URL)")
	fs.StringVar(&cfg.BackupAt, "backup-time", env("PORTAL_BACKUP_TIME", "03:00"), `daily backup of the embedded database, local "HH:MM", or "off" (PORTAL_BACKUP_TIME)`)
	fs.StringVar(&cfg.BackupDir, "backup-dir", env("PORTAL_BACKUP_DIR", ""), "folder for the daily backups; default <data>/backups (PORTAL_BACKUP_DIR)")
	fs.IntVar(&cfg.BackupKeep, "backup-keep", wholeNumber(env("PORTAL_BACKUP_KEEP", ""), 14), "daily backups to keep (PORTAL_BACKUP_KEEP)")
	fs.StringVar(&cfg.SMTPAddr, "smtp-addr", env("PORTAL_SMTP_ADDR", ""), "SMTP server host:port for e-mailed receipts; empty: print only (PORTAL_SMTP_ADDR)")
	fs.StringVar(&cfg.SMTPFrom, "smtp-from", env("PORTAL_SMTP_FROM", ""), "sender address of e-mailed receipts (PORTAL_SMTP_FROM)")
	fs.StringVar(&cfg.SMTPUser, "smtp-user", env("PORTAL_SMTP_USER", ""), "SMTP sign-in name; the password comes from PORTAL_SMTP_PASSWORD (PORTAL_SMTP_USER)")
	cfg.SMTPPassword = getenv("PORTAL_SMTP_PASSWORD")
	retentionDays := fs.Int("callback-retention-days", wholeNumber(env("PORTAL_CALLBACK_RETENTION_DAYS", ""), 90),
		"days the callback log is kept (PORTAL_CALLBACK_RETENTION_DAYS)")
	mailRetentionDays := fs.Int("receipt-mail-retention-days", wholeNumber(env("PORTAL_RECEIPT_MAIL_RETENTION_DAYS", ""), 90),
		"days e-mailed receipts (customers' addresses) are kept once sent or failed (PORTAL_RECEIPT_MAIL_RETENTION_DAYS)")
	if err := fs.Parse(args[1:]); err != nil {
		return cfg, err
	}
	if cfg.BackupAt != "off" {
		if _, err := time.Parse("15:04", cfg.BackupAt); err != nil {
			return cfg, fmt.Errorf(`-backup-time %q: use HH:MM or "off"`, cfg.BackupAt)
		}
	}
	if cfg.BackupKeep < 1 {
		return cfg, fmt.Errorf("-backup-keep must be at least 1")
	}
	if *retentionDays < 1 {
		return cfg, fmt.Errorf("-callback-retention-days must be at least 1")
	}
	if *mailRetentionDays < 1 {
		return cfg, fmt.Errorf("-receipt-mail-retention-days must be at least 1")
	}
	cfg.CallbackRetention = time.Duration(*retentionDays) * 24 * time.Hour
	cfg.ReceiptMailRetention = time.Duration(*mailRetentionDays) * 24 * time.Hour
	cfg.DemoReaders = true
	if cfg.SMTPAddr != "" && cfg.SMTPFrom == "" {
		return cfg, fmt.Errorf("-smtp-addr needs -smtp-from, the address receipts are sent from")
	}
	return cfg, nil
}

// wholeNumber reads a whole number from an environment value, or def when it is empty or not one.
func wholeNumber(v string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return n
	}
	return def
}

// run builds the portal from its configuration (package app) and runs it until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(stdout, nil)
	if cfg.LogJSON {
		handler = slog.NewJSONHandler(stdout, nil)
	}
	a, err := app.New(cfg.Config, app.WithLogger(slog.New(handler)))
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
