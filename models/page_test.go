package models_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/example/mposportal/models"
)

// orders lists the client order ids of a callback page, to compare pages.
func orders(ds []models.CallbackDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ClientOrderID
	}
	return out
}

func sameList(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestKeysetPages walks 2.5 pages of a filtered list: down to the partial last page, back up,
// and checks a row added meanwhile neither shifts the pages below nor is lost.
func TestKeysetPages(t *testing.T) {
	ctx := context.Background()
	s := &models.Callbacks{DB: openDB(t)}
	// Ten "applied" deliveries A01..A10 with a "forged" one after each: the filter keeps the
	// applied ones, so the pages must skip the others.
	for i := 1; i <= 10; i++ {
		for _, d := range []models.CallbackDelivery{
			{ClientOrderID: fmt.Sprintf("A%02d", i), Outcome: "applied"},
			{ClientOrderID: fmt.Sprintf("F%02d", i), Outcome: "forged"},
		} {
			if err := s.Record(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	page := func(p models.Page) ([]string, models.Paged) {
		t.Helper()
		p.Size = 4
		ds, pg, err := s.ListPage(ctx, "applied", p)
		if err != nil {
			t.Fatal(err)
		}
		return orders(ds), pg
	}

	first, pg1 := page(models.Page{})
	if want := []string{"A10", "A09", "A08", "A07"}; !sameList(first, want) || pg1.Newer != 0 || pg1.Older == 0 || !pg1.Newest() {
		t.Fatalf("first page %v %+v, want %v with an older page only", first, pg1, want)
	}
	middle, pg2 := page(models.Page{Before: pg1.Older})
	if want := []string{"A06", "A05", "A04", "A03"}; !sameList(middle, want) || pg2.Newer == 0 || pg2.Older == 0 {
		t.Fatalf("older page %v %+v, want %v with both neighbours", middle, pg2, want)
	}
	last, pg3 := page(models.Page{Before: pg2.Older})
	if want := []string{"A02", "A01"}; !sameList(last, want) || pg3.Older != 0 || pg3.Newer == 0 {
		t.Fatalf("last page %v %+v, want %v with no older page", last, pg3, want)
	}
	back, pgBack := page(models.Page{After: pg3.Newer})
	if !sameList(back, middle) || pgBack != pg2 {
		t.Fatalf("newer from the last page: %v %+v, want the middle page %v %+v", back, pgBack, middle, pg2)
	}
	top, pgTop := page(models.Page{After: pg2.Newer})
	if !sameList(top, first) || pgTop != pg1 {
		t.Fatalf("newer from the middle: %v %+v, want the first page %v %+v", top, pgTop, first, pg1)
	}

	// A new delivery: the first page takes it, the pages below stay where they were.
	if err := s.Record(ctx, models.CallbackDelivery{ClientOrderID: "A11", Outcome: "applied"}); err != nil {
		t.Fatal(err)
	}
	if again, pg := page(models.Page{Before: pg1.Older}); !sameList(again, middle) || pg != pg2 {
		t.Errorf("older page after an insert: %v %+v, want %v %+v", again, pg, middle, pg2)
	}
	if newest, _ := page(models.Page{}); newest[0] != "A11" {
		t.Errorf("first page after an insert starts %v, want A11", newest)
	}
	// Newer from the middle now stops below A11, which has a page of its own above; going up
	// to it reads the full newest page.
	up, pgUp := page(models.Page{After: pg2.Newer})
	if !sameList(up, first) || pgUp.Newer == 0 || pgUp.Older != pg1.Older {
		t.Fatalf("newer from the middle after an insert: %v %+v, want %v with a newer page", up, pgUp, first)
	}
	if top, pg := page(models.Page{After: pgUp.Newer}); !sameList(top, []string{"A11", "A10", "A09", "A08"}) || !pg.Newest() {
		t.Errorf("newest page after an insert: %v %+v", top, pg)
	}

	// A cursor past either end reads as the newest page rather than an empty one.
	if got, pg := page(models.Page{Before: 1}); got[0] != "A11" || pg.Newer != 0 {
		t.Errorf("before the oldest id: %v %+v, want the newest page", got, pg)
	}
	if got, pg := page(models.Page{After: 1 << 30}); got[0] != "A11" || pg.Newer != 0 {
		t.Errorf("after the newest id: %v %+v, want the newest page", got, pg)
	}
	// Without a size the page holds PageSize rows.
	if ds, pg, err := s.ListPage(ctx, "", models.Page{}); err != nil || len(ds) != 21 || pg.Older != 0 {
		t.Errorf("default size: %d rows %+v %v, want all 21 on one page", len(ds), pg, err)
	}
}
