package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Close-day states.
const (
	ClosePending  = "pending"  // created, not sent yet
	CloseSending  = "sending"  // request in flight
	CloseUnknown  = "unknown"  // timeout or 5xx: the same request id is sent again
	CloseFinished = "finished" // the gateway closed the day and the gate is open
	CloseLocked   = "locked"   // closed, but the gateway says the gate is still locked
	CloseFailed   = "failed"   // the gateway refused the close
)

// CloseDay is one Close Day on an endpoint: our totals, the gateway's answer in full, and the
// payments it covers (Transaction.CloseDayID).
type CloseDay struct {
	ID           uint `gorm:"primaryKey"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
	EndpointID   uint    `gorm:"index;not null;uniqueIndex:idx_close_scheduled"`
	RequestID    string  `gorm:"size:32;uniqueIndex;not null"`            // day_close_request_id, reused on every retry
	ScheduledDay *string `gorm:"size:10;uniqueIndex:idx_close_scheduled"` // business day of a scheduled close; nil for manual ones
	StartedBy    string  `gorm:"size:64"`
	State        string  `gorm:"size:16;index;not null"`
	Attempts     int
	NextCheckAt  *time.Time `gorm:"index"` // retry (unknown) or watchdog (locked)
	FinishedAt   *time.Time
	Error        string `gorm:"size:255"`

	SaleCount     int
	SaleSumMinor  int64
	ReversalCount int
	ReversalMinor int64

	GwStatus        string `gorm:"size:16"`
	GateID          string `gorm:"size:32"`
	IsDayClosing    bool
	GateCloseDate   string `gorm:"size:16"`
	GwSaleCount     int
	GwSaleSumMinor  int64
	GwReversalCount int
	GwReversalMinor int64
	Code39          string `gorm:"size:4"`
	RRN             string `gorm:"size:32"`
	RequestSerial   string `gorm:"size:64"`
	Raw             string `gorm:"size:4096"` // the gateway's response as received
	Mismatch        bool   // gateway totals differ from ours, or code39 is not 00
}

// Settled reports whether the close will not change any more.
func (c CloseDay) Settled() bool { return c.State == CloseFinished || c.State == CloseFailed }

// CloseDays holds close-day queries.
type CloseDays struct {
	DB  *gorm.DB
	Now func() time.Time
}

func (s *CloseDays) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// CloseTotals are our counts since the previous close.
type CloseTotals struct {
	SaleCount     int
	SaleSumMinor  int64
	InFlight      int
	OpenPreauths  int
	PreauthsMinor int64
}

func (s *CloseDays) openSales(db *gorm.DB, endpointID uint) *gorm.DB {
	return db.Model(&Transaction{}).Where("endpoint_id = ? AND kind = ? AND state = ? AND close_day_id IS NULL", endpointID, KindSale, TxApproved)
}

// Totals counts what the next close would cover.
func (s *CloseDays) Totals(ctx context.Context, endpointID uint) (CloseTotals, error) {
	db := s.DB.WithContext(ctx)
	var t CloseTotals
	var row struct {
		N   int
		Sum int64
	}
	if err := s.openSales(db, endpointID).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
		return t, fmt.Errorf("models: close totals: %w", err)
	}
	t.SaleCount, t.SaleSumMinor = row.N, row.Sum
	var inflight int64
	final := []TxState{TxApproved, TxDeclined, TxFiltered, TxError, TxCancelled, TxFailed}
	if err := db.Model(&Transaction{}).Where("endpoint_id = ? AND state NOT IN ?", endpointID, final).Count(&inflight).Error; err != nil {
		return t, err
	}
	t.InFlight = int(inflight)
	if err := db.Model(&Transaction{}).Where("endpoint_id = ? AND kind = ? AND state = ?", endpointID, KindPreauth, TxApproved).
		Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
		return t, err
	}
	t.OpenPreauths, t.PreauthsMinor = row.N, row.Sum
	return t, nil
}

// ErrCloseRunning is returned (with the running close) when a close on the endpoint has not
// settled yet: a second trigger joins it instead of closing twice.
var ErrCloseRunning = errors.New("a close day is already running on this endpoint")

// CloseJoinWindow is how long after a manual close another manual trigger joins it.
const CloseJoinWindow = 10 * time.Second

// closeDayLockSpace is the first key of the PostgreSQL advisory lock that serialises close
// day triggers per endpoint (the second key is the endpoint row id).
const closeDayLockSpace = 7001

// Start creates a close and assigns it the approved sales it covers, atomically. At most one
// unsettled close exists per endpoint; a scheduled close exists at most once per business day.
func (s *CloseDays) Start(ctx context.Context, c *CloseDay) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Serialise triggers per endpoint: on PostgreSQL with a transaction-scoped advisory
		// lock (every instance takes the same one); SQLite transactions are already serial
		// (one writer, BEGIN IMMEDIATE).
		if tx.Dialector.Name() != "sqlite" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?, ?)", closeDayLockSpace, c.EndpointID).Error; err != nil {
				return err
			}
		}
		var running CloseDay
		err := tx.Where("endpoint_id = ? AND state IN ?", c.EndpointID, []string{ClosePending, CloseSending, CloseUnknown}).
			Order("id").First(&running).Error
		if err == nil {
			*c = running
			return ErrCloseRunning
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		// A second click (or a second admin) moments after a close that already finished joins
		// that close rather than closing the day again.
		if c.ScheduledDay == nil {
			err := tx.Where("endpoint_id = ? AND scheduled_day IS NULL AND created_at > ?", c.EndpointID, s.now().Add(-CloseJoinWindow)).
				Order("id DESC").First(&running).Error
			if err == nil {
				*c = running
				return ErrCloseRunning
			}
			if !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
		}
		if c.ScheduledDay != nil {
			var n int64
			tx.Model(&CloseDay{}).Where("endpoint_id = ? AND scheduled_day = ?", c.EndpointID, *c.ScheduledDay).Count(&n)
			if n > 0 {
				return ErrConflict
			}
		}
		var row struct {
			N   int
			Sum int64
		}
		if err := s.openSales(tx, c.EndpointID).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
			return err
		}
		c.SaleCount, c.SaleSumMinor, c.State = row.N, row.Sum, ClosePending
		if err := tx.Create(c).Error; err != nil {
			return fmt.Errorf("models: start close day: %w", translate(err))
		}
		return s.openSales(tx, c.EndpointID).Update("close_day_id", c.ID).Error
	})
}

// ByID loads a close.
func (s *CloseDays) ByID(ctx context.Context, id uint) (CloseDay, error) {
	var c CloseDay
	if err := s.DB.WithContext(ctx).First(&c, id).Error; err != nil {
		return c, fmt.Errorf("models: close day %d: %w", id, translate(err))
	}
	return c, nil
}

// Save stores a close's progress.
func (s *CloseDays) Save(ctx context.Context, c *CloseDay) error {
	return s.DB.WithContext(ctx).Save(c).Error
}

// CloseFilter narrows the history.
type CloseFilter struct {
	EndpointID uint
	State      string
	From, To   time.Time
	Limit      int
}

// List returns closes newest first.
func (s *CloseDays) List(ctx context.Context, f CloseFilter) ([]CloseDay, error) {
	q := s.DB.WithContext(ctx).Order("id DESC")
	if f.EndpointID != 0 {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To.UTC())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var cs []CloseDay
	err := q.Limit(limit).Find(&cs).Error
	return cs, err
}

// Due returns closes whose retry or watchdog check is due.
func (s *CloseDays) Due(ctx context.Context, now time.Time) ([]CloseDay, error) {
	var cs []CloseDay
	err := s.DB.WithContext(ctx).Where("next_check_at IS NOT NULL AND next_check_at <= ?", now.UTC()).Order("next_check_at").Limit(50).Find(&cs).Error
	return cs, err
}

// Covered returns the payments a close covers.
func (s *CloseDays) Covered(ctx context.Context, id uint) ([]Transaction, error) {
	var ts []Transaction
	err := s.DB.WithContext(ctx).Where("close_day_id = ?", id).Order("id").Find(&ts).Error
	return ts, err
}

// AcceptedSince reports whether the gateway accepted a payment on the endpoint after t (a
// locked gate would have refused it).
func (s *CloseDays) AcceptedSince(ctx context.Context, endpointID uint, t time.Time) (bool, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&Transaction{}).Where("endpoint_id = ? AND gateway_order_id <> '' AND sent_at > ?", endpointID, t.UTC()).Count(&n).Error
	return n > 0, err
}
