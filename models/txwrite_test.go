package models_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// processing starts a payment and brings it to processing, with a status check due later.
func processing(t *testing.T, s *models.Transactions, id string) models.Transaction {
	t.Helper()
	ctx := context.Background()
	tx := newTx(t, s, id)
	next := time.Now().Add(time.Hour)
	for _, u := range []models.TxUpdate{{Source: "reader", State: models.TxSending},
		{Source: "response", State: models.TxProcessing, GatewayOrderID: "G" + id, NextCheckAt: &next}} {
		if _, err := s.Apply(ctx, tx.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	return tx
}

// A callback is planned on the row as read before its write; when the row is written in
// between (here: another callback's approval), the plan is not written over it: the row is
// read again and the callback found to be a repeat.
func TestCallbackPlannedOnAStaleRowIsPlannedAgain(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	g := models.NewGroupCommit(db, 16)
	defer g.Close()
	s := &models.Transactions{DB: db, Batch: g}
	tx := processing(t, s, "PS1")
	var once sync.Once
	s.Now = func() time.Time {
		// Called first right after the callback's read: another writer approves the payment.
		once.Do(func() {
			if err := db.Exec("UPDATE transactions SET state = ?, approval_code = ?, next_check_at = NULL WHERE id = ?",
				models.TxApproved, "A1", tx.ID).Error; err != nil {
				t.Error(err)
			}
		})
		return time.Now()
	}
	res, err := s.ApplyByOrder(ctx, "PS1", models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "B2",
		Gateway: true, QuietRepeat: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed {
		t.Errorf("the callback changed a payment another writer had approved: %+v", res)
	}
	got, _ := s.ByID(ctx, tx.ID)
	if got.State != models.TxApproved || got.ApprovalCode != "A1" {
		t.Errorf("stored %s approval %q, want approved A1 (the first writer's)", got.State, got.ApprovalCode)
	}
}

// Callbacks from many clients, each delivered three times at once, and the status poller
// rescheduling the same payments meanwhile, through one group commit: every payment is
// approved once, with one timeline line, and keeps the poller's count.
func TestCallbacksInGroupCommits(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	g := models.NewGroupCommit(db, 64)
	defer g.Close()
	s := &models.Transactions{DB: db, Batch: g}
	const n = 40
	txs := make([]models.Transaction, n)
	for i := range txs {
		txs[i] = processing(t, s, fmt.Sprintf("PG%02d", i))
	}
	changed := make([]int, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, tx := range txs {
		for range 3 {
			wg.Go(func() {
				res, err := s.ApplyByOrder(ctx, tx.ClientOrderID, models.TxUpdate{Source: "callback", State: models.TxApproved,
					ApprovalCode: fmt.Sprintf("A%02d", i), GatewayStatus: "approved", Gateway: true, QuietRepeat: true})
				if err != nil {
					t.Error(err)
					return
				}
				if res.Tx.State != models.TxApproved {
					t.Errorf("%s: answered %s", tx.ClientOrderID, res.Tx.State)
				}
				mu.Lock()
				if res.Changed {
					changed[i]++
				}
				mu.Unlock()
			})
		}
		wg.Go(func() {
			if _, err := s.Reschedule(ctx, tx.ID, models.TxProcessing, time.Now().Add(time.Minute)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, tx := range txs {
		got, _ := s.ByID(ctx, tx.ID)
		if got.State != models.TxApproved || got.ApprovalCode != fmt.Sprintf("A%02d", i) || got.GatewayStatus != "approved" ||
			got.FinalAt == nil || got.NextCheckAt != nil {
			t.Errorf("%s stored %+v", tx.ClientOrderID, got)
		}
		if changed[i] != 1 {
			t.Errorf("%s: %d of 3 deliveries changed it, want 1", tx.ClientOrderID, changed[i])
		}
		evs, _ := s.Events(ctx, tx.ID)
		callbacks := 0
		for _, e := range evs {
			if e.Source == "callback" {
				callbacks++
			}
		}
		if callbacks != 1 {
			t.Errorf("%s: %d timeline lines from callbacks, want 1", tx.ClientOrderID, callbacks)
		}
	}
}
