package sandbox_test

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func TestStatusOfSaleAndOperations(t *testing.T) {
	e := start(t, fastConfig(t))
	ctx := context.Background()
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, nil)
	r1, _ := e.mustMoney(e.client.Return, money(sale, 300, "first"), mapi.StatusApproved)
	r2, _ := e.mustMoney(e.client.Return, money(sale, 151, "declined"), mapi.StatusDeclined)

	bySale, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: sale.MerchantOrderID, OrderID: sale.OrderID, ByRequestSN: sale.SerialNumber})
	if err != nil || bySale.TransactionType != "sale" || bySale.Amount != 1000 || bySale.ByRequestSN != sale.SerialNumber {
		t.Errorf("status by the sale's serial = %+v, %v; want the sale", bySale, err)
	}
	st, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: sale.MerchantOrderID, OrderID: sale.OrderID, ByRequestSN: r1.SerialNumber})
	if err != nil || st.Status != mapi.StatusApproved || st.TransactionType != "reversal" || st.OrderStage != "reversal_approved" ||
		st.Amount != 300 || len(st.ApprovalCode) != 6 || len(st.ProcessorRRN) != 12 || st.ByRequestSN != r1.SerialNumber || st.BIN != "411111" {
		t.Errorf("status by the first refund's serial = %+v, %v", st, err)
	}
	latest, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: sale.MerchantOrderID, OrderID: sale.OrderID})
	if err != nil || latest.Status != mapi.StatusDeclined || latest.TransactionType != "reversal" || latest.OrderStage != "reversal_declined" ||
		latest.Amount != 151 || latest.ErrorCode != "51" || latest.ErrorMessage == "" || latest.ApprovalCode != "" || latest.ByRequestSN != r2.SerialNumber {
		t.Errorf("status without by-request-sn = %+v, %v; want the latest (declined) refund", latest, err)
	}
	byClientID, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: sale.MerchantOrderID})
	if err != nil || byClientID.ByRequestSN != r2.SerialNumber {
		t.Errorf("status by client_orderid alone = %+v, %v; want the latest refund", byClientID, err)
	}
	_, other := e.approved("sale", 1000, mapi.StatusApproved, nil)
	if _, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: other.MerchantOrderID, OrderID: other.OrderID, ByRequestSN: r1.SerialNumber}); validationCode(err) != "8" {
		t.Errorf("another order's refund serial: %v, want code 8", err)
	}
	if st, err := e.client.Status(ctx, mapi.StatusRequest{ClientOrderID: other.MerchantOrderID, OrderID: other.OrderID}); err != nil ||
		st.TransactionType != "sale" || st.ByRequestSN != "" {
		t.Errorf("status of an order without operations = %+v, %v", st, err)
	}
}

