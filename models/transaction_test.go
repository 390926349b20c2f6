package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// newTx starts a payment waiting for its card, each on a reader of its own (one payment waits
// per reader).
func newTx(t *testing.T, s *models.Transactions, id string) models.Transaction {
	t.Helper()
	readerSeq++
	tx := models.Transaction{ClientOrderID: id, EndpointID: 1, ReaderID: readerSeq, ReaderSerial: "SBX-0001", Kind: models.KindSale,
		AmountMinor: 1042, Currency: "EUR", State: models.TxWaitingCard}
	if err := s.Create(context.Background(), &tx, "started"); err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestApplyIsIdempotentAndDurable(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := &models.Transactions{DB: openDB(t), Now: func() time.Time { return now }}
	tx := newTx(t, s, "P1")
	if err := s.Create(ctx, &models.Transaction{ClientOrderID: "P1", Kind: models.KindSale, State: models.TxWaitingCard}, ""); !errors.Is(err, models.ErrConflict) {
		t.Errorf("a second payment with the same client order id: %v, want ErrConflict", err)
	}
	next := now.Add(3 * time.Second)
	steps := []struct {
		u       models.TxUpdate
		state   models.TxState
		changed bool
	}{
		{models.TxUpdate{Source: "reader", State: models.TxSending, CardLast4: "1111"}, models.TxSending, true},
		{models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969106", NextCheckAt: &next}, models.TxProcessing, true},
		{models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "242805"}, models.TxApproved, true},
		{models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "999999"}, models.TxApproved, false}, // duplicate
		{models.TxUpdate{Source: "poll", State: models.TxProcessing, RRN: "510321889824"}, models.TxApproved, false},      // late, adds a fact
	}
	for i, st := range steps {
		res, err := s.Apply(ctx, tx.ID, st.u)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.Tx.State != st.state || res.Changed != st.changed {
			t.Errorf("step %d: %s changed=%v, want %s changed=%v", i, res.Tx.State, res.Changed, st.state, st.changed)
		}
	}
	got, _ := s.ByID(ctx, tx.ID)
	if got.ApprovalCode != "242805" || got.RRN != "510321889824" || got.GatewayOrderID != "1969106" || got.CardLast4 != "1111" ||
		got.NextCheckAt != nil || got.FinalAt == nil {
		t.Errorf("stored %+v", got)
	}
	res, err := s.Apply(ctx, tx.ID, models.TxUpdate{Source: "callback", State: models.TxDeclined})
	if err != nil || res.Conflict == nil || res.Tx.State != models.TxApproved {
		t.Errorf("conflicting final: %+v, %v", res, err)
	}
	if _, err := s.Apply(ctx, newTx(t, s, "P2").ID, models.TxUpdate{Source: "poll", State: models.TxApproved}); !errors.Is(err, models.ErrIllegalTransition) {
		t.Errorf("approved while waiting for the card: %v, want ErrIllegalTransition", err)
	}
	evs, _ := s.Events(ctx, tx.ID)
	if len(evs) != 7 { // created + 5 steps + the conflict
		t.Errorf("%d timeline events, want 7", len(evs))
	}
	res, _ = s.Apply(ctx, newTx(t, s, "P3").ID, models.TxUpdate{Source: "reader", State: models.TxFailed, OnlyFrom: []models.TxState{models.TxSending}})
	if res.Changed || res.Tx.State != models.TxWaitingCard {
		t.Errorf("OnlyFrom did not hold: %+v", res)
	}
}

