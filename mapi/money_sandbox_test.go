package mapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
)

// sandboxClient starts the embedded sandbox gateway on a loopback port and returns a client
// for its merchant and a function that takes an order of amount to its final status.
func sandboxClient(t *testing.T) (*mapi.Client, *sandbox.Gateway, func(kind string, amount mapi.Amount) *mapi.OrderResponse) {
	t.Helper()
	return sandboxClientIn(t, "EUR")
}

// sandboxClientIn is sandboxClient for a merchant in currency.
func sandboxClientIn(t *testing.T, currency string) (*mapi.Client, *sandbox.Gateway, func(kind string, amount mapi.Amount) *mapi.OrderResponse) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	gw, err := sandbox.Open(sandbox.Config{Path: filepath.Join(t.TempDir(), "sandbox.db"), PublicURL: "http://" + srv.Listener.Addr().String(),
		ProcessingDelay: 20 * time.Millisecond, Currency: currency})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close(); gw.Close() })
	m := gw.Merchant()
	c := mapi.NewClient(mapi.Endpoint{BaseURL: srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: m.ControlKey, Currency: currency}, nil)
	tr := gw.TestReaders()[0]
	reader := virtual.New(tr.Serial, "1", tr.IPEK(), tr.IKSN)
	card, _ := virtual.CardByID("visa")
	n := 0
	order := func(kind string, amount mapi.Amount) *mapi.OrderResponse {
		t.Helper()
		read, err := reader.Read(card, virtual.Chip)
		if err != nil {
			t.Fatal(err)
		}
		n++
		req := mapi.OrderRequest{ClientOrderID: "M" + time.Now().Format("150405.000000") + string(rune('A'+n%26)), Description: "test",
			Amount: amount, Currency: currency, Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV",
			Email: "shop@example.com", DeviceSerial: tr.Serial, KSN: read.KSN, EncryptedData: read.EncryptedData, EncryptedType: read.EncryptedType}
		call := c.Sale
		if kind == "preauth" {
			call = c.Preauth
		}
		resp, err := call(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		waitFinalStatus(t, c, mapi.StatusRequest{ClientOrderID: resp.MerchantOrderID, OrderID: resp.OrderID})
		return resp
	}
	return c, gw, order
}

func waitFinalStatus(t *testing.T, c *mapi.Client, r mapi.StatusRequest) *mapi.StatusResponse {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := c.Status(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status.Final() {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%+v still %s", r, st.Status)
		}
	}
}

func moneyOf(o *mapi.OrderResponse, amount mapi.Amount, comment string) mapi.MoneyRequest {
	return mapi.MoneyRequest{ClientOrderID: o.MerchantOrderID, OrderID: o.OrderID, Amount: amount, Currency: "EUR", Comment: comment}
}

