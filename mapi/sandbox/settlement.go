package sandbox

import (
	"errors"
	"fmt"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Admin hooks for settlement and reconciliation tests: per-order blackouts, reconciliation
// changing a final status, and a look at one order.

// Blackout cuts one order off: while it lasts, status requests for clientOrderID answer HTTP
// 502 and its callbacks are held back (not attempted, not counted) until EndBlackout.
func (g *Gateway) Blackout(clientOrderID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blackout == nil {
		g.blackout = map[string]bool{}
	}
	g.blackout[clientOrderID] = true
}

// EndBlackout ends Blackout for clientOrderID: status requests answer again and held callbacks
// go out on the next check.
func (g *Gateway) EndBlackout(clientOrderID string) {
	g.mu.Lock()
	delete(g.blackout, clientOrderID)
	g.mu.Unlock()
	g.kick()
}

func (g *Gateway) blackedOut(clientOrderID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blackout[clientOrderID]
}

// OrderInfo is one order as the gateway holds it now.
type OrderInfo struct {
	OrderID       int64
	ClientOrderID string
	Kind          string // sale or preauth
	Status        string
	Stage         string
	AmountMinor   int64
	ApprovalCode  string
	ErrorCode     string
	ErrorMessage  string
	CloseID       *int64 // the close day that counted it; nil while in no close
}

// Order returns the order clientOrderID of the sandbox merchant (the first endpoint); false
// when there is none.
func (g *Gateway) Order(clientOrderID string) (OrderInfo, bool) {
	var o order
	if g.db.Where("endpoint_id = ? AND client_order_id = ?", g.Merchant().EndpointID, clientOrderID).Limit(1).Find(&o).RowsAffected == 0 {
		return OrderInfo{}, false
	}
	return OrderInfo{OrderID: o.ID, ClientOrderID: o.ClientOrderID, Kind: o.Kind, Status: o.Status, Stage: o.Stage,
		AmountMinor: o.AmountMinor, ApprovalCode: o.ApprovalCode, ErrorCode: o.ErrorCode, ErrorMessage: o.ErrorMessage,
		CloseID: o.CloseID}, true
}

// finalStatus reports whether a status is final (§7.1).
func finalStatus(s string) bool {
	switch s {
	case "approved", "declined", "filtered", "error":
		return true
	}
	return false
}

// ChangeStatus is a reconciliation changing the final status of order clientOrderID of the
// sandbox merchant (the first endpoint) to another final status (§7.1: a final status can
// still change after reconciliation). approved clears the error code and message and keeps or
// gives an approval code; the other statuses take errorCode and errorMessage. An order in a
// close stays in it; an order in none is counted by the next close only if it is approved
// then. A callback with the new status is queued (again, if the order had that status before);
// callbacks of earlier statuses still pending are dropped.
func (g *Gateway) ChangeStatus(clientOrderID, status, errorCode, errorMessage string) error {
	if !finalStatus(status) {
		return fmt.Errorf("sandbox: change status of %s: %q is not a final status", clientOrderID, status)
	}
	endpointID := g.Merchant().EndpointID
	err := g.db.Transaction(func(tx *gorm.DB) error {
		var o order
		if err := tx.Where("endpoint_id = ? AND client_order_id = ?", endpointID, clientOrderID).First(&o).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errors.New("no such order")
			}
			return err
		}
		if !finalStatus(o.Status) {
			return fmt.Errorf("order is %s, not final", o.Status)
		}
		now := g.now()
		o.Status, o.Stage, o.FinalAt = status, stageFor(o.Kind, status), &now
		o.ErrorCode, o.ErrorMessage = errorCode, errorMessage
		if status == "approved" {
			o.ErrorCode, o.ErrorMessage = "", ""
			if o.ApprovalCode == "" {
				o.ApprovalCode = randomDigits(6)
			}
		} else {
			o.ApprovalCode = ""
		}
		if err := tx.Save(&o).Error; err != nil {
			return err
		}
		if err := tx.Model(&delivery{}).Where("order_id = ? AND operation_id = 0 AND status <> ? AND next_at IS NOT NULL", o.ID, status).
			Updates(map[string]any{"next_at": nil, "last_error": "superseded by a status change"}).Error; err != nil {
			return err
		}
		return g.requeueCallback(tx, o)
	})
	if err != nil {
		return fmt.Errorf("sandbox: change status of %s: %w", clientOrderID, err)
	}
	return nil
}

// requeueCallback queues the callback of an order's current status like queueCallback, but
// also when a delivery for that status exists already: that job starts over (its attempt log
// stays), so the receiver hears of the status again.
func (g *Gateway) requeueCallback(tx *gorm.DB, o order) error {
	if o.CallbackURL == "" {
		return nil
	}
	d := g.newDelivery(orderRef(o))
	var old delivery
	if err := tx.Where("order_id = ? AND operation_id = 0 AND type = ? AND status = ?", o.ID, o.Kind, o.Status).Limit(1).Find(&old).Error; err != nil {
		return fmt.Errorf("sandbox: requeue callback for order %d: %w", o.ID, err)
	}
	d.ID = old.ID // 0: a new job
	if err := tx.Save(&d).Error; err != nil {
		return fmt.Errorf("sandbox: requeue callback for order %d: %w", o.ID, err)
	}
	g.kick()
	return nil
}

// LoadTestReader reads one provisioned test reader's key material from a sandbox state file,
// read-only, so that a virtual reader can be driven from another process while the sandbox
// runs (go run . reader).
func LoadTestReader(path, serial string) (TestReader, error) {
	db, err := gorm.Open(sqlite.Open("file:"+path+"?mode=ro&_busy_timeout=5000"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return TestReader{}, fmt.Errorf("sandbox: open %s: %w", path, err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	var r reader
	if err := db.Where("serial = ?", serial).First(&r).Error; err != nil {
		return TestReader{}, fmt.Errorf("sandbox: test reader %s in %s: %w", serial, path, err)
	}
	return r.testReader(), nil
}
