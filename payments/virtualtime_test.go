package payments_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/mapitest"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
	"github.com/example/mposportal/payments"
)

// fakeFleet is one online reader whose messages are kept.
type fakeFleet struct {
	mu   sync.Mutex
	sent []any
}

func (f *fakeFleet) PaymentReader(context.Context, uint) (devices.PaymentReader, error) {
	return devices.PaymentReader{ID: 1, Serial: "SBX-0001", Label: "Counter 1", EndpointID: 1, Enabled: true, Online: true}, nil
}

func (f *fakeFleet) Send(_ string, msg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, msg)
	return nil
}

func (f *fakeFleet) Tell(serial string, msg any) { f.Send(serial, msg) }

type fakeGateways struct{ g *mapitest.Gateway }

func (f fakeGateways) Gateway(context.Context, uint) (payments.Gateway, payments.Merchant, error) {
	return f.g, payments.Merchant{Name: "Main", Currency: "EUR", Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV",
		Email: "shop@example.com"}, nil
}

// virtualEnv is a payment service on the in-memory gateway and a clock the test moves: a
// payment's life is stepped through, status check by status check, without waiting.
type virtualEnv struct {
	t     *testing.T
	pay   *payments.Service
	gw    *mapitest.Gateway
	tx    *models.Transactions
	mu    sync.Mutex
	clock time.Time
}

func newVirtualEnv(t *testing.T) *virtualEnv {
	e := &virtualEnv{t: t, gw: mapitest.New("EUR"), clock: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	db := testdb.Open(t)
	e.tx = &models.Transactions{DB: db}
	fleet := &fakeFleet{}
	e.pay = payments.New(payments.Deps{Tx: e.tx, Readers: fleet, Link: fleet, Gateways: fakeGateways{e.gw}, Now: e.now,
		Gate: &models.CloseDays{DB: db}, Audit: &models.Audit{DB: db}, Live: live.Nowhere, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(e.pay.Close)
	return e
}

func (e *virtualEnv) now() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.clock }

func (e *virtualEnv) advance(d time.Duration) { e.mu.Lock(); e.clock = e.clock.Add(d); e.mu.Unlock() }

// sent starts a sale and reads its card; it returns once the sale request has had its answer
// (the service sends in the background, so that answer is waited for on a deadline).
func (e *virtualEnv) sent(amount int64) models.Transaction {
	e.t.Helper()
	ctx := context.Background()
	tx, err := e.pay.Start(ctx, payments.StartInput{ReaderID: 1, Kind: models.KindSale, AmountMinor: amount, Actor: payments.Actor{ID: 1, Name: "sam"}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.pay.CardRead(ctx, "SBX-0001", &devices.CardRead{Type: devices.TypeCardRead, Tx: tx.ClientOrderID, EncryptedData: "AA",
		KSN: "FFFF9876543210E00001", EncryptedType: "dukpt", EntryMode: "chip", PANFirstDigits: "411111", PANLastDigits: "1111"}); err != nil {
		e.t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		got, _ := e.tx.ByID(ctx, tx.ID)
		if got.State != models.TxSending {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the sale of %s never got an answer", tx.ClientOrderID)
		}
	}
}

// check runs the status poller's check for the payment now, as the poller does when it is due.
func (e *virtualEnv) check(id uint) models.Transaction {
	e.t.Helper()
	if err := e.pay.CheckStatus(context.Background(), models.DueCheck{ID: id, Due: e.now()}); err != nil {
		var verr *mapi.ValidationError
		if !errors.As(err, &verr) {
			e.t.Logf("check: %v", err)
		}
	}
	got, err := e.tx.ByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// A sale stays processing at the bank: each check reschedules it 5 s later on the virtual
// clock; once the bank approves, the next check applies it.
func TestStatusChecksFollowTheBankInVirtualTime(t *testing.T) {
	e := newVirtualEnv(t)
	tx := e.sent(1042)
	if tx.State != models.TxProcessing || tx.GatewayOrderID == "" {
		t.Fatalf("after the sale request: %s %q", tx.State, tx.GatewayOrderID)
	}
	for range 3 {
		e.advance(payments.CheckEvery)
		got := e.check(tx.ID)
		if got.State != models.TxProcessing || got.NextCheckAt == nil || !got.NextCheckAt.Equal(e.now().Add(payments.CheckEvery)) {
			t.Fatalf("a processing answer: %s, next check %v (now %v)", got.State, got.NextCheckAt, e.now())
		}
	}
	e.gw.Approve(tx.ClientOrderID)
	e.advance(payments.CheckEvery)
	if got := e.check(tx.ID); got.State != models.TxApproved || got.ApprovalCode == "" || got.NextCheckAt != nil {
		t.Errorf("after the bank approved: %s, approval %q, next check %v", got.State, got.ApprovalCode, got.NextCheckAt)
	}
}

// A sale request lost on the way (timeout) leaves the outcome unknown. The bank is asked;
// "no such order" proves nothing until the window in which the request could still arrive has
// passed and three answers agree: only then is the payment failed, "not charged".
func TestLostSaleIsNotChargedOnlyAfterTheWindow(t *testing.T) {
	e := newVirtualEnv(t)
	e.gw.FailNext(&mapi.TransportError{Op: "sale", Err: errors.New("timeout")})
	tx := e.sent(2000)
	if tx.State != models.TxUnknown {
		t.Fatalf("after a lost request: %s", tx.State)
	}
	for i := range 3 {
		e.advance(payments.UnknownCheckAfter)
		if got := e.check(tx.ID); got.State != models.TxUnknown {
			t.Fatalf("answer %d within the window: %s", i+1, got.State)
		}
	}
	e.advance(payments.DefaultUnknownWindow)
	got := e.check(tx.ID)
	if got.State != models.TxFailed || got.ErrorMessage != "the gateway never received the payment: the card was not charged" {
		t.Errorf("after the window: %s %q", got.State, got.ErrorMessage)
	}
	if asked := e.gw.Asked(); len(asked) != 5 || asked[0] != "sale "+tx.ClientOrderID || asked[4] != "status "+tx.ClientOrderID {
		t.Errorf("the bank was asked %v", asked)
	}
}
