package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
)

// DueStatusChecks leases the payments whose status request is due (jobs.StatusChecks).
func (p *Service) DueStatusChecks(ctx context.Context, now time.Time, limit int) ([]models.DueCheck, error) {
	return p.Tx.LeaseDueChecks(ctx, now, limit, statusLease)
}

// statusLease keeps a leased payment away from other pollers while its status request runs;
// CheckStatus always sets the real next time (or stops the schedule) before the lease ends.
const statusLease = 30 * time.Second

// CheckStatus asks the gateway for the status of a payment whose check is due (as
// DueStatusChecks leased it) and applies the answer.
func (p *Service) CheckStatus(ctx context.Context, d models.DueCheck) error {
	_, err := p.checkStatus(ctx, d.ID, false, "", true, d.Due)
	return err
}

// Recheck asks the gateway for a payment's status now, whatever its state or schedule (a
// person's "re-check now"), and applies the answer: a final status the gateway has changed
// replaces ours and is flagged for review. The audit log gets payment.recheck with what the
// bank said, or that it did not answer (the error comes back with the payment then).
func (p *Service) Recheck(ctx context.Context, id uint, by Actor) (models.Transaction, error) {
	t, err := p.checkStatus(ctx, id, true, "re-checked by "+by.Name, false, time.Time{})
	switch {
	case err != nil && t.ID == 0: // the payment could not even be loaded: nothing was asked
	case err != nil:
		p.audit(ctx, by, "payment.recheck", t.ClientOrderID, "no answer from the bank")
	default:
		p.audit(ctx, by, "payment.recheck", t.ClientOrderID, "status now "+string(t.State))
	}
	return t, err
}

