package mapitest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/mapitest"
)

func TestAnOrderWaitsForTheTestsDecision(t *testing.T) {
	g := mapitest.New("EUR")
	ctx := context.Background()
	r := mapi.OrderRequest{ClientOrderID: "P1", Amount: 1042, Currency: "EUR"}
	resp, err := g.Sale(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := g.Sale(ctx, r)
	if again.OrderID != resp.OrderID {
		t.Error("the same request again made a second order")
	}
	st, err := g.Status(ctx, mapi.StatusRequest{ClientOrderID: "P1", OrderID: resp.OrderID})
	if err != nil || st.Status != mapi.StatusProcessing {
		t.Fatalf("before a decision: %+v, %v", st, err)
	}
	g.Approve("P1")
	if st, _ := g.Status(ctx, mapi.StatusRequest{ClientOrderID: "P1"}); st.Status != mapi.StatusApproved || st.ApprovalCode == "" || st.Amount != 1042 {
		t.Errorf("approved: %+v", st)
	}
	var verr *mapi.ValidationError
	if _, err := g.Status(ctx, mapi.StatusRequest{ClientOrderID: "PNOPE"}); !errors.As(err, &verr) || verr.Code != "8" {
		t.Errorf("an unknown order: %v, want code 8", err)
	}
	if _, err := g.Sale(ctx, mapi.OrderRequest{ClientOrderID: "P2", Amount: 1, Currency: "JPY"}); !errors.As(err, &verr) || verr.Code != "5" {
		t.Errorf("another currency: %v, want code 5", err)
	}
	cb, ok := g.Callback("P1", "key")
	if !ok || cb.Status != mapi.StatusApproved || cb.Amount != "10.42" {
		t.Errorf("callback %+v", cb)
	}
	if q, err := mapi.VerifyCallback(cb.Query("key"), "key"); err != nil || q.MerchantOrder != "P1" {
		t.Errorf("the callback does not verify: %v", err)
	}
}

func TestFailuresOperationsAndCloseDay(t *testing.T) {
	g := mapitest.New("EUR")
	ctx := context.Background()
	lost := &mapi.TransportError{Op: "sale", Err: errors.New("timeout")}
	g.FailNext(lost)
	if _, err := g.Sale(ctx, mapi.OrderRequest{ClientOrderID: "P1", Amount: 2000, Currency: "EUR"}); !errors.Is(err, lost) {
		t.Fatalf("the scheduled failure: %v", err)
	}
	pre, _ := g.Preauth(ctx, mapi.OrderRequest{ClientOrderID: "P2", Amount: 2000, Currency: "EUR"})
	g.Approve("P2")
	capture, err := g.Capture(ctx, mapi.MoneyRequest{ClientOrderID: "P2", OrderID: pre.OrderID, Amount: 1500, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	g.DecideOperation("P2", mapi.StatusApproved)
	st, _ := g.Status(ctx, mapi.StatusRequest{ClientOrderID: "P2", ByRequestSN: capture.SerialNumber})
	if st.Status != mapi.StatusApproved || st.Amount != 1500 || st.TransactionType != "capture" {
		t.Errorf("the capture's status: %+v", st)
	}
	sale, _ := g.Sale(ctx, mapi.OrderRequest{ClientOrderID: "P3", Amount: 700, Currency: "EUR"})
	g.Approve("P3")
	g.Return(ctx, mapi.MoneyRequest{ClientOrderID: "P3", OrderID: sale.OrderID, Amount: 200, Currency: "EUR", Comment: "x"})
	g.DecideOperation("P3", mapi.StatusApproved)
	resp, err := g.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "C1", Totals: &mapi.CloseDayTotals{SaleCount: 2, SaleSum: 2200, ReversalCount: 1, ReversalSum: 200}})
	if err != nil || resp.Code39 != "00" || resp.SaleApprovedCount != 2 || resp.SaleAmount != 2200 || resp.ReversalAmount != 200 {
		t.Errorf("close: %+v, %v", resp, err)
	}
	resp, _ = g.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "C2", Totals: &mapi.CloseDayTotals{SaleCount: 1, SaleSum: 700}})
	if resp.Code39 != "95" {
		t.Errorf("differing totals: code39 %s, want 95", resp.Code39)
	}
	if got := g.Asked(); len(got) != 8 || got[0] != "sale P1" || got[2] != "capture P2" || got[5] != "reversal P3" {
		t.Errorf("asked %v", got)
	}
}
