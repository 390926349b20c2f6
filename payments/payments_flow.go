package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
)

// CardRead takes a reader's encrypted card read for a waiting payment and sends it to the
// gateway. The gateway call runs in the background (a reader must keep heartbeating while it
// lasts); Close waits for those calls. The encrypted block is forwarded, never stored.
func (p *Service) CardRead(ctx context.Context, serial string, m *devices.CardRead) error {
	t, err := p.Tx.ByClientOrderID(ctx, m.Tx)
	if err != nil {
		return fmt.Errorf("payments: card read from %s: %w", serial, err)
	}
	if t.ReaderSerial != serial {
		return fmt.Errorf("payments: card read for %s came from reader %s, not %s", t.ClientOrderID, serial, t.ReaderSerial)
	}
	watchdog := p.now().Add(SendTimeout + sendGrace)
	res, err := p.Tx.Apply(ctx, t.ID, models.TxUpdate{Source: "reader", State: models.TxSending, NextCheckAt: &watchdog,
		CardBIN: firstSix(m.PANFirstDigits), CardLast4: m.PANLastDigits, EntryMode: m.EntryMode,
		Detail: fmt.Sprintf("card read (%s, ksn %s)", m.EntryMode, m.KSN)})
	if err != nil {
		return err
	}
	if !res.Changed {
		// A repeated read, or a read for a payment that was cancelled meanwhile: never a second sale.
		return nil
	}
	p.publish(t.ID)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("payments: shutting down")
	}
	p.sends.Add(1)
	p.mu.Unlock()
	read := *m
	go func() {
		defer p.sends.Done()
		// Detached from the reader connection: the request must finish even if the reader drops.
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SendTimeout)
		defer cancel()
		p.send(sendCtx, res.Tx, &read)
	}()
	return nil
}

// Close waits for gateway calls in flight.
func (p *Service) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.sends.Wait()
}

func firstSix(s string) string {
	if len(s) > 6 {
		return s[:6]
	}
	return s
}

// send makes the one sale/preauth request for a payment and records what came back.
func (p *Service) send(ctx context.Context, t models.Transaction, m *devices.CardRead) {
	gw, merchant, err := p.Gateways.Gateway(ctx, t.EndpointID)
	if err != nil {
		p.apply(ctx, t.ID, models.TxUpdate{Source: "system", State: models.TxFailed,
			ErrorMessage: "the gateway settings are not usable", Detail: err.Error()})
		return
	}
	req := mapi.OrderRequest{
		ClientOrderID: t.ClientOrderID, Description: orderDesc(t), Amount: mapi.Amount(t.AmountMinor), Currency: t.Currency,
		Address1: merchant.Address1, City: merchant.City, ZipCode: merchant.ZipCode, Country: merchant.Country, Email: merchant.Email,
		DeviceSerial: t.ReaderSerial, KSN: m.KSN, EncryptedData: m.EncryptedData, EncryptedType: m.EncryptedType, EntryMode: m.EntryMode,
		PANFirstDigits: m.PANFirstDigits, PANLastDigits: m.PANLastDigits, CardPrintedName: m.CardholderName,
		ServerCallbackURL: merchant.CallbackURL,
	}
	call := gw.Sale
	if t.Kind == models.KindPreauth {
		call = gw.Preauth
	}
	resp, err := call(ctx, req)
	now := p.now()
	var verr *mapi.ValidationError
	var gerr *mapi.GatewayError
	switch {
	case err == nil:
		next := now.Add(FirstCheckAfter)
		p.apply(ctx, t.ID, models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayStatus: "processing",
			GatewayOrderID: resp.OrderID, RequestSerial: resp.SerialNumber, SentAt: &now, NextCheckAt: &next,
			Detail: fmt.Sprintf("%s accepted: order %s", t.Kind, resp.OrderID)})
	case mapi.IsUnknownOutcome(err):
		// Never resend blindly: the gateway may have the order. Ask for it by client_orderid first.
		next := now.Add(UnknownCheckAfter)
		p.apply(ctx, t.ID, models.TxUpdate{Source: "response", State: models.TxUnknown, SentAt: &now, NextCheckAt: &next,
			Detail: "outcome unknown: " + err.Error()})
	case errors.As(err, &verr):
		p.apply(ctx, t.ID, models.TxUpdate{Source: "response", State: models.TxFailed, GatewayOrderID: verr.OrderID,
			ErrorCode: verr.Code, ErrorMessage: verr.Message, Detail: "refused by the gateway: " + verr.Error()})
	case errors.As(err, &gerr):
		p.apply(ctx, t.ID, models.TxUpdate{Source: "response", State: models.TxFailed, GatewayOrderID: gerr.OrderID,
			ErrorCode: gerr.Code, ErrorMessage: gerr.Message, Detail: "gateway error: " + gerr.Error()})
	default: // 403 and anything else the gateway answered definitively
		p.apply(ctx, t.ID, models.TxUpdate{Source: "response", State: models.TxFailed,
			ErrorMessage: "the gateway refused the request", Detail: err.Error()})
	}
}

