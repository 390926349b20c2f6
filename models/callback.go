package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// CallbackDelivery is one gateway callback as it reached us: kept for admins to see what the
// gateway sent and what we answered. The control signature is not stored.
type CallbackDelivery struct {
	ID            uint      `gorm:"primaryKey"`
	At            time.Time `gorm:"index;not null"`
	EndpointID    uint      `gorm:"index"`
	RemoteIP      string    `gorm:"size:64"`
	ClientOrderID string    `gorm:"size:128;index"`
	OrderID       string    `gorm:"size:32"`
	Status        string    `gorm:"size:20"`
	Type          string    `gorm:"size:16"`
	Amount        string    `gorm:"size:16"`
	Outcome       string    `gorm:"size:20;index"` // applied, duplicate, conflict, unknown_order, forged, mismatch, error
	HTTPStatus    int
	Detail        string `gorm:"size:255"`
}

// Callbacks holds the callback log.
type Callbacks struct {
	DB  *gorm.DB
	Now func() time.Time
	// Batch, when set, groups Record's writes with other writers' into shared commits.
	Batch *GroupCommit
}

// Record appends a delivery.
func (s *Callbacks) Record(ctx context.Context, d CallbackDelivery) error {
	if s.Now != nil {
		d.At = s.Now().UTC()
	} else {
		d.At = time.Now().UTC()
	}
	err := s.Batch.Insert(ctx, s.DB, &d)
	if err != nil {
		return fmt.Errorf("models: callback log: %w", err)
	}
	return nil
}

// List returns deliveries newest first; outcome "" means all; beforeID pages backwards.
func (s *Callbacks) List(ctx context.Context, outcome string, beforeID uint, limit int) ([]CallbackDelivery, error) {
	q := s.DB.WithContext(ctx).Order("id DESC").Limit(limit)
	if outcome != "" {
		q = q.Where("outcome = ?", outcome)
	}
	if beforeID > 0 {
		q = q.Where("id < ?", beforeID)
	}
	var ds []CallbackDelivery
	err := q.Find(&ds).Error
	return ds, err
}
