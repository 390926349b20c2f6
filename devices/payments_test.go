package devices_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/jobs"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
	"github.com/example/mposportal/money"
	"gorm.io/gorm"
)

// payEnv is the payment flow against the real sandbox gateway over HTTP: a portal database,
// a reader registered and "connected" through a Link whose messages the test reads, and a
// callback receiver that applies callbacks as the web handler does.
type payEnv struct {
	t        testing.TB
	gw       *sandbox.Gateway
	pay      *devices.Payments
	tx       *models.Transactions
	reader   *virtual.Reader
	readerID uint
	sent     chan any
	key      string
	now      *clock
	cbMu     sync.Mutex
	cbCodes  []int
	stopGW   func()
	db       *gorm.DB
	client   *mapi.Client
	audit    *auditRecorder
	gws      *gateways
}

// auditRecorder keeps the audit events the domain records.
type auditRecorder struct {
	mu     sync.Mutex
	events []models.AuditEvent
}

func (a *auditRecorder) Record(_ context.Context, e models.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return nil
}

// actions lists the recorded actions in order.
func (a *auditRecorder) actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.events {
		out = append(out, e.Action)
	}
	return out
}

type gateways struct {
	confirmAbove int64 // the endpoint's large-payment confirmation amount
	ep           mapi.Endpoint
	cb           string
	cur          string
	money        money.Locale // how the store writes amounts
	client       *mapi.Client // one client, with its connection pool, as main's gatewayClients keeps
}

func (g *gateways) Gateway(ctx context.Context, id uint) (devices.Gateway, devices.Merchant, error) {
	return g.client, devices.Merchant{Currency: g.cur, Money: g.money, ConfirmAboveMinor: g.confirmAbove,
		Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com", CallbackURL: g.cb}, nil
}

func newPayEnv(t *testing.T, dbPath string) *payEnv {
	t.Helper()
	return newPayEnvWith(t, dbPath, nil)
}

func newPayEnvWith(t testing.TB, dbPath string, tweak func(*sandbox.Config)) *payEnv {
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
	c := &clock{now: time.Now()}
	e := &payEnv{t: t, gw: gw, sent: make(chan any, 16), key: gw.Merchant().ControlKey, now: c, db: db}
	link := devices.NewLink()
	readers := &devices.Readers{Store: &models.Readers{DB: db}, Link: link}
	tr := gw.TestReaders()[0]
	e.reader = virtual.New(tr.Serial, "2.1.0", tr.IPEK(), tr.IKSN)
	r, err := readers.Store.BySerial(context.Background(), tr.Serial)
	if errors.Is(err, models.ErrNotFound) {
		r, _, err = readers.Register(context.Background(), devices.RegisterInput{Serial: tr.Serial, Label: "Counter 1", EndpointID: 1})
	}
	if err != nil {
		t.Fatal(err)
	}
	e.readerID = r.ID
	readers.Connected(context.Background(), r, &devices.Hello{Serial: tr.Serial, Firmware: "2.1.0", Battery: 90})
	link.Register(tr.Serial, func(m any) error { e.sent <- m; return nil }, func(string) {})

	e.tx = &models.Transactions{DB: db}
	m := gw.Merchant()
	g := &gateways{ep: mapi.Endpoint{BaseURL: srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: m.ControlKey}, cur: m.Currency}
	e.client = mapi.NewClient(g.ep, nil, mapi.WithTimeouts(2*time.Second, 2*time.Second))
	g.client = mapi.NewClient(g.ep, nil, mapi.WithTimeouts(2*time.Second, 2*time.Second))
	e.audit = &auditRecorder{}
	e.gws = g
	e.pay = &devices.Payments{Tx: e.tx, Readers: readers, Link: link, Gateways: g, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return c.Now() }, Gate: &models.CloseDays{DB: db}, Audit: e.audit}
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
		if _, _, err := e.pay.ApplyCallback(r.Context(), 1, e.key, r.URL.Query()); err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
	}))
	g.cb = cb.URL + "/callbacks/mapi/1"
	e.stopGW = func() { gcancel(); <-gdone; srv.Close(); gw.Close() }
	t.Cleanup(func() {
		e.pay.Close()
		cb.Close()
		e.stopGW()
	})
	return e
}

