package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
)

func validationCode(err error) string {
	var ve *mapi.ValidationError
	if errors.As(err, &ve) {
		return ve.Code
	}
	var ge *mapi.GatewayError
	if errors.As(err, &ge) {
		return "error:" + ge.Code
	}
	return "not a gateway answer: " + errorString(err)
}

func errorString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestSaleValidationErrors(t *testing.T) {
	e := start(t, fastConfig(t))
	other := e.gw.TestReaders()[1]
	otherReader := virtual.New(other.Serial, "1", other.IPEK(), other.IKSN)
	visa, _ := virtual.CardByID("visa")
	tests := []struct {
		name   string
		change func(r *mapi.OrderRequest)
		code   string
	}{
		{"missing email", func(r *mapi.OrderRequest) { r.Email = "" }, "2"},
		{"missing device serial", func(r *mapi.OrderRequest) { r.DeviceSerial = "" }, "2"},
		{"missing card data", func(r *mapi.OrderRequest) { r.EncryptedData = "" }, "2"},
		{"zero amount", func(r *mapi.OrderRequest) { r.Amount = 0 }, "3"},
		{"bad currency", func(r *mapi.OrderRequest) { r.Currency = "EURO" }, "3"},
		{"bad country", func(r *mapi.OrderRequest) { r.Country = "LVA" }, "3"},
		{"bad ksn", func(r *mapi.OrderRequest) { r.KSN = "XYZ" }, "3"},
		{"other scheme", func(r *mapi.OrderRequest) { r.EncryptedType = "aes" }, "3"},
		{"callback port", func(r *mapi.OrderRequest) { r.ServerCallbackURL = "http://127.0.0.1:9999/cb" }, ""}, // allowed in this config
		{"currency of another endpoint", func(r *mapi.OrderRequest) { r.Currency = "USD" }, "5"},
		{"unknown serial", func(r *mapi.OrderRequest) { r.DeviceSerial = "SBX-9999" }, "6"},
		{"garbage card data", func(r *mapi.OrderRequest) { r.EncryptedData = strings.Repeat("AB", 16) }, "6"},
		{"odd-length card data", func(r *mapi.OrderRequest) { r.EncryptedData = r.EncryptedData[:len(r.EncryptedData)-2] }, "6"},
		{"read of another reader (wrong KSN)", func(r *mapi.OrderRequest) {
			read, _ := otherReader.Read(visa, virtual.Chip)
			r.KSN, r.EncryptedData = read.KSN, read.EncryptedData
		}, "6"},
		{"KSN of this reader, data of another", func(r *mapi.OrderRequest) {
			read, _ := otherReader.Read(visa, virtual.Chip)
			r.EncryptedData = read.EncryptedData
		}, "6"},
	}
	for _, tt := range tests {
		req := e.request(1000, "visa")
		tt.change(&req)
		_, err := e.client.Sale(context.Background(), req)
		if tt.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if got := validationCode(err); got != tt.code {
			t.Errorf("%s: code %s, want %s", tt.name, got, tt.code)
		}
		if err != nil && strings.Contains(err.Error(), "4111111111111111") {
			t.Errorf("%s: error carries the card number", tt.name)
		}
	}
	strict := fastConfig(t)
	strict.AnyCallbackPort = false
	s := start(t, strict)
	req := s.request(1000, "visa")
	req.ServerCallbackURL = "http://127.0.0.1:9999/cb"
	if _, err := s.client.Sale(context.Background(), req); validationCode(err) != "3" {
		t.Errorf("callback on port 9999: %v, want code 3", err)
	}
	req = s.request(1000, "visa")
	req.ServerCallbackURL = "https://shop.example:8443/cb"
	if _, err := s.client.Sale(context.Background(), req); err != nil {
		t.Errorf("callback on port 8443: %v", err)
	}
}