func TestConcurrentCallbacksApplyOnce(t *testing.T) {
	ctx := context.Background()
	s := &models.Transactions{DB: openDB(t)}
	tx := newTx(t, s, "P1")
	s.Apply(ctx, tx.ID, models.TxUpdate{Source: "reader", State: models.TxSending})
	s.Apply(ctx, tx.ID, models.TxUpdate{Source: "response", State: models.TxProcessing})
	var wg sync.WaitGroup
	var mu sync.Mutex
	changed := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Apply(ctx, tx.ID, models.TxUpdate{Source: "callback", State: models.TxApproved})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if res.Changed {
				changed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if changed != 1 {
		t.Errorf("%d of 10 identical callbacks changed the payment, want exactly 1", changed)
	}
}

// Callbacks by order id through a group commit (on PostgreSQL each batch reads its payments
// in one statement, and a write is made only if the row is still the version read): many
// deliveries of the same approvals, at once and beside a poller writing the same payments,
// change each payment once, leave one timeline line per change, and log every delivery
// whose update ran in a transaction with the outcome it had there.
func TestBatchedCallbacksApplyOnceAndLogWithTheChange(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	batch := models.NewGroupCommit(db, 64)
	t.Cleanup(batch.Close)
	s := &models.Transactions{DB: db, Batch: batch}
	const payments, deliveries = 8, 6
	var orders []string
	for i := range payments {
		tx := newTx(t, s, fmt.Sprintf("PB%d", i))
		s.Apply(ctx, tx.ID, models.TxUpdate{Source: "reader", State: models.TxSending})
		s.Apply(ctx, tx.ID, models.TxUpdate{Source: "response", State: models.TxProcessing})
		orders = append(orders, tx.ClientOrderID)
	}
	var mu sync.Mutex
	changed := map[string]int{}
	logged := 0
	var wg sync.WaitGroup
	for _, order := range orders {
		for range deliveries {
			wg.Go(func() {
				u := models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "242805", Gateway: true,
					QuietRepeat: true, Also: func(res models.TxResult) any {
						outcome := map[bool]string{true: "applied", false: "duplicate"}[res.Changed]
						return models.CallbackDelivery{ClientOrderID: order, Outcome: outcome, HTTPStatus: 200}.Line(time.Now())
					}}
				res, err := s.ApplyByOrder(ctx, order, u)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if res.Changed {
					changed[order]++
				}
				if res.Logged {
					logged++
				} else if res.Changed {
					t.Errorf("%s: a change without its log line", order)
				}
			})
		}
		// The poller writes the same payment meanwhile (a routine check, counted).
		wg.Go(func() {
			if _, err := s.ApplyByOrder(ctx, order, models.TxUpdate{Source: "poll", CountCheck: true}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, order := range orders {
		if changed[order] != 1 {
			t.Errorf("%s changed %d times by %d identical callbacks, want once", order, changed[order], deliveries)
		}
		got, err := s.ByClientOrderID(ctx, order)
		if err != nil || got.State != models.TxApproved || got.ApprovalCode != "242805" {
			t.Errorf("%s: %s %q %v", order, got.State, got.ApprovalCode, err)
		}
		evs, _ := s.Events(ctx, got.ID)
		var fromCallbacks int
		for _, ev := range evs {
			if ev.Source == "callback" {
				fromCallbacks++
			}
		}
		if fromCallbacks != 1 {
			t.Errorf("%s has %d timeline lines from callbacks, want 1", order, fromCallbacks)
		}
	}
	var lines []models.CallbackDelivery
	db.Find(&lines)
	applied := 0
	for _, d := range lines {
		if d.Outcome == "applied" {
			applied++
		}
	}
	if len(lines) != logged || applied != payments {
		t.Errorf("%d log lines (%d applied) for %d deliveries logged with their update, want %d applied", len(lines), applied, logged, payments)
	}
}

// OnFinal hears of a payment once, when it first becomes final: not of the steps before, a
// repeated callback, a contradiction or the gateway later changing the final status.
func TestOnFinalHearsOfEachPaymentOnce(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var told []string
	s := &models.Transactions{DB: openDB(t), OnFinal: func(tx models.Transaction) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, fmt.Sprintf("%s %s", tx.ClientOrderID, tx.State))
	}}
	tx := newTx(t, s, "P1")
	steps := []models.TxUpdate{
		{Source: "reader", State: models.TxSending},
		{Source: "response", State: models.TxProcessing},
		{Source: "callback", State: models.TxDeclined, Gateway: true},
		{Source: "callback", State: models.TxDeclined, Gateway: true},                 // repeated
		{Source: "callback", State: models.TxError, Gateway: true},                    // contradicts: kept for review
		{Source: "poll", State: models.TxApproved, Gateway: true, Override: true},     // the gateway changed its mind
		{Source: "poll", State: models.TxProcessing, Gateway: true, CountCheck: true}, // late
	}
	for i, u := range steps {
		if _, err := s.Apply(ctx, tx.ID, u); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if got, _ := s.ByID(ctx, tx.ID); got.State != models.TxApproved {
		t.Fatalf("P1 ended %s, want approved by the gateway's override", got.State)
	}
	cancelled := newTx(t, s, "P2")
	var wg sync.WaitGroup
	for range 5 { // a double tap on Cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Apply(ctx, cancelled.ID, models.TxUpdate{Source: "user", State: models.TxCancelled})
		}()
	}
	wg.Wait()
	if want := []string{"P1 declined", "P2 cancelled"}; !slices.Equal(told, want) {
		t.Errorf("OnFinal heard %q, want %q", told, want)
	}
}

func TestLeaseDueChecks(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := &models.Transactions{DB: openDB(t), Now: func() time.Time { return now }}
	due, later := now.Add(-time.Second), now.Add(time.Minute)
	a, b := newTx(t, s, "PA"), newTx(t, s, "PB")
	for _, x := range []struct {
		id uint
		at *time.Time
	}{{a.ID, &due}, {b.ID, &later}} {
		s.Apply(ctx, x.id, models.TxUpdate{Source: "reader", State: models.TxSending})
		s.Apply(ctx, x.id, models.TxUpdate{Source: "response", State: models.TxProcessing, NextCheckAt: x.at})
	}
	got, err := s.LeaseDueChecks(ctx, now, 10, 30*time.Second)
	if err != nil || len(got) != 1 || got[0].ID != a.ID || !got[0].Due.Equal(due) {
		t.Fatalf("LeaseDueChecks = %v, %v; want [{%d %v}]", got, err, a.ID, due)
	}
	if again, _ := s.LeaseDueChecks(ctx, now, 10, 30*time.Second); len(again) != 0 {
		t.Errorf("a leased payment was handed out again: %v", again)
	}
	if after, _ := s.LeaseDueChecks(ctx, now.Add(31*time.Second), 10, 30*time.Second); len(after) != 1 {
		t.Errorf("an expired lease was not handed out again: %v", after)
	}
}

func TestReaderUpdateKeepsPresence(t *testing.T) {
	ctx := context.Background()
	s := &models.Readers{DB: openDB(t)}
	r := models.Reader{Serial: "SBX-0001", Label: "Counter 1", EndpointID: 1, Enabled: true, Battery: -1}
	if err := s.Create(ctx, &r, "admin"); err != nil {
		t.Fatal(err)
	}
	stale, _ := s.ByID(ctx, r.ID) // an admin page loaded before the heartbeat
	if err := s.Seen(ctx, r.ID, "2.1.0", "VR-1", 77); err != nil {
		t.Fatal(err)
	}
	stale.Enabled = false
	if err := s.Update(ctx, &stale, "disabled", "", "admin"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ByID(ctx, r.ID)
	if got.Enabled || !got.Online || got.Battery != 77 || got.Firmware != "2.1.0" || got.LastSeenAt == nil {
		t.Errorf("after an admin update on a stale copy: %+v", got)
	}
}

func TestNeedsAttentionListsLateApprovalsFirst(t *testing.T) {
	s := &models.Transactions{DB: openDB(t)}
	ctx := context.Background()
	mk := func(state models.TxState, review string) uint {
		tx := models.Transaction{ClientOrderID: nextOrderID(), EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001",
			Kind: models.KindSale, AmountMinor: 100, Currency: "EUR", State: state, Review: review}
		if err := s.Create(ctx, &tx, "test"); err != nil {
			t.Fatal(err)
		}
		return tx.ID
	}
	review := mk(models.TxNeedsReview, "")
	mk(models.TxApproved, "")
	changed := mk(models.TxDeclined, models.ReviewStatusChanged)
	late := mk(models.TxApproved, models.ReviewLateApproval)
	got, err := s.NeedsAttention(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint
	for _, tx := range got {
		ids = append(ids, tx.ID)
	}
	if !slices.Equal(ids, []uint{late, changed, review}) {
		t.Errorf("queue %v, want %v", ids, []uint{late, changed, review})
	}
}

var orderSeq int

func nextOrderID() string { orderSeq++; return fmt.Sprintf("PQ%d", orderSeq) }

var readerSeq uint