// request is a sale request with a fresh card read, sent directly to the gateway (as another
// system on the same gate would).
func (e *payEnv) request(amount int64) mapi.OrderRequest {
	e.t.Helper()
	card, _ := virtual.CardByID("visa")
	read, err := e.reader.Read(card, virtual.Chip)
	if err != nil {
		e.t.Fatal(err)
	}
	return mapi.OrderRequest{ClientOrderID: devices.NewClientOrderID(), Description: "elsewhere", Amount: mapi.Amount(amount),
		Currency: "EUR", Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com",
		DeviceSerial: e.reader.Serial, KSN: read.KSN, EncryptedData: read.EncryptedData, EncryptedType: read.EncryptedType}
}

// start begins a payment and answers the reader's present_card with a card read.
func (e *payEnv) start(amount int64, kind models.TxKind, cardID string) models.Transaction {
	e.t.Helper()
	tx, err := e.pay.Start(context.Background(), devices.StartInput{ReaderID: e.readerID, Kind: kind, AmountMinor: amount, Actor: devices.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		e.t.Fatal(err)
	}
	msg := e.expect(devices.TypePresentCard).(devices.PresentCard)
	if msg.Tx != tx.ClientOrderID || msg.Amount != money.Plain(amount, tx.Currency) || msg.Kind != string(kind) {
		e.t.Fatalf("present_card %+v for %+v", msg, tx)
	}
	return e.readCard(tx, cardID)
}

// readCard answers a payment's present_card with a read of the card.
func (e *payEnv) readCard(tx models.Transaction, cardID string) models.Transaction {
	e.t.Helper()
	card, _ := virtual.CardByID(cardID)
	read, err := e.reader.Read(card, virtual.Chip)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.pay.CardRead(context.Background(), e.reader.Serial, &devices.CardRead{Type: devices.TypeCardRead, Tx: tx.ClientOrderID,
		EncryptedData: read.EncryptedData, KSN: read.KSN, EncryptedType: read.EncryptedType, EntryMode: string(read.EntryMode),
		PANFirstDigits: read.PANFirstDigits, PANLastDigits: read.PANLastDigits})
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *payEnv) expect(typ string) any {
	e.t.Helper()
	select {
	case m := <-e.sent:
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
		e.t.Fatalf("reader got %#v, want %s", m, typ)
	case <-time.After(5 * time.Second):
		e.t.Fatalf("reader got no %s", typ)
	}
	return nil
}

// poll runs the status poller as if its schedule were due now.
func (e *payEnv) poll() {
	p := &jobs.StatusPoller{Checks: e.pay, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return e.now.Now().Add(time.Minute) }}
	p.RunOnce(context.Background())
}

