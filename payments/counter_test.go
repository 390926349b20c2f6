package payments_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// Counter correctness: one payment waits for a card per reader, whichever screen, instance or
// code path starts it, and a repeated form starts nothing new.

// drain answers nothing: it empties what the reader was sent.
func drain(e *paymentstest.Env) {
	for {
		select {
		case <-e.Sent:
		default:
			return
		}
	}
}

func countPayments(t *testing.T, e *paymentstest.Env) int64 {
	t.Helper()
	var n int64
	if err := e.DB.Model(&models.Transaction{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Six concurrent starts from two screens (two forms, each submitted three times at once) on
// one reader, through two services on one database (two instances): exactly one payment; each
// other submit gets that payment back (its own form) or the reader's busy answer.
func TestConcurrentStartsOnOneReaderMakeOnePayment(t *testing.T) {
	e := paymentstest.New(t, "")
	// A second instance's service on the same database.
	d := e.Pay.Deps
	d.Tx = &models.Transactions{DB: e.DB}
	other := payments.New(d)
	services := []*payments.Service{e.Pay, other}
	var wg sync.WaitGroup
	type result struct {
		tx  models.Transaction
		err error
		key string
	}
	results := make(chan result, 6)
	for i := range 6 {
		key := []string{"form-screen-a", "form-screen-b"}[i%2]
		svc := services[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, err := svc.Start(context.Background(), payments.StartInput{StartKey: key, ReaderID: e.ReaderID, Kind: models.KindSale,
				AmountMinor: 111 * int64(i%2+1), Actor: payments.Actor{ID: uint(i%2 + 1), Name: "sam"}})
			results <- result{tx, err, key}
		}()
	}
	wg.Wait()
	close(results)
	started, busy, same := 0, 0, 0
	var winner models.Transaction
	for r := range results {
		var se *models.ValidationError
		switch {
		case r.err == nil:
			started++
			winner = r.tx
		case errors.Is(r.err, payments.ErrAlreadyStarted):
			same++
		case errors.As(r.err, &se) && strings.Contains(se.Message(), "busy with"):
			busy++
		default:
			t.Errorf("start: %v", r.err)
		}
	}
	if started != 1 || started+same+busy != 6 {
		t.Errorf("%d started, %d got their form's payment, %d busy; want exactly one start", started, same, busy)
	}
	if n := countPayments(t, e); n != 1 {
		t.Errorf("%d payments, want 1", n)
	}
	// The busy answer names the reader and the payment it is busy with.
	_, err := e.Pay.Start(context.Background(), payments.StartInput{StartKey: "form-screen-c", ReaderID: e.ReaderID, Kind: models.KindSale,
		AmountMinor: 500, Actor: payments.Actor{ID: 3, Name: "kim"}})
	var se *models.ValidationError
	if !errors.As(err, &se) || se.Message() != "Counter 1 is busy with "+winner.Amount()+"\u00a0EUR: cancel that payment or choose another reader." {
		t.Errorf("busy answer: %v", err)
	}
	// Once the payment is cancelled the reader is free again.
	if _, err := e.Pay.Cancel(context.Background(), winner.ID, payments.Actor{Name: "sam"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pay.Start(context.Background(), payments.StartInput{StartKey: "form-screen-c", ReaderID: e.ReaderID, Kind: models.KindSale,
		AmountMinor: 500, Actor: payments.Actor{ID: 3, Name: "kim"}}); err != nil {
		t.Errorf("start on the freed reader: %v", err)
	}
}

// The database itself refuses a second payment waiting on one reader, whatever code inserts
// it.
func TestDatabaseRefusesASecondWaitingPaymentOnAReader(t *testing.T) {
	e := paymentstest.New(t, "")
	mk := func(order string, state models.TxState) error {
		return e.Tx.Create(context.Background(), &models.Transaction{ClientOrderID: order, EndpointID: 1, ReaderID: e.ReaderID,
			ReaderSerial: e.Reader.Serial, Kind: models.KindSale, AmountMinor: 100, Currency: "EUR", State: state}, "test")
	}
	if err := mk("PWAIT1", models.TxWaitingCard); err != nil {
		t.Fatal(err)
	}
	if err := mk("PWAIT2", models.TxWaitingCard); !errors.Is(err, models.ErrConflict) {
		t.Errorf("a second waiting payment on the reader: %v, want ErrConflict", err)
	}
	if err := mk("PPROC1", models.TxProcessing); err != nil {
		t.Errorf("a processing payment next to the waiting one: %v", err) // the card was read: the reader is free
	}
}

// A reader that goes away ends the payment waiting on it at once, with the true reason.
func TestReaderChangesEndTheWaitingPayment(t *testing.T) {
	e := paymentstest.New(t, "")
	readers := e.Pay.Readers.(*devices.Readers)
	readers.Waiting = e.Pay
	for _, tc := range []struct {
		what string
		do   func() error
		want string
	}{
		{"disable", func() error {
			_, err := readers.SetEnabled(context.Background(), e.ReaderID, false, models.Actor{Name: "admin"})
			return err
		},
			"Counter 1 was disabled before a card was read: nothing was charged"},
		{"disconnect", func() error {
			r, err := readers.Store.ByID(context.Background(), e.ReaderID)
			readers.Disconnected(context.Background(), r, "connection lost")
			return err
		}, "Counter 1 went offline before a card was read: nothing was charged"},
		{"unpair", func() error {
			_, err := readers.Unpair(context.Background(), e.ReaderID, models.Actor{Name: "admin"})
			return err
		},
			"Counter 1 was unpaired before a card was read: nothing was charged"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			// Make the reader usable again for this case.
			if _, err := readers.SetEnabled(context.Background(), e.ReaderID, true, models.Actor{Name: "admin"}); err != nil {
				t.Fatal(err)
			}
			r, _ := readers.Store.ByID(context.Background(), e.ReaderID)
			readers.Link.Register(r.Serial, func(m any) error { e.Sent <- m; return nil }, func(string) {}) // the reader reconnects
			readers.Connected(context.Background(), r, &devices.Hello{Serial: r.Serial, Firmware: "2.1.0", Battery: 90})
			drain(e)
			tx, err := e.Pay.Start(context.Background(), payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 300,
				Actor: payments.Actor{ID: 1, Name: "sam"}})
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			got := e.WaitFor(tx.ID, "failed", func(t models.Transaction) bool { return t.State == models.TxFailed })
			if took := time.Since(began); took > time.Second || got.ErrorMessage != tc.want {
				t.Errorf("after %s: %q within %s, want %q within a second", tc.what, got.ErrorMessage, took, tc.want)
			}
		})
	}
}
