package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
)

// approvedSale takes a sale to approved and returns its request and sync response.
func (e *env) approvedSale(amount mapi.Amount, callbackURL string) (mapi.OrderRequest, *mapi.OrderResponse) {
	e.t.Helper()
	req := e.request(amount, "visa")
	req.ServerCallbackURL = callbackURL
	resp, err := e.client.Sale(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	if st := e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}); st.Status != mapi.StatusApproved {
		e.t.Fatalf("sale of %d: %s", amount, st.Status)
	}
	return req, resp
}

// closes counts the recorded close days.
func (e *env) closes() int {
	e.t.Helper()
	var cs []struct{ RequestID string }
	getJSON(e.t, e.srv.URL+"/sandbox/api/closes", &cs)
	return len(cs)
}

func (e *env) closeID(clientOrderID string) *int64 {
	e.t.Helper()
	o, ok := e.gw.Order(clientOrderID)
	if !ok {
		e.t.Fatalf("order %s not found", clientOrderID)
	}
	return o.CloseID
}

func httpStatus(err error) int {
	var te *mapi.TransportError
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

func TestRefuseCloseDayClosesNothing(t *testing.T) {
	e := start(t, fastConfig(t))
	req, _ := e.approvedSale(1000, "")
	e.gw.SetFaults(sandbox.Faults{RefuseCloseDay: 1})
	ctx := context.Background()
	if _, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDREFUSED1"}); validationCode(err) != "10" {
		t.Fatalf("refused close: %v, want validation-error 10", err)
	}
	if n := e.closes(); n != 0 {
		t.Errorf("%d closes after a refusal, want 0", n)
	}
	if id := e.closeID(req.ClientOrderID); id != nil {
		t.Errorf("order in close %d after a refusal", *id)
	}
	r, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDREFUSED1"})
	if err != nil || r.SaleApprovedCount != 1 || r.SaleAmount != 1000 {
		t.Fatalf("close after the refusal was used up = %+v, %v", r, err)
	}
	if e.closes() != 1 || e.closeID(req.ClientOrderID) == nil {
		t.Errorf("the second request did not close the order")
	}
}

func TestCloseDayDropBeforeThenSameRequestIDCloses(t *testing.T) {
	e := start(t, fastConfig(t))
	req, _ := e.approvedSale(1200, "")
	e.gw.SetFaults(sandbox.Faults{CloseDayDropBefore: 1})
	ctx := context.Background()
	_, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDDROPPED1"})
	if !mapi.IsUnknownOutcome(err) || httpStatus(err) != http.StatusBadGateway {
		t.Fatalf("dropped close: %v, want HTTP 502", err)
	}
	if n := e.closes(); n != 0 {
		t.Errorf("%d closes after a dropped request, want 0", n)
	}
	if id := e.closeID(req.ClientOrderID); id != nil {
		t.Errorf("order in close %d after a dropped request", *id)
	}
	r, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDDROPPED1"})
	if err != nil || r.Status != "finished" || r.SaleApprovedCount != 1 || r.SaleAmount != 1200 {
		t.Fatalf("retry with the same request id = %+v, %v", r, err)
	}
	if e.closes() != 1 || e.closeID(req.ClientOrderID) == nil {
		t.Errorf("the retry did not close the order")
	}
}

func TestDelaySaleCreatesOrderAfterClientGaveUp(t *testing.T) {
	e := start(t, fastConfig(t))
	const delay = 600 * time.Millisecond
	e.gw.SetFaults(sandbox.Faults{DelaySale: delay, DelaySaleCount: 1})
	m := e.gw.Merchant()
	impatient := mapi.NewClient(mapi.Endpoint{BaseURL: e.srv.URL, EndpointID: m.EndpointID, Login: m.Login, ControlKey: m.ControlKey},
		nil, mapi.WithTimeouts(100*time.Millisecond, 5*time.Second))
	req := e.request(1000, "visa")
	sent := time.Now()
	if _, err := impatient.Sale(context.Background(), req); !mapi.IsUnknownOutcome(err) {
		t.Fatalf("Sale held past the client's timeout = %v, want an unknown outcome", err)
	}
	if time.Since(sent) < delay {
		if _, err := e.client.Status(context.Background(), mapi.StatusRequest{ClientOrderID: req.ClientOrderID}); validationCode(err) != "8" {
			t.Errorf("status while the sale is held: %v, want code 8 (not found)", err)
		}
	}
	waitFor(t, "the held sale to create its order", func() bool {
		_, ok := e.gw.Order(req.ClientOrderID)
		return ok
	})
	if time.Since(sent) < delay {
		t.Errorf("order created after %s, before the %s delay", time.Since(sent), delay)
	}
	st := e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID})
	if st.Status != mapi.StatusApproved || st.Amount != 1000 {
		t.Errorf("held sale's final status = %+v", st)
	}
	// The fault is used up: the next sale is not held.
	sent = time.Now()
	if _, err := e.client.Sale(context.Background(), e.request(1000, "visa")); err != nil || time.Since(sent) >= delay {
		t.Errorf("sale after the delay was used up: %v after %s", err, time.Since(sent))
	}
}

