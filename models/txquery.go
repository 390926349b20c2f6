package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TxFilter narrows the transactions list. Zero values do not filter.
type TxFilter struct {
	State    TxState
	Kind     TxKind
	ReaderID uint
	// StartedByID keeps one cashier's payments (a shift's report).
	StartedByID uint
	From, To    time.Time
	MinMinor    int64
	MaxMinor    int64
	Search      string // client order id, gateway order id, last four, approval code or RRN
	BeforeID    uint   // keyset: rows with a smaller id (newest first)
	// OpenPreauths keeps the approved preauths still holding funds (not captured or released).
	OpenPreauths bool
	Limit        int
}

// List returns payments newest first. Pagination is by id (keyset), so a page costs the same
// at row one million as at row one.
func (s *Transactions) List(ctx context.Context, f TxFilter) ([]Transaction, error) {
	q := s.filtered(ctx, f).Order("id DESC")
	if f.BeforeID > 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var ts []Transaction
	if err := q.Limit(limit).Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("models: list transactions: %w", err)
	}
	return ts, nil
}

// ListPage returns page p of the payments f keeps, newest first (f's BeforeID and Limit are
// not used: p says where).
func (s *Transactions) ListPage(ctx context.Context, f TxFilter, p Page) ([]Transaction, Paged, error) {
	ts, pg, err := paginate(s.filtered(ctx, f), p, func(t Transaction) uint { return t.ID })
	if err != nil {
		return nil, pg, fmt.Errorf("models: page of transactions: %w", err)
	}
	return ts, pg, nil
}

// filtered is the payments f keeps, in no order.
func (s *Transactions) filtered(ctx context.Context, f TxFilter) *gorm.DB {
	q := s.DB.WithContext(ctx)
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.OpenPreauths {
		q = openPreauths(q)
	}
	if f.ReaderID != 0 {
		q = q.Where("reader_id = ?", f.ReaderID)
	}
	if f.StartedByID != 0 {
		q = q.Where("started_by_id = ?", f.StartedByID)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To.UTC())
	}
	if f.MinMinor > 0 {
		q = q.Where("amount_minor >= ?", f.MinMinor)
	}
	if f.MaxMinor > 0 {
		q = q.Where("amount_minor <= ?", f.MaxMinor)
	}
	if term := strings.TrimSpace(f.Search); term != "" {
		// A payment's order id finds its captures and refunds too.
		q = q.Where("client_order_id = ? OR parent_order_id = ? OR gateway_order_id = ? OR card_last4 = ? OR approval_code = ? OR rrn = ?",
			strings.ToUpper(term), strings.ToUpper(term), term, term, term, term)
	}
	return q
}

// NeedsAttention lists the payments someone must look at, the loudest first: late approvals
// (the customer may have paid twice), changed statuses, contradicted statuses being
// confirmed, proposed resolutions, then payments in needs review, oldest first within each.
func (s *Transactions) NeedsAttention(ctx context.Context, limit int) ([]Transaction, error) {
	if limit <= 0 {
		limit = 100
	}
	var ts []Transaction
	err := s.DB.WithContext(ctx).Where("review <> '' OR state = ?", TxNeedsReview).
		Order(clause.OrderBy{Expression: clause.Expr{SQL: "CASE review WHEN ? THEN 0 WHEN ? THEN 1 WHEN ? THEN 2 WHEN ? THEN 3 ELSE 4 END, id",
			Vars: []any{ReviewLateApproval, ReviewStatusChanged, ReviewConfirm, ReviewResolution}, WithoutParentheses: true}}).
		Limit(limit).Find(&ts).Error
	if err != nil {
		return nil, fmt.Errorf("models: payments needing attention: %w", err)
	}
	return ts, nil
}
