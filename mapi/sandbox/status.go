package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/example/mposportal/mapi"
)

// status handles POST /paynet/api/v2/status/{ENDPOINTID} (§4), signed with the SHA-1 control.
// Without by-request-sn it answers for the order's latest transaction: its newest capture or
// return if it has one, else the sale or preauth itself.
func (g *Gateway) status(w http.ResponseWriter, r *http.Request) {
	f, err := form(r)
	if err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	get := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	clientOrderID := get("client_orderid")
	g.noteStatusRequest(clientOrderID, r.UserAgent())
	for _, k := range []string{"login", "client_orderid", "control"} {
		if get(k) == "" {
			writeError(w, validation("2", "Missing mandatory parameter: %s", k), clientOrderID)
			return
		}
	}
	if g.blackedOut(clientOrderID) || g.chance(g.getFaults().Sync5xxPct) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	var m merchant
	if err := g.db.Where("endpoint_id = ?", r.PathValue("endpoint")).First(&m).Error; err != nil {
		writeError(w, validation("5", "Unknown endpoint %s", r.PathValue("endpoint")), clientOrderID)
		return
	}
	orderID := get("orderid")
	want := mapi.StatusControl(m.Login, clientOrderID, orderID, m.ControlKey)
	if get("login") != m.Login || !mapi.ControlEqual(get("control"), want) {
		writeError(w, validation("4", "INVALID_CONTROL_CODE"), clientOrderID)
		return
	}
	var o order
	q := g.db.Where("endpoint_id = ? AND client_order_id = ?", m.EndpointID, clientOrderID)
	if orderID != "" {
		id, _ := strconv.ParseInt(orderID, 10, 64)
		q = q.Where("id = ?", id)
	}
	if err := q.First(&o).Error; err != nil {
		writeError(w, validation("8", "Order not found"), clientOrderID)
		return
	}
	if f := g.getFaults(); f.BlackoutAmount != 0 && f.BlackoutAmount == o.AmountMinor {
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	// A capture or return answers for itself: asked by its serial-number, or as the order's
	// latest transaction when no serial-number is given (§13.4).
	var p operation
	q = g.db.Where("order_id = ?", o.ID).Order("id DESC").Limit(1)
	if sn := get("by-request-sn"); sn != "" {
		q = q.Where("request_serial = ?", sn)
	}
	if err := q.Find(&p).Error; err != nil {
		g.log.Error("sandbox: status of operations", "order", o.ID, "error", err)
		writeError(w, &apiError{typ: "error", code: "1", msg: "Internal error"}, clientOrderID)
		return
	}
	if p.ID != 0 {
		write(w, operationStatus(o, p, m))
		return
	}
	// by-request-sn of the sale or preauth request itself answers for the transaction that
	// request made, as it stands now: a client that follows each transaction of an order by
	// its own serial (§13.4) sees the sale reach its final status even after a capture or
	// return became the order's latest.
	status, stage := o.Status, o.Stage
	if sn := get("by-request-sn"); sn != "" {
		var rq request
		if err := g.db.Where("serial = ? AND order_id = ?", sn, o.ID).First(&rq).Error; err != nil {
			writeError(w, validation("8", "Request %s not found for this order", sn), clientOrderID)
			return
		}
	}
	pairs := []mapi.Pair{{Key: "type", Value: "status-response"}, {Key: "serial-number", Value: newSerial()},
		{Key: "merchant-order-id", Value: o.ClientOrderID}, {Key: "paynet-order-id", Value: strconv.FormatInt(o.ID, 10)},
		{Key: "status", Value: status}, {Key: "amount", Value: mapi.Amount(o.AmountMinor).Format(o.Currency)}, {Key: "currency", Value: o.Currency},
		{Key: "transaction-type", Value: o.Kind}, {Key: "order-stage", Value: stage}}
	add := func(k, v string) {
		if v != "" {
			pairs = append(pairs, mapi.Pair{Key: k, Value: v})
		}
	}
	if o.FinalAt != nil && status == o.Status {
		add("approval-code", o.ApprovalCode)
		add("processor-rrn", o.RRN)
		add("receipt-id", o.ReceiptID)
		add("terminal-id", o.TerminalID)
		add("error-code", o.ErrorCode)
		add("error-message", o.ErrorMessage)
		add("paynet-processing-date", o.FinalAt.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	pairs = cardPairs(pairs, o, m)
	add("by-request-sn", get("by-request-sn"))
	write(w, pairs)
}

// cardPairs adds what a status answer says of the order's card and the merchant's descriptor,
// leaving out blanks.
func cardPairs(pairs []mapi.Pair, o order, m merchant) []mapi.Pair {
	for _, kv := range [][2]string{{"bin", o.BIN}, {"last-four-digits", o.Last4}, {"card-type", o.CardType},
		{"cardholder-name", o.HolderName}, {"card-exp-month", o.ExpMonth}, {"card-exp-year", o.ExpYear}, {"descriptor", m.Descriptor}} {
		if kv[1] != "" {
			pairs = append(pairs, mapi.Pair{Key: kv[0], Value: kv[1]})
		}
	}
	return pairs
}

// operationStatus is the status-response for a capture or return: its status, stage, amount
// and, when final, approval code, RRN and error; the order's card; by-request-sn its serial,
// also when the request named none (so a client that lost the capture's answer learns it).
func operationStatus(o order, p operation, m merchant) []mapi.Pair {
	pairs := []mapi.Pair{{Key: "type", Value: "status-response"}, {Key: "serial-number", Value: newSerial()},
		{Key: "merchant-order-id", Value: o.ClientOrderID}, {Key: "paynet-order-id", Value: strconv.FormatInt(o.ID, 10)},
		{Key: "status", Value: p.Status}, {Key: "amount", Value: mapi.Amount(p.AmountMinor).Format(p.Currency)}, {Key: "currency", Value: p.Currency},
		{Key: "transaction-type", Value: p.Kind}, {Key: "order-stage", Value: p.Stage}}
	add := func(k, v string) {
		if v != "" {
			pairs = append(pairs, mapi.Pair{Key: k, Value: v})
		}
	}
	if p.FinalAt != nil {
		add("approval-code", p.ApprovalCode)
		add("processor-rrn", p.RRN)
		add("terminal-id", o.TerminalID)
		add("error-code", p.ErrorCode)
		add("error-message", p.ErrorMessage)
		add("paynet-processing-date", p.FinalAt.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	pairs = cardPairs(pairs, o, m)
	add("by-request-sn", p.RequestSerial)
	return pairs
}

// StatusRequest is one status request as the sandbox received it: which order, from whom
// (User-Agent), when.
type StatusRequest struct {
	ClientOrderID string
	UserAgent     string
	At            time.Time
}

// statusLogSize bounds the in-memory status request log.
const statusLogSize = 100_000

func (g *Gateway) noteStatusRequest(clientOrderID, ua string) {
	g.logMu.Lock()
	defer g.logMu.Unlock()
	if len(g.statusLog) >= statusLogSize {
		g.statusLog = g.statusLog[statusLogSize/2:]
	}
	g.statusLog = append(g.statusLog, StatusRequest{clientOrderID, ua, time.Now()})
}

// StatusRequests returns the most recent status requests (up to 100,000), oldest first.
func (g *Gateway) StatusRequests() []StatusRequest {
	g.logMu.Lock()
	defer g.logMu.Unlock()
	return append([]StatusRequest(nil), g.statusLog...)
}
