// Command mposportal is the merchant back-office portal for card-present (mPOS) payments.
//
// main only wires packages together and runs their lifecycle; see run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // time zones for scheduled closes, even on a machine without zoneinfo

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/jobs"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mailer"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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

// Config is everything run needs; flags override environment variables, which override defaults.
type Config struct {
	Addr         string // portal listen address
	DataDir      string // where the embedded SQLite files live
	DatabaseURL  string // postgres://… to use PostgreSQL; empty: SQLite in DataDir
	LogJSON      bool
	CookieSecure bool // portal served over HTTPS (behind a TLS proxy): Secure cookies
	// SecondFactorOptional lets administrators and managers sign in with a password alone
	// (off: they set up an authenticator app at their first sign-in).
	SecondFactorOptional bool

	// The embedded sandbox gateway. SandboxAddr "off" runs without it (a real gateway is then
	// configured in the portal's gateway settings).
	SandboxAddr      string
	SandboxPublicURL string // the sandbox's URL as clients see it; default http://<SandboxAddr>
	// SandboxAnyCallbackPort lifts the gateway's rule that callbacks go to ports 80, 8080, 443
	// or 8443 (tests run the portal on random ports).
	SandboxAnyCallbackPort bool

	// PublicURL is the portal's address as the gateway reaches it, for callback URLs; default
	// http://<Addr>.
	PublicURL string

	// CallbackRetention is how long the callback log is kept (anyone can send callbacks).
	CallbackRetention time.Duration

	// The daily backup of the embedded database: local time "HH:MM" (or "off"), folder
	// (default <data>/backups) and how many to keep.
	BackupAt   string
	BackupDir  string
	BackupKeep int

	// E-mailed receipts: the SMTP server (host:port; empty: receipts are printed only), the
	// sender address and an optional sign-in (the password from the environment only, so it
	// is not in the process list). STARTTLS is used whenever the server offers it.
	SMTPAddr     string
	SMTPFrom     string
	SMTPUser     string
	SMTPPassword string
}

