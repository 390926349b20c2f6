// Package paymentstest runs the payment flow against the real sandbox gateway over HTTP for
// tests (named after net/http/httptest): a portal database, a reader registered and
// "connected" through a Link whose messages the test reads, a callback receiver that applies
// callbacks as the web handler does, and the steps a test takes with them (start a payment,
// read the card, wait for a state, run the poller). The payments and the close-day tests
// share it: a close needs real payments.
package paymentstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/jobs"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
	"github.com/example/mposportal/money"
	"github.com/example/mposportal/payments"
	"gorm.io/gorm"
)

// Env is the payment flow against the real sandbox gateway over HTTP: a portal database,
// a reader registered and "connected" through a Link whose messages the test reads, and a
// callback receiver that applies callbacks as the web handler does.
type Env struct {
	T        testing.TB
	GW       *sandbox.Gateway
	Pay      *payments.Service
	Tx       *models.Transactions
	Reader   *virtual.Reader
	ReaderID uint
	Sent     chan any // what the reader was sent
	Key      string   // the merchant's control key
	Now      *Clock
	DB       *gorm.DB
	Client   *mapi.Client // a client of its own, for requests "from another system on the same gate"
	Audit    *AuditRecorder
	Gateways *Gateways

	cbMu    sync.Mutex
	cbCodes []int
	stopGW  func()
}

// Clock is a settable clock for the services under test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// AuditRecorder keeps the audit events the domain records.
type AuditRecorder struct {
	mu     sync.Mutex
	events []models.AuditEvent
}

// Record keeps e.
func (a *AuditRecorder) Record(_ context.Context, e models.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return nil
}

// Actions lists the recorded actions in order.
func (a *AuditRecorder) Actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.events {
		out = append(out, e.Action)
	}
	return out
}

// Events lists the recorded events of action, in order.
func (a *AuditRecorder) Events(action string) []models.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []models.AuditEvent
	for _, e := range a.events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// Gateways is the endpoint's settings as the payments see them (payments.Gateways).
type Gateways struct {
	ConfirmAbove   int64 // the endpoint's large-payment confirmation amount
	RefundApproval int64 // refunds above it wait for a second person's approval (0: never)
	ep             mapi.Endpoint
	cb             string
	cur            string
	Money          money.Locale // how the store writes amounts
	Disabled       atomic.Bool  // an administrator switched the endpoint off
	client         *mapi.Client // one client, with its connection pool, as main's gatewayClients keeps
}

// Gateway returns the endpoint's client and settings.
func (g *Gateways) Gateway(ctx context.Context, id uint) (payments.Gateway, payments.Merchant, error) {
	return g.client, payments.Merchant{Name: "Main", Disabled: g.Disabled.Load(), Currency: g.cur, Money: g.Money, ConfirmAboveMinor: g.ConfirmAbove,
		RefundApprovalMinor: g.RefundApproval, Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com",
		CallbackURL: g.cb}, nil
}

// New starts an Env on the portal database at dbPath ("" for a fresh one).
func New(t *testing.T, dbPath string) *Env {
	t.Helper()
	return NewWith(t, dbPath, nil)
}

