package models

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/example/mposportal/money"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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
	State       CloseState `gorm:"size:16;index;not null"` // written only through CloseDays.Move (closestate.go)
	Attempts    int
	NextCheckAt *time.Time `gorm:"index"` // retry (unknown) or watchdog (locked)
	FinishedAt  *time.Time
	Error       string `gorm:"size:255"`
	// The lease: whoever works on a close (its trigger, or the watcher of one instance) holds
	// it until LeaseUntil, and writes the close only while LeaseToken is still its own (Move
	// compares it), so two instances never work on the same close at once.
	LeaseUntil *time.Time
	LeaseToken string `gorm:"size:32;not null;default:''"`

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

// Unsettled close states: while a close is in one of them, the gate is closed to new payments
// (CloseState.Running).
var closeUnsettled = []CloseState{ClosePending, CloseSending, CloseUnknown}

// Amount writes minor units of the close's currency plainly with the code, for audit
// entries: "31.26 EUR".
func (c CloseDay) Amount(minor int64) string {
	return strings.TrimSpace(money.Plain(minor, c.Currency) + " " + c.Currency)
}

// Settled reports whether the close will not change any more.
func (c CloseDay) Settled() bool { return c.State.Settled() }

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

// Start creates a pending close. At most one unsettled close exists per endpoint; a scheduled
// close exists at most once per business day. The caller holds the new close's lease until
// c.LeaseUntil (none when nil): c.LeaseToken is its own.
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
		c.State, c.LeaseToken = ClosePending, newLeaseToken()
		c.utc()
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
	if c.State != ClosePending {
		return nil
	}
	next := *c
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row struct {
			N   int
			Sum int64
		}
		if err := s.openSales(tx, c.EndpointID).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
			return err
		}
		now := s.now()
		next.SaleCount, next.SaleSumMinor, next.SentAt = row.N, row.Sum, &now
		if err := s.openReversals(tx, c.EndpointID).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&row).Error; err != nil {
			return err
		}
		next.ReversalCount, next.ReversalMinor = row.N, row.Sum
		// The move first: on PostgreSQL it locks the close's row, so a second snapshot of
		// the same close waits, then finds it sending and assigns nothing.
		if err := s.move(tx, &next, CloseSending); err != nil {
			return err
		}
		if err := s.openSales(tx, c.EndpointID).Update("close_day_id", c.ID).Error; err != nil {
			return err
		}
		return s.openReversals(tx, c.EndpointID).Update("close_day_id", c.ID).Error
	})
	if err != nil {
		return err
	}
	*c = next
	return nil
}

// Fail records a close the gateway refused (or that never got an answer) and releases its
// payments in the same transaction, so the next close counts them.
func (s *CloseDays) Fail(ctx context.Context, c *CloseDay) error {
	next := *c
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.move(tx, &next, CloseFailed); err != nil {
			return err
		}
		return tx.Model(&Transaction{}).Where("close_day_id = ?", c.ID).Update("close_day_id", nil).Error
	})
	if err != nil {
		return err
	}
	*c = next
	return nil
}

// ByID loads a close.
func (s *CloseDays) ByID(ctx context.Context, id uint) (CloseDay, error) {
	var c CloseDay
	if err := s.DB.WithContext(ctx).First(&c, id).Error; err != nil {
		return c, fmt.Errorf("models: close day %d: %w", id, translate(err))
	}
	return c, nil
}

// Move writes close c in state to, with the rest of c's fields: the one way a close changes
// (Snapshot, Fail and Explain write through it too, inside their transactions). It is a
// compare-and-set on what the caller read: the close must still be in c.State and under the
// lease c.LeaseToken names. An illegal transition (CloseState.CanMoveTo) or a close that
// changed meanwhile is refused with a *CloseMoveError (ErrIllegalTransition or ErrConflict)
// and nothing is written. On success c is in state to.
func (s *CloseDays) Move(ctx context.Context, c *CloseDay, to CloseState) error {
	return s.move(s.DB.WithContext(ctx), c, to)
}

