package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
)

// Money after the sale: captures and releases of preauths, refunds of sales and captures
// (protocol §13). Each is its own transaction row under the payment it acts on, with its own
// state machine (the same one), timeline, status polling and callbacks. One operation per
// payment is open at a time (idx_tx_parent_open), so what remains is always computed from
// settled operations, and a request whose outcome is unknown can be told apart from the ones
// before it.

// MaxCommentLen is the gateway's limit for a return's comment (§13.1).
const MaxCommentLen = 50

// ApprovalExpiry is how long a refund waits for a second person's approval before it lapses.
const ApprovalExpiry = 30 * time.Minute

// OperationInput is a capture, release or refund a manager asks for on a payment.
type OperationInput struct {
	Key      string // the form's one-time key: the same key does one operation
	ParentID uint
	Kind     models.TxKind
	// Amount is as typed by the manager, read in the store's locale and the payment's
	// currency; callers that hold minor units set AmountMinor instead.
	Amount      string
	AmountMinor int64
	Reason      string
	Actor       Actor
}

// ErrAlreadyDone comes with the operation that the same form (its one-time key) already
// started.
var ErrAlreadyDone = errors.New("this form already started an operation")

// Operate starts a capture, release or refund: checks it against what the payment's
// settled operations leave, records it, and sends it to the gateway in the background (the
// page follows it live). The audit log gets payment.<kind>, or payment.refund_requested for a
// refund that waits for a second person's approval.
func (p *Service) Operate(ctx context.Context, in OperationInput) (models.Transaction, error) {
	op, err := p.operate(ctx, in)
	if err != nil {
		return op, err
	}
	detail := fmt.Sprintf("%s %s %s of %s", op.Kind, op.Amount(), op.Currency, op.ParentOrderID)
	if op.Description != "" {
		detail += ": " + op.Description
	}
	if op.State == models.TxAwaitingApproval {
		p.audit(ctx, in.Actor, "payment.refund_requested", op.ClientOrderID, detail+"; waits for a second person's approval")
	} else {
		p.audit(ctx, in.Actor, "payment."+string(op.Kind), op.ClientOrderID, detail)
	}
	return op, nil
}

