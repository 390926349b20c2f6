package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
)

// env is a sandbox gateway on a loopback port with its worker running, a client for its
// merchant, and a virtual reader provisioned on it.
type env struct {
	t      *testing.T
	gw     *sandbox.Gateway
	srv    *httptest.Server
	client *mapi.Client
	reader *virtual.Reader
	cfg    sandbox.Config
	stop   func()
}

func fastConfig(t *testing.T) sandbox.Config {
	return sandbox.Config{
		Path:             filepath.Join(t.TempDir(), "sandbox.db"),
		ProcessingDelay:  20 * time.Millisecond,
		LongProcessing:   400 * time.Millisecond,
		UnknownFor:       400 * time.Millisecond,
		CallbackSchedule: []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond},
		AnyCallbackPort:  true,
		CallbackTimeout:  2 * time.Second,
	}
}

func start(t *testing.T, cfg sandbox.Config) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	gw, err := sandbox.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gw.Run(ctx); close(done) }()
	e := &env{t: t, gw: gw, srv: srv, cfg: cfg}
	e.stop = func() { cancel(); <-done; srv.Close(); gw.Close() }
	t.Cleanup(func() { e.stop() })
	m := gw.Merchant()
	e.client = mapi.NewClient(mapi.Endpoint{BaseURL: srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: m.ControlKey}, nil)
	tr := gw.TestReaders()[0]
	e.reader = virtual.New(tr.Serial, "2.1.0", tr.IPEK(), tr.IKSN)
	return e
}

var orderSeq int

func (e *env) request(amount mapi.Amount, cardID string) mapi.OrderRequest {
	e.t.Helper()
	card, ok := virtual.CardByID(cardID)
	if !ok {
		e.t.Fatalf("no card %s", cardID)
	}
	read, err := e.reader.Read(card, virtual.Chip)
	if err != nil {
		e.t.Fatal(err)
	}
	orderSeq++
	return mapi.OrderRequest{
		ClientOrderID: "T" + time.Now().Format("150405.000000") + string(rune('A'+orderSeq%26)), Description: "test order",
		Amount: amount, Currency: "EUR", Address1: "1 Main St", City: "Riga", ZipCode: "LV-1010", Country: "LV",
		Email: "shop@example.com", DeviceSerial: e.reader.Serial, KSN: read.KSN, EncryptedData: read.EncryptedData,
		EncryptedType: read.EncryptedType, EntryMode: string(read.EntryMode), PANFirstDigits: read.PANFirstDigits,
		PANLastDigits: read.PANLastDigits, CardPrintedName: read.CardholderName,
	}
}

// waitFinal polls the status until it is final, as a client would.
func (e *env) waitFinal(r mapi.StatusRequest) *mapi.StatusResponse {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := e.client.Status(context.Background(), r)
		if err != nil {
			e.t.Fatalf("status %s: %v", r.ClientOrderID, err)
		}
		if st.Status.Final() {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("order %s still %s", r.ClientOrderID, st.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receiver is a merchant callback endpoint that answers the given codes in turn, then 200.
type receiver struct {
	mu    sync.Mutex
	codes []int
	got   []url.Values
	srv   *httptest.Server
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, req.URL.Query())
		if req.Method != http.MethodGet {
			t.Errorf("callback with %s", req.Method)
		}
		code := http.StatusOK
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) calls() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSaleApprovedWithCallback(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t)
	req := e.request(1042, "visa")
	req.ServerCallbackURL = rcv.srv.URL + "/callbacks/mapi"
	resp, err := e.client.Sale(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OrderID == "" || resp.MerchantOrderID != req.ClientOrderID || resp.EndpointID != e.gw.Merchant().EndpointID || resp.SerialNumber == "" {
		t.Fatalf("Sale = %+v", resp)
	}
	st := e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID})
	if st.Status != mapi.StatusApproved || st.Amount != 1042 || st.Currency != "EUR" || len(st.ApprovalCode) != 6 ||
		len(st.ProcessorRRN) != 12 || st.ReceiptID == "" || st.BIN != "411111" || st.LastFour != "1111" ||
		st.CardType != "VISA" || st.OrderStage != "sale_approved" || st.TransactionType != "sale" || st.CardExpYear != "2028" {
		t.Errorf("status = %+v", st)
	}
	waitFor(t, "callback", func() bool { return len(rcv.calls()) == 1 })
	cb, err := mapi.VerifyCallback(rcv.calls()[0], e.gw.Merchant().ControlKey)
	if err != nil {
		t.Fatalf("callback does not verify: %v", err)
	}
	if cb.Status != mapi.StatusApproved || cb.OrderID != resp.OrderID || cb.MerchantOrder != req.ClientOrderID ||
		cb.Amount != "10.42" || cb.Type != "sale" || cb.ApprovalCode != st.ApprovalCode || cb.LastFour != "1111" {
		t.Errorf("callback = %+v", cb)
	}
	for _, v := range rcv.calls()[0] {
		for _, s := range v {
			if s == "4111111111111111" {
				t.Error("callback carries the card number")
			}
		}
	}
}

