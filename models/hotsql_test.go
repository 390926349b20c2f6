package models_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// The hot paths read payments with plain SQL: what they read is what GORM reads, field for
// field, including the optional ones and NULL in columns a migration added to old rows.
func TestPaymentReadsMatchGORM(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := &models.Transactions{DB: db}
	at := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	sent, final, next := at.Add(time.Second), at.Add(2*time.Second), at.Add(3*time.Second)
	closeID, parentID, key := uint(7), uint(9), "form-key-1"
	full := models.Transaction{CreatedAt: at, UpdatedAt: at, ClientOrderID: "PFULL", EndpointID: 2, ReaderID: 3, ReaderSerial: "SBX-0003",
		Kind: models.KindRefund, AmountMinor: 1042, Currency: "EUR", Description: "table 4", State: models.TxNeedsReview,
		GatewayStatus: "processing", GatewayOrderID: "1969106", RequestSerial: "RS-1", ApprovalCode: "242805", RRN: "510321889824",
		ReceiptID: "R-1", TerminalID: "T-1", CardBrand: "VISA", CardBIN: "411111", CardLast4: "1111", EntryMode: "chip",
		ErrorCode: "51", ErrorMessage: "insufficient funds", StartedByID: 4, StartedByName: "anna", SentAt: &sent, FinalAt: &final,
		NextCheckAt: &next, Checks: 5, CloseDayID: &closeID, BusinessDay: "2026-11-24", ReaderLabel: "Counter 3", StartKey: &key,
		NotFound: 2, Review: models.ReviewConfirm, ReviewNote: "asking", ResolveTo: models.TxApproved, ResolveByID: 6,
		ResolveByName: "boris", ResolveReason: "bank said so", ParentID: &parentID, ParentOrderID: "PPARENT"}
	if err := db.Create(&full).Error; err != nil {
		t.Fatal(err)
	}
	sparse := models.Transaction{ClientOrderID: "PSPARSE", EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001", Kind: models.KindSale,
		AmountMinor: 1, Currency: "EUR", State: models.TxWaitingCard}
	if err := db.Create(&sparse).Error; err != nil {
		t.Fatal(err)
	}
	// As a column added by a later migration reads on rows that existed before it.
	if err := db.Exec("UPDATE transactions SET description = NULL, reader_label = NULL, business_day = NULL, review = NULL WHERE id = ?", sparse.ID).Error; err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint{full.ID, sparse.ID} {
		var want models.Transaction
		if err := db.First(&want, id).Error; err != nil {
			t.Fatal(err)
		}
		byID, err := s.ByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		byOrder, err := s.ByClientOrderID(ctx, want.ClientOrderID)
		if err != nil {
			t.Fatal(err)
		}
		for name, got := range map[string]models.Transaction{"ByID": byID, "ByClientOrderID": byOrder} {
			if !sameTx(got, want) {
				t.Errorf("%s(%s)\n got %+v\nwant %+v", name, want.ClientOrderID, got, want)
			}
		}
	}
	if _, err := s.ByID(ctx, 999); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("ByID of no payment: %v, want ErrNotFound", err)
	}
	if _, err := s.ByClientOrderID(ctx, "PNONE"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("ByClientOrderID of no payment: %v, want ErrNotFound", err)
	}
}

// sameTx compares payments field by field, times by the instant they name.
func sameTx(a, b models.Transaction) bool {
	// PostgreSQL keeps microseconds.
	at := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
	norm := func(t *models.Transaction) {
		t.CreatedAt, t.UpdatedAt = at(t.CreatedAt), at(t.UpdatedAt)
		for _, p := range []**time.Time{&t.SentAt, &t.FinalAt, &t.NextCheckAt} {
			if *p != nil {
				u := at(**p)
				*p = &u
			}
		}
	}
	norm(&a)
	norm(&b)
	return reflect.DeepEqual(a, b)
}

