package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
	"gorm.io/gorm"
)

// Many concurrent writers share commits; a unit that fails is rolled back alone; whatever Do
// or Insert reported as done is visible to a fresh reader at once (it was committed).
func TestGroupCommit(t *testing.T) {
	db := testdb.Open(t)
	g := models.NewGroupCommit(db, 64)
	defer g.Close()
	ctx := context.Background()
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			order := fmt.Sprintf("G%03d", i)
			switch i % 4 {
			case 0: // a log line, through the multi-row insert
				errs[i] = g.Insert(ctx, db, &models.CallbackDelivery{At: time.Now(), ClientOrderID: order, Outcome: "applied"})
			case 1: // a unit that writes, then fails: nothing of it may remain
				errs[i] = g.Do(ctx, db, func(tx *gorm.DB) error {
					if err := tx.Create(&models.CallbackDelivery{At: time.Now(), ClientOrderID: order, Outcome: "applied"}).Error; err != nil {
						return err
					}
					return boom
				})
			default:
				errs[i] = g.Do(ctx, db, func(tx *gorm.DB) error {
					return tx.Create(&models.CallbackDelivery{At: time.Now(), ClientOrderID: order, Outcome: "applied"}).Error
				})
			}
			if errs[i] == nil {
				var n int64
				db.Model(&models.CallbackDelivery{}).Where("client_order_id = ?", order).Count(&n)
				if n != 1 {
					t.Errorf("%s reported stored, but a reader sees %d rows", order, n)
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%4 == 1; want != errors.Is(err, boom) || (!want && err != nil) {
			t.Errorf("unit %d: err = %v", i, err)
		}
	}
	var n int64
	db.Model(&models.CallbackDelivery{}).Count(&n)
	if n != 150 {
		t.Errorf("%d rows stored, want 150 (the 50 failing units must leave nothing)", n)
	}

	// After Close, Do still works, on its own transaction.
	g.Close()
	if err := g.Do(ctx, db, func(tx *gorm.DB) error {
		return tx.Create(&models.CallbackDelivery{At: time.Now(), ClientOrderID: "after", Outcome: "applied"}).Error
	}); err != nil {
		t.Fatalf("Do after Close: %v", err)
	}
}