func TestBlackoutStatusAnswers502(t *testing.T) {
	e := start(t, fastConfig(t))
	req, resp := e.approvedSale(1000, "")
	other, _ := e.approvedSale(1100, "")
	e.gw.Blackout(req.ClientOrderID)
	ctx := context.Background()
	for _, r := range []mapi.StatusRequest{{ClientOrderID: req.ClientOrderID}, {ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}} {
		if _, err := e.client.Status(ctx, r); httpStatus(err) != http.StatusBadGateway {
			t.Errorf("status %+v during the blackout: %v, want HTTP 502", r, err)
		}
	}
	if st, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: other.ClientOrderID}); err != nil || st.Status != mapi.StatusApproved {
		t.Errorf("status of another order during the blackout = %+v, %v", st, err)
	}
	e.gw.EndBlackout(req.ClientOrderID)
	if st, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: req.ClientOrderID}); err != nil || st.Status != mapi.StatusApproved {
		t.Errorf("status after the blackout = %+v, %v", st, err)
	}
}

func TestBlackoutHoldsCallbackUntilEnd(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t)
	req := e.request(1000, "visa")
	req.ServerCallbackURL = rcv.srv.URL + "/cb"
	e.gw.Blackout(req.ClientOrderID)
	resp, err := e.client.Sale(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the order to go final", func() bool {
		o, ok := e.gw.Order(req.ClientOrderID)
		return ok && o.Status == "approved"
	})
	// Long enough for the whole compressed retry schedule several times over.
	time.Sleep(500 * time.Millisecond)
	if n := len(rcv.calls()); n != 0 {
		t.Fatalf("%d callbacks sent during the blackout", n)
	}
	var log []struct {
		Delivered bool
		Attempts  int
		NextAt    *time.Time
	}
	getJSON(t, e.srv.URL+"/sandbox/api/callbacks?orderid="+resp.OrderID, &log)
	if len(log) != 1 || log[0].Attempts != 0 || log[0].Delivered || log[0].NextAt == nil {
		t.Errorf("delivery during the blackout = %+v, want pending with no attempt", log)
	}
	e.gw.EndBlackout(req.ClientOrderID)
	waitFor(t, "the callback after the blackout", func() bool { return len(rcv.calls()) == 1 })
	cb, err := mapi.VerifyCallback(rcv.calls()[0], e.gw.Merchant().ControlKey)
	if err != nil || cb.Status != mapi.StatusApproved || cb.OrderID != resp.OrderID {
		t.Errorf("callback after the blackout = %+v, %v", cb, err)
	}
}

// nextCallback waits for callback number n (1-based) and verifies it.
func nextCallback(t *testing.T, e *env, rcv *receiver, n int) *mapi.Callback {
	t.Helper()
	waitFor(t, "callback", func() bool { return len(rcv.calls()) >= n })
	calls := rcv.calls()
	if len(calls) != n {
		t.Fatalf("%d callbacks, want %d", len(calls), n)
	}
	cb, err := mapi.VerifyCallback(calls[n-1], e.gw.Merchant().ControlKey)
	if err != nil {
		t.Fatalf("callback %d does not verify: %v", n, err)
	}
	return cb
}

func TestChangeStatusApprovedToDeclinedAndBack(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t)
	req, resp := e.approvedSale(1000, rcv.srv.URL+"/cb")
	if cb := nextCallback(t, e, rcv, 1); cb.Status != mapi.StatusApproved {
		t.Fatalf("first callback %+v", cb)
	}
	first, _ := e.gw.Order(req.ClientOrderID)
	ctx := context.Background()
	status := mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}

	if err := e.gw.ChangeStatus(req.ClientOrderID, "declined", "05", "Do not honor"); err != nil {
		t.Fatal(err)
	}
	cb := nextCallback(t, e, rcv, 2)
	if cb.Status != mapi.StatusDeclined || cb.OrderID != resp.OrderID || cb.ErrorCode != "05" || cb.ErrorMessage != "Do not honor" || cb.Amount != "10.00" {
		t.Errorf("declined callback = %+v", cb)
	}
	st, err := e.client.Status(ctx, status)
	if err != nil || st.Status != mapi.StatusDeclined || st.OrderStage != "sale_declined" || st.ErrorCode != "05" || st.ApprovalCode != "" {
		t.Errorf("status after the change to declined = %+v, %v", st, err)
	}

	if err := e.gw.ChangeStatus(req.ClientOrderID, "approved", "", ""); err != nil {
		t.Fatal(err)
	}
	cb = nextCallback(t, e, rcv, 3)
	if cb.Status != mapi.StatusApproved || cb.ErrorCode != "" || len(cb.ApprovalCode) != 6 {
		t.Errorf("approved again callback = %+v", cb)
	}
	st, err = e.client.Status(ctx, status)
	if err != nil || st.Status != mapi.StatusApproved || st.OrderStage != "sale_approved" || st.ErrorCode != "" || len(st.ApprovalCode) != 6 {
		t.Errorf("status after the change back to approved = %+v, %v", st, err)
	}
	if o, _ := e.gw.Order(req.ClientOrderID); o.Status != "approved" || o.CloseID != nil || o.OrderID != first.OrderID {
		t.Errorf("Order = %+v", o)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(rcv.calls()); n != 3 {
		t.Errorf("%d callbacks, want 3 (one per status change)", n)
	}
}

