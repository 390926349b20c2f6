package sandbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/example/mposportal/mapi"
)

// maxParallelCallbacks bounds deliveries in flight, so a slow receiver cannot exhaust us.
const maxParallelCallbacks = 32

// deliverDue starts every due callback delivery (bounded), leasing each so that the next loop
// does not start it twice while it is in flight.
func (g *Gateway) deliverDue(ctx context.Context, wg *sync.WaitGroup) {
	now := g.now()
	var due []delivery
	if err := g.db.Where("next_at IS NOT NULL AND next_at <= ?", now).Order("next_at").Limit(maxParallelCallbacks).Find(&due).Error; err != nil {
		g.log.Error("sandbox: due callbacks", "error", err)
		return
	}
	for _, d := range due {
		lease := now.Add(g.cfg.CallbackTimeout + time.Second)
		if g.db.Model(&delivery{}).Where("id = ? AND next_at = ?", d.ID, d.NextAt).Update("next_at", lease).RowsAffected == 0 {
			continue
		}
		d.NextAt = &lease
		wg.Add(1)
		go func(d delivery) {
			defer wg.Done()
			g.deliver(ctx, d)
		}(d)
	}
}

// blackoutRecheck is how long a callback of a blacked-out order waits before it is looked at
// again.
const blackoutRecheck = 200 * time.Millisecond

// deliver makes one attempt and records it; a non-200, a timeout or a connection error is a
// failure that schedules the next attempt (§6.3). d.NextAt is the lease deliverDue took: the
// outcome is saved only while the lease holds, so a delivery re-queued meanwhile (ChangeStatus)
// is not overwritten.
func (g *Gateway) deliver(ctx context.Context, d delivery) {
	var o order
	if err := g.db.First(&o, d.OrderID).Error; err != nil {
		g.log.Error("sandbox: callback order", "order", d.OrderID, "error", err)
		return
	}
	lease := *d.NextAt
	status := o.Status
	var p operation
	if d.OperationID != 0 {
		// A capture's or return's callback reports that operation, not the order.
		if err := g.db.First(&p, d.OperationID).Error; err != nil {
			g.log.Error("sandbox: callback operation", "operation", d.OperationID, "error", err)
			return
		}
		status = p.Status
	}
	if status != d.Status {
		// The status changed after this callback was queued (ChangeStatus): the callback of
		// the current status replaces it.
		g.finishDelivery(d, lease, nil, "superseded by a status change")
		return
	}
	if f := g.getFaults(); g.blackedOut(o.ClientOrderID) || (f.BlackoutAmount != 0 && f.BlackoutAmount == o.AmountMinor) {
		// Not attempted and not counted: looked at again until the blackout ends.
		next := g.now().Add(blackoutRecheck)
		g.finishDelivery(d, lease, &next, d.LastError)
		return
	}
	var m merchant
	if err := g.db.Where("endpoint_id = ?", o.EndpointID).First(&m).Error; err != nil {
		g.log.Error("sandbox: callback merchant", "order", d.OrderID, "error", err)
		return
	}
	cb := callbackFor(o, m)
	if d.OperationID != 0 {
		cb = callbackForOperation(o, p, m)
	}
	code, err := g.send(ctx, d.URL, cb, m.ControlKey)
	if ctx.Err() != nil {
		// Shutting down: leave the lease; the next start retries it after the lease expires.
		return
	}
	now := g.now()
	a := attempt{DeliveryID: d.ID, At: now, Code: code}
	if err != nil {
		a.Error = truncate(err.Error(), 255)
	}
	d.Attempts++
	d.LastCode, d.LastError = code, a.Error
	switch {
	case err == nil && code == http.StatusOK && d.Duplicate:
		// Chaos: the receiver gets the same callback once more, a little later.
		d.Duplicate, d.Delivered, d.DeliveredAt = false, true, &now
		next := now.Add(50 * time.Millisecond)
		d.NextAt = &next
	case err == nil && code == http.StatusOK:
		d.Delivered, d.DeliveredAt, d.NextAt = true, &now, nil
	case d.Attempts >= len(g.cfg.CallbackSchedule):
		d.NextAt = nil // given up after the last scheduled attempt
	default:
		next := now.Add(time.Duration(float64(g.cfg.CallbackSchedule[d.Attempts]) / g.cfg.TimeScale))
		d.NextAt = &next
	}
	if err := g.db.Create(&a).Error; err != nil {
		g.log.Error("sandbox: record callback attempt", "error", err)
	}
	g.saveLeased(d, lease)
	g.kick()
}

// finishDelivery ends a leased delivery without an attempt: next nil stops it, otherwise it is
// due again at next.
func (g *Gateway) finishDelivery(d delivery, lease time.Time, next *time.Time, reason string) {
	d.NextAt, d.LastError = next, reason
	g.saveLeased(d, lease)
	g.kick()
}

// saveLeased stores a delivery's new state if the lease taken at lease still holds.
func (g *Gateway) saveLeased(d delivery, lease time.Time) {
	res := g.db.Model(&d).Where("next_at = ?", lease).Select("*").Updates(&d)
	switch {
	case res.Error != nil:
		g.log.Error("sandbox: save callback delivery", "delivery", d.ID, "error", res.Error)
	case res.RowsAffected == 0:
		g.log.Info("sandbox: callback delivery re-queued while in flight", "delivery", d.ID)
	}
}

// callbackFor builds the §6.2 callback for an order's current final status, echoing the
// request's merchant_data as merchantdata.
func callbackFor(o order, m merchant) mapi.Callback {
	return mapi.Callback{
		Status: mapi.Status(o.Status), OrderID: fmt.Sprint(o.ID), MerchantOrder: o.ClientOrderID, Type: o.Kind,
		Amount: mapi.Amount(o.AmountMinor).Format(o.Currency), ApprovalCode: o.ApprovalCode, BIN: o.BIN, LastFour: o.Last4,
		CardType: o.CardType, Descriptor: m.Descriptor, ErrorCode: o.ErrorCode, ErrorMessage: o.ErrorMessage,
		ProcessorRRN: o.RRN, MerchantData: o.MerchantData,
	}
}

// callbackForOperation builds the callback of a capture's or return's final status (§13.4):
// type capture or reversal, that operation's status, amount, approval code and RRN, the
// original order's ids (so an approved reversal carries the approved sale's control) and card.
func callbackForOperation(o order, p operation, m merchant) mapi.Callback {
	return mapi.Callback{
		Status: mapi.Status(p.Status), OrderID: fmt.Sprint(o.ID), MerchantOrder: o.ClientOrderID, Type: p.Kind,
		Amount: mapi.Amount(p.AmountMinor).Format(p.Currency), ApprovalCode: p.ApprovalCode, BIN: o.BIN, LastFour: o.Last4,
		CardType: o.CardType, Descriptor: m.Descriptor, ErrorCode: p.ErrorCode, ErrorMessage: p.ErrorMessage,
		ProcessorRRN: p.RRN, MerchantData: o.MerchantData,
	}
}

// send performs the GET with the signed query appended to the callback URL.
func (g *Gateway) send(ctx context.Context, rawURL string, cb mapi.Callback, key string) (int, error) {
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL+sep+cb.Query(key).Encode(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