// operate is Operate without its audit entry, for callers that write their own
// (ReleaseStale's payment.auto_release).
func (p *Service) operate(ctx context.Context, in OperationInput) (models.Transaction, error) {
	var op models.Transaction
	in.Reason = strings.TrimSpace(in.Reason)
	switch {
	case in.Key == "" || len(in.Key) > 64:
		return op, models.Invalid("", "This form is not valid any more: reload the page.")
	case !in.Kind.Operation():
		return op, models.Invalid("kind", "Choose capture, release or refund.")
	case in.Kind == models.KindRefund && in.Reason == "":
		return op, models.Invalid("reason", "Give a reason for the refund (the bank shows it).")
	case len(in.Reason) > MaxCommentLen:
		return op, models.Invalidf("reason", "Keep the reason to %d characters.", MaxCommentLen)
	}
	if prev, err := p.Tx.ByStartKey(ctx, in.Key); err == nil {
		return prev, ErrAlreadyDone
	} else if !errors.Is(err, models.ErrNotFound) {
		return op, err
	}
	parent, err := p.Tx.ByID(ctx, in.ParentID)
	if err != nil {
		return op, err
	}
	ops, err := p.Tx.Operations(ctx, parent.ID)
	if err != nil {
		return op, err
	}
	_, merchant, err := p.Gateways.Gateway(ctx, parent.EndpointID)
	if err != nil {
		return op, fmt.Errorf("payments: %s of %s: %w", in.Kind, parent.ClientOrderID, err)
	}
	if merchant.Disabled {
		return op, models.Invalidf("", "The gateway endpoint %s is switched off: an administrator can enable it under Gateway.", merchant.Name)
	}
	if in.Amount != "" {
		var perr *money.ParseError
		if in.AmountMinor, err = merchant.Money.Parse(in.Amount, parent.Currency); errors.As(err, &perr) {
			return op, models.InvalidAmount("amount", err)
		}
	}
	if err := models.CheckOperation(parent, ops, in.Kind, in.AmountMinor, merchant.Money); err != nil {
		// A twin submit of the same form that got in first is that operation, not a refusal.
		if prev, kerr := p.Tx.ByStartKey(ctx, in.Key); kerr == nil {
			return prev, ErrAlreadyDone
		}
		return op, err
	}
	closing, err := p.Gate.Closing(ctx, parent.EndpointID)
	if err != nil {
		return op, err
	}
	if closing {
		return op, models.Invalid("", "The day is being closed with the bank: try again in a moment.")
	}
	now := p.now()
	watchdog := now.Add(SendTimeout + sendGrace)
	op = models.Transaction{
		ClientOrderID: fmt.Sprintf("%s-%s%d", parent.ClientOrderID, opLetter[in.Kind], len(ops)+1),
		ParentID:      &parent.ID, ParentOrderID: parent.ClientOrderID, GatewayOrderID: parent.GatewayOrderID,
		EndpointID: parent.EndpointID, ReaderID: parent.ReaderID, ReaderSerial: parent.ReaderSerial, ReaderLabel: parent.ReaderLabel,
		Kind: in.Kind, AmountMinor: in.AmountMinor, Currency: parent.Currency, Description: in.Reason,
		State: models.TxSending, StartedByID: in.Actor.ID, StartedByName: in.Actor.Name, StartKey: &in.Key,
		CardBrand: parent.CardBrand, CardBIN: parent.CardBIN, CardLast4: parent.CardLast4,
		BusinessDay: BusinessDay(now, merchant.TimeZone), NextCheckAt: &watchdog,
	}
	detail := fmt.Sprintf("%s of %s on %s asked by %s", op.Kind, merchant.Money.Format(op.AmountMinor, op.Currency), parent.ClientOrderID, in.Actor.Name)
	if in.Reason != "" {
		detail += ": " + in.Reason
	}
	needsApproval := in.Kind == models.KindRefund && merchant.RefundApprovalMinor > 0 && in.AmountMinor > merchant.RefundApprovalMinor
	if needsApproval {
		expires := now.Add(ApprovalExpiry)
		op.State, op.NextCheckAt = models.TxAwaitingApproval, &expires
		op.Review = models.ReviewApproval
		op.ReviewNote = fmt.Sprintf("Above the %s limit: another manager or admin must approve it by %s",
			merchant.Money.Format(merchant.RefundApprovalMinor, op.Currency), expires.In(merchant.Location()).Format("15:04 MST"))
		detail += "; " + op.ReviewNote
	}
	if err := p.Tx.Create(ctx, &op, detail); err != nil {
		if !errors.Is(err, models.ErrConflict) {
			return op, err
		}
		// The same form again (a double tap), or another operation took the payment meanwhile.
		if prev, kerr := p.Tx.ByStartKey(ctx, in.Key); kerr == nil {
			return prev, ErrAlreadyDone
		}
		return models.Transaction{}, models.Invalid("", "Another operation on this payment was just started: wait for its result.")
	}
	p.publish(op.ID)
	p.publish(parent.ID)
	if !needsApproval {
		p.goSend(ctx, op)
	}
	return op, nil
}

// goSend sends an operation's request in the background, tracked for shutdown.
func (p *Service) goSend(ctx context.Context, op models.Transaction) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return // the watchdog asks the gateway about it after the restart
	}
	p.sends.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.sends.Done()
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SendTimeout)
		defer cancel()
		p.sendOperation(sendCtx, op)
	}()
}

