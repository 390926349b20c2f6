// Package sandbox is an embedded gateway that speaks the mPOS API exactly as
// shared/mapi-protocol.md specifies it: OAuth 1.0 HMAC-SHA1 on sale, preauth and close day,
// the SHA-1 control on status, capture, return and callbacks, "&"-joined responses, GET
// callbacks retried on a schedule, the deterministic outcomes by amount of §10, and real DUKPT
// decryption of the readers' card data. It keeps its state in its own SQLite file so a restart resumes
// processing and callback retries. The portal runs it in-process for demos and tests; pointing
// the portal at a real gateway needs no code from here.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/example/mposportal/dukpt"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Config configures a sandbox gateway. Zero values take the documented defaults.
type Config struct {
	Path             string        // SQLite file for the sandbox's own state
	PublicURL        string        // base URL clients use; OAuth verification rebuilds URLs from it, never from Host
	ProcessingDelay  time.Duration // time to a final status (default 2s, §3.4)
	LongProcessing   time.Duration // how long .77 stays processing (default 2m)
	UnknownFor       time.Duration // how long .78 stays unknown (default 30s)
	CallbackSchedule []time.Duration
	TimeScale        float64       // divides every callback retry delay (1 = real time)
	CallbackTimeout  time.Duration // default 30s
	CallbackPorts    []int         // allowed callback ports; default 80, 8080, 443, 8443
	AnyCallbackPort  bool          // tests on random loopback ports
	TimestampWindow  time.Duration // OAuth timestamp skew allowed (default 300s; negative = off)
	CloseDuration    time.Duration // how long a close day keeps the gate locked (default 0)
	Currency         string        // the seeded merchant's currency (default EUR): try JPY or KWD
	Now              func() time.Time
	Logger           *slog.Logger
	HTTPClient       *http.Client // for callbacks
}

// DefaultCallbackSchedule is §6.3: at once, then 1m … 8h, then 19 more every 17h — 30
// attempts over about 14 days.
func DefaultCallbackSchedule() []time.Duration {
	s := []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}
	for range 19 {
		s = append(s, 17*time.Hour)
	}
	return s
}

// Faults are switches for tests and demos. They are safe to change while running.
type Faults struct {
	CallbacksOff         bool // no callback is sent (recorded as suppressed): polling must finish orders
	Forbid               bool // every OAuth-signed request gets 403
	Sync5xxAfterCreate   int  // the next N sale/preauth requests create the order, then answer HTTP 502
	Money5xxAfterCreate  int  // the next N accepted capture/return requests create (or replay) the operation, then answer HTTP 502
	CloseDay5xxAfter     int  // the next N close-day requests close the day, then answer HTTP 502
	DropCallbackPct      int  // chaos: this share of callbacks is never sent
	DuplicateCallbackPct int  // chaos: this share is delivered twice
	Sync5xxPct           int  // chaos: this share of sale/preauth/status requests answer 502 (half before, half after creating the order)
	// chaos: each callback that is sent waits a random time up to this before its first
	// attempt, so callbacks arrive late and out of order
	DelayCallbackMax time.Duration
	Seed             int64

	// CloseDayDropBefore: the next N close-day requests answer HTTP 502 before anything is
	// closed (lost on the way); a later request with the same day_close_request_id closes for
	// real.
	CloseDayDropBefore int
	// RefuseCloseDay: the next N close-day requests are refused with validation-error 10
	// (close day via API not allowed on this gate) and close nothing.
	RefuseCloseDay int
	// DelaySale, DelaySaleCount: the next DelaySaleCount sale/preauth requests are held for
	// DelaySale after authentication and before the order is created, as if stuck in a proxy;
	// the order is created after the delay even if the client has given up.
	DelaySale      time.Duration
	DelaySaleCount int
	// BlackoutAmount: while set, every order of this amount (minor units) is cut off as by
	// Blackout: status requests answer 502 and its callbacks are held until the switch is
	// cleared. Tests that drive the portal through a browser use it, as they cannot know
	// the order id in time.
	BlackoutAmount int64
}

