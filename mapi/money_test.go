package mapi_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/example/mposportal/mapi"
)

var moneyReq = mapi.MoneyRequest{ClientOrderID: "902B4FF5", OrderID: "1969106", Amount: 1042, Currency: "EUR", Comment: "Customer returned the goods"}

func TestMoneyRequestsOnTheWire(t *testing.T) {
	for _, tt := range []struct {
		op, path    string
		call        func(*mapi.Client) (*mapi.OrderResponse, error)
		withComment bool
	}{
		{"capture", "/paynet/api/v2/capture/1234", func(c *mapi.Client) (*mapi.OrderResponse, error) {
			return c.Capture(context.Background(), moneyReq)
		}, false},
		{"return", "/paynet/api/v2/return/1234", func(c *mapi.Client) (*mapi.OrderResponse, error) {
			return c.Return(context.Background(), moneyReq)
		}, true},
	} {
		var mu sync.Mutex
		got := map[string]string{}
		var path, auth string
		c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			for k := range r.PostForm {
				got[k] = r.PostForm.Get(k)
			}
			path, auth = r.URL.Path, r.Header.Get("Authorization")
			mu.Unlock()
			respond("type", "async-response", "serial-number", "sn-op", "merchant-order-id", "902B4FF5", "paynet-order-id", "1969106", "end-point-id", "1234")(w, r)
		})
		resp, err := tt.call(c)
		if err != nil {
			t.Fatalf("%s: %v", tt.op, err)
		}
		if resp.SerialNumber != "sn-op" || resp.OrderID != "1969106" || resp.MerchantOrderID != "902B4FF5" || resp.EndpointID != "1234" {
			t.Errorf("%s = %+v", tt.op, resp)
		}
		mu.Lock()
		if path != tt.path || auth != "" {
			t.Errorf("%s: posted to %s with Authorization %q; want %s, control-signed only", tt.op, path, auth, tt.path)
		}
		want := map[string]string{"login": "merchantlogin", "client_orderid": "902B4FF5", "orderid": "1969106", "amount": "10.42",
			"currency": "EUR", "control": "ac70e541e107e8f3a287a073ed6922fa10771429"}
		if tt.withComment {
			want["comment"] = moneyReq.Comment
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: form %s = %q, want %q", tt.op, k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: form %v carries more than %v", tt.op, got, want)
		}
		mu.Unlock()
	}
}

func TestMoneyAnswersWithoutSerialAreUnknownOutcomes(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"no serial-number": respond("type", "async-response", "paynet-order-id", "1969106"),
		"status answer":    respond("type", "status-response", "serial-number", "s", "status", "approved"),
		"502":              func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) },
	} {
		c, _ := newClient(t, h)
		if _, err := c.Return(context.Background(), moneyReq); !mapi.IsUnknownOutcome(err) {
			t.Errorf("%s: Return = %v, want an unknown outcome", name, err)
		}
	}
	c, _ := newClient(t, respond("type", "validation-error", "error-message", "Amount exceeds what remains", "error-code", "12"))
	_, err := c.Capture(context.Background(), moneyReq)
	var ve *mapi.ValidationError
	if !errors.As(err, &ve) || ve.Code != "12" || mapi.IsUnknownOutcome(err) {
		t.Errorf("refused capture = %#v, want a validation error 12", err)
	}
}