// Approve is a second person's yes to a refund above the endpoint's limit: it is checked again
// against what remains and sent. The person who asked for it cannot approve it.
func (p *Service) Approve(ctx context.Context, id uint, actor Actor) (models.Transaction, error) {
	op, err := p.Tx.ByID(ctx, id)
	if err != nil {
		return op, err
	}
	switch {
	case op.State != models.TxAwaitingApproval:
		return op, models.Invalid("", "This is not waiting for approval (any more).")
	case op.StartedByID == actor.ID:
		return op, models.Invalid("", "You asked for this refund: another manager or admin must approve it.")
	}
	parent, err := p.Tx.ByID(ctx, *op.ParentID)
	if err != nil {
		return op, err
	}
	ops, err := p.Tx.Operations(ctx, parent.ID)
	if err != nil {
		return op, err
	}
	others := ops[:0:0]
	for _, o := range ops {
		if o.ID != op.ID {
			others = append(others, o)
		}
	}
	_, merchant, err := p.Gateways.Gateway(ctx, parent.EndpointID)
	if err != nil {
		return op, fmt.Errorf("payments: approve %s: %w", op.ClientOrderID, err)
	}
	if merchant.Disabled {
		return op, models.Invalidf("", "The gateway endpoint %s is switched off: an administrator can enable it under Gateway.", merchant.Name)
	}
	if err := models.CheckOperation(parent, others, op.Kind, op.AmountMinor, merchant.Money); err != nil {
		return op, err
	}
	watchdog := p.now().Add(SendTimeout + sendGrace)
	res, err := p.apply(ctx, op.ID, models.TxUpdate{Source: "user", State: models.TxSending, OnlyFrom: []models.TxState{models.TxAwaitingApproval},
		ClearReview: true, NextCheckAt: &watchdog, Detail: "approved by " + actor.Name + "; sent to the bank"})
	if err != nil {
		return res.Tx, err
	}
	if !res.Changed {
		return res.Tx, models.Invalid("", "This is not waiting for approval (any more).")
	}
	p.goSend(ctx, res.Tx)
	op = res.Tx
	p.audit(ctx, actor, "payment.refund_approved", op.ClientOrderID, fmt.Sprintf("refund %s %s asked by %s", op.Amount(), op.Currency, op.StartedByName))
	return op, nil
}

// Reject is a second person's no: nothing reaches the bank.
func (p *Service) Reject(ctx context.Context, id uint, reason string, actor Actor) (models.Transaction, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 200 {
		return models.Transaction{}, models.Invalid("reason", "Say why the refund is rejected (at most 200 characters).")
	}
	op, err := p.Tx.ByID(ctx, id)
	if err != nil {
		return op, err
	}
	res, err := p.apply(ctx, op.ID, models.TxUpdate{Source: "user", State: models.TxCancelled, OnlyFrom: []models.TxState{models.TxAwaitingApproval},
		ClearReview: true, ErrorMessage: "rejected by " + actor.Name + ": " + reason, Detail: "rejected by " + actor.Name + ": " + reason})
	if err != nil {
		return res.Tx, err
	}
	if !res.Changed {
		return res.Tx, models.Invalid("", "This is not waiting for approval (any more).")
	}
	op = res.Tx
	p.audit(ctx, actor, "payment.refund_rejected", op.ClientOrderID, fmt.Sprintf("refund %s %s asked by %s: %s", op.Amount(), op.Currency, op.StartedByName, op.ErrorMessage))
	return op, nil
}

// lapse ends an approval request nobody answered in time, or reschedules the look at it.
func (p *Service) lapse(ctx context.Context, op models.Transaction) (models.Transaction, error) {
	expires := op.CreatedAt.Add(ApprovalExpiry)
	if p.now().Before(expires) {
		res, err := p.apply(ctx, op.ID, models.TxUpdate{Source: "system", NextCheckAt: &expires, Routine: true})
		return res.Tx, err
	}
	res, err := p.apply(ctx, op.ID, models.TxUpdate{Source: "system", State: models.TxCancelled, OnlyFrom: []models.TxState{models.TxAwaitingApproval},
		ClearReview: true, ErrorMessage: "nobody approved it within " + ApprovalExpiry.String() + ": nothing was refunded",
		Detail: "the approval request expired"})
	if err == nil && res.Changed {
		p.audit(ctx, models.ActorSystem, "payment.refund_expired", op.ClientOrderID,
			fmt.Sprintf("refund %s %s asked by %s: nobody approved it within %s", op.Amount(), op.Currency, op.StartedByName, ApprovalExpiry))
	}
	return res.Tx, err
}