// Settle rechecks payments with bounded concurrency (a close's sweep); failures are logged
// and leave each payment on its own schedule.
func (p *Service) Settle(ctx context.Context, ids []uint, why string) {
	work := make(chan uint)
	var wg sync.WaitGroup
	for range min(8, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if _, err := p.checkStatus(ctx, id, true, why, true, time.Time{}); err != nil && ctx.Err() == nil {
					p.Log.Warn("status recheck", "transaction", id, "error", err)
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
}

// nextCheck is when a payment whose check was due at due (zero: not on the schedule) and ran
// now is asked about next. The cadence is kept from when the check was due, not from when it
// ran, so that a poller running a little late does not stretch every payment's period (10,000
// pending payments need 2,000 checks a second, late or not); and never sooner than
// FirstCheckAfter from now, so a payment is asked every 3–5 s (§7.3) however late the poller
// is. A check run before it was due counts from now.
func nextCheck(due, now time.Time) time.Time {
	if due.IsZero() || due.After(now) {
		return now.Add(CheckEvery)
	}
	return later(due.Add(CheckEvery), now.Add(FirstCheckAfter))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *Service) checkStatus(ctx context.Context, id uint, force bool, why string, routine bool, due time.Time) (models.Transaction, error) {
	t, err := p.Tx.ByID(ctx, id)
	if err != nil {
		return t, err
	}
	if t.Kind.Operation() {
		return p.checkOperation(ctx, t, force, why)
	}
	if t.State.Final() && !force && t.Review != models.ReviewConfirm {
		res, err := p.Tx.Apply(ctx, id, models.TxUpdate{Source: "poll", ClearCheck: true, Detail: "already final; polling stopped"})
		return res.Tx, err
	}
	if t.State == models.TxCancelled || (t.State == models.TxFailed && t.SentAt == nil && t.GatewayOrderID == "") {
		return t, nil // nothing of it ever reached the gateway
	}
	now := p.now()
	if t.State == models.TxWaitingCard && force {
		return t, nil
	}
	gw, _, err := p.Gateways.Gateway(ctx, t.EndpointID)
	if err != nil {
		next := now.Add(CheckEvery)
		res, _ := p.apply(ctx, id, models.TxUpdate{Source: "poll", NextCheckAt: &next, Detail: "gateway settings: " + err.Error()})
		return res.Tx, err
	}
	prefix := "status check: "
	if why != "" {
		prefix = why + ": "
	}
	// Without an order id (the sale timed out) ask by client_orderid alone (§9). With our
	// request's serial-number, the answer is about the sale or preauth itself even after a
	// capture or refund became the order's latest transaction (§13.4).
	st, err := gw.Status(ctx, mapi.StatusRequest{ClientOrderID: t.ClientOrderID, OrderID: t.GatewayOrderID, ByRequestSN: t.RequestSerial})
	now = p.now()
	next := nextCheck(due, now)
	pastDeadline := !t.State.Final() && t.State != models.TxNeedsReview && t.SentAt != nil && now.Sub(*t.SentAt) >= CheckDeadline
	if t.State == models.TxNeedsReview || pastDeadline {
		next = now.Add(ReviewEvery) // a person is on it: keep asking, slowly
	}
	var verr *mapi.ValidationError
	if t.State == models.TxWaitingCard {
		return p.cardWatchdog(ctx, t, st, err, now, next, "")
	}
	switch {
	case err == nil && !sameOrder(t, st):
		// An answer about another order (a gateway or proxy fault) must not touch this one.
		err = fmt.Errorf("%w: status answer names order %s/%s, ours %s/%s", ErrCallbackMismatch,
			st.MerchantOrderID, st.OrderID, t.ClientOrderID, t.GatewayOrderID)
		res, _ := p.apply(ctx, id, models.TxUpdate{Source: "poll", CountCheck: true, NextCheckAt: &next, Detail: "status answer ignored: " + err.Error()})
		return res.Tx, err
	case err == nil:
		u := statusUpdate(st)
		u.Gateway, u.Override = true, true
		u.Detail = prefix + "the bank says " + models.BankStatus(string(st.Status))
		if pastDeadline && !u.State.Final() {
			// One last answer was asked for and it is still not final: a person must look.
			u.State = models.TxNeedsReview
			u.Detail += fmt.Sprintf("; no final status %s after the request: needs review, asking every %s", CheckDeadline, ReviewEvery)
		}
		if !force && nothingNew(t, u) {
			if ok, err := p.Tx.Reschedule(ctx, id, t.State, next); ok || err != nil {
				return t, err
			}
		}
		u.Source, u.CountCheck, u.NextCheckAt, u.Routine = "poll", true, &next, routine
		res, err := p.apply(ctx, id, u)
		return res.Tx, err
	case errors.As(err, &verr) && verr.Code == "8" && t.GatewayOrderID == "":
		return p.notFound(ctx, t, now, prefix)
	default:
		u := models.TxUpdate{Source: "poll", CountCheck: true, NextCheckAt: &next, Detail: prefix + "request failed: " + err.Error()}
		if pastDeadline {
			u.State = models.TxNeedsReview
			u.Detail += fmt.Sprintf("; no final status %s after the request: needs review, asking every %s", CheckDeadline, ReviewEvery)
		}
		res, _ := p.apply(ctx, id, u)
		return res.Tx, err
	}
}

// cardWatchdog settles a payment still waiting for its card past the card timeout: no card
// read and no card error reached any instance in time. The gateway is asked first: normally
// it has no such order and the payment fails (nothing was charged); but a card read that was
// never recorded (a database restored from a backup taken mid-payment) shows up there, and
// then the gateway's status is taken.
//
// reason is why it stopped waiting before the card timeout (the reader went away); "" for the
// timeout itself.
func (p *Service) cardWatchdog(ctx context.Context, t models.Transaction, st *mapi.StatusResponse, err error, now, next time.Time, reason string) (models.Transaction, error) {
	var verr *mapi.ValidationError
	switch {
	case err == nil && sameOrder(t, st):
		u := statusUpdate(st)
		sent := now // the polling deadline counts from here
		u.Source, u.Gateway, u.Override, u.CountCheck, u.NextCheckAt, u.SentAt = "poll", true, true, true, &next, &sent
		u.Detail = "no card read was recorded, but the bank has the payment: it says " + models.BankStatus(string(st.Status))
		res, err := p.apply(ctx, t.ID, u)
		return res.Tx, err
	case errors.As(err, &verr) && verr.Code == "8":
		msg, detail := "no card was read in time", "no word from the reader within the card timeout; the bank has no such payment"
		if reason != "" {
			msg, detail = reason+": nothing was charged", reason+"; the bank has no such payment"
		}
		res, err := p.apply(ctx, t.ID, models.TxUpdate{Source: "system", State: models.TxFailed, OnlyFrom: []models.TxState{models.TxWaitingCard},
			ErrorMessage: msg, Detail: detail})
		if err == nil && res.Changed {
			_ = p.Link.Send(t.ReaderSerial, devices.Cancel{Type: devices.TypeCancel, Tx: t.ClientOrderID})
		}
		return res.Tx, err
	default:
		// The bank could not be asked: ask again rather than guess.
		if err == nil {
			err = fmt.Errorf("%w: status answer names order %s/%s, ours %s", ErrCallbackMismatch, st.MerchantOrderID, st.OrderID, t.ClientOrderID)
		}
		res, _ := p.apply(ctx, t.ID, models.TxUpdate{Source: "poll", CountCheck: true, NextCheckAt: &next,
			Detail: "card timeout passed; asking the bank whether it has the payment failed: " + err.Error()})
		return res.Tx, err
	}
}

// notFound handles "no such order" about a request whose outcome is unknown. The request may
// still reach the gateway (a slow proxy, a retrying load balancer), so one answer proves
// nothing: the payment stays "outcome unknown" until the whole window in which the gateway
// could still accept it has passed and it has said "not found" several times. Only then did
// the card certainly go uncharged.
func (p *Service) notFound(ctx context.Context, t models.Transaction, now time.Time, prefix string) (models.Transaction, error) {
	next := now.Add(CheckEvery)
	if t.State.Final() {
		res, err := p.apply(ctx, t.ID, models.TxUpdate{Source: "poll", CountCheck: true, Detail: prefix + "order not found (still not charged)"})
		return res.Tx, err
	}
	sent := now
	if t.SentAt != nil {
		sent = *t.SentAt
	}
	until := sent.Add(p.unknownWindow())
	if t.State == models.TxUnknown && t.NotFound+1 >= UnknownAnswers && !now.Before(until) {
		res, err := p.apply(ctx, t.ID, models.TxUpdate{Source: "poll", State: models.TxFailed, CountCheck: true, NotFound: true,
			ErrorMessage: "the gateway never received the payment: the card was not charged",
			Detail: fmt.Sprintf("%sorder not found (%d answers over %s): the request never reached the gateway", prefix, t.NotFound+1,
				now.Sub(sent).Round(time.Second))})
		return res.Tx, err
	}
	u := models.TxUpdate{Source: "poll", CountCheck: true, NotFound: true, NextCheckAt: &next,
		Detail: fmt.Sprintf("%sorder not found yet; the request may still arrive: asking again until %s", prefix, until.UTC().Format("15:04:05 UTC"))}
	if t.State == models.TxSending || t.State == models.TxProcessing {
		u.State, u.SentAt = models.TxUnknown, &now
	}
	res, err := p.apply(ctx, t.ID, u)
	return res.Tx, err
}

func (p *Service) unknownWindow() time.Duration {
	if p.UnknownWindow > 0 {
		return p.UnknownWindow
	}
	return DefaultUnknownWindow
}

// statusUpdate turns a status response into facts for the state machine.
func statusUpdate(st *mapi.StatusResponse) models.TxUpdate {
	return models.TxUpdate{
		State: models.StateFromGateway(string(st.Status)), GatewayStatus: string(st.Status),
		GatewayOrderID: st.OrderID, ApprovalCode: st.ApprovalCode, RRN: st.ProcessorRRN, ReceiptID: st.ReceiptID,
		TerminalID: st.TerminalID, CardBrand: st.CardType, CardBIN: st.BIN, CardLast4: st.LastFour,
		ErrorCode: st.ErrorCode, ErrorMessage: st.ErrorMessage,
	}
}

// sameOrder reports whether a status answer is about payment t (fields the answer leaves out
// are not held against it).
func sameOrder(t models.Transaction, st *mapi.StatusResponse) bool {
	return (st.MerchantOrderID == "" || st.MerchantOrderID == t.ClientOrderID) &&
		(st.OrderID == "" || t.GatewayOrderID == "" || st.OrderID == t.GatewayOrderID)
}

// nothingNew reports whether a status answer only repeats what the payment already says.
func nothingNew(t models.Transaction, u models.TxUpdate) bool {
	same := func(have, got string) bool { return got == "" || got == have }
	return u.State == t.State && u.GatewayStatus == t.GatewayStatus && same(t.GatewayOrderID, u.GatewayOrderID) &&
		same(t.ApprovalCode, u.ApprovalCode) && same(t.RRN, u.RRN) && same(t.ReceiptID, u.ReceiptID) &&
		same(t.TerminalID, u.TerminalID) && same(t.CardBrand, u.CardBrand) && same(t.CardBIN, u.CardBIN) &&
		same(t.CardLast4, u.CardLast4) && same(t.ErrorCode, u.ErrorCode) && same(t.ErrorMessage, u.ErrorMessage)
}

// CallbackOutcome says what a verified callback did, for the callback log.
type CallbackOutcome string

const (
	CallbackApplied   CallbackOutcome = "applied"   // the payment changed
	CallbackDuplicate CallbackOutcome = "duplicate" // nothing new (repeated or late)
	CallbackConflict  CallbackOutcome = "conflict"  // contradicted a final status; kept for review
	CallbackUnknown   CallbackOutcome = "unknown_order"
	// CallbackNotWaiting: a capture or reversal callback for a payment with no such
	// operation waiting (§13.4): answered 200 and changes nothing.
	CallbackNotWaiting CallbackOutcome = "not_waiting"
)

// sameAmount reports whether a callback's amount, read in the payment's currency, is the
// payment's.
func sameAmount(cb *mapi.Callback, t models.Transaction) bool {
	a, err := cb.AmountIn(t.Currency)
	return err == nil && int64(a) == t.AmountMinor
}

// ErrCallbackMismatch is returned when a correctly signed callback, or a status answer, does not match our payment
// (amount or gateway order id differ). Nothing is changed.
var ErrCallbackMismatch = errors.New("gateway message does not match the payment")

// errOtherEndpoint: the order id is ours, but on another endpoint than the callback's.
var errOtherEndpoint = errors.New("payment belongs to another endpoint")

// Callback is a gateway callback as it reached us.
type Callback struct {
	EndpointID uint       // the endpoint whose callback address it came to
	Key        string     // that endpoint's control key
	Query      url.Values // what the gateway sent
	// Delivery is the callback log's line for it (who sent it, what it said). When the
	// callback changes or repeats a payment, the line is written with its outcome in the
	// change's own transaction and CallbackResult.Logged says so; the caller logs the others.
	Delivery models.CallbackDelivery
}

// CallbackResult is what a verified callback did.
type CallbackResult struct {
	Outcome CallbackOutcome
	Tx      models.Transaction
	Logged  bool // the delivery's log line was written with the change (Callback.Delivery)
}

// ApplyCallback verifies a gateway callback with the endpoint's control key and applies it.
// It returns only after the change is durable, so the caller may then answer 200.
// mapi.ErrBadControl (or a malformed query) means forged: answer 403, change nothing.
func (p *Service) ApplyCallback(ctx context.Context, in Callback) (CallbackResult, error) {
	cb, err := mapi.VerifyCallback(in.Query, in.Key)
	if err != nil {
		return CallbackResult{}, err
	}
	endpointID := in.EndpointID
	if cb.Type == "capture" || cb.Type == "reversal" {
		outcome, t, err := p.operationCallback(ctx, endpointID, cb)
		return CallbackResult{Outcome: outcome, Tx: t}, err
	}
	// One lookup, inside the update's transaction: the checks see the row the update changes.
	u := models.TxUpdate{
		Source: "callback", State: models.StateFromGateway(string(cb.Status)), GatewayStatus: string(cb.Status),
		GatewayOrderID: cb.OrderID, ApprovalCode: cb.ApprovalCode, RRN: cb.ProcessorRRN, CardBrand: cb.CardType,
		CardBIN: cb.BIN, CardLast4: cb.LastFour, ErrorCode: cb.ErrorCode, ErrorMessage: cb.ErrorMessage,
		Detail: "the bank's notice: " + models.BankStatus(string(cb.Status)), Gateway: true,
		// The gateway retries a callback until it gets our 200: a retry of one we applied is
		// answered from one read, without a write of the payment.
		QuietRepeat: true,
		Check: func(t models.Transaction) error {
			switch {
			case t.EndpointID != endpointID:
				return errOtherEndpoint
			case t.GatewayOrderID != "" && t.GatewayOrderID != cb.OrderID:
				return fmt.Errorf("%w: order id %s, ours %s", ErrCallbackMismatch, cb.OrderID, t.GatewayOrderID)
			case !sameAmount(cb, t):
				return fmt.Errorf("%w: amount %s, ours %s", ErrCallbackMismatch, cb.Amount, t.Amount())
			case cb.Type != "" && cb.Type != string(t.Kind):
				return fmt.Errorf("%w: type %s, ours %s", ErrCallbackMismatch, cb.Type, t.Kind)
			}
			return nil
		},
		Also: func(res models.TxResult) any {
			d := in.Delivery
			d.Outcome, d.HTTPStatus = string(callbackOutcome(res)), http.StatusOK
			return d.Line(p.now())
		},
	}
	res, err := p.Tx.ApplyByOrder(ctx, cb.MerchantOrder, u)
	switch {
	case errors.Is(err, models.ErrNotFound), errors.Is(err, errOtherEndpoint):
		return CallbackResult{Outcome: CallbackUnknown}, nil
	case errors.Is(err, ErrCallbackMismatch):
		return CallbackResult{Tx: res.Tx}, err
	case err == nil && res.Repeat:
		// nothing changed: nothing to publish
		return CallbackResult{Outcome: CallbackDuplicate, Tx: res.Tx, Logged: res.Logged}, nil
	}
	res, err = p.applied(res, err, u)
	if err != nil {
		return CallbackResult{Tx: res.Tx}, err
	}
	return CallbackResult{Outcome: callbackOutcome(res), Tx: res.Tx, Logged: res.Logged}, nil
}

// callbackOutcome is what a callback's update did to its payment.
func callbackOutcome(res models.TxResult) CallbackOutcome {
	switch {
	case res.Conflict != nil:
		return CallbackConflict
	case res.Changed:
		return CallbackApplied
	}
	return CallbackDuplicate
}