func TestChangeStatusDeclinedToApprovedAndCloseMembership(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t)
	ctx := context.Background()
	// closed: approved and in a close, then declined by reconciliation: it stays in that close.
	closed, _ := e.approvedSale(1000, "")
	if _, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDRECON001"}); err != nil {
		t.Fatal(err)
	}
	closeID := e.closeID(closed.ClientOrderID)
	if closeID == nil {
		t.Fatal("approved sale not in the close")
	}
	if err := e.gw.ChangeStatus(closed.ClientOrderID, "declined", "05", "Do not honor"); err != nil {
		t.Fatal(err)
	}
	if id := e.closeID(closed.ClientOrderID); id == nil || *id != *closeID {
		t.Errorf("declined after its close: close %v, want %d", id, *closeID)
	}
	// open: declined, then approved by reconciliation before the next close: that close counts it.
	req := e.request(1051, "visa")
	req.ServerCallbackURL = rcv.srv.URL + "/cb"
	resp, err := e.client.Sale(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	status := mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}
	if st := e.waitFinal(status); st.Status != mapi.StatusDeclined {
		t.Fatalf("sale of 10.51: %s", st.Status)
	}
	if cb := nextCallback(t, e, rcv, 1); cb.Status != mapi.StatusDeclined || cb.ErrorCode != "51" {
		t.Fatalf("first callback %+v", cb)
	}
	if err := e.gw.ChangeStatus(req.ClientOrderID, "approved", "", ""); err != nil {
		t.Fatal(err)
	}
	cb := nextCallback(t, e, rcv, 2)
	if cb.Status != mapi.StatusApproved || cb.OrderID != resp.OrderID || cb.ErrorCode != "" || len(cb.ApprovalCode) != 6 {
		t.Errorf("approved callback = %+v", cb)
	}
	st, err := e.client.Status(ctx, status)
	if err != nil || st.Status != mapi.StatusApproved || st.OrderStage != "sale_approved" || st.ErrorCode != "" || st.ApprovalCode != cb.ApprovalCode {
		t.Errorf("status after the change to approved = %+v, %v", st, err)
	}
	r, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDRECON002"})
	if err != nil || r.SaleApprovedCount != 1 || r.SaleAmount != 1051 {
		t.Errorf("next close = %+v, %v; want only the order approved by reconciliation", r, err)
	}
	if id := e.closeID(req.ClientOrderID); id == nil || *id == *closeID {
		t.Errorf("order approved by reconciliation in close %v, want the second close", id)
	}
}

func TestChangeStatusRefusals(t *testing.T) {
	cfg := fastConfig(t)
	e := start(t, cfg)
	approved, _ := e.approvedSale(1000, "")
	long := e.request(1077, "visa") // stays processing
	if _, err := e.client.Sale(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, id, status string }{
		{"unknown order", "NO-SUCH-ORDER", "declined"},
		{"order not final yet", long.ClientOrderID, "approved"},
		{"target not final", approved.ClientOrderID, "processing"},
	}
	for _, tt := range tests {
		if err := e.gw.ChangeStatus(tt.id, tt.status, "05", "Do not honor"); err == nil {
			t.Errorf("%s: ChangeStatus accepted", tt.name)
		}
	}
	if o, _ := e.gw.Order(approved.ClientOrderID); o.Status != "approved" || o.Stage != "sale_approved" {
		t.Errorf("refused change altered the order: %+v", o)
	}
	if _, ok := e.gw.Order("NO-SUCH-ORDER"); ok {
		t.Error("Order found an unknown order")
	}
}

func TestFaultsAdminAPIAndBlackoutByAmount(t *testing.T) {
	env := start(t, fastConfig(t))
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, env.srv.URL+"/sandbox/api/faults", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(`{"Nonsense": 1}`); code != http.StatusBadRequest {
		t.Errorf("unknown switch: %d", code)
	}
	if code := put(`{"BlackoutAmount": 1234}`); code != http.StatusOK {
		t.Fatalf("set faults: %d", code)
	}
	req := env.request(1234, "visa")
	if _, err := env.client.Sale(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.Status(context.Background(), mapi.StatusRequest{ClientOrderID: req.ClientOrderID}); !mapi.IsUnknownOutcome(err) {
		t.Errorf("status of a blacked-out amount: %v, want a 502", err)
	}
	if code := put(`{}`); code != http.StatusOK {
		t.Fatalf("clear faults: %d", code)
	}
	if _, err := env.client.Status(context.Background(), mapi.StatusRequest{ClientOrderID: req.ClientOrderID}); err != nil {
		t.Errorf("status after the switch is cleared: %v", err)
	}
}

func TestStateFileIsOwnerOnly(t *testing.T) {
	env := start(t, fastConfig(t))
	st, err := os.Stat(env.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("sandbox state is %v, want -rw-------", st.Mode().Perm())
	}
}