// NewWith starts an Env whose sandbox configuration tweak may change.
func NewWith(t testing.TB, dbPath string, tweak func(*sandbox.Config)) *Env {
	t.Helper()
	dir := t.TempDir()
	if dbPath == "" {
		dbPath = filepath.Join(dir, "portal.db")
	}
	srv := httptest.NewUnstartedServer(nil)
	cfg := sandbox.Config{Path: filepath.Join(dir, "sandbox.db"), PublicURL: "http://" + srv.Listener.Addr().String(),
		ProcessingDelay: 20 * time.Millisecond, LongProcessing: 300 * time.Millisecond, UnknownFor: 300 * time.Millisecond,
		CallbackSchedule: []time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond}, AnyCallbackPort: true}
	if tweak != nil {
		tweak(&cfg)
	}
	gw, err := sandbox.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	gctx, gcancel := context.WithCancel(context.Background())
	gdone := make(chan struct{})
	go func() { gw.Run(gctx); close(gdone) }()

	db := testdb.Open(t, dbPath)
	c := &Clock{now: time.Now()}
	e := &Env{T: t, GW: gw, Sent: make(chan any, 16), Key: gw.Merchant().ControlKey, Now: c, DB: db, Audit: &AuditRecorder{}}
	link := devices.NewLink()
	discard := slog.New(slog.DiscardHandler)
	now := func() time.Time { return c.Now() }
	// As app wires them: a reader that goes away ends the payment waiting on it.
	readers := devices.NewReaders(devices.ReadersDeps{Store: &models.Readers{DB: db}, Link: link, Audit: e.Audit, Live: live.Nowhere,
		Log: discard, Now: now, Waiting: devices.WaitingFunc(func(ctx context.Context, readerID uint, reason string) {
			e.Pay.EndWaiting(ctx, readerID, reason)
		})})
	tr := gw.TestReaders()[0]
	e.Reader = virtual.New(tr.Serial, "2.1.0", tr.IPEK(), tr.IKSN)
	r, err := readers.Store.BySerial(context.Background(), tr.Serial)
	if errors.Is(err, models.ErrNotFound) {
		r, _, err = readers.Register(context.Background(), devices.RegisterInput{Serial: tr.Serial, Label: "Counter 1", EndpointID: 1})
	}
	if err != nil {
		t.Fatal(err)
	}
	e.ReaderID = r.ID
	readers.Connected(context.Background(), r, &devices.Hello{Serial: tr.Serial, Firmware: "2.1.0", Battery: 90})
	link.Register(tr.Serial, func(m any) error { e.Sent <- m; return nil }, func(string) {})

	e.Tx = &models.Transactions{DB: db}
	m := gw.Merchant()
	g := &Gateways{ep: mapi.Endpoint{BaseURL: srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: m.ControlKey}, cur: m.Currency}
	e.Client = mapi.NewClient(g.ep, nil, mapi.WithTimeouts(2*time.Second, 2*time.Second))
	g.client = mapi.NewClient(g.ep, nil, mapi.WithTimeouts(2*time.Second, 2*time.Second))
	e.Gateways = g
	e.Pay = payments.New(payments.Deps{Tx: e.Tx, Readers: readers, Link: link, Gateways: g, Log: discard,
		Now: now, Gate: &models.CloseDays{DB: db}, Audit: e.Audit, Live: live.Nowhere})
	// The merchant's callback endpoint, as the web handler runs it.
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.cbMu.Lock()
		if len(e.cbCodes) > 0 {
			code := e.cbCodes[0]
			e.cbCodes = e.cbCodes[1:]
			e.cbMu.Unlock()
			w.WriteHeader(code)
			return
		}
		e.cbMu.Unlock()
		if _, err := e.Pay.ApplyCallback(r.Context(), payments.Callback{EndpointID: 1, Key: e.Key, Query: r.URL.Query()}); err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
	}))
	g.cb = cb.URL + "/callbacks/mapi/1"
	e.stopGW = func() { gcancel(); <-gdone; srv.Close(); gw.Close() }
	t.Cleanup(func() {
		e.Pay.Close()
		cb.Close()
		e.stopGW()
	})
	return e
}

// Request is a sale request with a fresh card read, sent directly to the gateway (as another
// system on the same gate would).
func (e *Env) Request(amount int64) mapi.OrderRequest {
	e.T.Helper()
	card, _ := virtual.CardByID("visa")
	read, err := e.Reader.Read(card, virtual.Chip)
	if err != nil {
		e.T.Fatal(err)
	}
	return mapi.OrderRequest{ClientOrderID: payments.NewClientOrderID(), Description: "elsewhere", Amount: mapi.Amount(amount),
		Currency: "EUR", Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com",
		DeviceSerial: e.Reader.Serial, KSN: read.KSN, EncryptedData: read.EncryptedData, EncryptedType: read.EncryptedType}
}

// Start begins a payment and answers the reader's present_card with a card read.
func (e *Env) Start(amount int64, kind models.TxKind, cardID string) models.Transaction {
	e.T.Helper()
	tx, err := e.Pay.Start(context.Background(), payments.StartInput{ReaderID: e.ReaderID, Kind: kind, AmountMinor: amount, Actor: payments.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		e.T.Fatal(err)
	}
	msg := e.Expect(devices.TypePresentCard).(devices.PresentCard)
	if msg.Tx != tx.ClientOrderID || msg.Amount != money.Plain(amount, tx.Currency) || msg.Kind != string(kind) {
		e.T.Fatalf("present_card %+v for %+v", msg, tx)
	}
	return e.ReadCard(tx, cardID)
}

// ReadCard answers a payment's present_card with a read of the card.
func (e *Env) ReadCard(tx models.Transaction, cardID string) models.Transaction {
	e.T.Helper()
	card, _ := virtual.CardByID(cardID)
	read, err := e.Reader.Read(card, virtual.Chip)
	if err != nil {
		e.T.Fatal(err)
	}
	err = e.Pay.CardRead(context.Background(), e.Reader.Serial, &devices.CardRead{Type: devices.TypeCardRead, Tx: tx.ClientOrderID,
		EncryptedData: read.EncryptedData, KSN: read.KSN, EncryptedType: read.EncryptedType, EntryMode: string(read.EntryMode),
		PANFirstDigits: read.PANFirstDigits, PANLastDigits: read.PANLastDigits})
	if err != nil {
		e.T.Fatal(err)
	}
	return tx
}

// Expect waits for the reader to be sent a message of type typ, and returns it.
func (e *Env) Expect(typ string) any {
	e.T.Helper()
	select {
	case m := <-e.Sent:
		switch v := m.(type) {
		case devices.PresentCard:
			if v.Type == typ {
				return v
			}
		case devices.Cancel:
			if v.Type == typ {
				return v
			}
		case devices.Result:
			if v.Type == typ {
				return v
			}
		}
		e.T.Fatalf("reader got %#v, want %s", m, typ)
	case <-time.After(5 * time.Second):
		e.T.Fatalf("reader got no %s", typ)
	}
	return nil
}

// Poll runs the status poller as if its schedule were due now.
func (e *Env) Poll() {
	p := &jobs.StatusPoller{Checks: e.Pay, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return e.Now.Now().Add(time.Minute) }}
	p.RunOnce(context.Background())
}