// opLetter marks an operation's own order id: P…-C1 a capture, -V1 a release (void), -R2 a
// refund. It is ours only: the gateway sees the payment's client_orderid.
var opLetter = map[models.TxKind]string{models.KindCapture: "C", models.KindRelease: "V", models.KindRefund: "R"}

// moneyRequest is the wire request of an operation: the original order's ids, the
// operation's amount.
func moneyRequest(op models.Transaction) mapi.MoneyRequest {
	return mapi.MoneyRequest{ClientOrderID: op.ParentOrderID, OrderID: op.GatewayOrderID, Amount: mapi.Amount(op.AmountMinor),
		Currency: op.Currency, Comment: op.Description}
}

// callOperation sends an operation's capture or return request.
func callOperation(ctx context.Context, gw Gateway, op models.Transaction) (*mapi.OrderResponse, error) {
	req := moneyRequest(op)
	if op.Kind == models.KindCapture {
		return gw.Capture(ctx, req)
	}
	if req.Comment == "" {
		req.Comment = "Release of the preauth hold"
	}
	return gw.Return(ctx, req)
}

// sendOperation makes the one capture/return request of an operation and records the answer.
func (p *Service) sendOperation(ctx context.Context, op models.Transaction) {
	gw, _, err := p.Gateways.Gateway(ctx, op.EndpointID)
	if err != nil {
		p.apply(ctx, op.ID, models.TxUpdate{Source: "system", State: models.TxFailed,
			ErrorMessage: "the gateway settings are not usable", Detail: err.Error()})
		return
	}
	resp, err := callOperation(ctx, gw, op)
	p.operationAnswer(ctx, op, resp, err, "")
}

// operationAnswer records what a capture/return request brought back.
func (p *Service) operationAnswer(ctx context.Context, op models.Transaction, resp *mapi.OrderResponse, err error, prefix string) {
	now := p.now()
	var verr *mapi.ValidationError
	var gerr *mapi.GatewayError
	switch {
	case err == nil:
		next := now.Add(FirstCheckAfter)
		p.apply(ctx, op.ID, models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayStatus: "processing",
			RequestSerial: resp.SerialNumber, SentAt: &now, NextCheckAt: &next,
			Detail: fmt.Sprintf("%s%s accepted by the bank (request %s)", prefix, op.Kind, resp.SerialNumber)})
	case mapi.IsUnknownOutcome(err):
		// Never resend blindly: the bank may have it. The poller asks first (checkOperation).
		next := now.Add(UnknownCheckAfter)
		p.apply(ctx, op.ID, models.TxUpdate{Source: "response", State: models.TxUnknown, SentAt: &now, NextCheckAt: &next,
			Detail: prefix + "outcome unknown: " + err.Error()})
	case errors.As(err, &verr):
		p.apply(ctx, op.ID, models.TxUpdate{Source: "response", State: models.TxFailed, ErrorCode: verr.Code,
			ErrorMessage: refusal(op, verr.Code, verr.Message), Detail: prefix + "refused by the gateway: " + verr.Error()})
	case errors.As(err, &gerr):
		p.apply(ctx, op.ID, models.TxUpdate{Source: "response", State: models.TxFailed, ErrorCode: gerr.Code,
			ErrorMessage: refusal(op, gerr.Code, gerr.Message), Detail: prefix + "gateway error: " + gerr.Error()})
	default:
		p.apply(ctx, op.ID, models.TxUpdate{Source: "response", State: models.TxFailed,
			ErrorMessage: "the gateway refused the request", Detail: prefix + err.Error()})
	}
}

// refusal says a gateway refusal of an operation in the merchant's words.
func refusal(op models.Transaction, code, msg string) string {
	switch code {
	case "11":
		return fmt.Sprintf("the bank does not allow a %s of this payment in its current state", op.Kind)
	case "12":
		return "the amount is more than what remains at the bank"
	case "9":
		return "the bank's day is being closed: try again in a moment"
	}
	return "the bank refused it: " + msg
}