func orderDesc(t models.Transaction) string {
	if t.Description != "" {
		return t.Description
	}
	return fmt.Sprintf("Card-present %s %s", t.Kind, t.ClientOrderID)
}

// apply records an update and publishes it; failures are logged (the poller will find the
// payment again through its schedule).
func (p *Service) apply(ctx context.Context, id uint, u models.TxUpdate) (models.TxResult, error) {
	res, err := p.Tx.Apply(ctx, id, u)
	return p.applied(res, err, u)
}

// applied logs, publishes and tells the reader what an update did.
func (p *Service) applied(res models.TxResult, err error, u models.TxUpdate) (models.TxResult, error) {
	if err != nil {
		p.Log.Error("payment update", slog.Uint64("transaction", uint64(res.Tx.ID)), slog.String("source", u.Source), slog.Any("error", err))
		return res, err
	}
	if res.Conflict != nil {
		p.Log.Warn("payment event contradicts final status", slog.String("order", res.Tx.ClientOrderID), slog.Any("conflict", res.Conflict))
	}
	if res.Flagged != "" && res.Flagged != models.ReviewResolution {
		p.Log.Warn("payment flagged for review", slog.String("order", res.Tx.ClientOrderID), slog.String("reason", res.Flagged))
		p.audit(context.Background(), models.Actor{Name: "gateway"}, "payment."+res.Flagged, res.Tx.ClientOrderID,
			fmt.Sprintf("%s %s %s: %s", res.Tx.Kind, res.Tx.Amount(), res.Tx.Currency, res.Tx.ReviewNote))
	}
	p.publish(res.Tx.ID)
	if res.Tx.ParentID != nil {
		p.publish(*res.Tx.ParentID) // the payment shows what remains
	}
	if res.Changed && res.Tx.State.Final() && !res.Tx.Kind.Operation() {
		p.tellReader(res.Tx)
	}
	return res, nil
}

func (p *Service) tellReader(t models.Transaction) {
	msg := string(t.State)
	if t.ErrorMessage != "" {
		msg += ": " + t.ErrorMessage
	} else if t.ApprovalCode != "" {
		msg += " " + t.ApprovalCode
	}
	p.Link.Tell(t.ReaderSerial, devices.Result{Type: devices.TypeResult, Tx: t.ClientOrderID, Status: string(t.State), Message: msg})
}

// CardError records that no card will come for a payment.
func (p *Service) CardError(ctx context.Context, serial string, m *devices.CardError) error {
	t, err := p.Tx.ByClientOrderID(ctx, m.Tx)
	if err != nil {
		return fmt.Errorf("payments: card error from %s: %w", serial, err)
	}
	if t.ReaderSerial != serial {
		return fmt.Errorf("payments: card error for %s came from reader %s, not %s", t.ClientOrderID, serial, t.ReaderSerial)
	}
	state := models.TxFailed
	msg := map[string]string{
		devices.CardErrorTimeout: "no card was presented in time", devices.CardErrorReadFail: "the card could not be read",
		devices.CardErrorBusy: "the reader was busy with another payment", devices.CardErrorCancelled: "cancelled on the reader",
	}[m.Reason]
	if m.Reason == devices.CardErrorCancelled {
		state = models.TxCancelled
	}
	_, err = p.apply(ctx, t.ID, models.TxUpdate{Source: "reader", State: state, ErrorMessage: msg,
		OnlyFrom: []models.TxState{models.TxWaitingCard},
		Detail:   fmt.Sprintf("card error %s %s", m.Reason, m.Message)})
	return err
}