// Merchant is the sandbox's merchant account on one endpoint.
type Merchant struct {
	EndpointID, Login, ControlKey, Currency, CallbackURL string
}

// TestReader is a reader the gateway provisioned: its serial and the key material behind it.
type TestReader struct {
	Serial string
	BDK    []byte
	IKSN   dukpt.KSN
}

// IPEK is the initial key injected into the reader.
func (r TestReader) IPEK() []byte {
	k, _ := dukpt.DeriveIPEK(r.BDK, r.IKSN)
	return k
}

// Gateway is a running sandbox.
type Gateway struct {
	cfg  Config
	db   *gorm.DB
	log  *slog.Logger
	now  func() time.Time
	http *http.Client
	wake chan struct{}

	mu        sync.Mutex
	faults    Faults
	logMu     sync.Mutex
	statusLog []StatusRequest
	rng       uint64          // chaos decisions, reproducible from Faults.Seed
	blackout  map[string]bool // client order ids whose status requests and callbacks fail (Blackout)
	lastPrune time.Time
}

// TestBDK is the public ANSI X9.24 test base derivation key the sandbox's readers use.
const TestBDK = "0123456789ABCDEFFEDCBA9876543210"

// Open opens (creating and seeding on first use) the sandbox state at cfg.Path.
func Open(cfg Config) (*Gateway, error) {
	if cfg.Path == "" {
		return nil, errors.New("sandbox: Config.Path is required")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("sandbox: Config.PublicURL is required")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.ProcessingDelay == 0 {
		cfg.ProcessingDelay = 2 * time.Second
	}
	if cfg.LongProcessing == 0 {
		cfg.LongProcessing = 2 * time.Minute
	}
	if cfg.UnknownFor == 0 {
		cfg.UnknownFor = 30 * time.Second
	}
	if len(cfg.CallbackSchedule) == 0 {
		cfg.CallbackSchedule = DefaultCallbackSchedule()
	}
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	if cfg.CallbackTimeout == 0 {
		cfg.CallbackTimeout = 30 * time.Second
	}
	if len(cfg.CallbackPorts) == 0 {
		cfg.CallbackPorts = []int{80, 8080, 443, 8443}
	}
	if cfg.TimestampWindow == 0 {
		cfg.TimestampWindow = 300 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	// WAL so the admin API can read while the worker writes; one connection because SQLite
	// has one writer anyway and this way no request ever sees SQLITE_BUSY.
	// The state holds the merchant's control key: readable by its owner only (SQLite gives the
	// -wal and -shm files the database's mode).
	if f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
		os.Chmod(cfg.Path, 0o600)
	}
	dsn := "file:" + cfg.Path + "?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return cfg.Now().UTC() }})
	if err != nil {
		return nil, fmt.Errorf("sandbox: open %s: %w", cfg.Path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1)
	if err := db.AutoMigrate(allTables()...); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sandbox: migrate: %w", err)
	}
	// Before captures and returns, a delivery was unique per (order, type, status); that index
	// would refuse the second partial refund's callback. idx_delivery_tx replaces it.
	if db.Migrator().HasIndex(&delivery{}, "idx_delivery") {
		if err := db.Migrator().DropIndex(&delivery{}, "idx_delivery"); err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("sandbox: migrate: drop idx_delivery: %w", err)
		}
	}
	g := &Gateway{cfg: cfg, db: db, log: cfg.Logger, now: cfg.Now, http: cfg.HTTPClient, wake: make(chan struct{}, 1), rng: 1}
	if err := g.seed(); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return g, nil
}

