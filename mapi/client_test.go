package mapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
)

func newClient(t *testing.T, h http.HandlerFunc, opts ...mapi.Option) (*mapi.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return mapi.NewClient(mapi.Endpoint{BaseURL: srv.URL, EndpointID: "1234", Login: "merchantlogin", ControlKey: docKey}, nil, opts...), srv
}

func respond(pairs ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var ps []mapi.Pair
		for i := 0; i+1 < len(pairs); i += 2 {
			ps = append(ps, mapi.Pair{Key: pairs[i], Value: pairs[i+1]})
		}
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		w.Write(mapi.EncodeResponse(ps))
	}
}

var saleReq = mapi.OrderRequest{ClientOrderID: "P1", Description: "Coffee x2", Amount: 1042, Currency: "EUR",
	Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com",
	DeviceSerial: "SBX-0001", KSN: "FFFF9876543210E00001", EncryptedData: "A1B2C3D4E5F60718", EncryptedType: "dukpt-tdes", EntryMode: "chip"}

func TestSaleSendsSignedRequestWithSDKFieldNames(t *testing.T) {
	var mu sync.Mutex
	var gotErr error
	var gotForm map[string]string
	var srvURL string
	c, srv := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		_, gotErr = mapi.VerifyRequest(r.Method, srvURL+r.URL.Path, r.Header.Get("Authorization"), r.PostForm, docKey)
		gotForm = map[string]string{}
		for k := range r.PostForm {
			gotForm[k] = r.PostForm.Get(k)
		}
		mu.Unlock()
		if r.URL.Path != "/paynet/mapi/v1/sale/1234" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("request to %s with %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		respond("type", "async-response", "serial-number", "sn-1", "merchant-order-id", "P1", "paynet-order-id", "1969106", "end-point-id", "1234")(w, r)
	})
	srvURL = srv.URL
	resp, err := c.Sale(context.Background(), saleReq)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OrderID != "1969106" || resp.SerialNumber != "sn-1" || resp.MerchantOrderID != "P1" || resp.EndpointID != "1234" {
		t.Errorf("Sale = %+v", resp)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotErr != nil {
		t.Errorf("the gateway side could not verify the signature: %v", gotErr)
	}
	for k, want := range map[string]string{"device-serial-number": "SBX-0001", "encrypted-data": "A1B2C3D4E5F60718",
		"encrypted-type": "dukpt-tdes", "ksn": "FFFF9876543210E00001", "amount": "10.42", "client_orderid": "P1",
		"order_desc": "Coffee x2", "oauth_consumer_key": "merchantlogin", "oauth_signature_method": "HMAC-SHA1"} {
		if gotForm[k] != want {
			t.Errorf("form %s = %q, want %q", k, gotForm[k], want)
		}
	}
	for _, k := range []string{"encrypted_data", "device_serial_number", "control", "oauth_signature"} {
		if _, ok := gotForm[k]; ok {
			t.Errorf("form carries %s", k)
		}
	}
}

func TestNoncesAreFreshPerRequest(t *testing.T) {
	var mu sync.Mutex
	nonces := map[string]int{}
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		nonces[r.PostForm.Get("oauth_nonce")]++
		mu.Unlock()
		respond("type", "async-response", "paynet-order-id", "1")(w, r)
	})
	for range 20 {
		if _, err := c.Preauth(context.Background(), saleReq); err != nil {
			t.Fatal(err)
		}
	}
	if len(nonces) != 20 {
		t.Errorf("20 requests used %d distinct nonces", len(nonces))
	}
}

func TestStatusRequest(t *testing.T) {
	for _, orderID := range []string{"1969106", ""} {
		c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			want := mapi.StatusControl("merchantlogin", "902B4FF5", orderID, docKey)
			if r.PostForm.Get("control") != want || r.PostForm.Get("login") != "merchantlogin" || r.PostForm.Get("orderid") != orderID ||
				r.Header.Get("Authorization") != "" || r.URL.Path != "/paynet/api/v2/status/1234" {
				t.Errorf("status request %s %v (auth %q)", r.URL.Path, r.PostForm, r.Header.Get("Authorization"))
			}
			respond("type", "status-response", "status", "approved", "amount", "10.42", "paynet-order-id", "1969106",
				"merchant-order-id", "902B4FF5", "approval-code", "242805", "processor-rrn", "510321889824",
				"last-four-digits", "1111", "card-type", "VISA", "cardholder-name", "TEST HOLDER", "order-stage", "sale_approved")(w, r)
		})
		st, err := c.Status(context.Background(), mapi.StatusRequest{ClientOrderID: "902B4FF5", OrderID: orderID})
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != mapi.StatusApproved || st.Amount != 1042 || st.OrderID != "1969106" || st.ApprovalCode != "242805" ||
			st.ProcessorRRN != "510321889824" || st.LastFour != "1111" || st.CardholderName != "TEST HOLDER" || st.OrderStage != "sale_approved" {
			t.Errorf("Status = %+v", st)
		}
	}
}

