package mapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// CloseDayRequest closes the business day on the endpoint's gate (§5). RequestID is the
// idempotency key: retrying with the same id returns the stored result.
type CloseDayRequest struct {
	RequestID string
	Totals    *CloseDayTotals // nil: send no totals of ours
}

// CloseDayTotals are our own counts, for the gateway to reconcile against (code39 95 if they
// differ).
type CloseDayTotals struct {
	SaleCount     int
	SaleSum       Amount
	ReversalCount int
	ReversalSum   Amount
}

// CloseDayResponse is the gateway's answer (§5.2).
type CloseDayResponse struct {
	Status                string // processing, finished, error
	GateID                string
	IsDayClosing          bool // true: the gate is still locked
	GateCloseDate         string
	EpntID                string
	SaleApprovedCount     int
	SaleAmount            Amount
	ReversalApprovedCount int
	ReversalAmount        Amount
	Code39                string // 00 = reconciled
	RRN                   string
	RequestSerialNumber   string
	Raw                   url.Values
}

// CloseDay asks the gateway to close the day. It is signed with OAuth.
func (c *Client) CloseDay(ctx context.Context, r CloseDayRequest) (*CloseDayResponse, error) {
	form := url.Values{}
	form.Set("day_close_request_id", r.RequestID)
	if t := r.Totals; t != nil {
		form.Set("sale_approved_count", strconv.Itoa(t.SaleCount))
		form.Set("sale_approved_sum", t.SaleSum.Format(c.ep.Currency))
		form.Set("reversal_approved_count", strconv.Itoa(t.ReversalCount))
		form.Set("reversal_approved_sum", t.ReversalSum.Format(c.ep.Currency))
	}
	rawURL := c.url(c.paths.CloseDay)
	v, err := c.signedPost(ctx, "close-day", rawURL, form, c.timeout)
	if err != nil {
		return nil, err
	}
	if v.Get("status") == "" {
		return nil, &TransportError{Op: "close-day", URL: rawURL, Err: fmt.Errorf("response without status")}
	}
	resp := &CloseDayResponse{
		Status: v.Get("status"), GateID: v.Get("gateId"), IsDayClosing: v.Get("isDayClosing") == "true",
		GateCloseDate: v.Get("gateCloseDate"), EpntID: v.Get("epntId"), SaleApprovedCount: atoi(v.Get("saleApprovedCount")),
		ReversalApprovedCount: atoi(v.Get("reversalApprovedCount")), Code39: v.Get("code39"), RRN: v.Get("RRN"),
		RequestSerialNumber: v.Get("theRequestSerialNumber"), Raw: v,
	}
	resp.SaleAmount, _ = ParseAmount(v.Get("saleAmount"), c.ep.Currency)
	resp.ReversalAmount, _ = ParseAmount(v.Get("reversalAmount"), c.ep.Currency)
	return resp, nil
}