func TestMoneyCallbacks(t *testing.T) {
	e := start(t, fastConfig(t))
	rcv := newReceiver(t)
	withCallback := func(r *mapi.OrderRequest) {
		r.ServerCallbackURL = rcv.srv.URL + "/cb"
		r.MerchantData = "till=3&shift=a b"
	}
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, withCallback)
	saleCB := nextCallback(t, e, rcv, 1)
	if saleCB.Type != "sale" || saleCB.MerchantData != "till=3&shift=a b" {
		t.Errorf("sale callback = %+v; want merchantdata echoed", saleCB)
	}
	_, st1 := e.mustMoney(e.client.Return, money(sale, 300, "first"), mapi.StatusApproved)
	cb1 := nextCallback(t, e, rcv, 2)
	e.mustMoney(e.client.Return, money(sale, 200, "second"), mapi.StatusApproved)
	cb2 := nextCallback(t, e, rcv, 3)
	e.mustMoney(e.client.Return, money(sale, 151, "declined"), mapi.StatusDeclined)
	cb3 := nextCallback(t, e, rcv, 4)
	for i, tt := range []struct {
		cb     *mapi.Callback
		status mapi.Status
		amount mapi.Amount
	}{{cb1, mapi.StatusApproved, 300}, {cb2, mapi.StatusApproved, 200}, {cb3, mapi.StatusDeclined, 151}} {
		if tt.cb.Type != "reversal" || tt.cb.Status != tt.status || tt.cb.Amount != tt.amount.Format("EUR") || tt.cb.OrderID != sale.OrderID ||
			tt.cb.MerchantOrder != sale.MerchantOrderID || tt.cb.MerchantData != "till=3&shift=a b" {
			t.Errorf("refund callback %d = %+v", i+1, tt.cb)
		}
	}
	if cb1.ApprovalCode != st1.ApprovalCode || cb1.ProcessorRRN != st1.ProcessorRRN || cb3.ErrorCode != "51" {
		t.Errorf("refund callbacks carry %+v / %+v; want the operation's codes", cb1, cb3)
	}
	// §13.4 receiver rule: the same control as the approved sale's.
	if calls := rcv.calls(); calls[1].Get("control") != calls[0].Get("control") {
		t.Errorf("approved reversal control %s, sale control %s", calls[1].Get("control"), calls[0].Get("control"))
	}
	var log []struct {
		OperationID int64
		Type        string
		Status      string
		Delivered   bool
	}
	getJSON(t, e.srv.URL+"/sandbox/api/callbacks?orderid="+sale.OrderID, &log)
	if len(log) != 4 || log[0].OperationID == log[1].OperationID || !log[1].Delivered || log[1].Type != "reversal" || log[1].Status != "approved" {
		t.Errorf("delivery log = %+v; want one delivery per transaction", log)
	}

	_, pre := e.approved("preauth", 1000, mapi.StatusApproved, withCallback)
	nextCallback(t, e, rcv, 5)
	e.mustMoney(e.client.Capture, money(pre, 600, ""), mapi.StatusApproved)
	if cb := nextCallback(t, e, rcv, 6); cb.Type != "capture" || cb.Amount != "6.00" || cb.Status != mapi.StatusApproved || cb.OrderID != pre.OrderID {
		t.Errorf("capture callback = %+v", cb)
	}

	e.gw.SetFaults(sandbox.Faults{CallbacksOff: true})
	e.mustMoney(e.client.Return, money(pre, 100, "quiet"), mapi.StatusApproved)
	time.Sleep(100 * time.Millisecond)
	if n := len(rcv.calls()); n != 6 {
		t.Errorf("%d callbacks with callbacks off, want still 6", n)
	}
}

func TestCloseDayWithCapturesAndReturns(t *testing.T) {
	e := start(t, fastConfig(t))
	ctx := context.Background()
	reqA, saleA := e.approved("sale", 1000, mapi.StatusApproved, nil)
	reqB, preB := e.approved("preauth", 2000, mapi.StatusApproved, nil)
	e.mustMoney(e.client.Capture, money(preB, 1500, ""), mapi.StatusApproved)
	e.mustMoney(e.client.Return, money(saleA, 300, "refund"), mapi.StatusApproved)
	e.mustMoney(e.client.Return, money(saleA, 151, "declined"), mapi.StatusDeclined)
	_, preC := e.approved("preauth", 500, mapi.StatusApproved, nil)
	e.mustMoney(e.client.Return, money(preC, 500, "release"), mapi.StatusApproved)
	e.approved("preauth", 700, mapi.StatusApproved, nil) // held, not captured: in no total

	want := mapi.CloseDayTotals{SaleCount: 2, SaleSum: 2500, ReversalCount: 2, ReversalSum: 800}
	r, err := e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDMONEY0001", Totals: &want})
	if err != nil {
		t.Fatal(err)
	}
	if r.SaleApprovedCount != 2 || r.SaleAmount != 2500 || r.ReversalApprovedCount != 2 || r.ReversalAmount != 800 || r.Code39 != "00" {
		t.Errorf("close = %+v; want sales 2/25.00 (a sale and a capture), reversals 2/8.00 (a refund and a release), code39 00", r)
	}
	for _, id := range []string{reqA.ClientOrderID, reqB.ClientOrderID} {
		for _, op := range e.gw.Operations(id) {
			if (op.Status == "approved") != (op.CloseID != nil) {
				t.Errorf("%s %s %s: close id %v", id, op.Kind, op.Status, op.CloseID)
			}
		}
	}
	if id := e.closeID(reqB.ClientOrderID); id != nil {
		t.Errorf("the preauth itself was counted in close %d", *id)
	}
	e.mustMoney(e.client.Return, money(saleA, 200, "later"), mapi.StatusApproved)
	r, err = e.client.CloseDay(ctx, mapi.CloseDayRequest{RequestID: "CDMONEY0002", Totals: &mapi.CloseDayTotals{}})
	if err != nil {
		t.Fatal(err)
	}
	if r.SaleApprovedCount != 0 || r.ReversalApprovedCount != 1 || r.ReversalAmount != 200 || r.Code39 != "95" {
		t.Errorf("second close = %+v; want only the later refund, and code39 95 (our totals say no reversal)", r)
	}
}