func TestCloseDayParsesResponseWithoutType(t *testing.T) {
	c, _ := newClient(t, respond("status", "finished", "gateId", "101", "isDayClosing", "false", "gateCloseDate", "2024-01-15",
		"epntId", "1234", "saleApprovedCount", "3", "saleAmount", "31.26", "reversalApprovedCount", "0", "reversalAmount", "0.00",
		"code39", "00", "RRN", "000042", "theRequestSerialNumber", "sn-9"))
	r, err := c.CloseDay(context.Background(), mapi.CloseDayRequest{RequestID: "CD20240115A1", Totals: &mapi.CloseDayTotals{SaleCount: 3, SaleSum: 3126}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "finished" || r.IsDayClosing || r.SaleApprovedCount != 3 || r.SaleAmount != 3126 || r.Code39 != "00" || r.RRN != "000042" || r.GateID != "101" {
		t.Errorf("CloseDay = %+v", r)
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name    string
		h       http.HandlerFunc
		opts    []mapi.Option
		unknown bool
		check   func(error) bool
	}{
		{"403", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "forbidden", 403) }, nil, false,
			func(err error) bool { return errors.Is(err, mapi.ErrForbidden) }},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, nil, true,
			func(err error) bool { var te *mapi.TransportError; return errors.As(err, &te) && te.StatusCode == 500 }},
		{"502", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }, nil, true,
			func(err error) bool { var te *mapi.TransportError; return errors.As(err, &te) && te.StatusCode == 502 }},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(304) }, nil, true, nil},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			// Reading the body lets the server notice the client hanging up.
			r.ParseForm()
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}, []mapi.Option{mapi.WithTimeouts(100*time.Millisecond, 100*time.Millisecond)}, true,
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"garbage body", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("%zz<html>")) }, nil, true, nil},
		{"empty body", func(w http.ResponseWriter, r *http.Request) {}, nil, true, nil},
		{"unexpected type", respond("type", "status-response", "status", "approved"), nil, true, nil},
		{"async response without order id", respond("type", "async-response"), nil, true, nil},
		{"validation error", respond("type", "validation-error", "serial-number", "s", "merchant-order-id", "P1", "error-message", "Unknown device serial number: X", "error-code", "6"), nil, false,
			func(err error) bool {
				var ve *mapi.ValidationError
				return errors.As(err, &ve) && ve.Code == "6" && ve.Message == "Unknown device serial number: X" && ve.MerchantOrderID == "P1"
			}},
		{"gateway error", respond("type", "error", "error-message", "gate is closing", "error-code", "9"), nil, false,
			func(err error) bool { var ge *mapi.GatewayError; return errors.As(err, &ge) && ge.Code == "9" }},
	}
	for _, tt := range tests {
		c, _ := newClient(t, tt.h, tt.opts...)
		_, err := c.Sale(context.Background(), saleReq)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if got := mapi.IsUnknownOutcome(err); got != tt.unknown {
			t.Errorf("%s: IsUnknownOutcome(%v) = %v, want %v", tt.name, err, got, tt.unknown)
		}
		if tt.check != nil && !tt.check(err) {
			t.Errorf("%s: unexpected error %#v", tt.name, err)
		}
		if strings.Contains(err.Error(), docKey) || strings.Contains(err.Error(), saleReq.EncryptedData) {
			t.Errorf("%s: error message leaks a secret: %v", tt.name, err)
		}
	}
}

func TestConnectionRefusedIsUnknownOutcome(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := mapi.NewClient(mapi.Endpoint{BaseURL: "http://" + addr, EndpointID: "1", Login: "l", ControlKey: "k"}, nil)
	_, err = c.Status(context.Background(), mapi.StatusRequest{ClientOrderID: "P1"})
	if !mapi.IsUnknownOutcome(err) {
		t.Errorf("connection refused: %v, want an unknown outcome", err)
	}
}

func TestCallerDeadlineWins(t *testing.T) {
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Sale(ctx, saleReq)
	if !mapi.IsUnknownOutcome(err) || time.Since(start) > 5*time.Second {
		t.Errorf("Sale with a 50ms caller deadline: %v after %s", err, time.Since(start))
	}
}
