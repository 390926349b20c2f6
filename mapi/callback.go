package mapi

import (
	"errors"
	"fmt"
	"net/url"
)

// Callback is the gateway's server callback for a final status (§6). Delivery is
// at-least-once: receivers must de-duplicate.
type Callback struct {
	Status        Status
	OrderID       string
	MerchantOrder string // our client_orderid
	Type          string // sale, preauth, capture, reversal, …
	// Amount is in major units as sent ("10.42"); a callback does not name its currency, so
	// it is read with AmountIn once the payment is known. "" when the gateway left it out.
	Amount       string
	ApprovalCode string
	BIN          string
	LastFour     string
	CardType     string
	Descriptor   string
	ErrorCode    string
	ErrorMessage string
	ProcessorRRN string
	MerchantData string
	Raw          url.Values
}

// ErrBadControl means a callback's control does not match: forged or tampered. Answer 403
// and change nothing.
var ErrBadControl = errors.New("mapi: callback control does not match")

// ErrBadCallback is wrapped by VerifyCallback errors about a callback's shape.
var ErrBadCallback = errors.New("mapi: malformed callback")

// VerifyCallback checks a callback's query with the merchant control key: the signed fields
// are present and single, merchant_order and client_orderid agree, the amount parses, and
// control = sha1(status + orderid + merchant_order + key), compared case-insensitively.
func VerifyCallback(q url.Values, key string) (*Callback, error) {
	one := func(name string) (string, error) {
		vs := q[name]
		if len(vs) > 1 {
			return "", fmt.Errorf("%w: %s given %d times", ErrBadCallback, name, len(vs))
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	var fields = map[string]string{}
	for _, name := range []string{"status", "orderid", "merchant_order", "client_orderid", "control", "amount", "type"} {
		v, err := one(name)
		if err != nil {
			return nil, err
		}
		fields[name] = v
	}
	merchantOrder := fields["merchant_order"]
	if merchantOrder == "" {
		merchantOrder = fields["client_orderid"]
	}
	switch {
	case fields["status"] == "", fields["orderid"] == "", merchantOrder == "", fields["control"] == "":
		return nil, fmt.Errorf("%w: status, orderid, merchant_order and control are required", ErrBadCallback)
	case fields["client_orderid"] != "" && fields["merchant_order"] != "" && fields["client_orderid"] != fields["merchant_order"]:
		return nil, fmt.Errorf("%w: merchant_order and client_orderid differ", ErrBadCallback)
	}
	want := CallbackControl(fields["status"], fields["orderid"], merchantOrder, key)
	if !ControlEqual(fields["control"], want) {
		return nil, ErrBadControl
	}
	cb := &Callback{
		Status: Status(fields["status"]), OrderID: fields["orderid"], MerchantOrder: merchantOrder, Type: fields["type"],
		ApprovalCode: q.Get("approval-code"), BIN: q.Get("bin"), LastFour: q.Get("last-four-digits"), CardType: q.Get("card-type"),
		Descriptor: q.Get("descriptor"), ErrorCode: q.Get("error_code"), ErrorMessage: q.Get("error_message"),
		ProcessorRRN: q.Get("processor-rrn"), MerchantData: q.Get("merchantdata"), Raw: q,
	}
	if fields["amount"] != "" {
		if !ValidDecimal(fields["amount"]) {
			return nil, fmt.Errorf("%w: amount %q is not a decimal amount", ErrBadCallback, fields["amount"])
		}
		cb.Amount = fields["amount"]
	}
	return cb, nil
}

// AmountIn reads the callback's amount in the payment's currency.
func (cb Callback) AmountIn(currency string) (Amount, error) { return ParseAmount(cb.Amount, currency) }

// Query builds the signed query string the gateway sends for this callback.
func (cb Callback) Query(key string) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", string(cb.Status))
	set("orderid", cb.OrderID)
	set("merchant_order", cb.MerchantOrder)
	set("client_orderid", cb.MerchantOrder)
	set("type", cb.Type)
	set("amount", cb.Amount)
	set("approval-code", cb.ApprovalCode)
	set("bin", cb.BIN)
	set("last-four-digits", cb.LastFour)
	set("card-type", cb.CardType)
	set("descriptor", cb.Descriptor)
	set("error_code", cb.ErrorCode)
	set("error_message", cb.ErrorMessage)
	set("processor-rrn", cb.ProcessorRRN)
	set("merchantdata", cb.MerchantData)
	q.Set("control", CallbackControl(string(cb.Status), cb.OrderID, cb.MerchantOrder, key))
	return q
}
