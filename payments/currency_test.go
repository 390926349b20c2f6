package payments_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// A store types amounts the way it writes numbers, in its currency's decimals: yen have none,
// dinars three. The reader, the gateway, the bank's notice and a refund all agree on them.
func TestAmountsTypedTheWayTheStoreWritesThem(t *testing.T) {
	for _, tt := range []struct {
		currency, locale string
		typed, wire      string
		minor            int64
		bad, badMsg      string
		refund           string
		refundMinor      int64
	}{
		{"JPY", "lv-LV", "1 200", "1200", 1200, "12,50", "Enter a whole amount such as 1042 (JPY has no decimals).", "200", 200},
		{"KWD", "de-DE", "1.010,42", "1010.420", 1010420, "10,4201", "at most 3 decimals", "0,42", 420},
	} {
		t.Run(tt.currency, func(t *testing.T) {
			e := paymentstest.NewWith(t, "", func(c *sandbox.Config) { c.Currency = tt.currency })
			e.Gateways.Money = money.MustLocale(tt.locale)
			ctx := context.Background()
			_, err := e.Pay.Start(ctx, payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, Amount: tt.bad, Actor: manager})
			var se *models.ValidationError
			if !errors.As(err, &se) || se.Field() != "amount" || !strings.Contains(se.Message(), tt.badMsg) {
				t.Fatalf("%q in a %s store: %v, want the amount refused with %q", tt.bad, tt.locale, err, tt.badMsg)
			}
			tx, err := e.Pay.Start(ctx, payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, Amount: tt.typed, Actor: manager})
			if err != nil {
				t.Fatal(err)
			}
			if tx.AmountMinor != tt.minor || tx.Currency != tt.currency {
				t.Fatalf("%q became %d %s, want %d %s", tt.typed, tx.AmountMinor, tx.Currency, tt.minor, tt.currency)
			}
			if msg := e.Expect(devices.TypePresentCard).(devices.PresentCard); msg.Amount != tt.wire || msg.Currency != tt.currency {
				t.Errorf("the reader was asked for %s %s, want %s %s", msg.Amount, msg.Currency, tt.wire, tt.currency)
			}
			e.ReadCard(tx, "visa")
			// Approved by the bank's notice alone: its amount is read in the payment's currency.
			sale := e.WaitState(tx.ID, models.TxApproved, false)
			e.Expect(devices.TypeResult)
			op, err := e.Pay.Operate(ctx, payments.OperationInput{Key: "refund-" + tt.currency, ParentID: sale.ID, Kind: models.KindRefund,
				Amount: tt.refund, Reason: "returned", Actor: manager})
			if err != nil || op.AmountMinor != tt.refundMinor {
				t.Fatalf("refund %q: %d, %v; want %d", tt.refund, op.AmountMinor, err, tt.refundMinor)
			}
			e.WaitState(op.ID, models.TxApproved, true)
		})
	}
}

// A switched-off endpoint refuses new payments and refunds with a reason (not an error
// page), while the payments it already sent are still followed up to their end.
func TestDisabledEndpointRefusesNewWorkButFinishesTheOld(t *testing.T) {
	e := paymentstest.NewWith(t, "", nil)
	ctx := context.Background()
	sale := e.Approved(1500, models.KindSale)
	e.GW.SetFaults(sandbox.Faults{CallbacksOff: true}) // only status checks can finish the next one
	pending := e.Start(1042, models.KindSale, "visa")
	e.Gateways.Disabled.Store(true)
	_, err := e.Pay.Start(ctx, payments.StartInput{ReaderID: e.ReaderID, Kind: models.KindSale, AmountMinor: 500, Actor: manager})
	var se *models.ValidationError
	if !errors.As(err, &se) || !errors.Is(err, payments.ErrEndpointDisabled) || !strings.Contains(se.Message(), "switched off") {
		t.Errorf("a payment on a disabled endpoint: %v", err)
	}
	_, err = e.Pay.Operate(ctx, payments.OperationInput{Key: "refund-off", ParentID: sale.ID, Kind: models.KindRefund, AmountMinor: 100, Reason: "x", Actor: manager})
	paymentstest.RefusedWith(t, err, "switched off")
	e.WaitState(pending.ID, models.TxApproved, true)
}