// seed creates the sandbox merchant and its test readers once.
func (g *Gateway) seed() error {
	var n int64
	if err := g.db.Model(&merchant{}).Count(&n).Error; err != nil || n > 0 {
		return err
	}
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	k := strings.ToUpper(hex.EncodeToString(key))
	currency := g.cfg.Currency
	if currency == "" {
		currency = "EUR"
	}
	m := merchant{EndpointID: "1234", Login: "sandbox-merchant", Currency: currency, GateID: 101, EpntID: 1234,
		AllowCloseAPI: true, Descriptor: "SANDBOX-SHOP",
		// The key looks like the docs' example keys; it is random per installation.
		ControlKey: k[0:8] + "-" + k[8:12] + "-" + k[12:16] + "-" + k[16:20] + "-" + k[20:32]}
	return g.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&m).Error; err != nil {
			return fmt.Errorf("sandbox: seed merchant: %w", err)
		}
		for i := 1; i <= 8; i++ {
			if _, err := provision(tx, fmt.Sprintf("SBX-%04d", i), m.EndpointID); err != nil {
				return err
			}
		}
		return nil
	})
}

// provision registers a test reader with a fresh initial KSN under the test BDK.
func provision(tx *gorm.DB, serial, endpointID string) (reader, error) {
	var r reader
	err := tx.Where("serial = ?", serial).First(&r).Error
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return r, err
	}
	// Initial KSN: key set id FFFF987654 (the test key set), a random 19-bit device id, and the
	// 21-bit counter at zero.
	dev, err := rand.Int(rand.Reader, big.NewInt(1<<19))
	if err != nil {
		return r, err
	}
	ksn := fmt.Sprintf("FFFF987654%010X", dev.Uint64()<<21)
	r = reader{Serial: serial, EndpointID: endpointID, BDK: TestBDK, IKSN: ksn}
	if err := tx.Create(&r).Error; err != nil {
		return r, fmt.Errorf("sandbox: provision reader %s: %w", serial, err)
	}
	return r, nil
}

func (r reader) testReader() TestReader {
	bdk, _ := hex.DecodeString(r.BDK)
	k, _ := dukpt.ParseKSN(r.IKSN)
	return TestReader{Serial: r.Serial, BDK: bdk, IKSN: k}
}

// Merchant returns the sandbox merchant account (the first endpoint).
func (g *Gateway) Merchant() Merchant {
	var m merchant
	g.db.Order("endpoint_id").First(&m)
	return Merchant{EndpointID: m.EndpointID, Login: m.Login, ControlKey: m.ControlKey, Currency: m.Currency, CallbackURL: m.CallbackURL}
}

// SetCallbackURL sets the endpoint-configured callback URL, used when a request names none.
func (g *Gateway) SetCallbackURL(endpointID, rawURL string) error {
	if rawURL != "" {
		if err := g.checkCallbackURL(rawURL); err != nil {
			return err
		}
	}
	res := g.db.Model(&merchant{}).Where("endpoint_id = ?", endpointID).Update("callback_url", rawURL)
	if res.Error != nil || res.RowsAffected == 0 {
		return fmt.Errorf("sandbox: endpoint %s: not found (%v)", endpointID, res.Error)
	}
	return nil
}

// TestReaders lists the provisioned readers.
func (g *Gateway) TestReaders() []TestReader {
	var rs []reader
	g.db.Order("serial").Find(&rs)
	out := make([]TestReader, len(rs))
	for i, r := range rs {
		out[i] = r.testReader()
	}
	return out
}

// ProvisionReader provisions a test reader on the sandbox merchant (idempotent per serial).
func (g *Gateway) ProvisionReader(serial string) (TestReader, error) {
	r, err := provision(g.db, serial, g.Merchant().EndpointID)
	if err != nil {
		return TestReader{}, err
	}
	return r.testReader(), nil
}

// SetFaults replaces the fault switches.
func (g *Gateway) SetFaults(f Faults) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.faults = f
	g.rng = uint64(f.Seed)*2654435761 + 1
}

func (g *Gateway) getFaults() Faults {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.faults
}

// chance decides a chaos fault with probability pct %, reproducibly from the seed.
// random draws the next number of the chaos sequence: xorshift64, fast and deterministic
// for a given seed and call order.
func (g *Gateway) random() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rng ^= g.rng << 13
	g.rng ^= g.rng >> 7
	g.rng ^= g.rng << 17
	return g.rng
}