func parseConfig(args []string, getenv func(string) string) (Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var cfg Config
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
	cfg.CallbackRetention = time.Duration(*retentionDays) * 24 * time.Hour
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

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(stdout, nil)
	if cfg.LogJSON {
		handler = slog.NewJSONHandler(stdout, nil)
	}
	logger := slog.New(handler)

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	// Whoever starts something registers how to stop it right after; shutdown runs the steps
	// last first: the HTTP server, the screens' and readers' sockets, the background work,
	// the payment and close workers, the group commit, the sandbox, the database.
	var stop stopList
	defer stop.run()
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "portal.db")
		// One portal per embedded database: a second one, or a restore, is refused while
		// this one runs.
		release, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		stop.add("data directory lock", func() error { release(); return nil })
	}
	db, err := models.Open(dsn, time.Now, logger.With("component", "db"))
	if err != nil {
		return err
	}
	stop.add("database", func() error { return models.Close(db) })
	if err := models.Migrate(db); err != nil {
		return err
	}
	endpoints := &models.Endpoints{DB: db}

	// Everything started in the background (the sandbox, demo readers, jobs) runs on ctx and
	// in wg: it is stopped and waited for once the server and the sockets are closed.
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var sb *runningSandbox
	if cfg.SandboxAddr != "off" {
		if sb, err = startSandbox(ctx, &wg, cfg, logger); err != nil {
			return err
		}
		stop.add("sandbox", sb.gw.Close)
		// First run: the portal talks to the embedded sandbox with no configuration.
		m := sb.gw.Merchant()
		created, err := endpoints.EnsureDefault(ctx, models.Endpoint{Name: "Sandbox", EndpointID: m.EndpointID,
			Login: m.Login, ControlKey: m.ControlKey, Currency: m.Currency, BaseURL: sb.url, Enabled: true,
			Address1: "1 Demo Street", City: "Riga", ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com"})
		if err != nil {
			return err
		}
		if created {
			logger.Info("gateway endpoint configured for the embedded sandbox", "endpoint", m.EndpointID)
		}
	}

	hub := web.NewHub(logger.With("component", "hub"))
	readerStore := &models.Readers{DB: db}
	link := devices.NewLink()
	// The portal's own address is known once it listens; callbacks need it.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("portal listen: %w", err)
	}
	stop.add("listener", func() error { ln.Close(); return nil }) // closed already by the server's shutdown, unless it never served
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	devices.RegisterMetrics(reg, readerStore)
	closeMetrics := closeday.NewMetrics(reg)
	paymentMetrics := payments.NewMetrics(reg)
	// Payment updates and the callback log share commits: see models.GroupCommit.
	batch := models.NewGroupCommit(db, 256)
	stop.add("group commit", func() error { batch.Close(); return nil })
	// Each payment is counted once, where the state machine makes it final.
	txStore := &models.Transactions{DB: db, Batch: batch, OnFinal: paymentMetrics.Final}
	gateways := &gatewayClients{endpoints: endpoints, http: gatewayHTTPClient(), userAgent: instanceName(), callbackBase: strings.TrimRight(publicURL, "/") + "/callbacks/mapi/"}
	closeStore := &models.CloseDays{DB: db}
	auditLog := &models.Audit{DB: db}

	// What the domain changed reaches the screens: screens renders for this instance's (Run,
	// a background job below). On SQLite the domain tells screens directly; on PostgreSQL,
	// where several instances may share the database, every change goes to every instance's
	// screens through NOTIFY, as do commands for a reader connected to another instance.
	screens := web.NewLive(hub, txStore, readerStore, closeStore, endpoints)
	hub.Snapshot = screens.Snapshot
	var notify live.Notifier = screens
	var pgNotify *models.Notify
	if models.IsPostgres(dsn) {
		pgNotify = models.NewNotify(db, dsn, logger.With("component", "notify"))
		fanout := &live.Fanout{Local: screens, Log: logger.With("component", "live")}
		fanout.Transport = pgNotify.Channel("portal_changes", fanout.Receive)
		notify = fanout
		link.Relay = pgNotify.Channel("portal_readers", link.Deliver)
	}

	readers := &devices.Readers{Store: readerStore, Link: link, Live: notify, Audit: auditLog, Log: logger.With("component", "devices")}
	pay := &payments.Service{Tx: txStore, Readers: readers, Link: link, Live: notify, Gate: closeStore, Audit: auditLog,
		Gateways: gateways, Log: logger.With("component", "payments")}
	readers.Waiting = pay // a reader that goes away ends the payment waiting on it
	stop.add("payment workers", func() error { pay.Close(); return nil })
	closeDays := &closeday.Service{Store: closeStore, Gateways: gateways, Sweeper: pay, Audit: auditLog, Metrics: closeMetrics,
		Live: notify, Log: logger.With("component", "closeday")}
	stop.add("close-day workers", func() error { closeDays.Wait(); return nil })

	// E-mailed receipts, when a mail server is configured: sent in the background (a job below).
	var receiptMail *web.ReceiptMailer
	if cfg.SMTPAddr != "" {
		mc, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUser, Password: cfg.SMTPPassword})
		if err != nil {
			return err
		}
		receiptMail = web.NewReceiptMailer(mc, &models.ReceiptMails{DB: db}, auditLog, logger.With("component", "mail"))
	}

	deviceHandlers := &web.DeviceHandlers{Readers: readers, Payments: pay, Link: link, Log: logger.With("component", "devices")}
	sessions := &models.SessionStore{DB: db}
	callbackLog := &models.Callbacks{DB: db, Batch: batch}
	srvHandler := web.New(web.Deps{
		Users: &models.Users{DB: db}, Audit: auditLog, Endpoints: endpoints, Sessions: sessions, SessionList: sessions,
		Health: func(ctx context.Context) error {
			sqlDB, err := db.DB()
			if err != nil {
				return err
			}
			return sqlDB.PingContext(ctx)
		},
		Log: logger.With("component", "web"), Metrics: reg, Gatherer: reg, CookieSecure: cfg.CookieSecure,
		Hub: hub, Readers: readerStore, ReaderAdmin: readers,
		Devices:  deviceHandlers,
		Payments: pay, Transactions: txStore, Callbacks: callbackLog,
		CloseDays: closeDays, Closes: closeStore, Shifts: &models.Shifts{DB: db},
		SecondFactors: &models.SecondFactors{DB: db}, SecondFactorOptional: cfg.SecondFactorOptional,
		ReceiptMail: receiptMail,
	})

	jobsLog := logger.With("component", "jobs")
	background := []func(context.Context) error{
		func(ctx context.Context) error { sessions.Cleanup(ctx, 10*time.Minute); return nil },
		screens.Run,
		(&jobs.StatusPoller{Checks: pay, Log: jobsLog, Metrics: jobs.NewMetrics(reg)}).Run,
		(&jobs.PresenceSweeper{Sweep: readers.SweepPresence, Log: jobsLog}).Run,
		(&jobs.CloseDayJob{Closes: closeDays, Schedules: schedules(endpoints), Log: jobsLog}).Run,
		(&jobs.Retention{Name: "callback log", Prune: callbackLog.Prune, Keep: cfg.CallbackRetention, Log: jobsLog}).Run,
		(&jobs.PreauthReleases{Release: pay.ReleaseStale, Log: jobsLog}).Run,
	}
	if receiptMail != nil {
		background = append(background, receiptMail.Run)
	}
	if pgNotify != nil {
		background = append(background, pgNotify.Run)
	}
	if !models.IsPostgres(dsn) && cfg.BackupAt != "off" {
		dir := cfg.BackupDir
		if dir == "" {
			dir = filepath.Join(cfg.DataDir, "backups")
		}
		backups := &jobs.Backups{DBPath: dsn, Dir: dir, At: cfg.BackupAt, Keep: cfg.BackupKeep, Log: jobsLog,
			Report: backupReport(reg, auditLog, logger)}
		background = append(background, backups.Run)
	}
	for _, job := range background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := job(ctx); err != nil && !errors.Is(err, context.Canceled) {
				jobsLog.Error("background job stopped", "error", err)
			}
		}()
	}
	stop.add("background work", func() error { cancel(); wg.Wait(); return nil })

	srv := portalServer(srvHandler, serverTimeouts{})
	// The server's shutdown leaves hijacked connections alone: the screens' sockets (1012,
	// so htmx reconnects) and the readers' (which reconnect by themselves) are closed next,
	// each reader's going offline recorded before the database closes.
	stop.add("reader sockets", func() error { deviceHandlers.Close(); return nil })
	stop.add("screen sockets", func() error { hub.Close(); return nil })
	stop.add("http server", func() error {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	logger.Info("portal listening", "url", "http://"+ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if sb != nil {
		if err := startDemoReaders(ctx, &wg, sb, readers, readerStore, endpoints, "http://"+ln.Addr().String(), logger); err != nil {
			logger.Error("demo readers", "error", err)
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return stop.run()
}

// stopList is the portal's shutdown: steps run last registered first, once.
type stopList struct {
	steps []stopStep
	done  bool
}

type stopStep struct {
	name string
	fn   func() error
}

func (s *stopList) add(name string, fn func() error) { s.steps = append(s.steps, stopStep{name, fn}) }

// run stops everything in reverse order of starting and returns the first failure; later
// steps still run.
func (s *stopList) run() error {
	if s.done {
		return nil
	}
	s.done = true
	var first error
	for i := len(s.steps) - 1; i >= 0; i-- {
		if err := s.steps[i].fn(); err != nil && first == nil {
			first = fmt.Errorf("stop %s: %w", s.steps[i].name, err)
		}
	}
	return first
}

// serverTimeouts bound how long a client may take; zero fields take the defaults.
type serverTimeouts struct{ header, read, write, idle time.Duration }

// portalServer is the portal's HTTP server. A client must send its headers within 10 s and
// its whole request within 30 s (a body trickled at a byte a second is cut off, so slow
// clients cannot hold connections), answers may take 60 s, and idle keep-alive connections
// close after 2 minutes; headers are at most 64 KB. Websockets are not cut by these: the live
// hub and the device channel set their own deadlines once upgraded, and keep them alive with
// pings and heartbeats.
func portalServer(h http.Handler, t serverTimeouts) *http.Server {
	def := func(d, v time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return v
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: def(t.header, 10*time.Second), ReadTimeout: def(t.read, 30*time.Second),
		WriteTimeout: def(t.write, 60*time.Second), IdleTimeout: def(t.idle, 2*time.Minute), MaxHeaderBytes: 64 << 10}
}

// backupReport records each daily backup in the audit log and in /metrics (last success time,
// size and duration; failures).
func backupReport(reg prometheus.Registerer, audit *models.Audit, log *slog.Logger) func(context.Context, models.BackupInfo, []string, error) {
	last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "portal_backup_last_success_timestamp_seconds", Help: "When the last backup succeeded."})
	size := prometheus.NewGauge(prometheus.GaugeOpts{Name: "portal_backup_last_size_bytes", Help: "Size of the last successful backup."})
	took := prometheus.NewGauge(prometheus.GaugeOpts{Name: "portal_backup_last_duration_seconds", Help: "How long the last successful backup took."})
	failed := prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_backup_failures_total", Help: "Backups that failed."})
	reg.MustRegister(last, size, took, failed)
	return func(ctx context.Context, info models.BackupInfo, pruned []string, err error) {
		e := models.AuditEvent{ActorName: "schedule", Action: "backup.taken", Subject: filepath.Base(info.Path)}
		if err != nil {
			failed.Inc()
			e.Action, e.Detail = "backup.failed", err.Error()
		} else {
			last.SetToCurrentTime()
			size.Set(float64(info.Size))
			took.Set(info.Duration.Seconds())
			e.Detail = fmt.Sprintf("%d bytes in %s; %d older backups removed", info.Size, info.Duration.Round(time.Millisecond), len(pruned))
		}
		if err := audit.Record(context.WithoutCancel(ctx), e); err != nil {
			log.Error("backup audit", "error", err)
		}
	}
}
