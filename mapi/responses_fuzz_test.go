package mapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/example/mposportal/mapi"
)

// fuzzGateway is one server for a whole fuzz run that answers every request with the body
// last given to answer, as a gateway (or anything in between) might.
func fuzzGateway(f *testing.F) (*mapi.Client, func(body []byte)) {
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)
	c := mapi.NewClient(mapi.Endpoint{BaseURL: srv.URL, EndpointID: "1234", Login: "merchantlogin", ControlKey: docKey}, nil)
	return c, func(b []byte) { body.Store(&b) }
}

// Whatever a status answer holds, the client returns a response or a typed error, never both
// or neither, and never an amount outside the wire range.
func FuzzStatusResponse(f *testing.F) {
	f.Add([]byte("type=status-response\n&status=approved\n&amount=10.42\n&paynet-order-id=1969106\n&merchant-order-id=P1\n&approval-code=242805\n"))
	f.Add([]byte("type=status-response\n&status=processing\n"))
	f.Add([]byte("type=validation-error\n&error-code=8\n&error-message=Order+not+found\n"))
	f.Add([]byte("type=status-response\n&status=approved\n&amount=-1\n"))
	f.Add([]byte("type=status-response&status=%zz"))
	c, answer := fuzzGateway(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		answer(b)
		resp, err := c.Status(context.Background(), mapi.StatusRequest{ClientOrderID: "P1", OrderID: "1969106"})
		checkTyped(t, resp == nil, err)
		if err == nil && (resp.Status == "" || resp.Amount < 0 || resp.Amount > mapi.MaxAmount(resp.Currency)) {
			t.Fatalf("status response %+v", resp)
		}
	})
}

// Whatever a close-day answer holds, the client returns a response or a typed error.
func FuzzCloseDayResponse(f *testing.F) {
	f.Add([]byte("status=ok\n&gateId=1\n&isDayClosing=false\n&saleApprovedCount=2\n&saleAmount=20.84\n&code39=00\n&RRN=123456789012\n"))
	f.Add([]byte("status=error\n&code39=95\n"))
	f.Add([]byte("type=error\n&error-code=9\n&error-message=gate+is+closing\n"))
	f.Add([]byte("saleAmount=1e9"))
	c, answer := fuzzGateway(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		answer(b)
		resp, err := c.CloseDay(context.Background(), mapi.CloseDayRequest{RequestID: "DC1"})
		checkTyped(t, resp == nil, err)
		if err == nil && (resp.Status == "" || resp.SaleAmount < 0 || resp.ReversalAmount < 0) {
			t.Fatalf("close-day response %+v", resp)
		}
	})
}

func checkTyped(t *testing.T, noResponse bool, err error) {
	t.Helper()
	if noResponse == (err == nil) {
		t.Fatalf("response missing = %v with error %v", noResponse, err)
	}
	if err == nil {
		return
	}
	var v *mapi.ValidationError
	var g *mapi.GatewayError
	var tr *mapi.TransportError
	if !errors.As(err, &v) && !errors.As(err, &g) && !errors.As(err, &tr) && !errors.Is(err, mapi.ErrForbidden) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}
