package sandbox

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/money"
	"gorm.io/gorm"
)

// maxComment is the length of a return's comment (§13.1, our choice), in characters.
const maxComment = 50

// The refusals of §13.2 that are ours: every message starts with one of these, then says why.
const (
	msgNotAllowed = "Operation not allowed in the order's state" // error-code 11
	msgExceeds    = "Amount exceeds what remains"                // error-code 12
)

// money handles POST /paynet/api/v2/capture/{ENDPOINTID} (kind capture) and
// POST /paynet/api/v2/return/{ENDPOINTID} (kind reversal) (§13): control-signed, no OAuth,
// answered with an async-response whose serial-number identifies the new operation.
func (g *Gateway) money(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := form(r)
		if err != nil {
			http.Error(w, "bad request body", http.StatusBadRequest)
			return
		}
		p, o, aerr := g.createOperation(kind, r.PathValue("endpoint"), f)
		if aerr != nil {
			writeError(w, aerr, strings.TrimSpace(f.Get("client_orderid")))
			return
		}
		if g.takeMoney5xx() {
			// The operation exists (or was replayed); the client just never hears so.
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		write(w, []mapi.Pair{{Key: "type", Value: "async-response"}, {Key: "serial-number", Value: p.RequestSerial},
			{Key: "merchant-order-id", Value: o.ClientOrderID}, {Key: "paynet-order-id", Value: strconv.FormatInt(o.ID, 10)},
			{Key: "end-point-id", Value: o.EndpointID}})
	}
}

// createOperation validates a capture or return and creates its operation, or finds the
// earlier identical one still processing (an idempotent replay, §13.3).
func (g *Gateway) createOperation(kind, endpointID string, f url.Values) (operation, order, *apiError) {
	get := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	need := []string{"login", "client_orderid", "orderid", "amount", "currency"}
	if kind == "reversal" {
		need = append(need, "comment")
	}
	for _, k := range append(need, "control") {
		if get(k) == "" {
			return operation{}, order{}, validation("2", "Missing mandatory parameter: %s", k)
		}
	}
	amount, err := mapi.ParseAmount(get("amount"), strings.ToUpper(get("currency")))
	switch {
	case len(get("client_orderid")) > 128:
		return operation{}, order{}, validation("3", "client_orderid is longer than 128 characters")
	case err != nil || amount <= 0:
		return operation{}, order{}, validation("3", "amount must be a positive decimal with the currency's decimals (%d for %s)", money.MinorUnits(strings.ToUpper(get("currency"))), strings.ToUpper(get("currency")))
	case !reAlpha3.MatchString(get("currency")):
		return operation{}, order{}, validation("3", "currency must be an ISO 4217 code")
	case utf8.RuneCountInString(get("comment")) > maxComment:
		return operation{}, order{}, validation("3", "comment is longer than %d characters", maxComment)
	}
	var m merchant
	if err := g.db.Where("endpoint_id = ?", endpointID).First(&m).Error; err != nil {
		return operation{}, order{}, validation("5", "Unknown endpoint %s", endpointID)
	}
	want := mapi.MoneyControl(m.Login, get("client_orderid"), get("orderid"), amount, get("currency"), m.ControlKey)
	if get("login") != m.Login || !mapi.ControlEqual(get("control"), want) {
		return operation{}, order{}, validation("4", "INVALID_CONTROL_CODE")
	}
	now := g.now()
	var o order
	var p operation
	var aerr *apiError
	// One transaction for the look-up, the rules and the insert: the sandbox's one connection
	// and immediate transactions serialise it, so concurrent twins find each other and two
	// partial refunds can never both pass the amount check.
	err = g.db.Transaction(func(tx *gorm.DB) error {
		id, _ := strconv.ParseInt(get("orderid"), 10, 64)
		err := tx.Where("endpoint_id = ? AND client_order_id = ? AND id = ?", m.EndpointID, get("client_orderid"), id).First(&o).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			aerr = validation("8", "Order not found")
			return nil
		} else if err != nil {
			return err
		}
		if !strings.EqualFold(get("currency"), o.Currency) {
			aerr = validation("5", "Currency %s does not match the order's %s", strings.ToUpper(get("currency")), o.Currency)
			aerr.orderID = o.ID
			return nil
		}
		if m.LockedUntil != nil && now.Before(*m.LockedUntil) {
			aerr = &apiError{typ: "error", code: "9", msg: "Gate is closing: transactions are refused until Close Day finishes", orderID: o.ID}
			return nil
		}
		var ops []operation
		if err := tx.Where("order_id = ?", o.ID).Order("id").Find(&ops).Error; err != nil {
			return err
		}
		for _, e := range ops {
			if e.Kind == kind && !finalStatus(e.Status) && e.AmountMinor == int64(amount) && strings.EqualFold(e.Currency, get("currency")) {
				p = e // the same request while the first is still processing: answer as the first (§13.3)
				return nil
			}
		}
		if aerr = moneyAllowed(o, ops, kind, int64(amount)); aerr != nil {
			aerr.orderID = o.ID
			return nil
		}
		due := now.Add(g.cfg.ProcessingDelay)
		p = operation{OrderID: o.ID, EndpointID: o.EndpointID, Kind: kind, AmountMinor: int64(amount), Currency: o.Currency,
			Comment: get("comment"), RequestSerial: newSerial(), Status: "processing", Stage: kind + "_processing", DueAt: &due}
		return tx.Create(&p).Error
	})
	if err != nil {
		g.log.Error("sandbox: create operation", "kind", kind, "error", err)
		return operation{}, order{}, &apiError{typ: "error", code: "1", msg: "Internal error"}
	}
	if aerr != nil {
		return operation{}, order{}, aerr
	}
	g.kick()
	return p, o, nil
}

