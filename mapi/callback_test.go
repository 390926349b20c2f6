package mapi_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/example/mposportal/mapi"
)

// The §6.2 example callback.
const exampleCallback = "status=approved&merchant_order=902B4FF5&client_orderid=902B4FF5&orderid=1969106&type=sale&amount=10.42&approval-code=242805&bin=411111&last-four-digits=1111&card-type=VISA&descriptor=TEST-SHOP&control=269875c91d668e21991daa219cc4805c351eacd2"

func TestVerifyCallbackAcceptsSpecExample(t *testing.T) {
	q, _ := url.ParseQuery(exampleCallback)
	cb, err := mapi.VerifyCallback(q, docKey)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Status != mapi.StatusApproved || cb.OrderID != "1969106" || cb.MerchantOrder != "902B4FF5" || cb.Amount != "10.42" ||
		cb.Type != "sale" || cb.ApprovalCode != "242805" || cb.LastFour != "1111" || cb.BIN != "411111" || cb.CardType != "VISA" {
		t.Errorf("VerifyCallback = %+v", cb)
	}
	q.Set("control", strings.ToUpper(q.Get("control")))
	if _, err := mapi.VerifyCallback(q, docKey); err != nil {
		t.Errorf("upper-case control refused: %v", err)
	}
}

func TestVerifyCallbackRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(q url.Values)
		want   error
	}{
		{"status flipped", func(q url.Values) { q.Set("status", "declined") }, mapi.ErrBadControl},
		{"other order id", func(q url.Values) { q.Set("orderid", "1969107") }, mapi.ErrBadControl},
		{"other merchant order", func(q url.Values) { q.Set("merchant_order", "902B4FF6"); q.Set("client_orderid", "902B4FF6") }, mapi.ErrBadControl},
		{"control of another key", func(q url.Values) {
			q.Set("control", mapi.CallbackControl("approved", "1969106", "902B4FF5", "other-key"))
		}, mapi.ErrBadControl},
		{"truncated control", func(q url.Values) { q.Set("control", q.Get("control")[:20]) }, mapi.ErrBadControl},
		{"no control", func(q url.Values) { q.Del("control") }, mapi.ErrBadCallback},
		{"no status", func(q url.Values) { q.Del("status") }, mapi.ErrBadCallback},
		{"no order id", func(q url.Values) { q.Del("orderid") }, mapi.ErrBadCallback},
		{"no merchant order at all", func(q url.Values) { q.Del("merchant_order"); q.Del("client_orderid") }, mapi.ErrBadCallback},
		{"merchant_order and client_orderid differ", func(q url.Values) { q.Set("client_orderid", "OTHER") }, mapi.ErrBadCallback},
		{"status twice", func(q url.Values) { q.Add("status", "declined") }, mapi.ErrBadCallback},
		{"amount garbage", func(q url.Values) { q.Set("amount", "10,42") }, mapi.ErrBadCallback},
		{"negative amount", func(q url.Values) { q.Set("amount", "-10.42") }, mapi.ErrBadCallback},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(exampleCallback)
		tt.change(q)
		cb, err := mapi.VerifyCallback(q, docKey)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: VerifyCallback = %+v, %v; want %v", tt.name, cb, err, tt.want)
		}
	}
}

func TestCallbackQueryRoundTrip(t *testing.T) {
	cb := mapi.Callback{Status: mapi.StatusDeclined, OrderID: "77", MerchantOrder: "P123", Type: "preauth", Amount: "10.51",
		ErrorCode: "51", ErrorMessage: "Insufficient funds", LastFour: "4444", CardType: "MASTERCARD", MerchantData: "till=3&shift=a b"}
	q := cb.Query(docKey)
	if q.Get("merchant_order") != "P123" || q.Get("client_orderid") != "P123" {
		t.Errorf("query %v must carry both merchant_order and client_orderid", q)
	}
	if q.Get("merchantdata") != cb.MerchantData || q.Has("merchant_data") {
		t.Errorf("query %v must echo merchant_data as merchantdata (§6.2)", q)
	}
	// Through the wire and back, as the receiver sees it.
	q2, _ := url.ParseQuery(q.Encode())
	got, err := mapi.VerifyCallback(q2, docKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != cb.Status || got.OrderID != cb.OrderID || got.MerchantOrder != cb.MerchantOrder || got.Amount != cb.Amount ||
		got.ErrorCode != "51" || got.ErrorMessage != "Insufficient funds" || got.Type != "preauth" || got.MerchantData != cb.MerchantData {
		t.Errorf("round trip = %+v, want %+v", got, cb)
	}
}

func FuzzVerifyCallback(f *testing.F) {
	f.Add(exampleCallback, "approved", "1969106", "902B4FF5", int64(1042), 3)
	f.Add("status=x&control=y", "declined", "1", "P1", int64(0), 0)
	f.Fuzz(func(t *testing.T, raw, status, orderID, merchantOrder string, amount int64, flip int) {
		// Arbitrary queries never panic.
		if q, err := url.ParseQuery(raw); err == nil {
			mapi.VerifyCallback(q, docKey)
		}
		if status == "" || orderID == "" || merchantOrder == "" || amount < 0 {
			return
		}
		cb := mapi.Callback{Status: mapi.Status(status), OrderID: orderID, MerchantOrder: merchantOrder, Amount: mapi.Amount(amount).Format("EUR")}
		q := cb.Query(docKey)
		if _, err := mapi.VerifyCallback(q, docKey); err != nil && !errors.Is(err, mapi.ErrBadCallback) {
			t.Fatalf("a callback built with Query failed verification: %v", err)
		}
		// Any change to the control makes it fail.
		c := []byte(q.Get("control"))
		i := (flip%len(c) + len(c)) % len(c)
		c[i] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", c[i])+1)%16]
		q.Set("control", string(c))
		if _, err := mapi.VerifyCallback(q, docKey); err == nil {
			t.Fatalf("a mutated control %s verified", c)
		}
	})
}
