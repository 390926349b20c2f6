package mapi

import (
	"context"
	"fmt"
	"net/url"
)

// MoneyRequest captures a preauth or returns money of an approved order (§13). ClientOrderID
// and OrderID are the ORIGINAL order's: a capture or return is a new transaction of that
// order, not an order of its own.
type MoneyRequest struct {
	ClientOrderID string
	OrderID       string // the original order's paynet-order-id
	Amount        Amount // below the preauth amount: a partial capture; below the sale: a partial refund
	Currency      string // must be the order's currency
	Comment       string // return only (mandatory there, at most 50 characters); not sent on capture
}

// Capture captures an approved preauth, fully or partly (§13). It is signed with the SHA-1
// control (MoneyControl), not OAuth, and always sends amount and currency. The answer only
// means "accepted": its SerialNumber is the NEW serial of this capture, to ask its status with
// StatusRequest.ByRequestSN; the outcome comes by status or by a callback of type capture.
//
// Unknown outcome: on a *TransportError (timeout, 5xx) the capture may exist. Ask Status for
// the order (without ByRequestSN it describes the order's latest transaction) before doing
// anything else; never resend blindly. An identical resend while the earlier capture is still
// processing is an idempotent replay that answers the same serial-number, but once that
// capture is final, a resend is a NEW capture (refused with code 11 after an approved one).
func (c *Client) Capture(ctx context.Context, r MoneyRequest) (*OrderResponse, error) {
	return c.money(ctx, "capture", c.paths.Capture, r, false)
}

// Return returns money of an approved order (§13): a refund of a sale or of a captured
// preauth (several partial refunds may follow each other while their sum stays within the
// captured amount), or, on an approved preauth not captured yet, the release of the hold
// (amount = the whole preauth amount). Both are reported as transaction type reversal. It is
// signed like Capture and sends amount, currency and comment.
//
// The unknown-outcome rule of Capture applies: after a *TransportError ask Status first. An
// identical return while the earlier one is still processing is an idempotent replay (same
// serial-number); once it is final, a resend is a NEW return and refunds again.
func (c *Client) Return(ctx context.Context, r MoneyRequest) (*OrderResponse, error) {
	return c.money(ctx, "return", c.paths.Return, r, true)
}

// money posts a capture or return. It uses the request timeout of sale and preauth (default
// 60 s), not the shorter status one: like a sale it creates a transaction, and a deadline that
// fires while the gateway is creating it only turns an answer into an unknown outcome.
func (c *Client) money(ctx context.Context, op, path string, r MoneyRequest, withComment bool) (*OrderResponse, error) {
	form := url.Values{}
	form.Set("login", c.ep.Login)
	form.Set("client_orderid", r.ClientOrderID)
	form.Set("orderid", r.OrderID)
	form.Set("amount", r.Amount.Format(r.Currency))
	form.Set("currency", r.Currency)
	if withComment {
		form.Set("comment", r.Comment)
	}
	form.Set("control", MoneyControl(c.ep.Login, r.ClientOrderID, r.OrderID, r.Amount, r.Currency, c.ep.ControlKey))
	rawURL := c.url(path)
	v, err := c.post(ctx, op, rawURL, form, "", c.timeout)
	if err != nil {
		return nil, err
	}
	if t := v.Get("type"); t != "async-response" {
		return nil, &TransportError{Op: op, URL: rawURL, Err: fmt.Errorf("unexpected response type %q", t)}
	}
	resp := &OrderResponse{SerialNumber: v.Get("serial-number"), MerchantOrderID: v.Get("merchant-order-id"),
		OrderID: v.Get("paynet-order-id"), EndpointID: v.Get("end-point-id")}
	// The serial-number is the only handle on this capture or return: without it the caller
	// could not ask for its status, so the answer is as good as lost.
	if resp.SerialNumber == "" {
		return nil, &TransportError{Op: op, URL: rawURL, Err: fmt.Errorf("async response without serial-number")}
	}
	return resp, nil
}
