package sandbox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
)

// approved takes a sale or preauth of amount to its final status, which must be want; change
// edits the request first (callback URL, merchant_data).
func (e *env) approved(kind string, amount mapi.Amount, want mapi.Status, change func(*mapi.OrderRequest)) (mapi.OrderRequest, *mapi.OrderResponse) {
	e.t.Helper()
	req := e.request(amount, "visa")
	if change != nil {
		change(&req)
	}
	call := e.client.Sale
	if kind == "preauth" {
		call = e.client.Preauth
	}
	resp, err := call(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	if st := e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}); st.Status != want {
		e.t.Fatalf("%s of %d: %s, want %s", kind, amount, st.Status, want)
	}
	return req, resp
}

// money is a capture or return of amount on the order of resp.
func money(resp *mapi.OrderResponse, amount mapi.Amount, comment string) mapi.MoneyRequest {
	return mapi.MoneyRequest{ClientOrderID: resp.MerchantOrderID, OrderID: resp.OrderID, Amount: amount, Currency: "EUR", Comment: comment}
}

// opFinal polls the status of one capture or return by its serial-number until it is final.
func (e *env) opFinal(resp *mapi.OrderResponse, serial string) *mapi.StatusResponse {
	e.t.Helper()
	return e.waitFinal(mapi.StatusRequest{ClientOrderID: resp.MerchantOrderID, OrderID: resp.OrderID, ByRequestSN: serial})
}

// mustMoney runs a capture or return that must be accepted and reach want.
func (e *env) mustMoney(call func(context.Context, mapi.MoneyRequest) (*mapi.OrderResponse, error), r mapi.MoneyRequest, want mapi.Status) (*mapi.OrderResponse, *mapi.StatusResponse) {
	e.t.Helper()
	got, err := call(context.Background(), r)
	if err != nil {
		e.t.Fatalf("%+v: %v", r, err)
	}
	st := e.waitFinal(mapi.StatusRequest{ClientOrderID: r.ClientOrderID, OrderID: r.OrderID, ByRequestSN: got.SerialNumber})
	if st.Status != want {
		e.t.Fatalf("%+v: %s (%s), want %s", r, st.Status, st.ErrorMessage, want)
	}
	return got, st
}

func TestCaptureFull(t *testing.T) {
	e := start(t, fastConfig(t))
	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	capResp, st := e.mustMoney(e.client.Capture, money(pre, 1000, ""), mapi.StatusApproved)
	if capResp.SerialNumber == pre.SerialNumber || capResp.OrderID != pre.OrderID || capResp.MerchantOrderID != pre.MerchantOrderID ||
		capResp.EndpointID != pre.EndpointID {
		t.Errorf("capture answer %+v for preauth %+v: want the same order with a new serial-number", capResp, pre)
	}
	if st.TransactionType != "capture" || st.OrderStage != "capture_approved" || st.Amount != 1000 || len(st.ApprovalCode) != 6 ||
		len(st.ProcessorRRN) != 12 || st.ByRequestSN != capResp.SerialNumber || st.LastFour != "1111" || st.Currency != "EUR" {
		t.Errorf("status of the capture = %+v", st)
	}
	ops := e.gw.Operations(pre.MerchantOrderID)
	if len(ops) != 1 || ops[0].Kind != "capture" || ops[0].SerialNumber != capResp.SerialNumber || ops[0].Status != "approved" ||
		ops[0].Stage != "capture_approved" || ops[0].AmountMinor != 1000 || ops[0].ApprovalCode != st.ApprovalCode || ops[0].CloseID != nil {
		t.Errorf("Operations = %+v", ops)
	}
	if o, _ := e.gw.Order(pre.MerchantOrderID); o.Status != "approved" || o.Stage != "preauth_approved" {
		t.Errorf("the preauth itself changed: %+v", o)
	}
}

func TestPartialCaptureThenSecondRefused(t *testing.T) {
	e := start(t, fastConfig(t))
	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	e.mustMoney(e.client.Capture, money(pre, 600, ""), mapi.StatusApproved)
	if _, err := e.client.Capture(context.Background(), money(pre, 400, "")); validationCode(err) != "11" {
		t.Errorf("second capture of the rest: %v, want code 11", err)
	}
	// A declined capture never happened: the preauth can still be captured.
	_, pre2 := e.approved("preauth", 2000, mapi.StatusApproved, nil)
	_, st := e.mustMoney(e.client.Capture, money(pre2, 1051, ""), mapi.StatusDeclined)
	if st.OrderStage != "capture_declined" || st.ErrorCode != "51" || st.ApprovalCode != "" {
		t.Errorf("declined capture = %+v", st)
	}
	e.mustMoney(e.client.Capture, money(pre2, 1500, ""), mapi.StatusApproved)
}

