package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/example/mposportal/money"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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
	Trigger      string  `gorm:"size:16"` // manual, schedule or catch-up
	// The store's business days the close covers (endpoint time zone): one day, or the days
	// a catch-up close after downtime takes together.
	DaysFrom    string     `gorm:"size:10"`
	DaysTo      string     `gorm:"size:10"`
	SentAt      *time.Time // when our totals were taken and the request first went out
	State       string     `gorm:"size:16;index;not null"`
	Attempts    int
	NextCheckAt *time.Time `gorm:"index"` // retry (unknown) or watchdog (locked)
	FinishedAt  *time.Time
	Error       string `gorm:"size:255"`

	Currency      string `gorm:"size:3;not null;default:''"` // the endpoint's, when the close was sent
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
	// Explained: the difference is accounted for by the listed adjustments (CloseAdjustment),
	// payments whose gateway status we learned after the close; the books agree again.
	Explained   bool
	AdjustCount int
	AdjustMinor int64
}

// Close triggers.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
	TriggerCatchUp  = "catch-up"
)

// Adjustment kinds.
const (
	AdjustAdded   = "added"   // the gateway counted the payment in this close; we had not
	AdjustRemoved = "removed" // we counted the payment; the gateway had not
)

// CloseAdjustment is one payment that explains a difference between a close's totals and the
// gateway's: it moved into (added) or out of (removed) the close once its gateway status was
// known, so the next close starts from books that agree.
type CloseAdjustment struct {
	ID            uint `gorm:"primaryKey"`
	CreatedAt     time.Time
	CloseDayID    uint   `gorm:"index;not null"`
	TransactionID uint   `gorm:"index;not null"`
	ClientOrderID string `gorm:"size:64"`
	Kind          string `gorm:"size:16;not null"`
	AmountMinor   int64
	Reason        string `gorm:"size:255"`
}

// Unsettled close states: while a close is in one of them, the gate is closed to new payments.
var closeUnsettled = []string{ClosePending, CloseSending, CloseUnknown}

// Amount writes minor units of the close's currency plainly with the code, for audit
// entries: "31.26 EUR".
func (c CloseDay) Amount(minor int64) string {
	return strings.TrimSpace(money.Plain(minor, c.Currency) + " " + c.Currency)
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
	SaleCount        int
	SaleSumMinor     int64
	ReversalCount    int
	ReversalSumMinor int64
	InFlight         int
	OpenPreauths     int
	PreauthsMinor    int64
}

// openSales are the approved sales and captures in no close: the gateway counts a capture as
// a sale of the captured amount (§13.4).
func (s *CloseDays) openSales(db *gorm.DB, endpointID uint) *gorm.DB {
	return db.Model(&Transaction{}).Where("endpoint_id = ? AND kind IN ? AND state = ? AND close_day_id IS NULL",
		endpointID, []TxKind{KindSale, KindCapture}, TxApproved)
}

// openReversals are the approved refunds and releases in no close: the gateway reports both
// as reversals (Decision 7).
func (s *CloseDays) openReversals(db *gorm.DB, endpointID uint) *gorm.DB {
	return db.Model(&Transaction{}).Where("endpoint_id = ? AND kind IN ? AND state = ? AND close_day_id IS NULL",
		endpointID, []TxKind{KindRefund, KindRelease}, TxApproved)
}