// moneyAllowed applies §13.3 to a capture or return of amount on order o, given the order's
// earlier operations: nil, or the refusal (code 11 for the order's state, 12 for the amount).
// Operations that are approved or still processing count; declined, filtered and failed ones
// never happened.
func moneyAllowed(o order, ops []operation, kind string, amount int64) *apiError {
	if o.Status != "approved" {
		return validation("11", "%s: the %s is %s, not approved", msgNotAllowed, o.Kind, o.Status)
	}
	var capture *operation // the live capture, if any
	var returned int64     // live returns
	for i, p := range ops {
		if p.Status != "approved" && p.Status != "processing" {
			continue
		}
		switch p.Kind {
		case "capture":
			capture = &ops[i]
		case "reversal":
			returned += p.AmountMinor
		}
	}
	switch {
	case kind == "capture" && o.Kind != "preauth":
		return validation("11", "%s: only a preauth can be captured, this order is a %s", msgNotAllowed, o.Kind)
	case kind == "capture" && capture != nil:
		return validation("11", "%s: the preauth is already captured (capture %s)", msgNotAllowed, capture.Status)
	case kind == "capture" && returned > 0:
		return validation("11", "%s: the preauth is released", msgNotAllowed)
	case kind == "capture" && amount > o.AmountMinor:
		return validation("12", "%s: capture of %s is more than the preauth's %s", msgExceeds, mapi.Amount(amount).Format(o.Currency), mapi.Amount(o.AmountMinor).Format(o.Currency))
	case kind == "capture":
		return nil
	}
	sold := o.AmountMinor
	if o.Kind == "preauth" {
		switch {
		case capture == nil && returned > 0:
			return validation("11", "%s: the preauth is already released", msgNotAllowed)
		case capture == nil && amount != o.AmountMinor:
			return validation("12", "%s: a release returns the whole preauth of %s, not %s", msgExceeds, mapi.Amount(o.AmountMinor).Format(o.Currency), mapi.Amount(amount).Format(o.Currency))
		case capture == nil:
			return nil // the release of the hold
		case capture.Status == "processing":
			return validation("11", "%s: the capture of this preauth is still processing", msgNotAllowed)
		}
		sold = capture.AmountMinor
	}
	if returned+amount > sold {
		return validation("12", "%s: return of %s is more than the %s left of %s", msgExceeds, mapi.Amount(amount).Format(o.Currency),
			mapi.Amount(sold-returned).Format(o.Currency), mapi.Amount(sold).Format(o.Currency))
	}
	return nil
}