// WaitState waits for a payment to reach want, polling the gateway when usePolling is set.
func (e *Env) WaitState(id uint, want models.TxState, usePolling bool) models.Transaction {
	e.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tx, _ := e.Tx.ByID(context.Background(), id)
		if tx.State == want {
			return tx
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("payment %s is %s (%s), want %s", tx.ClientOrderID, tx.State, tx.ErrorMessage, want)
		}
		if usePolling && tx.State != models.TxSending {
			e.Poll()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitFor waits (on a deadline) until cond holds for the payment.
func (e *Env) WaitFor(id uint, what string, cond func(models.Transaction) bool) models.Transaction {
	e.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tx, _ := e.Tx.ByID(context.Background(), id)
		if cond(tx) {
			return tx
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("payment %s: %s (review %q) never %s", tx.ClientOrderID, tx.State, tx.Review, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitGateway waits (on a deadline) until the gateway holds the order in status.
func (e *Env) WaitGateway(order, status string) {
	e.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if o, ok := e.GW.Order(order); ok && o.Status == status {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("the gateway never had %s %s", order, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StartHeld starts a payment and lets hold run before the card is read (to black the order out
// at the gateway before it exists there).
func (e *Env) StartHeld(amount int64, hold func(order string)) models.Transaction {
	e.T.Helper()
	tx, err := e.Pay.Start(context.Background(), payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: amount, Actor: payments.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		e.T.Fatal(err)
	}
	e.Expect(devices.TypePresentCard)
	hold(tx.ClientOrderID)
	card, _ := virtual.CardByID("visa")
	read, err := e.Reader.Read(card, virtual.Chip)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := e.Pay.CardRead(context.Background(), e.Reader.Serial, &devices.CardRead{Type: devices.TypeCardRead, Tx: tx.ClientOrderID,
		EncryptedData: read.EncryptedData, KSN: read.KSN, EncryptedType: read.EncryptedType, EntryMode: string(read.EntryMode),
		PANFirstDigits: read.PANFirstDigits, PANLastDigits: read.PANLastDigits}); err != nil {
		e.T.Fatal(err)
	}
	return tx
}

// Manager is who asks for the money operations of Operate.
var Manager = payments.Actor{ID: 7, Name: "mia"}

// Approved takes a payment of kind to approved (by callback).
func (e *Env) Approved(amount int64, kind models.TxKind) models.Transaction {
	e.T.Helper()
	tx := e.Start(amount, kind, "visa")
	tx = e.WaitState(tx.ID, models.TxApproved, true)
	e.Expect(devices.TypeResult)
	return tx
}

var opKeys atomic.Int64

// Operate asks for an operation with a fresh one-time key.
func (e *Env) Operate(parent models.Transaction, kind models.TxKind, amount int64, reason string) (models.Transaction, error) {
	return e.Pay.Operate(context.Background(), payments.OperationInput{Key: fmt.Sprintf("key-%d", opKeys.Add(1)), ParentID: parent.ID,
		Kind: kind, AmountMinor: amount, Reason: reason, Actor: Manager})
}

// Settled asks for an operation and waits for its final state.
func (e *Env) Settled(parent models.Transaction, kind models.TxKind, amount int64, reason string, want models.TxState) models.Transaction {
	e.T.Helper()
	op, err := e.Operate(parent, kind, amount, reason)
	if err != nil {
		e.T.Fatalf("%s %d: %v", kind, amount, err)
	}
	return e.WaitState(op.ID, want, true)
}

// RefusedWith checks that err is an operation refused with a message containing want.
func RefusedWith(t testing.TB, err error, want string) {
	t.Helper()
	var oerr *models.ValidationError
	if !errors.As(err, &oerr) || !strings.Contains(oerr.Message(), want) {
		t.Errorf("got %v, want a refusal with %q", err, want)
	}
}