// checkOperation asks the gateway about an operation (the poller, a re-check, a callback to
// confirm). With its request's serial-number it asks for exactly that operation
// (by-request-sn, §13.4). Without one (the request's answer was lost) it asks for the order's
// latest transaction: if that is this operation's kind and amount and still processing, the
// identical request is sent again, which the gateway answers as a replay with the original
// serial-number (§13.3); if nothing of it is there after the unknown window, it never arrived.
func (p *Service) checkOperation(ctx context.Context, op models.Transaction, force bool, why string) (models.Transaction, error) {
	if op.State.Final() && !force && op.Review != models.ReviewConfirm {
		res, err := p.apply(ctx, op.ID, models.TxUpdate{Source: "poll", ClearCheck: true, Detail: "already final; polling stopped"})
		return res.Tx, err
	}
	if op.State == models.TxAwaitingApproval {
		return p.lapse(ctx, op)
	}
	if (op.State == models.TxFailed || op.State == models.TxCancelled) && op.RequestSerial == "" && op.SentAt == nil {
		return op, nil // refused or rejected before it reached the gateway
	}
	now := p.now()
	next := now.Add(CheckEvery)
	gw, _, err := p.Gateways.Gateway(ctx, op.EndpointID)
	if err != nil {
		res, _ := p.apply(ctx, op.ID, models.TxUpdate{Source: "poll", NextCheckAt: &next, Detail: "gateway settings: " + err.Error()})
		return res.Tx, err
	}
	prefix := "status check: "
	if why != "" {
		prefix = why + ": "
	}
	pastDeadline := !op.State.Final() && op.State != models.TxNeedsReview && op.SentAt != nil && now.Sub(*op.SentAt) >= CheckDeadline
	if op.State == models.TxNeedsReview || pastDeadline {
		next = now.Add(ReviewEvery)
	}
	if op.RequestSerial == "" {
		return p.findOperation(ctx, gw, op, prefix, next)
	}
	st, err := gw.Status(ctx, mapi.StatusRequest{ClientOrderID: op.ParentOrderID, OrderID: op.GatewayOrderID, ByRequestSN: op.RequestSerial})
	if err == nil && (st.MerchantOrderID != "" && st.MerchantOrderID != op.ParentOrderID ||
		st.TransactionType != "" && st.TransactionType != op.Kind.Wire()) {
		err = fmt.Errorf("%w: the answer is about %s %s, ours %s %s", ErrCallbackMismatch, st.TransactionType, st.MerchantOrderID, op.Kind.Wire(), op.ParentOrderID)
	}
	if err != nil {
		u := models.TxUpdate{Source: "poll", CountCheck: true, NextCheckAt: &next, Detail: prefix + "request failed: " + err.Error()}
		if pastDeadline {
			u.State = models.TxNeedsReview
			u.Detail += "; no final status an hour after the request: needs review"
		}
		res, _ := p.apply(ctx, op.ID, u)
		return res.Tx, err
	}
	u := operationUpdate(st)
	u.Gateway, u.Override = true, true
	u.Source, u.CountCheck, u.NextCheckAt = "poll", true, &next
	u.Detail = prefix + "the bank says " + models.BankStatus(string(st.Status))
	if pastDeadline && !u.State.Final() {
		u.State = models.TxNeedsReview
		u.Detail += "; no final status an hour after the request: needs review"
	}
	res, err := p.apply(ctx, op.ID, u)
	return res.Tx, err
}

