// Package app is the portal's composition root. New builds every store, service, job and the
// web layer from a Config, each from the dependencies it needs; App owns their lifecycle: Start
// serves and starts the background work, Close stops everything in reverse order of starting.
//
// main, the handler tests' harness and the scale-out test build the portal through New alike,
// so what runs in production is what the tests run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/jobs"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mailer"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"
)

// Config is everything the portal is set up with (main reads it from flags and the
// environment).
type Config struct {
	Addr         string // portal listen address ("127.0.0.1:0": any free port)
	DataDir      string // where the embedded SQLite files live
	DatabaseURL  string // postgres://… to use PostgreSQL, or an SQLite file; empty: DataDir/portal.db
	CookieSecure bool   // portal served over HTTPS (behind a TLS proxy): Secure cookies
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
	// DemoReaders: with the sandbox, register, pair and connect its virtual test readers.
	DemoReaders bool

	// PublicURL is the portal's address as the gateway reaches it, for callback URLs; default
	// http://<Addr>.
	PublicURL string

	// CallbackRetention is how long the callback log is kept (anyone can send callbacks);
	// ReceiptMailRetention how long e-mailed receipts (customers' addresses) are, once settled.
	// Zero: models.DefaultCallbackRetention, models.DefaultReceiptMailRetention.
	CallbackRetention    time.Duration
	ReceiptMailRetention time.Duration

	// The daily backup of the embedded database: local time "HH:MM" (or "off"), folder
	// (default <data>/backups) and how many to keep.
	BackupAt   string
	BackupDir  string
	BackupKeep int

	// E-mailed receipts: the SMTP server (host:port; empty: receipts are printed only), the
	// sender address and an optional sign-in. STARTTLS is used whenever the server offers it.
	SMTPAddr     string
	SMTPFrom     string
	SMTPUser     string
	SMTPPassword string
}

// Gateways builds the gateway client of an endpoint, for payments and for Close Day.
type Gateways interface {
	payments.Gateways
	closeday.Gateways
}

// Option replaces a part of the portal, for tests.
type Option func(*options)

type options struct {
	now      func() time.Time
	log      *slog.Logger
	gateways Gateways
	noJobs   bool
	web      []func(*web.Deps)
}

// WithClock gives every service the clock now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger logs to l instead of discarding.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithGateways talks to g instead of the endpoints' gateways over MAPI.
func WithGateways(g Gateways) Option { return func(o *options) { o.gateways = g } }

// WithoutBackgroundJobs leaves the scheduled work (status poller, presence sweep, scheduled
// closes, retention, stale preauths, session cleanup, backups) to the test, which runs it by
// hand. The screens' renderer and the database's notifications still run.
func WithoutBackgroundJobs() Option { return func(o *options) { o.noJobs = true } }

// WithWeb changes the web layer's dependencies before it is built.
func WithWeb(f func(*web.Deps)) Option { return func(o *options) { o.web = append(o.web, f) } }

// App is one running portal: its parts, for main and tests, and its lifecycle.
type App struct {
	URL      string // where the portal listens: http://host:port
	DB       *gorm.DB
	Registry *prometheus.Registry
	Handler  *web.Server
	Hub      *web.Hub
	Live     *web.Live // renders what changed for this instance's screens

	Endpoints    *models.Endpoints
	Audit        *models.Audit
	Users        *models.Users
	ReaderStore  *models.Readers
	Transactions *models.Transactions
	Closes       *models.CloseDays
	Link         *devices.Link
	Readers      *devices.Readers
	Payments     *payments.Service
	CloseDays    *closeday.Service
	Devices      *web.DeviceHandlers
	Sandbox      *sandbox.Gateway // nil when the sandbox is off

	cfg     Config
	log     *slog.Logger
	ln      net.Listener
	srv     *http.Server
	jobs    []job
	sandbox *runningSandbox

	ctx    context.Context // the background work's; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	served chan error
	stop   stopList
}

// job is one piece of background work, run until the app's context ends.
type job struct {
	name string
	run  func(context.Context) error
}