// jitter is a random duration in [0, max).
func (g *Gateway) jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(g.random() % uint64(max))
}

// chance is true for pct percent of calls.
func (g *Gateway) chance(pct int) bool {
	return pct > 0 && int(g.random()%100) < pct
}

// take consumes one of the counted faults the field selects: true when one was left.
func (g *Gateway) take(field func(*Faults) *int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := field(&g.faults); *n > 0 {
		*n--
		return true
	}
	return false
}

// takeSync5xx consumes one of the Sync5xxAfterCreate faults.
func (g *Gateway) takeSync5xx() bool {
	return g.take(func(f *Faults) *int { return &f.Sync5xxAfterCreate })
}

// takeMoney5xx consumes one of the Money5xxAfterCreate faults.
func (g *Gateway) takeMoney5xx() bool {
	return g.take(func(f *Faults) *int { return &f.Money5xxAfterCreate })
}

// takeCloseDay5xx consumes one of the CloseDay5xxAfter faults.
func (g *Gateway) takeCloseDay5xx() bool {
	return g.take(func(f *Faults) *int { return &f.CloseDay5xxAfter })
}

// takeCloseDayDrop consumes one of the CloseDayDropBefore faults.
func (g *Gateway) takeCloseDayDrop() bool {
	return g.take(func(f *Faults) *int { return &f.CloseDayDropBefore })
}

// takeCloseDayRefusal consumes one of the RefuseCloseDay faults.
func (g *Gateway) takeCloseDayRefusal() bool {
	return g.take(func(f *Faults) *int { return &f.RefuseCloseDay })
}

// takeSaleDelay consumes one of the DelaySaleCount faults and says how long to hold the
// request (0: not held).
func (g *Gateway) takeSaleDelay() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.faults.DelaySale <= 0 || g.faults.DelaySaleCount <= 0 {
		return 0
	}
	g.faults.DelaySaleCount--
	return g.faults.DelaySale
}

// Close closes the sandbox's database.
func (g *Gateway) Close() error {
	sqlDB, err := g.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// kick wakes the worker: new work may be due sooner than it planned.
func (g *Gateway) kick() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Run processes orders and delivers callbacks until ctx is done. All due work is read from
// the database, so a restarted gateway picks up where it stopped.
func (g *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		g.processDue(ctx)
		g.processDueOperations(ctx)
		g.deliverDue(ctx, &wg)
		g.pruneNonces()
		wait := g.untilNextDue()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-g.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// untilNextDue is how long the worker may sleep: until the earliest due order, operation or
// delivery, at most one second (so clock injection in tests and manual DB edits are picked up).
func (g *Gateway) untilNextDue() time.Duration {
	now := g.now()
	next := now.Add(time.Second)
	var o order
	if g.db.Where("due_at IS NOT NULL").Order("due_at").Limit(1).Find(&o).RowsAffected > 0 && o.DueAt.Before(next) {
		next = *o.DueAt
	}
	var p operation
	if g.db.Where("due_at IS NOT NULL").Order("due_at").Limit(1).Find(&p).RowsAffected > 0 && p.DueAt.Before(next) {
		next = *p.DueAt
	}
	var d delivery
	if g.db.Where("next_at IS NOT NULL").Order("next_at").Limit(1).Find(&d).RowsAffected > 0 && d.NextAt.Before(next) {
		next = *d.NextAt
	}
	if w := next.Sub(now); w > time.Millisecond {
		return w
	}
	return time.Millisecond
}

// pruneNonces forgets nonces older than the timestamp window, once a minute.
func (g *Gateway) pruneNonces() {
	now := g.now()
	if now.Sub(g.lastPrune) < time.Minute {
		return
	}
	g.lastPrune = now
	g.db.Where("expires_at < ?", now).Delete(&nonce{})
}
