package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
)

func op(kind models.TxKind, amount int64, state models.TxState) models.Transaction {
	return models.Transaction{Kind: kind, AmountMinor: amount, State: state}
}

func TestCheckOperation(t *testing.T) {
	sale := models.Transaction{Kind: models.KindSale, AmountMinor: 1500, State: models.TxApproved, Currency: "EUR"}
	preauth := models.Transaction{Kind: models.KindPreauth, AmountMinor: 2000, State: models.TxApproved, Currency: "EUR"}
	declined := models.Transaction{Kind: models.KindSale, AmountMinor: 1500, State: models.TxDeclined}
	cases := []struct {
		name   string
		parent models.Transaction
		ops    []models.Transaction
		kind   models.TxKind
		amount int64
		want   string // "" = allowed
	}{
		{"full refund", sale, nil, models.KindRefund, 1500, ""},
		{"partial refund", sale, nil, models.KindRefund, 500, ""},
		{"second partial refund", sale, []models.Transaction{op(models.KindRefund, 500, models.TxApproved)}, models.KindRefund, 1000, ""},
		{"over-refund", sale, []models.Transaction{op(models.KindRefund, 500, models.TxApproved), op(models.KindRefund, 900, models.TxApproved)}, models.KindRefund, 200, "At most 1.00\u00a0EUR can still be refunded"},
		{"declined refunds do not count", sale, []models.Transaction{op(models.KindRefund, 1500, models.TxDeclined)}, models.KindRefund, 1500, ""},
		{"fully refunded", sale, []models.Transaction{op(models.KindRefund, 1500, models.TxApproved)}, models.KindRefund, 1, "refunded already"},
		{"one at a time", sale, []models.Transaction{op(models.KindRefund, 500, models.TxProcessing)}, models.KindRefund, 500, "still being processed"},
		{"unknown outcome holds too", sale, []models.Transaction{op(models.KindRefund, 500, models.TxUnknown)}, models.KindRefund, 500, "still being processed"},
		{"zero", sale, nil, models.KindRefund, 0, "above zero"},
		{"declined sale", declined, nil, models.KindRefund, 100, "Only an approved payment"},
		{"capture a sale", sale, nil, models.KindCapture, 100, "Only a preauth can be captured"},
		{"release a sale", sale, nil, models.KindRelease, 1500, "refund a sale instead"},
		{"partial capture", preauth, nil, models.KindCapture, 1200, ""},
		{"capture more than held", preauth, nil, models.KindCapture, 2001, "At most 20.00\u00a0EUR can be captured"},
		{"capture twice", preauth, []models.Transaction{op(models.KindCapture, 1200, models.TxApproved)}, models.KindCapture, 100, "captured once"},
		{"capture after a declined capture", preauth, []models.Transaction{op(models.KindCapture, 1200, models.TxDeclined)}, models.KindCapture, 1200, ""},
		{"refund an uncaptured preauth", preauth, nil, models.KindRefund, 100, "capture the preauth first"},
		{"refund a captured preauth", preauth, []models.Transaction{op(models.KindCapture, 1200, models.TxApproved)}, models.KindRefund, 1200, ""},
		{"refund more than captured", preauth, []models.Transaction{op(models.KindCapture, 1200, models.TxApproved)}, models.KindRefund, 1201, "At most 12.00"},
		{"release", preauth, nil, models.KindRelease, 2000, ""},
		{"partial release", preauth, nil, models.KindRelease, 1000, "whole hold"},
		{"release after capture", preauth, []models.Transaction{op(models.KindCapture, 1200, models.TxApproved)}, models.KindRelease, 2000, "refund it instead"},
		{"capture after release", preauth, []models.Transaction{op(models.KindRelease, 2000, models.TxApproved)}, models.KindCapture, 2000, "was released"},
		{"an operation of an operation", op(models.KindRefund, 500, models.TxApproved), nil, models.KindRefund, 100, "act on a payment"},
	}
	for _, c := range cases {
		err := models.CheckOperation(c.parent, c.ops, c.kind, c.amount, money.English)
		var oerr *models.ValidationError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &oerr) || !strings.Contains(oerr.Message(), c.want)):
			t.Errorf("%s: %v, want a refusal with %q", c.name, err, c.want)
		}
	}
	// The refusal speaks the store's numbers, in the payment's currency's decimals.
	yen := models.Transaction{Kind: models.KindSale, AmountMinor: 123456, State: models.TxApproved, Currency: "JPY"}
	err := models.CheckOperation(yen, nil, models.KindRefund, 123457, money.MustLocale("lv-LV"))
	if err == nil || !strings.Contains(err.Error(), "At most 123\u00a0456\u00a0JPY can still be refunded") {
		t.Errorf("yen over-refund in a Latvian store: %v", err)
	}
}

func TestBalanceOf(t *testing.T) {
	preauth := models.Transaction{Kind: models.KindPreauth, AmountMinor: 2000, State: models.TxApproved}
	b := models.BalanceOf(preauth, []models.Transaction{op(models.KindCapture, 1200, models.TxApproved), op(models.KindRefund, 200, models.TxApproved)})
	if !b.Captured || b.Taken != 1200 || b.Refunded != 200 || b.Refundable != 1000 || b.Capturable != 0 {
		t.Errorf("captured and partly refunded preauth: %+v", b)
	}
	if b := models.BalanceOf(preauth, nil); b.Capturable != 2000 || b.Refundable != 0 {
		t.Errorf("open preauth: %+v", b)
	}
}

// The database lets one operation per payment be open, whichever instance starts it.
func TestOneOpenOperationPerPayment(t *testing.T) {
	ctx := context.Background()
	s := &models.Transactions{DB: openDB(t)}
	sale := models.Transaction{ClientOrderID: "PSALE", EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-1", Kind: models.KindSale,
		AmountMinor: 1500, Currency: "EUR", State: models.TxApproved}
	if err := s.Create(ctx, &sale, "fixture"); err != nil {
		t.Fatal(err)
	}
	refund := func(id string, state models.TxState) error {
		r := models.Transaction{ClientOrderID: id, ParentID: &sale.ID, ParentOrderID: "PSALE", EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-1",
			Kind: models.KindRefund, AmountMinor: 100, Currency: "EUR", State: state}
		return s.Create(ctx, &r, "refund")
	}
	if err := refund("PSALE-R1", models.TxSending); err != nil {
		t.Fatal(err)
	}
	if err := refund("PSALE-R2", models.TxSending); !errors.Is(err, models.ErrConflict) {
		t.Errorf("a second open refund: %v, want ErrConflict", err)
	}
	if err := refund("PSALE-R3", models.TxApproved); err != nil {
		t.Errorf("a settled one beside it: %v", err)
	}
	ops, err := s.Operations(ctx, sale.ID)
	if err != nil || len(ops) != 2 {
		t.Errorf("operations: %d, %v", len(ops), err)
	}
}