// New builds the portal. It opens (and migrates) the database, starts the sandbox when
// configured and listens on cfg.Addr, but serves nothing and starts no background work until
// Start. On an error everything already started is stopped again.
func New(cfg Config, opts ...Option) (a *App, err error) {
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	a = &App{cfg: cfg, log: o.log, served: make(chan error, 1)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	// Whoever starts something registers how to stop it right after; Close runs the steps last
	// first.
	a.stop.add("background context", func() error { a.cancel(); return nil })
	defer func() {
		if err != nil {
			a.stop.run()
			a = nil
		}
	}()
	logger := o.log

	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return a, fmt.Errorf("data dir: %w", err)
		}
	}
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "portal.db")
		// One portal per embedded database: a second one, or a restore, is refused while this
		// one runs.
		release, err := LockDataDir(cfg.DataDir)
		if err != nil {
			return a, err
		}
		a.stop.add("data directory lock", func() error { release(); return nil })
	}
	db, err := models.Open(dsn, o.now, logger.With("component", "db"))
	if err != nil {
		return a, err
	}
	a.stop.add("database", func() error { return models.Close(db) })
	if err := models.Migrate(db); err != nil {
		return a, err
	}
	a.DB = db
	a.Endpoints = &models.Endpoints{DB: db}
	a.Audit = &models.Audit{DB: db}
	a.Users = &models.Users{DB: db}

	if cfg.SandboxAddr != "" && cfg.SandboxAddr != "off" {
		if a.sandbox, err = startSandbox(a.ctx, &a.wg, cfg, logger); err != nil {
			return a, err
		}
		a.Sandbox = a.sandbox.gw
		a.stop.add("sandbox", a.sandbox.gw.Close)
		// First run: the portal talks to the embedded sandbox with no configuration.
		m := a.Sandbox.Merchant()
		created, err := a.Endpoints.EnsureDefault(a.ctx, models.Endpoint{Name: "Sandbox", EndpointID: m.EndpointID,
			Login: m.Login, ControlKey: m.ControlKey, Currency: m.Currency, BaseURL: a.sandbox.url, Enabled: true,
			Address1: "1 Demo Street", City: "Riga", ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com"})
		if err != nil {
			return a, err
		}
		if created {
			logger.Info("gateway endpoint configured for the embedded sandbox", "endpoint", m.EndpointID)
		}
	}

	// The portal's own address is known once it listens; callbacks need it.
	if a.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return a, fmt.Errorf("portal listen: %w", err)
	}
	a.stop.add("listener", func() error { a.ln.Close(); return nil }) // closed already by the server's shutdown, unless it never served
	a.URL = "http://" + a.ln.Addr().String()
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = a.URL
	}

	a.Registry = prometheus.NewRegistry()
	reg := a.Registry
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.ReaderStore = &models.Readers{DB: db}
	devices.RegisterMetrics(reg, a.ReaderStore)
	closeMetrics := closeday.NewMetrics(reg)
	paymentMetrics := payments.NewMetrics(reg)
	// Payment updates and the callback log share commits: see models.GroupCommit.
	batch := models.NewGroupCommit(db, 256)
	a.stop.add("group commit", func() error { batch.Close(); return nil })
	// Each payment is counted once, where the state machine makes it final.
	a.Transactions = &models.Transactions{DB: db, Batch: batch, OnFinal: paymentMetrics.Final}
	a.Closes = &models.CloseDays{DB: db}
	gateways := o.gateways
	if gateways == nil {
		gateways = &gatewayClients{endpoints: a.Endpoints, http: gatewayHTTPClient(), userAgent: instanceName(),
			callbackBase: strings.TrimRight(publicURL, "/") + "/callbacks/mapi/"}
	}

	// What the domain changed reaches the screens: Live renders for this instance's (a job
	// below). On SQLite the domain tells it directly; on PostgreSQL, where several instances
	// may share the database, every change goes to every instance's screens through NOTIFY,
	// as do commands for a reader connected to another instance.
	a.Hub = web.NewHub(logger.With("component", "hub"))
	a.Live = web.NewLive(a.Hub, a.Transactions, a.ReaderStore, a.Closes, a.Endpoints)
	a.Hub.Snapshot = a.Live.Snapshot
	a.Link = devices.NewLink()
	var notify live.Notifier = a.Live
	var pgNotify *models.Notify
	if models.IsPostgres(dsn) {
		pgNotify = models.NewNotify(db, dsn, logger.With("component", "notify"))
		fanout := &live.Fanout{Local: a.Live, Log: logger.With("component", "live")}
		fanout.Transport = pgNotify.Channel(models.NotifyChannelName(dsn, "portal_changes"), fanout.Receive)
		notify = fanout
		a.Link.Relay = pgNotify.Channel(models.NotifyChannelName(dsn, "portal_readers"), a.Link.Deliver)
		a.stop.add("notices", func() error { pgNotify.Close(); return nil })
	}

	// A reader that goes away ends the payment waiting on it: the fleet is built first, the
	// payments (which use it) next.
	a.Readers = devices.NewReaders(devices.ReadersDeps{Store: a.ReaderStore, Link: a.Link, Live: notify, Now: o.now, Audit: a.Audit,
		Log: logger.With("component", "devices"), Waiting: devices.WaitingFunc(func(ctx context.Context, readerID uint, reason string) {
			a.Payments.EndWaiting(ctx, readerID, reason)
		})})
	a.Payments = payments.New(payments.Deps{Tx: a.Transactions, Readers: a.Readers, Link: a.Link, Live: notify, Gate: a.Closes,
		Audit: a.Audit, Gateways: gateways, Log: logger.With("component", "payments"), Now: o.now})
	a.stop.add("payment workers", func() error { a.Payments.Close(); return nil })
	a.CloseDays = closeday.New(closeday.Deps{Store: a.Closes, Gateways: gateways, Sweeper: a.Payments, Audit: a.Audit,
		Metrics: closeMetrics, Live: notify, Log: logger.With("component", "closeday"), Now: o.now})
	a.stop.add("close-day workers", func() error { a.CloseDays.Wait(); return nil })

	// E-mailed receipts, when a mail server is configured: sent in the background.
	var receiptMail *web.ReceiptMailer
	if cfg.SMTPAddr != "" {
		mc, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUser, Password: cfg.SMTPPassword})
		if err != nil {
			return a, err
		}
		receiptMail = web.NewReceiptMailer(mc, &models.ReceiptMails{DB: db}, a.Audit, logger.With("component", "mail"))
	}

	a.Devices = &web.DeviceHandlers{Readers: a.Readers, Payments: a.Payments, Link: a.Link, Log: logger.With("component", "devices")}
	sessions := &models.SessionStore{DB: db}
	callbackLog := &models.Callbacks{DB: db, Batch: batch}
	deps := web.Deps{
		Users: a.Users, Audit: a.Audit, Endpoints: a.Endpoints, Sessions: sessions, SessionList: sessions,
		Health: func(ctx context.Context) error {
			sqlDB, err := db.DB()
			if err != nil {
				return err
			}
			return sqlDB.PingContext(ctx)
		},
		Log: logger.With("component", "web"), Metrics: reg, Gatherer: reg, CookieSecure: cfg.CookieSecure, Now: o.now,
		Hub: a.Hub, Readers: a.ReaderStore, ReaderAdmin: a.Readers,
		Devices:  a.Devices,
		Payments: a.Payments, Transactions: a.Transactions, Callbacks: callbackLog,
		CloseDays: a.CloseDays, Closes: a.Closes, Shifts: &models.Shifts{DB: db},
		SecondFactors: &models.SecondFactors{DB: db}, SecondFactorOptional: cfg.SecondFactorOptional,
		ReceiptMail: receiptMail,
	}
	for _, f := range o.web {
		f(&deps)
	}
	a.Handler = web.New(deps)

	// Background work, started by Start. The renderer, the database's notifications and the
	// mail sender are part of serving; the rest runs on a schedule.
	a.jobs = append(a.jobs, job{"live renderer", a.Live.Run})
	if pgNotify != nil {
		a.jobs = append(a.jobs, job{"database notifications", pgNotify.Run})
	}
	if deps.ReceiptMail != nil {
		a.jobs = append(a.jobs, job{"receipt mail", deps.ReceiptMail.Run})
	}
	if !o.noJobs {
		jobsLog := logger.With("component", "jobs")
		retention, mailRetention := cfg.CallbackRetention, cfg.ReceiptMailRetention
		if retention <= 0 {
			retention = models.DefaultCallbackRetention
		}
		if mailRetention <= 0 {
			mailRetention = models.DefaultReceiptMailRetention
		}
		a.jobs = append(a.jobs,
			job{"session cleanup", func(ctx context.Context) error { sessions.Cleanup(ctx, 10*time.Minute); return nil }},
			job{"status poller", (&jobs.StatusPoller{Checks: a.Payments, Log: jobsLog, Metrics: jobs.NewMetrics(reg)}).Run},
			job{"presence sweep", (&jobs.PresenceSweeper{Sweep: a.Readers.SweepPresence, Log: jobsLog}).Run},
			job{"scheduled closes", (&jobs.CloseDayJob{Closes: a.CloseDays, Schedules: schedules(a.Endpoints), Log: jobsLog}).Run},
			job{"callback log retention", (&jobs.Retention{Name: "callback log", Prune: callbackLog.Prune, Keep: retention, Log: jobsLog}).Run},
			job{"receipt mail retention", (&jobs.Retention{Name: "e-mailed receipts", Prune: (&models.ReceiptMails{DB: db}).Prune,
				Keep: mailRetention, Log: jobsLog}).Run},
			job{"stale preauths", (&jobs.PreauthReleases{Release: a.Payments.ReleaseStale, Log: jobsLog}).Run},
		)
		if !models.IsPostgres(dsn) && cfg.BackupAt != "" && cfg.BackupAt != "off" {
			dir := cfg.BackupDir
			if dir == "" {
				dir = filepath.Join(cfg.DataDir, "backups")
			}
			keep := cfg.BackupKeep
			if keep < 1 {
				keep = 14
			}
			backups := &jobs.Backups{DBPath: dsn, Dir: dir, At: cfg.BackupAt, Keep: keep, Log: jobsLog,
				Report: backupReport(reg, a.Audit, logger)}
			a.jobs = append(a.jobs, job{"backups", backups.Run})
		}
	}
	a.stop.add("background work", func() error { a.cancel(); a.wg.Wait(); return nil })

	a.srv = portalServer(a.Handler, serverTimeouts{})
	// The server's shutdown leaves hijacked connections alone: the screens' sockets (1012, so
	// htmx reconnects) and the readers' (which reconnect by themselves) are closed next, each
	// reader's going offline recorded before the database closes.
	a.stop.add("reader sockets", func() error { a.Devices.Close(); return nil })
	a.stop.add("screen sockets", func() error { a.Hub.Close(); return nil })
	a.stop.add("http server", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return a, nil
}

