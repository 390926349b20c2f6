package sandbox

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// processDueOperations moves every capture and return whose processing step is due, like
// processDue does for orders.
func (g *Gateway) processDueOperations(ctx context.Context) {
	for ctx.Err() == nil {
		var due []operation
		if err := g.db.Where("due_at IS NOT NULL AND due_at <= ?", g.now()).Order("due_at").Limit(200).Find(&due).Error; err != nil {
			g.log.Error("sandbox: due operations", "error", err)
			return
		}
		for _, p := range due {
			if err := g.stepOperation(p); err != nil {
				g.log.Error("sandbox: process operation", "operation", p.ID, "error", err)
			}
		}
		if len(due) < 200 {
			return
		}
	}
}

// stepOperation takes a capture or return to its final status, decided by the cents of its own
// amount (§10, §13.3). Unlike orders, .77 and .78 do not linger. Every final operation gets
// its own RRN; an approved one its own approval code.
func (g *Gateway) stepOperation(p operation) error {
	now := g.now()
	out := outcomeFor(p.AmountMinor, false)
	p.Status, p.Stage, p.DueAt, p.FinalAt = out.status, stageFor(p.Kind, out.status), nil, &now
	p.ErrorCode, p.ErrorMessage = out.code, out.message
	p.RRN = randomDigits(12)
	if out.status == "approved" {
		p.ApprovalCode = randomDigits(6)
	}
	return g.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Save(&p).Error; err != nil {
			return err
		}
		var o order
		if err := tx.First(&o, p.OrderID).Error; err != nil {
			return err
		}
		return g.queueCallback(tx, txRef{orderID: o.ID, operationID: p.ID, typ: p.Kind, status: p.Status, url: o.CallbackURL})
	})
}

// OperationInfo is one capture or return as the gateway holds it now.
type OperationInfo struct {
	OrderID       int64
	ClientOrderID string
	Kind          string // capture or reversal (a refund or the release of a preauth)
	SerialNumber  string // the serial-number its request was answered with
	Status        string
	Stage         string // capture_processing, capture_approved, reversal_declined, …
	AmountMinor   int64
	Currency      string
	Comment       string
	ApprovalCode  string
	RRN           string
	ErrorCode     string
	ErrorMessage  string
	CreatedAt     time.Time
	FinalAt       *time.Time
	CloseID       *int64 // the close day that counted it; nil while in none
}

func operationInfo(o order, p operation) OperationInfo {
	return OperationInfo{OrderID: o.ID, ClientOrderID: o.ClientOrderID, Kind: p.Kind, SerialNumber: p.RequestSerial,
		Status: p.Status, Stage: p.Stage, AmountMinor: p.AmountMinor, Currency: p.Currency, Comment: p.Comment,
		ApprovalCode: p.ApprovalCode, RRN: p.RRN, ErrorCode: p.ErrorCode, ErrorMessage: p.ErrorMessage,
		CreatedAt: p.CreatedAt, FinalAt: p.FinalAt, CloseID: p.CloseID}
}

// Operations returns the captures and returns of order clientOrderID of the sandbox merchant
// (the first endpoint), oldest first; none when there is no such order.
func (g *Gateway) Operations(clientOrderID string) []OperationInfo {
	var o order
	if g.db.Where("endpoint_id = ? AND client_order_id = ?", g.Merchant().EndpointID, clientOrderID).Limit(1).Find(&o).RowsAffected == 0 {
		return nil
	}
	var ps []operation
	g.db.Where("order_id = ?", o.ID).Order("id").Find(&ps)
	out := make([]OperationInfo, len(ps))
	for i, p := range ps {
		out[i] = operationInfo(o, p)
	}
	return out
}

// LedgerOperation is one capture or return as the gateway's ledger holds it.
type LedgerOperation struct {
	OrderID       int64
	ClientOrderID string
	Kind          string // capture or reversal
	SerialNumber  string
	Status        string
	AmountMinor   int64
}

// LedgerOperations returns every capture and return, oldest first; Ledger has the orders.
func (g *Gateway) LedgerOperations() ([]LedgerOperation, error) {
	var ps []operation
	if err := g.db.Order("id").Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("sandbox: ledger operations: %w", err)
	}
	var os []order
	if err := g.db.Select("id", "client_order_id").Find(&os).Error; err != nil {
		return nil, fmt.Errorf("sandbox: ledger operations: %w", err)
	}
	clientIDs := make(map[int64]string, len(os))
	for _, o := range os {
		clientIDs[o.ID] = o.ClientOrderID
	}
	out := make([]LedgerOperation, len(ps))
	for i, p := range ps {
		out[i] = LedgerOperation{p.OrderID, clientIDs[p.OrderID], p.Kind, p.RequestSerial, p.Status, p.AmountMinor}
	}
	return out, nil
}
