package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// outcome is the deterministic sandbox result for an amount (§10), by its last two digits.
type outcome struct {
	status, code, message string
}

func outcomeFor(amountMinor int64, expired bool) outcome {
	if expired {
		return outcome{"declined", "54", "Expired card"}
	}
	switch amountMinor % 100 {
	case 51:
		return outcome{"declined", "51", "Insufficient funds"}
	case 54:
		return outcome{"declined", "54", "Expired card"}
	case 5:
		return outcome{"declined", "05", "Do not honor"}
	case 66:
		return outcome{"filtered", "66", "Declined by anti-fraud filter"}
	case 91:
		return outcome{"error", "91", "Issuer unavailable"}
	}
	return outcome{status: "approved"}
}

// processDue moves every order whose processing step is due.
func (g *Gateway) processDue(ctx context.Context) {
	for ctx.Err() == nil {
		var due []order
		if err := g.db.Where("due_at IS NOT NULL AND due_at <= ?", g.now()).Order("due_at").Limit(200).Find(&due).Error; err != nil {
			g.log.Error("sandbox: due orders", "error", err)
			return
		}
		for _, o := range due {
			if err := g.step(o); err != nil {
				g.log.Error("sandbox: process order", "order", o.ID, "error", err)
			}
		}
		if len(due) < 200 {
			return
		}
	}
}

// step runs one processing step of an order: .77 and .78 linger, everything else goes final.
func (g *Gateway) step(o order) error {
	now := g.now()
	switch o.AmountMinor % 100 {
	case 77:
		if until := o.CreatedAt.Add(g.cfg.LongProcessing); now.Before(until) {
			return g.db.Model(&o).Update("due_at", until).Error
		}
	case 78:
		if until := o.CreatedAt.Add(g.cfg.UnknownFor); now.Before(until) {
			return g.db.Model(&o).Updates(map[string]any{"due_at": until, "status": "unknown", "stage": o.Kind + "_unknown"}).Error
		}
	}
	out := outcomeFor(o.AmountMinor, o.Expired)
	o.Status, o.DueAt, o.FinalAt = out.status, nil, &now
	o.ErrorCode, o.ErrorMessage = out.code, out.message
	o.ReceiptID, o.TerminalID = uuid.NewString(), "T0001234"
	o.RRN = randomDigits(12)
	o.Stage = stageFor(o.Kind, out.status)
	if out.status == "approved" {
		o.ApprovalCode = randomDigits(6)
	}
	return g.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Save(&o).Error; err != nil {
			return err
		}
		return g.queueCallback(tx, orderRef(o))
	})
}

// stageFor is the order stage of a final status (§7.2): <kind>_approved, _declined,
// _filtered, or _failed for an error.
func stageFor(kind, status string) string {
	switch status {
	case "approved", "declined", "filtered":
		return kind + "_" + status
	}
	return kind + "_failed"
}

// txRef names the transaction a callback reports: an order's own sale or preauth
// (operationID 0), or one of its captures and returns.
type txRef struct {
	orderID, operationID int64
	typ, status, url     string
}

// orderRef is the order's own transaction.
func orderRef(o order) txRef {
	return txRef{orderID: o.ID, typ: o.Kind, status: o.Status, url: o.CallbackURL}
}

// queueCallback creates the delivery job for a transaction's final status, once.
func (g *Gateway) queueCallback(tx *gorm.DB, t txRef) error {
	if t.url == "" {
		return nil
	}
	d := g.newDelivery(t)
	res := tx.Where("order_id = ? AND operation_id = ? AND type = ? AND status = ?", t.orderID, t.operationID, t.typ, t.status).FirstOrCreate(&d)
	if res.Error != nil {
		return fmt.Errorf("sandbox: queue callback for order %d: %w", t.orderID, res.Error)
	}
	g.kick()
	return nil
}

// newDelivery is a fresh delivery job for a transaction's current status, with the callback
// fault switches applied.
func (g *Gateway) newDelivery(t txRef) delivery {
	f := g.getFaults()
	now := g.now()
	at := now.Add(g.jitter(f.DelayCallbackMax))
	d := delivery{OrderID: t.orderID, OperationID: t.operationID, Type: t.typ, Status: t.status, URL: t.url, NextAt: &at}
	switch {
	case f.CallbacksOff:
		d.NextAt, d.Suppressed, d.LastError = nil, true, "callbacks switched off"
	case g.chance(f.DropCallbackPct):
		d.NextAt, d.Suppressed, d.LastError = nil, true, "dropped (chaos)"
	case g.chance(f.DuplicateCallbackPct):
		d.Duplicate = true
	}
	return d
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}
