package models

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

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
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if err := s.Batch.Insert(ctx, s.DB, d.Line(now)); err != nil {
		return fmt.Errorf("models: callback log: %w", err)
	}
	return nil
}

// Line is the delivery as the log keeps it, received at: anyone can send a callback, so every
// field is cut to its column's size (SQLite would keep it whole), and a forged one cannot
// grow the database.
func (d CallbackDelivery) Line(at time.Time) *CallbackDelivery {
	d.At = at.UTC()
	d.RemoteIP, d.ClientOrderID, d.OrderID = clip(d.RemoteIP, 64), clip(d.ClientOrderID, 128), clip(d.OrderID, 32)
	d.Status, d.Type, d.Amount = clip(d.Status, 20), clip(d.Type, 16), clip(d.Amount, 16)
	d.Outcome, d.Detail = clip(d.Outcome, 20), clip(d.Detail, 255)
	return &d
}

// ListPage returns page p of the deliveries, newest first; outcome "" means all.
func (s *Callbacks) ListPage(ctx context.Context, outcome string, p Page) ([]CallbackDelivery, Paged, error) {
	q := s.DB.WithContext(ctx)
	if outcome != "" {
		q = q.Where("outcome = ?", outcome)
	}
	ds, pg, err := paginate(q, p, func(d CallbackDelivery) uint { return d.ID })
	if err != nil {
		return nil, pg, fmt.Errorf("models: page of the callback log: %w", err)
	}
	return ds, pg, nil
}

// DefaultCallbackRetention is how long the callback log is kept.
const DefaultCallbackRetention = 90 * 24 * time.Hour

// Prune deletes callback log lines older than before, in batches; it returns how many.
func (s *Callbacks) Prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res := s.DB.WithContext(ctx).Where("id IN (?)",
			s.DB.Model(&CallbackDelivery{}).Select("id").Where("at < ?", before.UTC()).Limit(5000)).Delete(&CallbackDelivery{})
		if res.Error != nil {
			return total, fmt.Errorf("models: prune callback log: %w", res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < 5000 {
			return total, nil
		}
	}
}

// clip cuts s to at most n bytes, on a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
