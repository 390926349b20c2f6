// Package mapitest is a small in-memory gateway for domain tests: it speaks the mapi client's
// Go API (sale, preauth, status, capture, return, close day) without HTTP, a clock or
// goroutines. Orders stay processing until the test decides them, so a test steps through a
// payment's life with no sleeping; each question the gateway was asked is recorded. The
// sandbox (mapi/sandbox) remains the gateway for end-to-end, chaos and scale-out tests.
package mapitest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/example/mposportal/mapi"
)

// Order is what the gateway holds for one sale or preauth, and its operations.
type Order struct {
	Kind          string // sale, preauth
	ClientOrderID string
	OrderID       string
	Serial        string
	Amount        mapi.Amount
	Currency      string
	Status        mapi.Status
	ApprovalCode  string
	RRN           string
	ErrorCode     string
	ErrorMessage  string
	Ops           []*Operation
}

// Operation is a capture or a return on an order.
type Operation struct {
	Kind   string // capture, reversal
	Serial string
	Amount mapi.Amount
	Status mapi.Status
}

// Gateway is the in-memory gateway. Its zero value is not ready: use New.
type Gateway struct {
	currency string
	mu       sync.Mutex
	orders   map[string]*Order // by client order id
	seq      int
	asked    []string // "status P…", "sale P…", …
	failNext []error  // the next calls fail with these, in order
}

// New returns an empty gateway whose merchant works in currency.
func New(currency string) *Gateway {
	return &Gateway{currency: currency, orders: map[string]*Order{}}
}

// Currency is the merchant's currency (the closeday client's question).
func (g *Gateway) Currency() string { return g.currency }

// FailNext makes the next calls (any kind) fail with errs, one each: a
// *mapi.TransportError for "the outcome is unknown", a *mapi.ValidationError for a refusal.
func (g *Gateway) FailNext(errs ...error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failNext = append(g.failNext, errs...)
}

// Asked lists what the gateway was asked, in order ("sale P1", "status P1", "capture P1").
func (g *Gateway) Asked() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.asked...)
}

// Order returns a copy of the order with clientOrderID.
func (g *Gateway) Order(clientOrderID string) (Order, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o, ok := g.orders[clientOrderID]
	if !ok {
		return Order{}, false
	}
	c := *o
	c.Ops = nil
	for _, op := range o.Ops {
		cp := *op
		c.Ops = append(c.Ops, &cp)
	}
	return c, true
}

// Approve decides an order approved, with an approval code and RRN.
func (g *Gateway) Approve(clientOrderID string) {
	g.decide(clientOrderID, func(o *Order) {
		o.Status, o.ApprovalCode, o.RRN = mapi.StatusApproved, fmt.Sprintf("%06d", 100000+g.seq), fmt.Sprintf("%012d", g.seq)
	})
}

// Decline decides an order declined, with the bank's code and reason.
func (g *Gateway) Decline(clientOrderID, code, message string) {
	g.decide(clientOrderID, func(o *Order) { o.Status, o.ErrorCode, o.ErrorMessage = mapi.StatusDeclined, code, message })
}

// DecideOperation sets the status of an order's latest operation.
func (g *Gateway) DecideOperation(clientOrderID string, status mapi.Status) {
	g.decide(clientOrderID, func(o *Order) {
		if len(o.Ops) > 0 {
			o.Ops[len(o.Ops)-1].Status = status
		}
	})
}

func (g *Gateway) decide(clientOrderID string, f func(*Order)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if o, ok := g.orders[clientOrderID]; ok {
		g.seq++
		f(o)
	}
}

// failing returns the next scheduled failure, if any, after recording the question.
func (g *Gateway) failing(question string) error {
	g.asked = append(g.asked, question)
	if len(g.failNext) == 0 {
		return nil
	}
	err := g.failNext[0]
	g.failNext = g.failNext[1:]
	return err
}

// Sale takes a sale: the order is processing until the test decides it.
func (g *Gateway) Sale(ctx context.Context, r mapi.OrderRequest) (*mapi.OrderResponse, error) {
	return g.order("sale", r)
}

// Preauth takes a preauthorisation, as Sale does.
func (g *Gateway) Preauth(ctx context.Context, r mapi.OrderRequest) (*mapi.OrderResponse, error) {
	return g.order("preauth", r)
}

func (g *Gateway) order(kind string, r mapi.OrderRequest) (*mapi.OrderResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.failing(kind + " " + r.ClientOrderID); err != nil {
		return nil, err
	}
	if r.Currency != g.currency {
		return nil, &mapi.ValidationError{Code: "5", Message: "currency " + r.Currency + " does not match the endpoint's " + g.currency}
	}
	if o, ok := g.orders[r.ClientOrderID]; ok { // the same request again: the original answer
		return &mapi.OrderResponse{SerialNumber: o.Serial, MerchantOrderID: o.ClientOrderID, OrderID: o.OrderID}, nil
	}
	g.seq++
	o := &Order{Kind: kind, ClientOrderID: r.ClientOrderID, OrderID: strconv.Itoa(1969100 + g.seq), Serial: fmt.Sprintf("SN-%d", g.seq),
		Amount: r.Amount, Currency: r.Currency, Status: mapi.StatusProcessing}
	g.orders[r.ClientOrderID] = o
	return &mapi.OrderResponse{SerialNumber: o.Serial, MerchantOrderID: o.ClientOrderID, OrderID: o.OrderID}, nil
}