func (s *CloseDays) move(db *gorm.DB, c *CloseDay, to CloseState) error {
	from := c.State
	if !from.CanMoveTo(to) {
		return &CloseMoveError{ID: c.ID, From: from, To: to, Reason: ErrIllegalTransition}
	}
	next := *c
	next.State = to
	next.utc()
	// Every column but the row's identity and its lease token: a close is written whole by
	// whoever holds it (LeaseUntil included, so the holder can extend its lease as it goes).
	res := db.Model(&next).Where("state = ? AND lease_token = ?", from, c.LeaseToken).
		Select("*").Omit("id", "created_at", "lease_token").Updates(&next)
	if res.Error != nil {
		return fmt.Errorf("models: close day %d: %s → %s: %w", c.ID, from, to, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		var now CloseDay
		db.Select("id", "state").Where("id = ?", c.ID).Limit(1).Find(&now)
		return &CloseMoveError{ID: c.ID, From: from, To: to, Found: now.State, Reason: ErrConflict}
	}
	*c = next
	return nil
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
	q := s.DB.WithContext(ctx).Where("mismatch = ? AND explained = ? AND state IN ?", true, false, []CloseState{CloseFinished, CloseLocked})
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
			CloseFailed, since.UTC(), CloseUnknown, true, false, []CloseState{CloseFinished, CloseLocked}).
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
	next := *c
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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
		next.Explained, next.AdjustCount, next.AdjustMinor, next.NextCheckAt = true, n, net, nil
		return s.move(tx, &next, next.State)
	})
	if err != nil {
		return err
	}
	*c = next
	return nil
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

// utc puts the times the due and lease queries compare in UTC: SQLite compares them as text.
func (c *CloseDay) utc() {
	for _, t := range []**time.Time{&c.NextCheckAt, &c.LeaseUntil} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
}

// newLeaseToken names one lease: whoever holds it, and since when.
func newLeaseToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// leaseFree is the condition that no one holds a close's lease at ?.
const leaseFree = "(lease_until IS NULL OR lease_until <= ?)"

// LeaseDue takes up to limit closes whose retry or watchdog check is due at now and that no
// one holds, earliest first, and leases them until until, as the payment poller leases its
// due checks (Transactions.LeaseDueChecks): another instance neither gets them nor can write
// them (Move) until the lease runs out or is released. The closes come back as leased, with
// their new token.
func (s *CloseDays) LeaseDue(ctx context.Context, now, until time.Time, limit int) ([]CloseDay, error) {
	var cs []CloseDay
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&CloseDay{}).Where("next_check_at IS NOT NULL AND next_check_at <= ? AND "+leaseFree, now.UTC(), now.UTC()).
			Order("next_check_at, id").Limit(limit)
		if isPostgres(tx) {
			// Closes another instance is leasing in its own open transaction are skipped, not
			// waited for.
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var ids []uint
		if err := q.Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		token := newLeaseToken()
		// The compare-and-set again: what decides is the row as this UPDATE finds it.
		if err := tx.Model(&CloseDay{}).Where("id IN ? AND "+leaseFree, ids, now.UTC()).
			Updates(map[string]any{"lease_until": until.UTC(), "lease_token": token}).Error; err != nil {
			return err
		}
		return tx.Where("id IN ? AND lease_token = ?", ids, token).Order("next_check_at, id").Find(&cs).Error
	})
	if err != nil {
		return nil, fmt.Errorf("models: lease due closes: %w", err)
	}
	return cs, nil
}

// Lease takes close id's lease until until if no one holds it at now, due or not (a close
// looks into an earlier close's difference with the gateway). It reports whether this caller
// got it, and returns the close as leased.
func (s *CloseDays) Lease(ctx context.Context, id uint, now, until time.Time) (CloseDay, bool, error) {
	var c CloseDay
	token := newLeaseToken()
	db := s.DB.WithContext(ctx)
	res := db.Model(&CloseDay{}).Where("id = ? AND "+leaseFree, id, now.UTC()).
		Updates(map[string]any{"lease_until": until.UTC(), "lease_token": token})
	if res.Error != nil || res.RowsAffected == 0 {
		return c, false, res.Error
	}
	if err := db.Where("id = ? AND lease_token = ?", id, token).First(&c).Error; err != nil {
		return c, false, fmt.Errorf("models: close day %d: %w", id, translate(err))
	}
	return c, true, nil
}

// Release gives back the lease on c, if c's holder still has it: the close is due again at its
// next check.
func (s *CloseDays) Release(ctx context.Context, c CloseDay) error {
	err := s.DB.WithContext(ctx).Model(&CloseDay{}).Where("id = ? AND lease_token = ?", c.ID, c.LeaseToken).
		Update("lease_until", nil).Error
	if err != nil {
		return fmt.Errorf("models: release close day %d: %w", c.ID, err)
	}
	return nil
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