func TestCaptureRefusals(t *testing.T) {
	e := start(t, fastConfig(t))
	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, nil)
	_, declined := e.approved("preauth", 1051, mapi.StatusDeclined, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		r    mapi.MoneyRequest
		code string
	}{
		{"more than the preauth", money(pre, 1001, ""), "12"},
		{"a sale", money(sale, 500, ""), "11"},
		{"a declined preauth", money(declined, 1051, ""), "11"},
	} {
		_, err := e.client.Capture(ctx, tt.r)
		if validationCode(err) != tt.code {
			t.Errorf("capture of %s: %v, want code %s", tt.name, err, tt.code)
		}
		if ve := validationErr(err); ve != nil && (ve.OrderID != tt.r.OrderID || !strings.HasPrefix(ve.Message, prefixFor(tt.code))) {
			t.Errorf("capture of %s: refusal %+v", tt.name, ve)
		}
	}
	if ops := e.gw.Operations(pre.MerchantOrderID); len(ops) != 0 {
		t.Errorf("refused captures created operations: %+v", ops)
	}
}

func TestReleaseOfUncapturedPreauth(t *testing.T) {
	e := start(t, fastConfig(t))
	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	ctx := context.Background()
	if _, err := e.client.Return(ctx, money(pre, 400, "partial release")); validationCode(err) != "12" {
		t.Errorf("release of part of the preauth: %v, want code 12", err)
	}
	_, st := e.mustMoney(e.client.Return, money(pre, 1000, "customer cancelled"), mapi.StatusApproved)
	if st.TransactionType != "reversal" || st.OrderStage != "reversal_approved" || st.Amount != 1000 {
		t.Errorf("release = %+v", st)
	}
	if _, err := e.client.Capture(ctx, money(pre, 1000, "")); validationCode(err) != "11" {
		t.Errorf("capture after the release: %v, want code 11", err)
	}
	if _, err := e.client.Return(ctx, money(pre, 1000, "again")); validationCode(err) != "11" {
		t.Errorf("second release: %v, want code 11", err)
	}
}

func TestRefundsOfASale(t *testing.T) {
	e := start(t, fastConfig(t))
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, nil)
	first, _ := e.mustMoney(e.client.Return, money(sale, 300, "one item back"), mapi.StatusApproved)
	second, _ := e.mustMoney(e.client.Return, money(sale, 500, "second item back"), mapi.StatusApproved)
	if first.SerialNumber == second.SerialNumber {
		t.Errorf("two refunds share serial %s", first.SerialNumber)
	}
	ctx := context.Background()
	_, err := e.client.Return(ctx, money(sale, 201, "too much"))
	if validationCode(err) != "12" {
		t.Errorf("refund beyond the sale: %v, want code 12", err)
	}
	if ve := validationErr(err); ve == nil || ve.Message != "Amount exceeds what remains: return of 2.01 is more than the 2.00 left of 10.00" {
		t.Errorf("refusal message %+v", ve)
	}
	// A declined refund does not use up the sale.
	e.mustMoney(e.client.Return, money(sale, 151, "declined one"), mapi.StatusDeclined)
	e.mustMoney(e.client.Return, money(sale, 200, "the rest"), mapi.StatusApproved)
	if _, err := e.client.Return(ctx, money(sale, 1, "nothing left")); validationCode(err) != "12" {
		t.Errorf("refund of a fully refunded sale: %v, want code 12", err)
	}
	if ops := e.gw.Operations(sale.MerchantOrderID); len(ops) != 4 {
		t.Errorf("%d operations, want 4 (three approved refunds, one declined)", len(ops))
	}
	// A captured preauth is refunded within the captured amount.
	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	e.mustMoney(e.client.Capture, money(pre, 700, ""), mapi.StatusApproved)
	if _, err := e.client.Return(ctx, money(pre, 701, "more than captured")); validationCode(err) != "12" {
		t.Errorf("refund beyond the captured amount: %v, want code 12", err)
	}
	e.mustMoney(e.client.Return, money(pre, 700, "all of it"), mapi.StatusApproved)
}