func TestIdempotentReplay(t *testing.T) {
	e := start(t, fastConfig(t))
	req := e.request(1000, "visa")
	first, err := e.client.Sale(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.client.Sale(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if again.OrderID != first.OrderID || again.SerialNumber == first.SerialNumber {
		t.Errorf("replay = %+v, first = %+v: want the same order with a new serial-number", again, first)
	}
	changed := req
	changed.Amount = 2000
	if _, err := e.client.Sale(context.Background(), changed); validationCode(err) != "7" {
		t.Errorf("same client_orderid, other amount: %v, want code 7", err)
	}
	// Preauth with the same id and data is different data too (another command).
	if _, err := e.client.Preauth(context.Background(), req); validationCode(err) != "7" {
		t.Errorf("same client_orderid as a preauth: %v, want code 7", err)
	}
}

func TestStatusLookups(t *testing.T) {
	e := start(t, fastConfig(t))
	req := e.request(1000, "visa")
	resp, err := e.client.Sale(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	st := e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID}) // no orderid
	if st.OrderID != resp.OrderID || st.Status != mapi.StatusApproved {
		t.Errorf("status by client_orderid alone = %+v", st)
	}
	byReq, err := e.client.Status(context.Background(), mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID, ByRequestSN: resp.SerialNumber})
	if err != nil || byReq.Status != mapi.StatusApproved || byReq.OrderStage != "sale_approved" || byReq.ApprovalCode == "" {
		t.Errorf("status by-request-sn of the sale = %+v, %v; want the sale as it stands now", byReq, err)
	}
	m := e.gw.Merchant()
	wrong := mapi.NewClient(mapi.Endpoint{BaseURL: e.srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: "wrong"}, nil)
	if _, err := wrong.Status(context.Background(), mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}); validationCode(err) != "4" {
		t.Errorf("bad control: %v, want code 4", err)
	}
	if _, err := e.client.Status(context.Background(), mapi.StatusRequest{ClientOrderID: "NOPE"}); validationCode(err) != "8" {
		t.Errorf("unknown order: %v, want code 8", err)
	}
	if _, err := e.client.Status(context.Background(), mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: "1"}); validationCode(err) != "8" {
		t.Errorf("order id of another order: %v, want code 8", err)
	}
}

func TestCallbackRetriedUntil200(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t, 500, 500) // fails twice, then 200
	if err := e.gw.SetCallbackURL(e.gw.Merchant().EndpointID, rcv.srv.URL+"/cb"); err != nil {
		t.Fatal(err)
	}
	req := e.request(1051, "visa")
	resp, err := e.client.Sale(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three attempts", func() bool { return len(rcv.calls()) == 3 })
	time.Sleep(150 * time.Millisecond) // more attempts would come within the compressed schedule
	calls := rcv.calls()
	if len(calls) != 3 {
		t.Fatalf("%d attempts, want 3 (two 500s, then 200)", len(calls))
	}
	for _, q := range calls {
		cb, err := mapi.VerifyCallback(q, e.gw.Merchant().ControlKey)
		if err != nil || cb.Status != mapi.StatusDeclined || cb.OrderID != resp.OrderID || cb.ErrorCode != "51" {
			t.Errorf("attempt %v: %+v, %v", q, cb, err)
		}
	}
	var log []struct {
		Delivered  bool
		Attempts   int
		AttemptLog []struct{ Code int } `json:"attempt_log"`
	}
	getJSON(t, e.srv.URL+"/sandbox/api/callbacks?orderid="+resp.OrderID, &log)
	if len(log) != 1 || !log[0].Delivered || log[0].Attempts != 3 || len(log[0].AttemptLog) != 3 ||
		log[0].AttemptLog[0].Code != 500 || log[0].AttemptLog[2].Code != 200 {
		t.Errorf("delivery log = %+v", log)
	}
}

func TestCallbacksOff(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t)
	e.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	req := e.request(1000, "visa")
	req.ServerCallbackURL = rcv.srv.URL
	resp, err := e.client.Sale(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID})
	time.Sleep(100 * time.Millisecond)
	if n := len(rcv.calls()); n != 0 {
		t.Errorf("%d callbacks sent with callbacks off", n)
	}
}

func TestSync5xxAfterCreateThenStatusByClientOrderID(t *testing.T) {
	e := start(t, fastConfig(t))
	e.gw.SetFaults(sandbox.Faults{Sync5xxAfterCreate: 1})
	req := e.request(1000, "visa")
	_, err := e.client.Sale(context.Background(), req)
	if !mapi.IsUnknownOutcome(err) {
		t.Fatalf("Sale = %v, want an unknown outcome", err)
	}
	// §9: ask before resending. The order exists.
	st := e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID})
	if st.Status != mapi.StatusApproved || st.OrderID == "" {
		t.Errorf("status after the 502 = %+v", st)
	}
	// A resend with the same data is an idempotent replay of that order, not a second charge.
	again, err := e.client.Sale(context.Background(), req)
	if err != nil || again.OrderID != st.OrderID {
		t.Errorf("resend = %+v, %v; want order %s", again, err, st.OrderID)
	}
}