// findOperation settles an operation whose request's answer was lost, by the order's latest
// transaction.
func (p *Service) findOperation(ctx context.Context, gw Gateway, op models.Transaction, prefix string, next time.Time) (models.Transaction, error) {
	now := p.now()
	st, err := gw.Status(ctx, mapi.StatusRequest{ClientOrderID: op.ParentOrderID, OrderID: op.GatewayOrderID})
	if err != nil {
		res, _ := p.apply(ctx, op.ID, models.TxUpdate{Source: "poll", CountCheck: true, NextCheckAt: &next,
			Detail: prefix + "asking the bank for the order's latest operation failed: " + err.Error()})
		return res.Tx, err
	}
	ours := st.TransactionType == op.Kind.Wire() && int64(st.Amount) == op.AmountMinor
	if ours && st.ByRequestSN != "" {
		// The gateway names the latest transaction's serial-number [U]: ours unless it is one
		// of the operations we already know.
		known, err := p.knownSerial(ctx, op, st.ByRequestSN)
		if err != nil {
			return op, err
		}
		if !known {
			u := operationUpdate(st)
			u.Gateway, u.Source, u.CountCheck, u.RequestSerial, u.SentAt = true, "poll", true, st.ByRequestSN, &now
			if !u.State.Final() {
				u.NextCheckAt = &next
			}
			u.Detail = prefix + "the bank has it (request " + st.ByRequestSN + "): " + models.BankStatus(string(st.Status))
			res, err := p.apply(ctx, op.ID, u)
			return res.Tx, err
		}
		ours = false
	} else if ours && p.lookalike(ctx, op) {
		// An earlier settled operation of the same kind and amount may be what the bank shows.
		res, err := p.apply(ctx, op.ID, models.TxUpdate{Source: "poll", State: models.TxNeedsReview, CountCheck: true, NextCheckAt: &next,
			Detail: prefix + "the bank's latest operation matches this one and an earlier one alike: a person must check it at the bank"})
		return res.Tx, err
	}
	switch {
	case ours && !models.StateFromGateway(string(st.Status)).Final():
		// Ours, still processing: the identical request is a replay that names its serial.
		resp, err := callOperation(ctx, gw, op)
		p.operationAnswer(ctx, op, resp, err, prefix+"the bank has it, still processing; asked again for its reference: ")
		t, _ := p.Tx.ByID(ctx, op.ID)
		return t, err
	case ours:
		u := operationUpdate(st)
		u.Gateway, u.Source, u.CountCheck = true, "poll", true
		u.Detail = prefix + "the bank has it: " + models.BankStatus(string(st.Status))
		res, err := p.apply(ctx, op.ID, u)
		return res.Tx, err
	}
	// The bank's latest is something before this operation: it has not arrived (yet).
	sent := now
	if op.SentAt != nil {
		sent = *op.SentAt
	}
	until := sent.Add(p.unknownWindow())
	if op.NotFound+1 >= UnknownAnswers && !now.Before(until) {
		res, err := p.apply(ctx, op.ID, models.TxUpdate{Source: "poll", State: models.TxFailed, CountCheck: true, NotFound: true,
			ErrorMessage: fmt.Sprintf("the bank never received the %s: nothing changed, it can be asked for again", op.Kind),
			Detail:       fmt.Sprintf("%snot at the bank after %s and %d answers: the request never arrived", prefix, now.Sub(sent).Round(time.Second), op.NotFound+1)})
		return res.Tx, err
	}
	u := models.TxUpdate{Source: "poll", CountCheck: true, NotFound: true, NextCheckAt: &next,
		Detail: fmt.Sprintf("%snot at the bank yet; the request may still arrive: asking again until %s", prefix, until.UTC().Format("15:04:05 UTC"))}
	if op.State == models.TxSending {
		u.State = models.TxUnknown
	}
	res, err := p.apply(ctx, op.ID, u)
	return res.Tx, err
}

// knownSerial reports whether serial is the request of another operation of op's payment.
func (p *Service) knownSerial(ctx context.Context, op models.Transaction, serial string) (bool, error) {
	ops, err := p.Tx.Operations(ctx, *op.ParentID)
	if err != nil {
		return false, err
	}
	for _, o := range ops {
		if o.ID != op.ID && o.RequestSerial == serial {
			return true, nil
		}
	}
	return false, nil
}