func TestCaptureAndReturnAgainstTheSandbox(t *testing.T) {
	c, gw, order := sandboxClient(t)
	ctx := context.Background()
	final := func(o *mapi.OrderResponse, serial string) *mapi.StatusResponse {
		t.Helper()
		return waitFinalStatus(t, c, mapi.StatusRequest{ClientOrderID: o.MerchantOrderID, OrderID: o.OrderID, ByRequestSN: serial})
	}
	code := func(err error) string {
		var ve *mapi.ValidationError
		if errors.As(err, &ve) {
			return ve.Code
		}
		return "not a validation error: " + errString(err)
	}

	full := order("preauth", 1000)
	capture, err := c.Capture(ctx, moneyOf(full, 1000, ""))
	if err != nil || capture.OrderID != full.OrderID || capture.SerialNumber == full.SerialNumber {
		t.Fatalf("full capture = %+v, %v", capture, err)
	}
	if st := final(full, capture.SerialNumber); st.Status != mapi.StatusApproved || st.TransactionType != "capture" || st.Amount != 1000 {
		t.Errorf("full capture's status = %+v", st)
	}

	partial := order("preauth", 1000)
	capture, err = c.Capture(ctx, moneyOf(partial, 400, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st := final(partial, capture.SerialNumber); st.Status != mapi.StatusApproved || st.Amount != 400 || st.OrderStage != "capture_approved" {
		t.Errorf("partial capture's status = %+v", st)
	}
	if _, err := c.Capture(ctx, moneyOf(partial, 600, "")); code(err) != "11" {
		t.Errorf("second capture: %v, want validation error 11", err)
	}
	if _, err := c.Return(ctx, moneyOf(partial, 401, "too much")); code(err) != "12" {
		t.Errorf("refund over the captured amount: %v, want validation error 12", err)
	}
	refund, err := c.Return(ctx, moneyOf(partial, 400, "goods back"))
	if err != nil {
		t.Fatal(err)
	}
	if st := final(partial, refund.SerialNumber); st.Status != mapi.StatusApproved || st.TransactionType != "reversal" || st.Amount != 400 {
		t.Errorf("refund's status = %+v", st)
	}

	m := gw.Merchant()
	wrong := mapi.NewClient(mapi.Endpoint{BaseURL: c.Endpoint().BaseURL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: "wrong"}, nil)
	if _, err := wrong.Return(ctx, moneyOf(full, 100, "x")); code(err) != "4" {
		t.Errorf("bad control: %v, want validation error 4", err)
	}

	gw.SetFaults(sandbox.Faults{Money5xxAfterCreate: 1})
	sale := order("sale", 1000)
	_, err = c.Return(ctx, moneyOf(sale, 100, "lost answer"))
	var te *mapi.TransportError
	if !errors.As(err, &te) || te.StatusCode != http.StatusBadGateway || te.Op != "return" || !mapi.IsUnknownOutcome(err) {
		t.Fatalf("return answered 502: %#v, want a *TransportError", err)
	}
	// The rule: ask first. The order's latest transaction is the return the 502 hid.
	st := waitFinalStatus(t, c, mapi.StatusRequest{ClientOrderID: sale.MerchantOrderID, OrderID: sale.OrderID})
	if st.TransactionType != "reversal" || st.Amount != 100 || st.ByRequestSN == "" || st.ByRequestSN == sale.SerialNumber {
		t.Errorf("status after the 502 = %+v", st)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// Amounts travel in each currency's own decimals (ISO 4217): none for the yen, three for the
// Kuwaiti dinar. Sales, status answers, partial captures and Close Day's sums all agree.
func TestCurrenciesWithoutAndWithThreeDecimals(t *testing.T) {
	for _, tt := range []struct {
		currency      string
		sale, preauth mapi.Amount
		capture       mapi.Amount
		wantSum, wire string
	}{
		{"JPY", 1200, 5000, 3000, "4200", "1200"},
		{"KWD", 10420, 5000, 3000, "13.420", "10.420"},
	} {
		t.Run(tt.currency, func(t *testing.T) {
			c, gw, order := sandboxClientIn(t, tt.currency)
			ctx := context.Background()
			sale := order("sale", tt.sale)
			st := waitFinalStatus(t, c, mapi.StatusRequest{ClientOrderID: sale.MerchantOrderID, OrderID: sale.OrderID})
			if st.Status != mapi.StatusApproved || st.Amount != tt.sale || st.Currency != tt.currency || st.Raw.Get("amount") != tt.wire {
				t.Fatalf("sale status = %s %d %s (wire %q), want approved %d %s (%q)", st.Status, st.Amount, st.Currency, st.Raw.Get("amount"), tt.sale, tt.currency, tt.wire)
			}
			pre := order("preauth", tt.preauth)
			capture, err := c.Capture(ctx, mapi.MoneyRequest{ClientOrderID: pre.MerchantOrderID, OrderID: pre.OrderID, Amount: tt.capture, Currency: tt.currency})
			if err != nil {
				t.Fatal(err)
			}
			if st := waitFinalStatus(t, c, mapi.StatusRequest{ClientOrderID: pre.MerchantOrderID, OrderID: pre.OrderID, ByRequestSN: capture.SerialNumber}); st.Status != mapi.StatusApproved || st.Amount != tt.capture {
				t.Fatalf("capture status = %s %d, want approved %d", st.Status, st.Amount, tt.capture)
			}
			// A capture in another currency's decimals is another amount, and refused as more
			// than the hold.
			if _, err := c.Capture(ctx, mapi.MoneyRequest{ClientOrderID: pre.MerchantOrderID, OrderID: pre.OrderID, Amount: tt.preauth * 1000, Currency: tt.currency}); err == nil {
				t.Error("a second, larger capture was accepted")
			}
			// Close Day: our sums go out and the gateway's come back in the currency's decimals.
			resp, err := c.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CUR" + tt.currency + "00001",
				Totals: &mapi.CloseDayTotals{SaleCount: 2, SaleSum: tt.sale + tt.capture}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.SaleAmount != tt.sale+tt.capture || resp.Raw.Get("saleAmount") != tt.wantSum || resp.Code39 != "00" {
				t.Errorf("close = %d (wire %q), code39 %s; want %d (%q), 00", resp.SaleAmount, resp.Raw.Get("saleAmount"), resp.Code39, tt.sale+tt.capture, tt.wantSum)
			}
			if ledger, err := gw.Ledger(); err != nil || len(ledger) != 2 || ledger[0].AmountMinor != int64(tt.sale) {
				t.Errorf("the sandbox's ledger: %+v, %v", ledger, err)
			}
		})
	}
}