// Status answers for the order (or, with ByRequestSN naming an operation, for it); an order
// it does not hold is validation error 8, as the gateway answers.
func (g *Gateway) Status(ctx context.Context, r mapi.StatusRequest) (*mapi.StatusResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.failing("status " + r.ClientOrderID); err != nil {
		return nil, err
	}
	o, ok := g.orders[r.ClientOrderID]
	if !ok || r.OrderID != "" && r.OrderID != o.OrderID {
		return nil, &mapi.ValidationError{Code: "8", Message: "order not found", MerchantOrderID: r.ClientOrderID}
	}
	st := &mapi.StatusResponse{Status: o.Status, Amount: o.Amount, Currency: o.Currency, OrderID: o.OrderID, MerchantOrderID: o.ClientOrderID,
		SerialNumber: o.Serial, ByRequestSN: o.Serial, TransactionType: o.Kind, ApprovalCode: o.ApprovalCode, ProcessorRRN: o.RRN,
		ErrorCode: o.ErrorCode, ErrorMessage: o.ErrorMessage, LastFour: "1111", CardType: "VISA"}
	for _, op := range o.Ops {
		if op.Serial == r.ByRequestSN {
			st.Status, st.Amount, st.TransactionType, st.SerialNumber, st.ByRequestSN = op.Status, op.Amount, op.Kind, op.Serial, op.Serial
		}
	}
	return st, nil
}

// Capture takes a capture of an order: processing until DecideOperation.
func (g *Gateway) Capture(ctx context.Context, r mapi.MoneyRequest) (*mapi.OrderResponse, error) {
	return g.operation("capture", r)
}

// Return takes a return (refund or release) of an order: processing until DecideOperation.
func (g *Gateway) Return(ctx context.Context, r mapi.MoneyRequest) (*mapi.OrderResponse, error) {
	return g.operation("reversal", r)
}

func (g *Gateway) operation(kind string, r mapi.MoneyRequest) (*mapi.OrderResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.failing(kind + " " + r.ClientOrderID); err != nil {
		return nil, err
	}
	o, ok := g.orders[r.ClientOrderID]
	if !ok || o.OrderID != r.OrderID {
		return nil, &mapi.ValidationError{Code: "8", Message: "order not found", MerchantOrderID: r.ClientOrderID}
	}
	g.seq++
	op := &Operation{Kind: kind, Serial: fmt.Sprintf("SN-%d", g.seq), Amount: r.Amount, Status: mapi.StatusProcessing}
	o.Ops = append(o.Ops, op)
	return &mapi.OrderResponse{SerialNumber: op.Serial, MerchantOrderID: o.ClientOrderID, OrderID: o.OrderID}, nil
}

// CloseDay closes the day: the gateway's totals are its approved sales and captures, and its
// approved returns; code39 is 95 when ours differ.
func (g *Gateway) CloseDay(ctx context.Context, r mapi.CloseDayRequest) (*mapi.CloseDayResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.failing("close-day " + r.RequestID); err != nil {
		return nil, err
	}
	resp := &mapi.CloseDayResponse{Status: "finished", Code39: "00", RRN: fmt.Sprintf("%06d", g.seq)}
	for _, o := range g.orders {
		if o.Kind == "sale" && o.Status == mapi.StatusApproved {
			resp.SaleApprovedCount++
			resp.SaleAmount += o.Amount
		}
		for _, op := range o.Ops {
			switch {
			case op.Status != mapi.StatusApproved:
			case op.Kind == "capture":
				resp.SaleApprovedCount++
				resp.SaleAmount += op.Amount
			default:
				resp.ReversalApprovedCount++
				resp.ReversalAmount += op.Amount
			}
		}
	}
	if t := r.Totals; t != nil && (t.SaleCount != resp.SaleApprovedCount || t.SaleSum != resp.SaleAmount ||
		t.ReversalCount != resp.ReversalApprovedCount || t.ReversalSum != resp.ReversalAmount) {
		resp.Code39 = "95"
	}
	return resp, nil
}

// Callback is the gateway's signed callback for the order's present status, as it would
// deliver it to the merchant (key: the merchant control key).
func (g *Gateway) Callback(clientOrderID, key string) (mapi.Callback, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o, ok := g.orders[clientOrderID]
	if !ok {
		return mapi.Callback{}, false
	}
	return mapi.Callback{Status: o.Status, OrderID: o.OrderID, MerchantOrder: o.ClientOrderID, Type: o.Kind,
		Amount: o.Amount.Format(o.Currency), ApprovalCode: o.ApprovalCode, LastFour: "1111", CardType: "VISA",
		ErrorCode: o.ErrorCode, ErrorMessage: o.ErrorMessage, ProcessorRRN: o.RRN}, true
}