// openPreauths are approved preauths still holding funds: neither captured nor released.
func openPreauths(db *gorm.DB) *gorm.DB {
	return db.Where("kind = ? AND state = ? AND NOT EXISTS (SELECT 1 FROM transactions op WHERE op.parent_id = transactions.id AND op.kind IN ? AND op.state = ?)",
		KindPreauth, TxApproved, []TxKind{KindCapture, KindRelease}, TxApproved)
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
	if err := s.openReversals(db, endpointID).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
		return t, fmt.Errorf("models: close totals: %w", err)
	}
	t.ReversalCount, t.ReversalSumMinor = row.N, row.Sum
	var inflight int64
	final := []TxState{TxApproved, TxDeclined, TxFiltered, TxError, TxCancelled, TxFailed}
	if err := db.Model(&Transaction{}).Where("endpoint_id = ? AND state NOT IN ?", endpointID, final).Count(&inflight).Error; err != nil {
		return t, err
	}
	t.InFlight = int(inflight)
	if err := openPreauths(db.Model(&Transaction{}).Where("endpoint_id = ?", endpointID)).
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
		err := tx.Where("endpoint_id = ? AND state IN ?", c.EndpointID, closeUnsettled).
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
			err := tx.Where("endpoint_id = ? AND scheduled_day IS NULL AND state <> ? AND created_at > ?", c.EndpointID, CloseFailed, s.now().Add(-CloseJoinWindow)).
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
		c.State = ClosePending
		if err := tx.Create(c).Error; err != nil {
			return fmt.Errorf("models: start close day: %w", translate(err))
		}
		return nil
	})
}

// Closing reports whether a close on the endpoint is running or has an unknown outcome: the
// gate is closed to new payments until it settles (as the gateway itself locks the gate).
func (s *CloseDays) Closing(ctx context.Context, endpointID uint) (bool, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&CloseDay{}).Where("endpoint_id = ? AND state IN ?", endpointID, closeUnsettled).Count(&n).Error
	return n > 0, err
}

// Snapshot takes our totals for a pending close and makes the approved sales they count its
// members, in one transaction; the close is then sending. A close that is past pending is
// left as it is (a retry sends the totals taken the first time).
func (s *CloseDays) Snapshot(ctx context.Context, c *CloseDay) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx
		if tx.Dialector.Name() != "sqlite" {
			q = tx.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.First(c, c.ID).Error; err != nil {
			return fmt.Errorf("models: close day %d: %w", c.ID, translate(err))
		}
		if c.State != ClosePending {
			return nil
		}
		var row struct {
			N   int
			Sum int64
		}
		if err := s.openSales(tx, c.EndpointID).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
			return err
		}
		now := s.now()
		c.SaleCount, c.SaleSumMinor, c.State, c.SentAt = row.N, row.Sum, CloseSending, &now
		if err := s.openReversals(tx, c.EndpointID).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
			return err
		}
		c.ReversalCount, c.ReversalMinor = row.N, row.Sum
		if err := s.openSales(tx, c.EndpointID).Update("close_day_id", c.ID).Error; err != nil {
			return err
		}
		if err := s.openReversals(tx, c.EndpointID).Update("close_day_id", c.ID).Error; err != nil {
			return err
		}
		return tx.Save(c).Error
	})
}

// Fail records a close the gateway refused (or that never got an answer) and releases its
// payments in the same transaction, so the next close counts them.
func (s *CloseDays) Fail(ctx context.Context, c *CloseDay) error {
	c.State = CloseFailed
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Transaction{}).Where("close_day_id = ?", c.ID).Update("close_day_id", nil).Error; err != nil {
			return err
		}
		return tx.Save(c).Error
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
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var cs []CloseDay
	err := s.filtered(ctx, f).Order("id DESC").Limit(limit).Find(&cs).Error
	return cs, err
}

// ListPage returns page p of the closes f keeps, newest first (f's Limit is not used).
func (s *CloseDays) ListPage(ctx context.Context, f CloseFilter, p Page) ([]CloseDay, Paged, error) {
	cs, pg, err := paginate(s.filtered(ctx, f), p, func(c CloseDay) uint { return c.ID })
	if err != nil {
		return nil, pg, fmt.Errorf("models: page of closes: %w", err)
	}
	return cs, pg, nil
}

// filtered is the closes f keeps, in no order.
func (s *CloseDays) filtered(ctx context.Context, f CloseFilter) *gorm.DB {
	q := s.DB.WithContext(ctx)
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
	return q
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

// SweepSince is where a close's sweep starts looking for payments that became final: the
// previous close that was not refused, or the beginning.
func (s *CloseDays) SweepSince(ctx context.Context, endpointID, before uint) (time.Time, error) {
	var prev CloseDay
	err := s.DB.WithContext(ctx).Where("endpoint_id = ? AND id < ? AND state <> ? AND sent_at IS NOT NULL", endpointID, before, CloseFailed).
		Order("id DESC").First(&prev).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, err
	}
	return *prev.SentAt, nil
}

