package models

import (
	"context"
	"fmt"
	"time"

	"github.com/example/mposportal/money"
)

// Balance is where a payment's money stands after its captures, releases and refunds: what
// was taken, what was given back, and what may still be done.
type Balance struct {
	Taken      int64 // charged: an approved sale's amount, or a preauth's approved capture
	Refunded   int64 // approved refunds
	Captured   bool  // a preauth with an approved capture
	Released   bool  // a preauth whose hold was released
	Open       *Transaction
	Refundable int64 // Taken - Refunded
	// Capturable is an approved preauth's amount while nothing was captured or released.
	Capturable int64
}

// BalanceOf adds up a payment's operations (oldest first). Only approved operations count;
// one whose outcome is open is reported as Open (and blocks the next, see
// idx_tx_parent_open).
func BalanceOf(parent Transaction, ops []Transaction) Balance {
	var b Balance
	if parent.State != TxApproved {
		return b
	}
	if parent.Kind == KindSale {
		b.Taken = parent.AmountMinor
	}
	for i := range ops {
		op := ops[i]
		if !op.State.Final() {
			b.Open = &ops[i]
			continue
		}
		if op.State != TxApproved {
			continue
		}
		switch op.Kind {
		case KindCapture:
			b.Captured, b.Taken = true, b.Taken+op.AmountMinor
		case KindRelease:
			b.Released = true
		case KindRefund:
			b.Refunded += op.AmountMinor
		}
	}
	b.Refundable = max(0, b.Taken-b.Refunded)
	if parent.Kind == KindPreauth && !b.Captured && !b.Released {
		b.Capturable = parent.AmountMinor
	}
	return b
}

// CheckOperation decides whether kind for amount may be asked of the gateway on parent, given
// its operations so far; a refusal is a *ValidationError in words for the person who asked.
func CheckOperation(parent Transaction, ops []Transaction, kind TxKind, amount int64, loc money.Locale) error {
	b := BalanceOf(parent, ops)
	refuse := func(format string, args ...any) error { return Invalidf("", format, args...) }
	amt := func(minor int64) string { return loc.Format(minor, parent.Currency) }
	switch {
	case parent.Kind.Operation():
		return refuse("Captures, releases and refunds act on a payment, not on another operation.")
	case parent.State != TxApproved:
		return refuse("Only an approved payment can be captured, released or refunded.")
	case b.Open != nil:
		return refuse("A %s of %s on this payment is still being processed: wait for its result.", b.Open.Kind, amt(b.Open.AmountMinor))
	case amount <= 0:
		return refuse("Enter an amount above zero.")
	}
	switch kind {
	case KindCapture:
		switch {
		case parent.Kind != KindPreauth:
			return refuse("Only a preauth can be captured; a sale is charged already.")
		case b.Captured:
			return refuse("This preauth was captured already: a preauth is captured once.")
		case b.Released:
			return refuse("This preauth was released: nothing is held any more.")
		case amount > b.Capturable:
			return refuse("At most %s can be captured (the amount held).", amt(b.Capturable))
		}
	case KindRelease:
		switch {
		case parent.Kind != KindPreauth:
			return refuse("Only a preauth's hold can be released; refund a sale instead.")
		case b.Captured:
			return refuse("This preauth was captured: refund it instead of releasing it.")
		case b.Released:
			return refuse("This preauth was released already.")
		case amount != parent.AmountMinor:
			return refuse("A release lets the whole hold of %s go.", amt(parent.AmountMinor))
		}
	case KindRefund:
		switch {
		case parent.Kind == KindPreauth && !b.Captured:
			return refuse("Nothing was charged yet: capture the preauth first, or release it.")
		case b.Refundable == 0:
			return refuse("Everything charged has been refunded already.")
		case amount > b.Refundable:
			return refuse("At most %s can still be refunded (%s charged, %s refunded).",
				amt(b.Refundable), amt(b.Taken), amt(b.Refunded))
		}
	default:
		return refuse("Unknown operation %q.", kind)
	}
	return nil
}

// Operations returns the captures, releases and refunds of a payment, oldest first.
func (s *Transactions) Operations(ctx context.Context, parentID uint) ([]Transaction, error) {
	var ops []Transaction
	if err := s.DB.WithContext(ctx).Where("parent_id = ?", parentID).Order("id").Find(&ops).Error; err != nil {
		return nil, fmt.Errorf("models: operations of payment %d: %w", parentID, err)
	}
	return ops, nil
}

// StalePreauths lists the open preauths (approved, neither captured nor released, nothing in
// progress) older than their endpoint's automatic release age at now.
func (s *Transactions) StalePreauths(ctx context.Context, now time.Time) ([]Transaction, error) {
	var eps []Endpoint
	if err := s.DB.WithContext(ctx).Where("preauth_release_days > 0").Find(&eps).Error; err != nil {
		return nil, fmt.Errorf("models: endpoints releasing preauths: %w", err)
	}
	var out []Transaction
	for _, e := range eps {
		var ts []Transaction
		cutoff := now.Add(-time.Duration(e.PreauthReleaseDays) * 24 * time.Hour).UTC()
		q := openPreauths(s.DB.WithContext(ctx).Where("endpoint_id = ? AND created_at < ?", e.ID, cutoff)).
			Where("NOT EXISTS (SELECT 1 FROM transactions op WHERE op.parent_id = transactions.id AND op.state IN ?)",
				[]TxState{TxAwaitingApproval, TxSending, TxProcessing, TxUnknown, TxNeedsReview})
		if err := q.Order("id").Limit(500).Find(&ts).Error; err != nil {
			return nil, fmt.Errorf("models: stale preauths on endpoint %d: %w", e.ID, err)
		}
		out = append(out, ts...)
	}
	return out, nil
}