// waitState waits for a payment to reach want, polling the gateway when usePolling is set.
func (e *payEnv) waitState(id uint, want models.TxState, usePolling bool) models.Transaction {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tx, _ := e.tx.ByID(context.Background(), id)
		if tx.State == want {
			return tx
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("payment %s is %s (%s), want %s", tx.ClientOrderID, tx.State, tx.ErrorMessage, want)
		}
		if usePolling && tx.State != models.TxSending {
			e.poll()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPaymentApprovedByCallback(t *testing.T) {
	e := newPayEnv(t, "")
	tx := e.start(1042, models.KindSale, "visa")
	got := e.waitState(tx.ID, models.TxApproved, false)
	if got.GatewayOrderID == "" || len(got.ApprovalCode) != 6 || got.CardLast4 != "1111" || got.CardBIN != "411111" ||
		got.CardBrand != "VISA" || got.NextCheckAt != nil || got.FinalAt == nil {
		t.Errorf("approved payment %+v", got)
	}
	res := e.expect(devices.TypeResult).(devices.Result)
	if res.Tx != tx.ClientOrderID || res.Status != "approved" {
		t.Errorf("reader told %+v", res)
	}
	// The gateway's retry of the same callback, a forged one and a mismatched one change nothing.
	cb := mapi.Callback{Status: "approved", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "10.42"}
	if out, _, err := e.pay.ApplyCallback(context.Background(), 1, e.key, cb.Query(e.key)); err != nil || out != devices.CallbackDuplicate {
		t.Errorf("repeated callback: %s, %v", out, err)
	}
	forged := mapi.Callback{Status: "declined", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "10.42"}
	if _, _, err := e.pay.ApplyCallback(context.Background(), 1, e.key, forged.Query("guessed-key")); !errors.Is(err, mapi.ErrBadControl) {
		t.Errorf("forged callback: %v", err)
	}
	other := mapi.Callback{Status: "declined", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "99.99"}
	if _, _, err := e.pay.ApplyCallback(context.Background(), 1, e.key, other.Query(e.key)); !errors.Is(err, devices.ErrCallbackMismatch) {
		t.Errorf("amount mismatch: %v", err)
	}
	late := mapi.Callback{Status: "declined", OrderID: got.GatewayOrderID, MerchantOrder: got.ClientOrderID, Type: "sale", Amount: "10.42"}
	if out, _, err := e.pay.ApplyCallback(context.Background(), 1, e.key, late.Query(e.key)); err != nil || out != devices.CallbackConflict {
		t.Errorf("contradicting callback: %s, %v", out, err)
	}
	unknown := mapi.Callback{Status: "approved", OrderID: "1", MerchantOrder: "PNOTOURS", Type: "sale", Amount: "1.00"}
	if out, _, err := e.pay.ApplyCallback(context.Background(), 1, e.key, unknown.Query(e.key)); err != nil || out != devices.CallbackUnknown {
		t.Errorf("unknown order: %s, %v", out, err)
	}
	final, _ := e.tx.ByID(context.Background(), tx.ID)
	if final.State != models.TxApproved || final.ApprovalCode != got.ApprovalCode {
		t.Errorf("after the bad callbacks: %s %s", final.State, final.ApprovalCode)
	}
}

func TestPaymentOutcomesByPollingWithCallbacksLost(t *testing.T) {
	e := newPayEnv(t, "")
	e.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	for _, tt := range []struct {
		amount int64
		kind   models.TxKind
		card   string
		want   models.TxState
		code   string
	}{
		{1051, models.KindSale, "visa", models.TxDeclined, "51"},
		{1066, models.KindSale, "visa", models.TxFiltered, "66"},
		{1091, models.KindSale, "visa", models.TxError, "91"},
		{1000, models.KindSale, "visa-expired", models.TxDeclined, "54"},
		{1077, models.KindPreauth, "mastercard", models.TxApproved, ""}, // long processing: only polling finishes it
		{1078, models.KindSale, "visa", models.TxApproved, ""},          // unknown for a while
	} {
		tx := e.start(tt.amount, tt.kind, tt.card)
		got := e.waitState(tx.ID, tt.want, true)
		if got.ErrorCode != tt.code || (tt.code != "" && got.ErrorMessage == "") {
			t.Errorf("%d: code %q message %q", tt.amount, got.ErrorCode, got.ErrorMessage)
		}
		e.expect(devices.TypeResult)
	}
}

func TestSaleTimeoutRecoversByClientOrderID(t *testing.T) {
	e := newPayEnv(t, "")
	e.gw.SetFaults(sandbox.Faults{Sync5xxAfterCreate: 1, CallbacksOff: true})
	tx := e.start(1000, models.KindSale, "visa")
	got := e.waitState(tx.ID, models.TxUnknown, false)
	if got.GatewayOrderID != "" {
		t.Errorf("an order id after a 502: %s", got.GatewayOrderID)
	}
	got = e.waitState(tx.ID, models.TxApproved, true)
	if got.GatewayOrderID == "" {
		t.Error("the order id was not learnt from the status request")
	}
	evs, _ := e.tx.Events(context.Background(), tx.ID)
	requests := 0
	for _, ev := range evs {
		if ev.Source == "response" {
			requests++
		}
	}
	if requests != 1 {
		t.Errorf("%d sale responses recorded, want 1: the sale must not be resent", requests)
	}
}

func TestCancelAndCardErrors(t *testing.T) {
	e := newPayEnv(t, "")
	ctx := context.Background()
	tx, err := e.pay.Start(ctx, devices.StartInput{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: 500, Actor: devices.Actor{Name: "sam"}})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(devices.TypePresentCard)
	if _, err := e.pay.Cancel(ctx, tx.ID, devices.Actor{Name: "sam"}); err != nil {
		t.Fatal(err)
	}
	e.expect(devices.TypeCancel)
	card, _ := virtual.CardByID("visa")
	read, _ := e.reader.Read(card, virtual.Chip)
	e.pay.CardRead(ctx, e.reader.Serial, &devices.CardRead{Tx: tx.ClientOrderID, EncryptedData: read.EncryptedData, KSN: read.KSN, EncryptedType: "dukpt-tdes", EntryMode: "chip"})
	got, _ := e.tx.ByID(ctx, tx.ID)
	if got.State != models.TxCancelled || got.GatewayOrderID != "" {
		t.Errorf("card read after cancel: %+v", got)
	}
	tx2, _ := e.pay.Start(ctx, devices.StartInput{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: 500, Actor: devices.Actor{Name: "sam"}})
	e.expect(devices.TypePresentCard)
	e.pay.CardError(ctx, e.reader.Serial, &devices.CardError{Tx: tx2.ClientOrderID, Reason: devices.CardErrorTimeout})
	got, _ = e.tx.ByID(ctx, tx2.ID)
	if got.State != models.TxFailed || got.ErrorMessage != "no card was presented in time" {
		t.Errorf("card timeout: %+v", got)
	}
	var se *devices.StartError
	for _, in := range []devices.StartInput{
		{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: 0},
		{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: -100},
		{ReaderID: e.readerID, Kind: "refund", AmountMinor: 100},
		{ReaderID: 999, Kind: models.KindSale, AmountMinor: 100},
	} {
		if _, err := e.pay.Start(ctx, in); !errors.As(err, &se) {
			t.Errorf("Start(%+v) = %v, want a StartError", in, err)
		}
	}
}

func TestRestartMidProcessingAndReviewDeadline(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "portal.db")
	e := newPayEnv(t, dbPath)
	e.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	tx := e.start(1077, models.KindSale, "visa")
	e.waitState(tx.ID, models.TxProcessing, false)
	e.pay.Close()
	// A new portal process on the same database: the schedule is in the rows.
	e2 := newPayEnv(t, dbPath)
	e2.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	due, _ := e2.pay.DueStatusChecks(context.Background(), time.Now().Add(time.Hour), 10)
	if len(due) != 1 || due[0].ID != tx.ID {
		t.Fatalf("after restart the due checks are %v, want [%d]", due, tx.ID)
	}
	// Its sandbox is a different gateway that never saw the order: after the deadline, and one
	// last question, it is for review, and it is still asked about every few minutes.
	e2.now.Add(devices.CheckDeadline + time.Minute)
	e2.poll()
	got, _ := e2.tx.ByID(context.Background(), tx.ID)
	if got.State != models.TxNeedsReview || got.NextCheckAt == nil || got.NextCheckAt.Sub(e2.now.Now()) < devices.ReviewEvery-time.Second {
		t.Errorf("past the polling deadline: %s next %v", got.State, got.NextCheckAt)
	}
}

// A process that dies mid-payment leaves rows behind; the watchdogs settle them on the same
// poller schedule: a payment still waiting for its card fails (nothing was sent), and a
// payment still "sending" is asked for by client_orderid and takes the gateway's answer.
func TestWatchdogsSettlePaymentsOfADeadProcess(t *testing.T) {
	e := newPayEnv(t, "")
	ctx := context.Background()
	waiting, err := e.pay.Start(ctx, devices.StartInput{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: 500, Actor: devices.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(devices.TypePresentCard)
	// Two payments whose card was read by a process that then died: one request reached the
	// gateway, one never left.
	reached := e.request(1042)
	if _, err := e.client.Sale(ctx, reached); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Second)
	mk := func(order string) models.Transaction {
		tx := models.Transaction{ClientOrderID: order, EndpointID: 1, ReaderID: e.readerID, ReaderSerial: e.reader.Serial,
			Kind: models.KindSale, AmountMinor: 1042, Currency: "EUR", State: models.TxSending, NextCheckAt: &past}
		if err := e.tx.Create(ctx, &tx, "test"); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	sent, lost := mk(reached.ClientOrderID), mk(devices.NewClientOrderID())

	// Before the watchdog is due nothing happens to the waiting payment.
	e.poll()
	if got, _ := e.tx.ByID(ctx, waiting.ID); got.State != models.TxWaitingCard {
		t.Fatalf("waiting payment is %s before its watchdog", got.State)
	}
	if got := e.waitState(sent.ID, models.TxApproved, true); got.GatewayOrderID == "" {
		t.Errorf("the recovered sale has no gateway order id")
	}
	// "Not found" once proves nothing (the request may still arrive): outcome unknown until
	// the window has passed and the gateway said so several times.
	e.poll()
	e.waitState(lost.ID, models.TxUnknown, false)
	for range devices.UnknownAnswers + 1 {
		e.poll()
	}
	if got, _ := e.tx.ByID(ctx, lost.ID); got.State != models.TxUnknown || got.NotFound < devices.UnknownAnswers {
		t.Fatalf("within the window the lost request is %s after %d answers, want unknown_outcome", got.State, got.NotFound)
	}
	e.now.Add(devices.DefaultUnknownWindow)
	if got := e.waitState(lost.ID, models.TxFailed, true); got.GatewayOrderID != "" || got.ErrorMessage == "" {
		t.Errorf("the lost request got order %s (%q)", got.GatewayOrderID, got.ErrorMessage)
	}
	e.now.Add(devices.CardTimeout + time.Minute)
	e.poll()
	got, _ := e.tx.ByID(ctx, waiting.ID)
	if got.State != models.TxFailed || got.NextCheckAt != nil {
		t.Errorf("waiting payment past its watchdog: %s next %v", got.State, got.NextCheckAt)
	}
	if l, _ := e.gw.Ledger(); len(l) != 1 {
		t.Errorf("the gateway has %d orders, want 1", len(l))
	}
}

// misdirected is a gateway whose status answers are about another order.
type misdirected struct{ devices.Gateway }

func (misdirected) Status(context.Context, mapi.StatusRequest) (*mapi.StatusResponse, error) {
	return &mapi.StatusResponse{Status: mapi.StatusApproved, MerchantOrderID: "SOMEONE-ELSE", OrderID: "1", ApprovalCode: "999999"}, nil
}

type misdirectedGateways struct{}

func (misdirectedGateways) Gateway(context.Context, uint) (devices.Gateway, devices.Merchant, error) {
	return misdirected{}, devices.Merchant{Currency: "EUR"}, nil
}

func TestStatusAnswerAboutAnotherOrderChangesNothing(t *testing.T) {
	e := newPayEnv(t, "")
	ctx := context.Background()
	past := time.Now().Add(-time.Second)
	tx := models.Transaction{ClientOrderID: "PMINE", GatewayOrderID: "1969999", EndpointID: 1, ReaderID: e.readerID, ReaderSerial: e.reader.Serial,
		Kind: models.KindSale, AmountMinor: 1042, Currency: "EUR", State: models.TxProcessing, NextCheckAt: &past}
	if err := e.tx.Create(ctx, &tx, "test"); err != nil {
		t.Fatal(err)
	}
	e.pay.Gateways = misdirectedGateways{}
	if err := e.pay.CheckStatus(ctx, models.DueCheck{ID: tx.ID, Due: past}); !errors.Is(err, devices.ErrCallbackMismatch) {
		t.Fatalf("CheckStatus = %v, want a mismatch", err)
	}
	got, _ := e.tx.ByID(ctx, tx.ID)
	if got.State != models.TxProcessing || got.ApprovalCode != "" || got.NextCheckAt == nil {
		t.Errorf("after a misdirected answer: %s approval %q next %v", got.State, got.ApprovalCode, got.NextCheckAt)
	}
}

// A payment above the endpoint's confirmation amount needs the amount typed twice; nothing
// reaches the reader until it is.
func TestLargePaymentNeedsTheAmountTwice(t *testing.T) {
	e := newPayEnv(t, "")
	e.gws.confirmAbove = 50000
	start := func(again string) error {
		_, err := e.pay.Start(context.Background(), devices.StartInput{ReaderID: e.readerID, Kind: models.KindSale, AmountMinor: 100000,
			AmountAgain: again, Actor: devices.Actor{ID: 1, Name: "sam"}})
		return err
	}
	for again, want := range map[string]string{"": "type it again", "100.00": "differ", "1000,01": "differ"} {
		var se *devices.StartError
		if err := start(again); !errors.As(err, &se) || se.Field != "amount_again" || !strings.Contains(se.Message, want) {
			t.Errorf("typed again %q: %v, want a refusal saying %q", again, err, want)
		}
	}
	select {
	case m := <-e.sent:
		t.Fatalf("the reader was asked before the amount was confirmed: %#v", m)
	default:
	}
	if err := start("1000,00"); err != nil {
		t.Fatalf("confirmed: %v", err)
	}
	e.expect(devices.TypePresentCard)
}