// SweepCandidates lists the payments on an endpoint whose gateway status a close must know
// before it sends totals: those in no close that are still open at the gateway or became
// final since `since` after reaching it (a late approval, a changed status).
func (s *CloseDays) SweepCandidates(ctx context.Context, endpointID uint, since time.Time, createdBefore *time.Time, limit int) ([]uint, error) {
	open := []TxState{TxSending, TxUnknown, TxProcessing, TxNeedsReview}
	q := s.DB.WithContext(ctx).Model(&Transaction{}).
		Where("endpoint_id = ? AND close_day_id IS NULL", endpointID).
		Where("state IN ? OR (final_at >= ? AND state <> ? AND (gateway_order_id <> '' OR sent_at IS NOT NULL))", open, since.UTC(), TxCancelled)
	if createdBefore != nil {
		q = q.Where("created_at <= ?", createdBefore.UTC())
	}
	var ids []uint
	err := q.Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// Unsent counts the payments on an endpoint that wait for a card or whose request is in
// flight: a close waits for them (briefly) so it does not cut through a payment.
func (s *CloseDays) Unsent(ctx context.Context, endpointID uint) (int, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&Transaction{}).
		Where("endpoint_id = ? AND state IN ?", endpointID, []TxState{TxWaitingCard, TxSending}).Count(&n).Error
	return int(n), err
}

// Unexplained lists an endpoint's finished closes whose totals differ from the gateway's and
// are not explained yet, oldest first.
func (s *CloseDays) Unexplained(ctx context.Context, endpointID uint) ([]CloseDay, error) {
	var cs []CloseDay
	q := s.DB.WithContext(ctx).Where("mismatch = ? AND explained = ? AND state IN ?", true, false, []string{CloseFinished, CloseLocked})
	if endpointID != 0 {
		q = q.Where("endpoint_id = ?", endpointID)
	}
	err := q.Order("id").Limit(100).Find(&cs).Error
	return cs, err
}

// Problems lists closes someone should look at: refused or failed ones of the last week,
// unexplained differences, and closes still asking the gateway.
func (s *CloseDays) Problems(ctx context.Context, since time.Time) ([]CloseDay, error) {
	var cs []CloseDay
	err := s.DB.WithContext(ctx).
		Where("(state = ? AND created_at >= ?) OR state = ? OR (mismatch = ? AND explained = ? AND state IN ?)",
			CloseFailed, since.UTC(), CloseUnknown, true, false, []string{CloseFinished, CloseLocked}).
		Order("id DESC").Limit(20).Find(&cs).Error
	return cs, err
}

// ReconcileCandidates returns, for a finished close, the payments that can explain a
// difference with the gateway: approved sales, captures, refunds and releases in no close
// that were started before the close
// went out (the gateway may have counted them; we learned their approval later), and members
// whose status is no longer approved or that became approved while the close ran (the
// gateway may not have counted them).
func (s *CloseDays) ReconcileCandidates(ctx context.Context, c CloseDay) (adds, removes []Transaction, err error) {
	if c.SentAt == nil {
		return nil, nil, nil
	}
	db := s.DB.WithContext(ctx)
	err = db.Model(&Transaction{}).Where("endpoint_id = ? AND kind IN ? AND state = ? AND close_day_id IS NULL AND created_at <= ?",
		c.EndpointID, []TxKind{KindSale, KindCapture, KindRefund, KindRelease}, TxApproved, c.SentAt.UTC()).
		Order("id").Limit(64).Find(&adds).Error
	if err != nil {
		return nil, nil, err
	}
	err = db.Where("close_day_id = ? AND (state <> ? OR final_at >= ?)", c.ID, TxApproved, c.CreatedAt.UTC()).
		Order("id").Limit(64).Find(&removes).Error
	return adds, removes, err
}