// A repeat that QuietRepeat marks writes nothing: no timeline line, no column (not even
// updated_at), no OnFinal; it answers as the full path would. A repeat that brings a new fact,
// or contradicts the final status, is applied and recorded as before.
func TestQuietRepeatWritesNothing(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var finals int
	s := &models.Transactions{DB: db, OnFinal: func(models.Transaction) { finals++ }}
	g := models.NewGroupCommit(db, 16)
	defer g.Close()
	s.Batch = g
	tx := newTx(t, s, "PQ")
	for _, u := range []models.TxUpdate{{Source: "reader", State: models.TxSending}, {Source: "response", State: models.TxProcessing, GatewayOrderID: "1969106"}} {
		if _, err := s.Apply(ctx, tx.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	callback := models.TxUpdate{Source: "callback", State: models.TxApproved, GatewayStatus: "approved", GatewayOrderID: "1969106",
		ApprovalCode: "242805", Gateway: true, QuietRepeat: true, Detail: "the bank's notice: approved"}
	first, err := s.ApplyByOrder(ctx, "PQ", callback)
	if err != nil || !first.Changed || first.Repeat || first.Tx.State != models.TxApproved || finals != 1 {
		t.Fatalf("first delivery: %+v, %v (OnFinal told %d times)", first, err, finals)
	}
	stored, _ := s.ByID(ctx, tx.ID)
	events, _ := s.Events(ctx, tx.ID)
	if !sameTx(first.Tx, stored) {
		t.Errorf("first delivery answered with\n%+v\nthe stored payment is\n%+v", first.Tx, stored)
	}

	again, err := s.ApplyByOrder(ctx, "PQ", callback)
	if err != nil || again.Changed || !again.Repeat || again.Conflict != nil || again.From != models.TxApproved {
		t.Fatalf("repeat: %+v, %v", again, err)
	}
	if !sameTx(again.Tx, stored) {
		t.Errorf("repeat answered with\n%+v\nthe stored payment is\n%+v", again.Tx, stored)
	}
	after, _ := s.ByID(ctx, tx.ID)
	if evs, _ := s.Events(ctx, tx.ID); len(evs) != len(events) || !sameTx(after, stored) || finals != 1 {
		t.Errorf("a repeat wrote: %d timeline lines (were %d), payment %+v, OnFinal told %d times", len(evs), len(events), after, finals)
	}

	// A check that refuses, and an unknown order, are answered from the same read.
	refuse := errors.New("not ours")
	checked := callback
	checked.Check = func(models.Transaction) error { return refuse }
	if res, err := s.ApplyByOrder(ctx, "PQ", checked); !errors.Is(err, refuse) || res.Tx.ID != tx.ID {
		t.Errorf("refused repeat: %+v, %v", res, err)
	}
	if _, err := s.ApplyByOrder(ctx, "PNONE", callback); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("unknown order: %v, want ErrNotFound", err)
	}

	// A new fact is no repeat: it is filled in and gets its timeline line.
	withRRN := callback
	withRRN.RRN = "510321889824"
	res, err := s.ApplyByOrder(ctx, "PQ", withRRN)
	if err != nil || res.Repeat || res.Tx.RRN != "510321889824" {
		t.Errorf("new fact: %+v, %v", res, err)
	}
	// A contradiction is no repeat either: flagged and recorded, the status kept.
	declined := callback
	declined.State, declined.GatewayStatus = models.TxDeclined, "declined"
	res, err = s.ApplyByOrder(ctx, "PQ", declined)
	if err != nil || res.Repeat || res.Conflict == nil || res.Tx.State != models.TxApproved || res.Tx.Review != models.ReviewConfirm {
		t.Errorf("contradiction: %+v, %v", res, err)
	}
	if evs, _ := s.Events(ctx, tx.ID); len(evs) != len(events)+2 {
		t.Errorf("%d timeline lines, want %d (the new fact and the contradiction)", len(evs), len(events)+2)
	}
	if finals != 1 {
		t.Errorf("OnFinal told %d times, want once", finals)
	}
}

// Applies share group commits: one refused in a batch (its unit rolled back alone, the
// batch run again with a savepoint per unit) leaves the others applied, each with its line.
func TestGroupCommittedAppliesFailAlone(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := &models.Transactions{DB: db}
	var ids []uint
	for i := range 40 {
		tx := newTx(t, s, fmt.Sprintf("PG%02d", i))
		if _, err := s.Apply(ctx, tx.ID, models.TxUpdate{Source: "reader", State: models.TxSending}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tx.ID)
	}
	g := models.NewGroupCommit(db, 64)
	defer g.Close()
	s.Batch = g
	refuse := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: fmt.Sprint(1000 + i)}
			if i%2 == 1 {
				u.Check = func(models.Transaction) error { return refuse }
			}
			_, errs[i] = s.Apply(ctx, id, u)
		}()
	}
	wg.Wait()
	for i, id := range ids {
		got, _ := s.ByID(ctx, id)
		evs, _ := s.Events(ctx, id)
		refused := i%2 == 1
		switch {
		case refused && (!errors.Is(errs[i], refuse) || got.State != models.TxSending || got.GatewayOrderID != "" || len(evs) != 2):
			t.Errorf("refused %d: %v, %s %q, %d lines", i, errs[i], got.State, got.GatewayOrderID, len(evs))
		case !refused && (errs[i] != nil || got.State != models.TxProcessing || got.GatewayOrderID != fmt.Sprint(1000+i) || len(evs) != 3):
			t.Errorf("applied %d: %v, %s %q, %d lines", i, errs[i], got.State, got.GatewayOrderID, len(evs))
		}
	}
}
