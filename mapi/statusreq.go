package mapi

import (
	"context"
	"fmt"
	"net/url"
)

// StatusRequest asks for an order's status. OrderID may be empty when the sale response never
// arrived: the gateway then looks the order up by client_orderid alone (§4.1, §9).
type StatusRequest struct {
	ClientOrderID string
	OrderID       string
	ByRequestSN   string // the serial-number of an earlier request, for that request's stage
}

// StatusResponse is the gateway's status-response (§4.2).
type StatusResponse struct {
	Status          Status
	Amount          Amount
	Currency        string
	OrderID         string
	MerchantOrderID string
	SerialNumber    string
	ByRequestSN     string
	TransactionType string
	OrderStage      string
	ApprovalCode    string
	ProcessorRRN    string
	ProcessorTxID   string
	ReceiptID       string
	TerminalID      string
	BIN             string
	LastFour        string
	CardType        string
	CardholderName  string
	CardExpMonth    string
	CardExpYear     string
	ErrorCode       string
	ErrorMessage    string
	Raw             url.Values
}

// Status asks for the latest status of an order. It is signed with the SHA-1 control, not
// OAuth.
func (c *Client) Status(ctx context.Context, r StatusRequest) (*StatusResponse, error) {
	form := url.Values{}
	form.Set("login", c.ep.Login)
	form.Set("client_orderid", r.ClientOrderID)
	if r.OrderID != "" {
		form.Set("orderid", r.OrderID)
	}
	if r.ByRequestSN != "" {
		form.Set("by-request-sn", r.ByRequestSN)
	}
	form.Set("control", StatusControl(c.ep.Login, r.ClientOrderID, r.OrderID, c.ep.ControlKey))
	rawURL := c.url(c.paths.Status)
	v, err := c.post(ctx, "status", rawURL, form, "", c.statusTimeout)
	if err != nil {
		return nil, err
	}
	if t := v.Get("type"); t != "status-response" {
		return nil, &TransportError{Op: "status", URL: rawURL, Err: fmt.Errorf("unexpected response type %q", t)}
	}
	return parseStatus(v), nil
}

func parseStatus(v url.Values) *StatusResponse {
	s := &StatusResponse{
		Status: Status(v.Get("status")), Currency: v.Get("currency"), OrderID: v.Get("paynet-order-id"),
		MerchantOrderID: v.Get("merchant-order-id"), SerialNumber: v.Get("serial-number"), ByRequestSN: v.Get("by-request-sn"),
		TransactionType: v.Get("transaction-type"), OrderStage: v.Get("order-stage"), ApprovalCode: v.Get("approval-code"),
		ProcessorRRN: v.Get("processor-rrn"), ProcessorTxID: v.Get("processor-tx-id"), ReceiptID: v.Get("receipt-id"),
		TerminalID: v.Get("terminal-id"), BIN: v.Get("bin"), LastFour: v.Get("last-four-digits"), CardType: v.Get("card-type"),
		CardholderName: v.Get("cardholder-name"), CardExpMonth: v.Get("card-exp-month"), CardExpYear: v.Get("card-exp-year"),
		ErrorCode: v.Get("error-code"), ErrorMessage: v.Get("error-message"), Raw: v,
	}
	if s.Status == "" {
		s.Status = StatusProcessing // a non-error answer without a status is still processing (§3.3)
	}
	if a, err := ParseAmount(v.Get("amount"), s.Currency); err == nil {
		s.Amount = a
	}
	return s
}