// lookalike reports whether the payment has an earlier settled operation of op's wire kind and
// amount that the bank approved: the bank's "latest" answer cannot tell the two apart.
func (p *Service) lookalike(ctx context.Context, op models.Transaction) bool {
	ops, err := p.Tx.Operations(ctx, *op.ParentID)
	if err != nil {
		return true
	}
	for _, o := range ops {
		if o.ID != op.ID && o.ID < op.ID && o.Kind.Wire() == op.Kind.Wire() && o.AmountMinor == op.AmountMinor && o.State == models.TxApproved {
			return true
		}
	}
	return false
}

// operationUpdate turns a status answer about an operation into facts for the state machine.
func operationUpdate(st *mapi.StatusResponse) models.TxUpdate {
	return models.TxUpdate{State: models.StateFromGateway(string(st.Status)), GatewayStatus: string(st.Status),
		ApprovalCode: st.ApprovalCode, RRN: st.ProcessorRRN, ReceiptID: st.ReceiptID, TerminalID: st.TerminalID,
		ErrorCode: st.ErrorCode, ErrorMessage: st.ErrorMessage}
}

// operationCallback applies the receiver rule (§13.4) to a verified capture or reversal
// callback: it concerns only an operation this portal asked for and is still waiting for, on
// the payment the callback names; that operation is then confirmed by asking the gateway
// about exactly it. The payment itself is never touched: an approved reversal callback
// carries the same control as the approved sale's.
func (p *Service) operationCallback(ctx context.Context, endpointID uint, cb *mapi.Callback) (CallbackOutcome, models.Transaction, error) {
	parent, err := p.Tx.ByClientOrderID(ctx, cb.MerchantOrder)
	if err != nil || parent.EndpointID != endpointID || parent.Kind.Operation() {
		return CallbackUnknown, models.Transaction{}, nil
	}
	if parent.GatewayOrderID != "" && parent.GatewayOrderID != cb.OrderID {
		return "", parent, fmt.Errorf("%w: order id %s, ours %s", ErrCallbackMismatch, cb.OrderID, parent.GatewayOrderID)
	}
	ops, err := p.Tx.Operations(ctx, parent.ID)
	if err != nil {
		return "", parent, err
	}
	for _, op := range ops {
		if op.State.Final() || op.Kind.Wire() != cb.Type || !sameAmount(cb, op) {
			continue
		}
		before := op.State
		t, err := p.checkOperation(ctx, op, true, "the bank's notice ("+cb.Type+" "+models.BankStatus(string(cb.Status))+"), confirmed by asking")
		if err != nil {
			return "", t, err
		}
		if t.State != before {
			return CallbackApplied, t, nil
		}
		return CallbackDuplicate, t, nil
	}
	return CallbackNotWaiting, parent, nil
}

// ReleaseStale releases the preauths their endpoint says are too old to hold (its automatic
// release age), as the system, audited; at most once a day per preauth. It returns how many
// releases it started.
func (p *Service) ReleaseStale(ctx context.Context) (int, error) {
	now := p.now()
	stale, err := p.Tx.StalePreauths(ctx, now)
	if err != nil {
		return 0, err
	}
	var n int
	for _, t := range stale {
		days := int(now.Sub(t.CreatedAt) / (24 * time.Hour))
		op, err := p.operate(ctx, OperationInput{Key: "auto-release-" + t.ClientOrderID + "-" + now.UTC().Format("20060102"),
			ParentID: t.ID, Kind: models.KindRelease, AmountMinor: t.AmountMinor, Actor: models.ActorSystem,
			Reason: fmt.Sprintf("automatic release after %d days", days)})
		var oerr *models.ValidationError
		switch {
		case errors.Is(err, ErrAlreadyDone), errors.As(err, &oerr):
			continue // tried today already, or no longer releasable
		case err != nil:
			return n, err
		}
		n++
		p.audit(ctx, models.ActorSystem, "payment.auto_release", op.ClientOrderID,
			fmt.Sprintf("preauth %s %s %s held %d days: released automatically", t.ClientOrderID, t.Amount(), t.Currency, days))
	}
	return n, nil
}