func TestReturnRefusals(t *testing.T) {
	e := start(t, fastConfig(t))
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, nil)
	_, declined := e.approved("sale", 1051, mapi.StatusDeclined, nil)
	m := e.gw.Merchant()
	wrongKey := mapi.NewClient(mapi.Endpoint{BaseURL: e.srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: "wrong"}, nil)
	wrongLogin := mapi.NewClient(mapi.Endpoint{BaseURL: e.srv.URL, EndpointID: m.EndpointID, Login: "other", ControlKey: m.ControlKey}, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"declined sale", func() error { _, err := e.client.Return(ctx, money(declined, 1051, "x")); return err }, "11"},
		{"bad control", func() error { _, err := wrongKey.Return(ctx, money(sale, 100, "x")); return err }, "4"},
		{"other login", func() error { _, err := wrongLogin.Capture(ctx, money(sale, 100, "")); return err }, "4"},
		{"unknown orderid", func() error {
			r := money(sale, 100, "x")
			r.OrderID = "1"
			_, err := e.client.Return(ctx, r)
			return err
		}, "8"},
		{"orderid of another order", func() error {
			r := money(sale, 100, "x")
			r.OrderID = declined.OrderID
			_, err := e.client.Return(ctx, r)
			return err
		}, "8"},
		{"other currency", func() error {
			r := money(sale, 100, "x")
			r.Currency = "USD"
			_, err := e.client.Return(ctx, r)
			return err
		}, "5"},
		{"no comment", func() error { _, err := e.client.Return(ctx, money(sale, 100, "")); return err }, "2"},
		{"comment over 50", func() error {
			_, err := e.client.Return(ctx, money(sale, 100, strings.Repeat("é", 51)))
			return err
		}, "3"},
		{"zero amount", func() error { _, err := e.client.Return(ctx, money(sale, 0, "x")); return err }, "3"},
	}
	for _, tt := range tests {
		if got := validationCode(tt.call()); got != tt.code {
			t.Errorf("%s: code %s, want %s", tt.name, got, tt.code)
		}
	}
	if _, err := e.client.Return(ctx, money(sale, 100, strings.Repeat("é", 50))); err != nil {
		t.Errorf("a comment of 50 characters: %v", err)
	}
	// Fields a client library would never leave out.
	base := url.Values{"login": {m.Login}, "client_orderid": {sale.MerchantOrderID}, "orderid": {sale.OrderID},
		"amount": {"1.00"}, "currency": {"EUR"}, "comment": {"x"}}
	base.Set("control", mapi.MoneyControl(m.Login, sale.MerchantOrderID, sale.OrderID, 100, "EUR", m.ControlKey))
	for _, tt := range []struct {
		path, drop, set, value, code string
	}{
		{"capture", "amount", "", "", "2"},
		{"capture", "currency", "", "", "2"},
		{"return", "control", "", "", "2"},
		{"return", "login", "", "", "2"},
		{"return", "orderid", "", "", "2"},
		{"return", "", "amount", "1,00", "3"},
		{"return", "", "amount", "-1.00", "3"},
		{"return", "", "currency", "EURO", "3"},
	} {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		f.Del(tt.drop)
		if tt.set != "" {
			f.Set(tt.set, tt.value)
		}
		v := e.post("/paynet/api/v2/"+tt.path+"/"+m.EndpointID, f)
		if v.Get("type") != "validation-error" || v.Get("error-code") != tt.code {
			t.Errorf("%s without %q / %s=%q: %v, want validation-error %s", tt.path, tt.drop, tt.set, tt.value, v, tt.code)
		}
	}
}

func TestMoneyDuringCloseGetsGateLocked(t *testing.T) {
	cfg := fastConfig(t)
	cfg.CloseDuration = 400 * time.Millisecond
	e := start(t, cfg)
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, nil)
	if _, err := e.client.CloseDay(context.Background(), mapi.CloseDayRequest{RequestID: "CDMONEY001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Return(context.Background(), money(sale, 100, "x")); validationCode(err) != "error:9" {
		t.Errorf("return while the gate closes: %v, want error 9", err)
	}
	time.Sleep(450 * time.Millisecond)
	e.mustMoney(e.client.Return, money(sale, 100, "x"), mapi.StatusApproved)
}

