package mapi

import (
	"context"
	"fmt"
	"net/url"
)

// OrderRequest is a sale or preauth with card data encrypted by the reader (§3).
type OrderRequest struct {
	ClientOrderID string
	Description   string
	Amount        Amount
	Currency      string
	// Payer fields the gateway marks mandatory (§3.1); a card-present merchant sends its own
	// defaults.
	Address1, City, ZipCode, Country, Email, IPAddress string
	// Device fields, with the reader SDK's hyphenated wire names (Decision 1).
	DeviceSerial, KSN, EncryptedData, EncryptedType, EntryMode string
	PANFirstDigits, PANLastDigits, CardPrintedName             string
	PhoneID, SDKVersion, MerchantData                          string
	ServerCallbackURL, NotifyURL                               string
}

// OrderResponse is the synchronous answer: the order exists and is being processed. Its final
// status comes by callback or status request.
type OrderResponse struct {
	SerialNumber    string
	MerchantOrderID string
	OrderID         string // paynet-order-id: send as orderid in status requests
	EndpointID      string
}

// Form returns the request's wire parameters, without OAuth values.
func (r OrderRequest) Form() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("client_orderid", r.ClientOrderID)
	set("order_desc", r.Description)
	set("amount", r.Amount.Format(r.Currency))
	set("currency", r.Currency)
	set("address1", r.Address1)
	set("city", r.City)
	set("zip_code", r.ZipCode)
	set("country", r.Country)
	set("email", r.Email)
	set("ipaddress", r.IPAddress)
	set("device-serial-number", r.DeviceSerial)
	set("ksn", r.KSN)
	set("encrypted-data", r.EncryptedData)
	set("encrypted-type", r.EncryptedType)
	set("entry_mode", r.EntryMode)
	set("pan_first_digits", r.PANFirstDigits)
	set("pan_last_digits", r.PANLastDigits)
	set("card_printed_name", r.CardPrintedName)
	set("phone-id", r.PhoneID)
	set("sdk-version", r.SDKVersion)
	set("merchant_data", r.MerchantData)
	set("server_callback_url", r.ServerCallbackURL)
	set("notify_url", r.NotifyURL)
	return v
}

// Sale authorises and captures (§3).
func (c *Client) Sale(ctx context.Context, r OrderRequest) (*OrderResponse, error) {
	return c.order(ctx, "sale", c.paths.Sale, r)
}

// Preauth authorises only; the funds stay held until captured or released (§3).
func (c *Client) Preauth(ctx context.Context, r OrderRequest) (*OrderResponse, error) {
	return c.order(ctx, "preauth", c.paths.Preauth, r)
}

func (c *Client) order(ctx context.Context, op, path string, r OrderRequest) (*OrderResponse, error) {
	v, err := c.signedPost(ctx, op, c.url(path), r.Form(), c.timeout)
	if err != nil {
		return nil, err
	}
	if t := v.Get("type"); t != "async-response" {
		return nil, &TransportError{Op: op, URL: c.url(path), Err: fmt.Errorf("unexpected response type %q", t)}
	}
	resp := &OrderResponse{SerialNumber: v.Get("serial-number"), MerchantOrderID: v.Get("merchant-order-id"),
		OrderID: v.Get("paynet-order-id"), EndpointID: v.Get("end-point-id")}
	if resp.OrderID == "" {
		return nil, &TransportError{Op: op, URL: c.url(path), Err: fmt.Errorf("async response without paynet-order-id")}
	}
	return resp, nil
}