func TestAdminOrdersAndLedgerShowOperations(t *testing.T) {
	e := start(t, fastConfig(t))
	req, pre := e.approved("preauth", 1000, mapi.StatusApproved, nil)
	capture, _ := e.mustMoney(e.client.Capture, money(pre, 800, ""), mapi.StatusApproved)
	var orders []struct {
		Type       string
		Operations []struct {
			Type         string `json:"type"`
			SerialNumber string `json:"serial_number"`
			Amount       string `json:"amount"`
			Stage        string `json:"stage"`
		}
	}
	getJSON(t, e.srv.URL+"/sandbox/api/orders?client_orderid="+url.QueryEscape(req.ClientOrderID), &orders)
	if len(orders) != 1 || orders[0].Type != "preauth" || len(orders[0].Operations) != 1 || orders[0].Operations[0].Type != "capture" ||
		orders[0].Operations[0].SerialNumber != capture.SerialNumber || orders[0].Operations[0].Amount != "8.00" ||
		orders[0].Operations[0].Stage != "capture_approved" {
		t.Errorf("admin orders = %+v", orders)
	}
	ledger, err := e.gw.Ledger()
	if err != nil || len(ledger) != 1 || ledger[0].AmountMinor != 1000 || ledger[0].Kind != "preauth" {
		t.Errorf("Ledger = %+v, %v", ledger, err)
	}
	ops, err := e.gw.LedgerOperations()
	if err != nil || len(ops) != 1 || ops[0].ClientOrderID != req.ClientOrderID || ops[0].Kind != "capture" || ops[0].AmountMinor != 800 ||
		ops[0].Status != "approved" || ops[0].SerialNumber != capture.SerialNumber || ops[0].OrderID != ledger[0].OrderID {
		t.Errorf("LedgerOperations = %+v, %v", ops, err)
	}
}

// TestOldStateFileGetsTheNewDeliveryIndex opens a state file as it was before captures and
// returns (deliveries unique per order, type and status): two partial refunds still get a
// callback each.
func TestOldStateFileGetsTheNewDeliveryIndex(t *testing.T) {
	cfg := fastConfig(t)
	cfg.Path = filepath.Join(t.TempDir(), "old.db")
	cfg.PublicURL = "http://127.0.0.1:1"
	gw, err := sandbox.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gw.Close()
	db, err := gorm.Open(sqlite.Open("file:"+cfg.Path), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DROP INDEX idx_delivery_tx",
		"ALTER TABLE deliveries DROP COLUMN operation_id",
		"CREATE UNIQUE INDEX idx_delivery ON deliveries(order_id, type, status)",
		"ALTER TABLE orders DROP COLUMN merchant_data",
		"DROP TABLE operations",
	} {
		if err := db.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	e := start(t, cfg)
	rcv := newReceiver(t)
	_, sale := e.approved("sale", 1000, mapi.StatusApproved, func(r *mapi.OrderRequest) { r.ServerCallbackURL = rcv.srv.URL })
	e.mustMoney(e.client.Return, money(sale, 300, "first"), mapi.StatusApproved)
	e.mustMoney(e.client.Return, money(sale, 300, "second"), mapi.StatusApproved)
	if cb := nextCallback(t, e, rcv, 3); cb.Type != "reversal" || cb.Amount != "3.00" {
		t.Errorf("second refund's callback = %+v", cb)
	}
}