// Explain records that adds and removes account for a close's difference with the gateway:
// added payments join the close (the gateway counted them there), removed ones leave it (the
// next close counts them if they are approved), each with an adjustment line and a line on
// its timeline, in one transaction.
func (s *CloseDays) Explain(ctx context.Context, c *CloseDay, adds, removes []Transaction) error {
	now := s.now()
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int
		var net int64
		line := func(t Transaction, kind, reason string) error {
			a := CloseAdjustment{CloseDayID: c.ID, TransactionID: t.ID, ClientOrderID: t.ClientOrderID, Kind: kind,
				AmountMinor: t.AmountMinor, Reason: reason}
			if err := tx.Create(&a).Error; err != nil {
				return err
			}
			return tx.Create(&TxEvent{TransactionID: t.ID, At: now, Source: "system", FromState: t.State, Detail: reason}).Error
		}
		for _, t := range adds {
			res := tx.Model(&Transaction{}).Where("id = ? AND close_day_id IS NULL", t.ID).Update("close_day_id", c.ID)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return fmt.Errorf("models: close %d: payment %s moved meanwhile: %w", c.ID, t.ClientOrderID, ErrConflict)
			}
			n, net = n+1, net+t.Kind.Sign()*t.AmountMinor
			if err := line(t, AdjustAdded, fmt.Sprintf("counted by the gateway in close %s (RRN %s) although we learned its approval later: added to that close", c.RequestID, Dash(c.RRN))); err != nil {
				return err
			}
		}
		for _, t := range removes {
			if err := tx.Model(&Transaction{}).Where("id = ? AND close_day_id = ?", t.ID, c.ID).Update("close_day_id", nil).Error; err != nil {
				return err
			}
			n, net = n+1, net-t.Kind.Sign()*t.AmountMinor
			reason := fmt.Sprintf("not counted by the gateway in close %s: taken out of it", c.RequestID)
			if t.State == TxApproved {
				reason += "; the next close counts it"
			}
			if err := line(t, AdjustRemoved, reason); err != nil {
				return err
			}
		}
		c.Explained, c.AdjustCount, c.AdjustMinor, c.NextCheckAt = true, n, net, nil
		return tx.Save(c).Error
	})
}

// Adjustments lists the adjustment lines of a close.
func (s *CloseDays) Adjustments(ctx context.Context, closeID uint) ([]CloseAdjustment, error) {
	var as []CloseAdjustment
	err := s.DB.WithContext(ctx).Where("close_day_id = ?", closeID).Order("id").Find(&as).Error
	return as, err
}

// Previous returns the close before c on its endpoint, if any.
func (s *CloseDays) Previous(ctx context.Context, c CloseDay) (*CloseDay, error) {
	var prev CloseDay
	err := s.DB.WithContext(ctx).Where("endpoint_id = ? AND id < ?", c.EndpointID, c.ID).Order("id DESC").First(&prev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &prev, err
}

// Lease moves a due close's next check ahead, so that only one instance works on it; it
// reports whether this caller got it.
func (s *CloseDays) Lease(ctx context.Context, id uint, now, until time.Time) (bool, error) {
	res := s.DB.WithContext(ctx).Model(&CloseDay{}).Where("id = ? AND next_check_at IS NOT NULL AND next_check_at <= ?", id, now.UTC()).
		Update("next_check_at", until.UTC())
	return res.RowsAffected == 1, res.Error
}

// Dash stands in for a blank value in text a person reads.
func Dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// CoveredThrough is the last business day an endpoint's closes cover (refused ones aside);
// "" when none does.
func (s *CloseDays) CoveredThrough(ctx context.Context, endpointID uint) (string, error) {
	var day *string
	err := s.DB.WithContext(ctx).Model(&CloseDay{}).Where("endpoint_id = ? AND state <> ? AND days_to <> ''", endpointID, CloseFailed).
		Select("MAX(days_to)").Scan(&day).Error
	if day == nil {
		return "", err
	}
	return *day, err
}

// FirstOpenDay is the earliest business day of an approved sale no close covers yet.
func (s *CloseDays) FirstOpenDay(ctx context.Context, endpointID uint) (string, error) {
	var day *string
	err := s.openSales(s.DB.WithContext(ctx), endpointID).Where("business_day <> ''").Select("MIN(business_day)").Scan(&day).Error
	if day == nil {
		return "", err
	}
	return *day, err
}
