package sandbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
)

// approve takes a sale of amount through to its final status.
func (e *env) sale(amount mapi.Amount, kind string) mapi.Status {
	e.t.Helper()
	req := e.request(amount, "visa")
	call := e.client.Sale
	if kind == "preauth" {
		call = e.client.Preauth
	}
	resp, err := call(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.waitFinal(mapi.StatusRequest{ClientOrderID: req.ClientOrderID, OrderID: resp.OrderID}).Status
}

func TestCloseDayTotalsReplayAndMismatch(t *testing.T) {
	e := start(t, fastConfig(t))
	e.sale(1042, "sale")
	e.sale(1000, "sale")
	e.sale(1084, "sale")
	e.sale(1051, "sale")    // declined: not counted
	e.sale(5000, "preauth") // not a sale: not counted
	ctx := context.Background()
	first, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CD20261124A1", Totals: &mapi.CloseDayTotals{SaleCount: 3, SaleSum: 3126}})
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != "finished" || first.SaleApprovedCount != 3 || first.SaleAmount != 3126 || first.Code39 != "00" ||
		first.IsDayClosing || first.RRN == "" || first.GateID == "" || first.GateCloseDate == "" {
		t.Errorf("close = %+v", first)
	}
	replay, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CD20261124A1", Totals: &mapi.CloseDayTotals{SaleCount: 3, SaleSum: 3126}})
	if err != nil {
		t.Fatal(err)
	}
	if replay.RRN != first.RRN || replay.RequestSerialNumber != first.RequestSerialNumber || replay.SaleAmount != first.SaleAmount {
		t.Errorf("replay = %+v, want the stored result %+v", replay, first)
	}
	e.sale(700, "sale")
	second, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CD20261124B2", Totals: &mapi.CloseDayTotals{SaleCount: 2, SaleSum: 1400}})
	if err != nil {
		t.Fatal(err)
	}
	if second.SaleApprovedCount != 1 || second.SaleAmount != 700 || second.Code39 != "95" || second.RRN == first.RRN {
		t.Errorf("second close (only the sale since the first; our totals differ) = %+v", second)
	}
	empty, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CD20261124C3"})
	if err != nil || empty.SaleApprovedCount != 0 || empty.Code39 != "00" {
		t.Errorf("close with nothing new and no totals = %+v, %v", empty, err)
	}
	var closes []struct{ RequestID string }
	getJSON(t, e.srv.URL+"/sandbox/api/closes", &closes)
	if len(closes) != 3 {
		t.Errorf("%d closes recorded, want 3 (the replay closed nothing)", len(closes))
	}
	for _, bad := range []string{"short", "has-dash-inside", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"} {
		if _, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: bad}); validationCode(err) != "3" {
			t.Errorf("request id %q: %v, want code 3", bad, err)
		}
	}
}

func TestConcurrentCloseDayWithOneRequestIDClosesOnce(t *testing.T) {
	e := start(t, fastConfig(t))
	e.sale(1000, "sale")
	var wg sync.WaitGroup
	rrns := make([]string, 8)
	for i := range rrns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.client.CloseDay(context.Background(), mapi.CloseDayRequest{RequestID: "CDSAMEID01"})
			if err != nil {
				t.Error(err)
				return
			}
			rrns[i] = r.RRN
		}()
	}
	wg.Wait()
	for _, r := range rrns {
		if r != rrns[0] {
			t.Fatalf("RRNs %v: one request id closed more than once", rrns)
		}
	}
}

func TestSaleDuringCloseGetsGateLocked(t *testing.T) {
	cfg := fastConfig(t)
	cfg.CloseDuration = 300 * time.Millisecond
	e := start(t, cfg)
	r, err := e.client.CloseDay(context.Background(), mapi.CloseDayRequest{RequestID: "CDLOCKED01"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsDayClosing {
		t.Errorf("close with a lock duration: isDayClosing=false")
	}
	_, err = e.client.Sale(context.Background(), e.request(1000, "visa"))
	var ge *mapi.GatewayError
	if !errors.As(err, &ge) || ge.Code != "9" {
		t.Fatalf("sale during close: %v, want error code 9", err)
	}
	time.Sleep(350 * time.Millisecond)
	if _, err := e.client.Sale(context.Background(), e.request(1000, "visa")); err != nil {
		t.Errorf("sale after the close finished: %v", err)
	}
}

func TestRestartResumesProcessingAndCallbacks(t *testing.T) {
	cfg := fastConfig(t)
	cfg.ProcessingDelay = 300 * time.Millisecond
	cfg.CallbackSchedule = []time.Duration{0, 500 * time.Millisecond, time.Second}
	e := start(t, cfg)
	key := e.gw.Merchant().ControlKey
	rcv := newReceiver(t, 500) // the first attempt fails before the restart
	rcvLater := newReceiver(t)
	// Order A: final, and its callback failed once before the stop; its retry is due later.
	e.gw.SetCallbackURL(e.gw.Merchant().EndpointID, rcv.srv.URL)
	reqA := e.request(1000, "visa")
	respA, err := e.client.Sale(context.Background(), reqA)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first callback attempt", func() bool { return len(rcv.calls()) == 1 })
	// Order B: still processing at the stop.
	e.gw.SetCallbackURL(e.gw.Merchant().EndpointID, rcvLater.srv.URL)
	reqB := e.request(1100, "visa")
	respB, err := e.client.Sale(context.Background(), reqB)
	if err != nil {
		t.Fatal(err)
	}
	e.stop()
	// Same file, new process.
	e2 := start(t, cfg)
	stB := e2.waitFinal(mapi.StatusRequest{ClientOrderID: reqB.ClientOrderID, OrderID: respB.OrderID})
	if stB.Status != mapi.StatusApproved {
		t.Errorf("order B after restart: %s", stB.Status)
	}
	waitFor(t, "A's callback retried after the restart", func() bool { return len(rcv.calls()) == 2 })
	waitFor(t, "B's callback", func() bool { return len(rcvLater.calls()) == 1 })
	cb, err := mapi.VerifyCallback(rcv.calls()[1], e2.gw.Merchant().ControlKey)
	if err != nil || cb.OrderID != respA.OrderID {
		t.Errorf("retried callback %+v, %v", cb, err)
	}
	if e2.gw.Merchant().ControlKey != key {
		t.Error("the control key changed across a restart")
	}
}

func TestChaosSwitchesAreReproducible(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t)
	e.gw.SetCallbackURL(e.gw.Merchant().EndpointID, rcv.srv.URL)
	e.gw.SetFaults(sandbox.Faults{DropCallbackPct: 50, DuplicateCallbackPct: 50, Seed: 7})
	const n = 20
	for range n {
		e.sale(1000, "sale")
	}
	time.Sleep(300 * time.Millisecond)
	calls := len(rcv.calls())
	if calls == 0 || calls == n {
		t.Errorf("%d callbacks for %d orders with half dropped and half of the rest duplicated", calls, n)
	}
}
