package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Shift is a cashier's time at the counter, from start to end: what the X report adds up. A
// shift starts when the cashier starts it, or with their first payment; at most one per
// cashier is open (idx_shift_open).
type Shift struct {
	ID        uint `gorm:"primaryKey"`
	CreatedAt time.Time
	UpdatedAt time.Time
	UserID    uint       `gorm:"index;not null"`
	UserName  string     `gorm:"size:64;not null"`
	StartedAt time.Time  `gorm:"not null"`
	EndedAt   *time.Time `gorm:"index"`
	// How it started: "cashier" (started by hand) or "first payment".
	StartedBy string `gorm:"size:16;not null"`
}

// Open reports whether the shift is still running.
func (s Shift) Open() bool { return s.EndedAt == nil }

// Shifts stores the cashiers' shifts.
type Shifts struct{ DB *gorm.DB }

// Current is the user's open shift (ErrNotFound when none).
func (s *Shifts) Current(ctx context.Context, userID uint) (Shift, error) {
	var sh Shift
	err := s.DB.WithContext(ctx).Where("user_id = ? AND ended_at IS NULL", userID).First(&sh).Error
	if err != nil {
		return sh, fmt.Errorf("models: open shift of user %d: %w", userID, translate(err))
	}
	return sh, nil
}

// ByID finds a shift.
func (s *Shifts) ByID(ctx context.Context, id uint) (Shift, error) {
	var sh Shift
	if err := s.DB.WithContext(ctx).First(&sh, id).Error; err != nil {
		return sh, fmt.Errorf("models: shift %d: %w", id, translate(err))
	}
	return sh, nil
}

// Start opens a shift for the user at the given time, or returns the one already open (a
// second tap, a second tablet, the first payment racing the start button). firstPayment is
// the order id of the payment that starts it, "" when the cashier starts it by hand. A shift
// it opens is audited (shift.start) with by, the cashier, in the same transaction.
func (s *Shifts) Start(ctx context.Context, u User, at time.Time, firstPayment string, by Actor) (Shift, error) {
	if sh, err := s.Current(ctx, u.ID); err == nil {
		return sh, nil
	} else if !errors.Is(err, ErrNotFound) {
		return sh, err
	}
	sh := Shift{UserID: u.ID, UserName: u.Name, StartedAt: at.UTC(), StartedBy: "cashier"}
	detail := "started by " + u.Username
	if firstPayment != "" {
		sh.StartedBy, detail = "first payment", detail+"'s first payment "+firstPayment
	}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&sh).Error; err != nil {
			return err
		}
		return recordIn(tx, by.Event("shift.start", fmt.Sprintf("shift %d", sh.ID), detail), time.Now())
	})
	if err != nil {
		if errors.Is(translate(err), ErrConflict) {
			return s.Current(ctx, u.ID)
		}
		return sh, fmt.Errorf("models: start shift of %q: %w", u.Username, err)
	}
	return sh, nil
}

// End closes the user's open shift at the given time and returns it; the end is audited
// (shift.end) with by, in the same transaction.
func (s *Shifts) End(ctx context.Context, userID uint, at time.Time, by Actor) (Shift, error) {
	sh, err := s.Current(ctx, userID)
	if err != nil {
		return sh, err
	}
	at = at.UTC()
	ended := false
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Shift{}).Where("id = ? AND ended_at IS NULL", sh.ID).Update("ended_at", at)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		ended = true
		return recordIn(tx, by.Event("shift.end", fmt.Sprintf("shift %d", sh.ID), "ended by "+by.Name), time.Now())
	})
	if err != nil {
		return sh, fmt.Errorf("models: end shift %d: %w", sh.ID, err)
	}
	if !ended {
		return s.ByID(ctx, sh.ID) // ended meanwhile (another tablet): that end stands
	}
	sh.EndedAt = &at
	return sh, nil
}

// Recent lists the user's latest shifts, newest first.
func (s *Shifts) Recent(ctx context.Context, userID uint, limit int) ([]Shift, error) {
	var out []Shift
	if err := s.DB.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: shifts of user %d: %w", userID, err)
	}
	return out, nil
}
