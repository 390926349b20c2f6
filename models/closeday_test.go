package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// A move the table refuses returns the typed error and writes nothing, nor do writes from a
// copy of the close that is no longer current: the state it was read in has changed.
func TestCloseMoveRefusesAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	store := &models.CloseDays{DB: db}
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	txs := &models.Transactions{DB: db}
	seed(t, txs, at, time.UTC, models.KindSale, models.TxApproved, 1000, 1, 7, "")
	seed(t, txs, at, time.UTC, models.KindSale, models.TxApproved, 2500, 1, 7, "")
	c := models.CloseDay{EndpointID: 1, RequestID: "CDMOVE0001", Trigger: models.TriggerManual}
	if err := store.Start(ctx, &c); err != nil {
		t.Fatal(err)
	}
	before, err := store.ByID(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string, want models.CloseDay) {
		t.Helper()
		got, err := store.ByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != want.State || got.Error != want.Error || got.Attempts != want.Attempts || !got.UpdatedAt.Equal(want.UpdatedAt) ||
			got.SaleCount != want.SaleCount || (got.NextCheckAt == nil) != (want.NextCheckAt == nil) {
			t.Errorf("%s: the close changed: %+v, was %+v", what, got, want)
		}
	}
	refused := func(what string, err error, reason error, from, to, found models.CloseState) {
		t.Helper()
		var me *models.CloseMoveError
		if !errors.As(err, &me) || !errors.Is(err, reason) || me.ID != c.ID || me.From != from || me.To != to || me.Found != found {
			t.Errorf("%s: %v (%+v), want a *CloseMoveError %s → %s (%v, found %q)", what, err, me, from, to, reason, found)
		}
	}

	// Illegal: pending → finished, and nothing of the caller's edits reaches the row.
	x := before
	x.Error, x.Attempts, x.NextCheckAt = "must not be written", 9, nil
	refused("pending → finished", store.Move(ctx, &x, models.CloseFinished), models.ErrIllegalTransition, models.ClosePending, models.CloseFinished, "")
	if x.State != models.ClosePending {
		t.Errorf("the refused move left the copy in %s", x.State)
	}
	unchanged("pending → finished", before)
	refused("pending → bogus", store.Move(ctx, &x, "bogus"), models.ErrIllegalTransition, models.ClosePending, "bogus", "")
	unchanged("pending → bogus", before)

	// Legal: the snapshot takes the totals and the members and moves the close to sending.
	sent := before
	if err := store.Snapshot(ctx, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.State != models.CloseSending || sent.SaleCount != 2 || sent.SaleSumMinor != 3500 {
		t.Fatalf("after the snapshot: %+v", sent)
	}
	sent, _ = store.ByID(ctx, c.ID)
	members := func() int {
		t.Helper()
		ts, err := store.Covered(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	if sent.State != models.CloseSending || members() != 2 {
		t.Fatalf("stored after the snapshot: %s, %d members", sent.State, members())
	}

	// A stale copy (read while pending) can neither fail the close nor release its members,
	// though pending → failed is legal.
	stale := before
	stale.Error = "stale"
	refused("stale fail", store.Fail(ctx, &stale), models.ErrConflict, models.ClosePending, models.CloseFailed, models.CloseSending)
	refused("stale move", store.Move(ctx, &stale, models.CloseFailed), models.ErrConflict, models.ClosePending, models.CloseFailed, models.CloseSending)
	unchanged("stale writes", sent)
	if members() != 2 {
		t.Error("a refused Fail released the close's payments")
	}

	// The current copy moves on; a settled close stays settled.
	done := sent
	done.Attempts, done.GwStatus = 1, "finished"
	if err := store.Move(ctx, &done, models.CloseFinished); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.ByID(ctx, c.ID); got.State != models.CloseFinished || got.Attempts != 1 || got.GwStatus != "finished" {
		t.Fatalf("after the move: %+v", got)
	}
	done, _ = store.ByID(ctx, c.ID)
	for _, to := range models.AllCloseStates {
		if to == models.CloseFinished {
			continue
		}
		y := done
		refused("finished → "+string(to), store.Move(ctx, &y, to), models.ErrIllegalTransition, models.CloseFinished, to, "")
		refused("fail a finished close", store.Fail(ctx, &y), models.ErrIllegalTransition, models.CloseFinished, models.CloseFailed, "")
	}
	unchanged("moves out of finished", done)
	if members() != 2 {
		t.Error("a refused Fail released a finished close's payments")
	}
	// Staying finished is a write of its other fields.
	next := time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)
	done.NextCheckAt = &next
	if err := store.Move(ctx, &done, models.CloseFinished); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.ByID(ctx, c.ID); got.NextCheckAt == nil || !got.NextCheckAt.Equal(next) {
		t.Errorf("the next check was not written: %v", got.NextCheckAt)
	}
}

// addClose writes a close as the service would have left it: due at due, leased until
// leasedUntil (nil: nobody holds it).
func addClose(t *testing.T, store *models.CloseDays, n int, due time.Time, leasedUntil *time.Time) models.CloseDay {
	t.Helper()
	c := models.CloseDay{EndpointID: uint(n), RequestID: fmt.Sprintf("CDLEASE%05d", n), State: models.CloseUnknown,
		NextCheckAt: &due, LeaseUntil: leasedUntil}
	if leasedUntil != nil {
		c.LeaseToken = fmt.Sprintf("holder%d", n)
	}
	if err := store.DB.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	return c
}

// A lease keeps a close from every other leaser until it runs out or is given back, and a
// holder whose lease was taken over can no longer write the close.
func TestCloseLeaseFencesTheFormerHolder(t *testing.T) {
	ctx := context.Background()
	store := &models.CloseDays{DB: openDB(t)}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := addClose(t, store, 1, now.Add(-time.Minute), nil)
	a, err := store.LeaseDue(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(a) != 1 || a[0].ID != c.ID || a[0].LeaseToken == "" || a[0].LeaseUntil == nil || !a[0].LeaseUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("first lease: %+v, %v", a, err)
	}
	if again, err := store.LeaseDue(ctx, now.Add(59*time.Second), now.Add(2*time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("leased twice: %+v, %v", again, err)
	}
	if _, ok, err := store.Lease(ctx, c.ID, now, now.Add(time.Minute)); ok || err != nil {
		t.Fatalf("Lease took a held close: %v, %v", ok, err)
	}
	// The lease runs out: another instance takes the close, and the first holder's write is
	// refused.
	later := now.Add(2 * time.Minute)
	b, err := store.LeaseDue(ctx, later, later.Add(time.Minute), 10)
	if err != nil || len(b) != 1 || b[0].LeaseToken == a[0].LeaseToken {
		t.Fatalf("lease after expiry: %+v, %v", b, err)
	}
	old := a[0]
	old.Error = "the former holder"
	if err := store.Move(ctx, &old, models.CloseSending); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("the former holder's move: %v, want ErrConflict", err)
	}
	// The former holder's release gives nothing back; the holder's own does.
	if err := store.Release(ctx, a[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.LeaseDue(ctx, later, later.Add(time.Minute), 10); len(got) != 0 {
		t.Fatalf("the former holder released the current lease: %+v", got)
	}
	cur := b[0]
	cur.Attempts = 2
	if err := store.Move(ctx, &cur, models.CloseSending); err != nil {
		t.Fatalf("the holder's move: %v", err)
	}
	if err := store.Release(ctx, cur); err != nil {
		t.Fatal(err)
	}
	got, err := store.ByID(ctx, c.ID)
	if err != nil || got.State != models.CloseSending || got.Attempts != 2 || got.Error != "" || got.LeaseUntil != nil {
		t.Fatalf("after the holder's move and release: %+v, %v", got, err)
	}
	// Released and still due: the next leaser gets it at once; Lease takes it, due or not.
	if got, _ := store.LeaseDue(ctx, later, later.Add(time.Minute), 10); len(got) != 1 {
		t.Fatalf("a released due close was not leased: %+v", got)
	} else if err := store.Release(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if one, ok, err := store.Lease(ctx, c.ID, later, later.Add(time.Minute)); !ok || err != nil || one.ID != c.ID || one.LeaseToken == cur.LeaseToken {
		t.Fatalf("Lease of a free close: %+v, %v, %v", one, ok, err)
	}
}

// Two portal instances on one database lease due closes at the same time: no close is ever
// leased by both, every due close that nobody held is leased by one of them, and closes not
// due or held by a live lease by neither. Run with TEST_DATABASE_URL set for PostgreSQL.
func TestConcurrentLeasersNeverShareAClose(t *testing.T) {
	ctx := context.Background()
	store := &models.CloseDays{DB: openDB(t)}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	want := map[uint]bool{}
	n := 0
	add := func(due time.Time, leasedUntil *time.Time) models.CloseDay {
		n++
		return addClose(t, store, n, due, leasedUntil)
	}
	for i := range 60 {
		want[add(now.Add(-time.Duration(i)*time.Second), nil).ID] = true
	}
	expired, live := now.Add(-time.Second), now.Add(time.Minute)
	for range 4 {
		want[add(now.Add(-time.Minute), &expired).ID] = true // its holder died: due again
		add(now.Add(-time.Minute), &live)                    // its holder is working on it
		add(now.Add(time.Minute), nil)                       // not due yet
	}
	for round := range 3 {
		// Each round is later than the leases of the one before: every close is due again.
		at := now.Add(time.Duration(round) * 10 * time.Minute)
		if round > 0 {
			want = map[uint]bool{}
			for i := 1; i <= n; i++ {
				want[uint(i)] = true
			}
		}
		const leasers = 2
		got := make([][]uint, leasers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, leasers)
		for l := range leasers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					cs, err := store.LeaseDue(ctx, at, at.Add(5*time.Minute), 3)
					if err != nil {
						errs <- err
						return
					}
					if len(cs) == 0 {
						return
					}
					for _, c := range cs {
						got[l] = append(got[l], c.ID)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		by := map[uint]int{}
		for l, ids := range got {
			for _, id := range ids {
				if prev, ok := by[id]; ok {
					t.Errorf("round %d: close %d leased by leaser %d and leaser %d", round, id, prev, l)
				}
				by[id] = l
			}
		}
		for id := range want {
			if _, ok := by[id]; !ok {
				t.Errorf("round %d: due close %d was not leased", round, id)
			}
		}
		for id := range by {
			if !want[id] {
				t.Errorf("round %d: close %d was leased though not due or held", round, id)
			}
		}
		t.Logf("round %d: %d and %d closes", round, len(got[0]), len(got[1]))
	}
}