func TestOutcomesByAmount(t *testing.T) {
	e := start(t, fastConfig(t))
	tests := []struct {
		amount mapi.Amount
		card   string
		status mapi.Status
		code   string
		stage  string
	}{
		{1000, "mastercard", mapi.StatusApproved, "", "sale_approved"},
		{1049, "amex", mapi.StatusApproved, "", "sale_approved"},
		{1051, "visa", mapi.StatusDeclined, "51", "sale_declined"},
		{1054, "visa", mapi.StatusDeclined, "54", "sale_declined"},
		{1005, "visa", mapi.StatusDeclined, "05", "sale_declined"},
		{1066, "visa", mapi.StatusFiltered, "66", "sale_filtered"},
		{1091, "visa", mapi.StatusError, "91", "sale_failed"},
		{1000, "visa-expired", mapi.StatusDeclined, "54", "sale_declined"},
	}
	for _, tt := range tests {
		req := e.request(tt.amount, tt.card)
		resp, err := e.client.Sale(context.Background(), req)
		if err != nil {
			t.Fatalf("%d %s: %v", tt.amount, tt.card, err)
		}
		st := e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID})
		if st.Status != tt.status || st.ErrorCode != tt.code || st.OrderStage != tt.stage {
			t.Errorf("%d on %s: %s %s %s (%s); want %s %s %s", tt.amount, tt.card, st.Status, st.ErrorCode, st.OrderStage, st.ErrorMessage, tt.status, tt.code, tt.stage)
		}
		if tt.status != mapi.StatusApproved && st.ErrorMessage == "" {
			t.Errorf("%d: no reason given", tt.amount)
		}
	}
}

func TestLongProcessingAndUnknownStayOpen(t *testing.T) {
	e := start(t, fastConfig(t))
	for _, tt := range []struct {
		amount mapi.Amount
		first  mapi.Status
	}{{1077, mapi.StatusProcessing}, {1078, mapi.StatusUnknown}} {
		req := e.request(tt.amount, "visa")
		resp, err := e.client.Preauth(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		r := mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}
		waitFor(t, "first step", func() bool {
			st, err := e.client.Status(context.Background(), r)
			return err == nil && st.Status == tt.first
		})
		st := e.waitFinal(r)
		if st.Status != mapi.StatusApproved || st.TransactionType != "preauth" || st.OrderStage != "preauth_approved" {
			t.Errorf("%d: final %+v", tt.amount, st)
		}
	}
}

func TestOAuthRefusals(t *testing.T) {
	e := start(t, fastConfig(t))
	m := e.gw.Merchant()
	ep := mapi.Endpoint{BaseURL: e.srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: m.ControlKey}
	fixedNonce := func() string { return "same-nonce-twice" }
	tests := []struct {
		name   string
		client *mapi.Client
	}{
		{"wrong key", mapi.NewClient(mapi.Endpoint{BaseURL: ep.BaseURL, EndpointID: ep.EndpointID, Login: ep.Login, ControlKey: "not-the-key"}, nil)},
		{"unknown login", mapi.NewClient(mapi.Endpoint{BaseURL: ep.BaseURL, EndpointID: ep.EndpointID, Login: "someone-else", ControlKey: ep.ControlKey}, nil)},
		{"login on another endpoint", mapi.NewClient(mapi.Endpoint{BaseURL: ep.BaseURL, EndpointID: "9999", Login: ep.Login, ControlKey: ep.ControlKey}, nil)},
		{"stale timestamp", mapi.NewClient(ep, nil, mapi.WithClock(func() time.Time { return time.Now().Add(-10 * time.Minute) }))},
		{"future timestamp", mapi.NewClient(ep, nil, mapi.WithClock(func() time.Time { return time.Now().Add(10 * time.Minute) }))},
	}
	for _, tt := range tests {
		if _, err := tt.client.Sale(context.Background(), e.request(1000, "visa")); !errors.Is(err, mapi.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", tt.name, err)
		}
	}
	replaying := mapi.NewClient(ep, nil, mapi.WithNonce(fixedNonce))
	if _, err := replaying.Sale(context.Background(), e.request(1000, "visa")); err != nil {
		t.Fatalf("first use of a nonce: %v", err)
	}
	if _, err := replaying.Sale(context.Background(), e.request(1000, "visa")); !errors.Is(err, mapi.ErrForbidden) {
		t.Errorf("replayed nonce: %v, want ErrForbidden", err)
	}
	if _, err := replaying.CloseDay(context.Background(), mapi.CloseDayRequest{RequestID: "CD00000001"}); !errors.Is(err, mapi.ErrForbidden) {
		t.Errorf("replayed nonce on close-day: %v, want ErrForbidden", err)
	}
	e.gw.SetFaults(sandbox.Faults{Forbid: true})
	if _, err := e.client.Sale(context.Background(), e.request(1000, "visa")); !errors.Is(err, mapi.ErrForbidden) {
		t.Errorf("forced 403: %v", err)
	}
	var orders []json.RawMessage
	getJSON(t, e.srv.URL+"/sandbox/api/orders", &orders)
	if len(orders) != 1 {
		t.Errorf("refused requests created orders: %d orders, want only the one accepted", len(orders))
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