// Start serves HTTP on the app's address and starts the background work, then (with
// Config.DemoReaders) connects the sandbox's demo readers. A failing job is logged; the
// portal goes on without it.
func (a *App) Start() {
	for _, j := range a.jobs {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := j.run(a.ctx); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error("background job stopped", "job", j.name, "error", err)
			}
		}()
	}
	go func() { a.served <- a.srv.Serve(a.ln) }()
	a.log.Info("portal listening", "url", a.URL)
	if a.sandbox != nil && a.cfg.DemoReaders {
		if err := startDemoReaders(a.ctx, &a.wg, a.sandbox, a.Readers, a.ReaderStore, a.Endpoints, a.URL, a.log); err != nil {
			a.log.Error("demo readers", "error", err)
		}
	}
}

// Run starts the app and serves until ctx ends or the server fails, then stops everything.
func (a *App) Run(ctx context.Context) error {
	a.Start()
	select {
	case err := <-a.served:
		a.Close()
		return err
	case <-ctx.Done():
	}
	return a.Close()
}

// Close stops everything in reverse order of starting: the HTTP server, the screens' and
// readers' sockets, the background work, the payment and close workers, the group commit,
// the sandbox, the database and the data directory's lock. It returns the first failure;
// later steps still run. Calling it again does nothing.
func (a *App) Close() error { return a.stop.run() }

// stopList is the portal's shutdown: steps run last registered first, once.
type stopList struct {
	mu    sync.Mutex
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
	s.mu.Lock()
	defer s.mu.Unlock()
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