// TestMoneyWhileProcessing runs with a slow gateway, so operations are still processing when
// the next request comes.
func TestMoneyWhileProcessing(t *testing.T) {
	cfg := fastConfig(t)
	cfg.ProcessingDelay = 400 * time.Millisecond
	e := start(t, cfg)
	ctx := context.Background()
	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, nil)

	capture, err := e.client.Capture(ctx, money(pre, 800, ""))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.client.Capture(ctx, money(pre, 800, ""))
	if err != nil || again.SerialNumber != capture.SerialNumber {
		t.Errorf("identical capture while processing = %+v, %v; want the first's serial %s", again, err, capture.SerialNumber)
	}
	if _, err := e.client.Capture(ctx, money(pre, 700, "")); validationCode(err) != "11" {
		t.Errorf("other capture while one is processing: %v, want code 11", err)
	}
	if _, err := e.client.Return(ctx, money(pre, 100, "x")); validationCode(err) != "11" {
		t.Errorf("refund while the capture is processing: %v, want code 11", err)
	}

	// Concurrent twins make one refund.
	serials := make([]string, 6)
	var wg sync.WaitGroup
	for i := range serials {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.client.Return(ctx, money(sale, 300, "twin"))
			if err != nil {
				t.Error(err)
				return
			}
			serials[i] = r.SerialNumber
		}()
	}
	wg.Wait()
	for _, s := range serials {
		if s != serials[0] {
			t.Fatalf("concurrent identical returns answered serials %v", serials)
		}
	}
	if ops := e.gw.Operations(sale.MerchantOrderID); len(ops) != 1 {
		t.Fatalf("concurrent identical returns made %d operations", len(ops))
	}
	e.opFinal(sale, serials[0])
	// Once final, the same request is a new refund.
	next, err := e.client.Return(ctx, money(sale, 300, "twin"))
	if err != nil || next.SerialNumber == serials[0] {
		t.Fatalf("the same return after the first is final = %+v, %v; want a new serial", next, err)
	}
	if ops := e.gw.Operations(sale.MerchantOrderID); len(ops) != 2 || ops[1].SerialNumber != next.SerialNumber {
		t.Errorf("operations after the second refund = %+v", ops)
	}
	e.opFinal(pre, capture.SerialNumber)
}

func TestMoney5xxAfterCreateThenStatus(t *testing.T) {
	cfg := fastConfig(t)
	cfg.ProcessingDelay = 400 * time.Millisecond
	e := start(t, cfg)
	ctx := context.Background()
	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	e.gw.SetFaults(sandbox.Faults{Money5xxAfterCreate: 1})
	_, err := e.client.Capture(ctx, money(pre, 1000, ""))
	if !mapi.IsUnknownOutcome(err) || httpStatus(err) != http.StatusBadGateway {
		t.Fatalf("capture = %v, want HTTP 502", err)
	}
	ops := e.gw.Operations(pre.MerchantOrderID)
	if len(ops) != 1 || ops[0].Status != "processing" {
		t.Fatalf("operations after the 502 = %+v, want the capture processing", ops)
	}
	// Ask first: the latest transaction is the capture, and the answer names its serial.
	st, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: pre.MerchantOrderID, OrderID: pre.OrderID})
	if err != nil || st.TransactionType != "capture" || st.Status != mapi.StatusProcessing || st.ByRequestSN != ops[0].SerialNumber {
		t.Errorf("status after the 502 = %+v, %v", st, err)
	}
	// The resend while it processes is a replay of it (the fault is used up).
	again, err := e.client.Capture(ctx, money(pre, 1000, ""))
	if err != nil || again.SerialNumber != ops[0].SerialNumber {
		t.Errorf("resend = %+v, %v; want serial %s", again, err, ops[0].SerialNumber)
	}
	if st := e.opFinal(pre, again.SerialNumber); st.Status != mapi.StatusApproved {
		t.Errorf("capture final = %+v", st)
	}
}

func TestFaultsAdminAPICarriesMoney5xx(t *testing.T) {
	e := start(t, fastConfig(t))
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/sandbox/api/faults", strings.NewReader(`{"Money5xxAfterCreate": 2}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var f sandbox.Faults
	getJSON(t, e.srv.URL+"/sandbox/api/faults", &f)
	if resp.StatusCode != http.StatusOK || f.Money5xxAfterCreate != 2 {
		t.Errorf("PUT faults %d, then GET = %+v", resp.StatusCode, f)
	}
}

func validationErr(err error) *mapi.ValidationError {
	var ve *mapi.ValidationError
	errors.As(err, &ve)
	return ve
}

func prefixFor(code string) string {
	return map[string]string{"11": "Operation not allowed in the order's state: ", "12": "Amount exceeds what remains: "}[code]
}

// post sends a raw form to the gateway and parses the answer.
func (e *env) post(path string, f url.Values) url.Values {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+path, f)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := mapi.ParseResponse(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}
