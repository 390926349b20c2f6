package models

import (
	"errors"
	"fmt"
)

// TxState is where a card payment stands in the portal. It folds together what the reader did
// (waiting for a card, card read), what our request to the gateway did (sending, outcome
// unknown) and the gateway's own status (processing, approved, …), because staff at the
// counter need one answer to "where is this payment?".
type TxState string

const (
	TxAwaitingApproval TxState = "awaiting_approval" // a refund above the endpoint's limit waits for a second person
	TxWaitingCard      TxState = "waiting_card"      // the reader was asked for a card
	TxSending          TxState = "sending"           // card read; the sale/preauth request is in flight
	TxUnknown          TxState = "unknown_outcome"   // the request timed out or got a 5xx: the gateway may or may not have the order
	TxProcessing       TxState = "processing"        // the gateway accepted the order; its final status is pending
	TxNeedsReview      TxState = "needs_review"      // no final status after the polling deadline: someone must look
	TxApproved         TxState = "approved"
	TxDeclined         TxState = "declined"
	TxFiltered         TxState = "filtered"  // declined by anti-fraud
	TxError            TxState = "error"     // the gateway failed it
	TxCancelled        TxState = "cancelled" // withdrawn before anything reached the gateway
	TxFailed           TxState = "failed"    // never became a gateway order: card error, refused request
)

// AllTxStates lists every state, in the order a payment moves through them (for filters).
var AllTxStates = []TxState{TxAwaitingApproval, TxWaitingCard, TxSending, TxUnknown, TxProcessing, TxNeedsReview,
	TxApproved, TxDeclined, TxFiltered, TxError, TxCancelled, TxFailed}

// Final reports whether nothing more can happen to a payment in this state.
func (s TxState) Final() bool {
	switch s {
	case TxApproved, TxDeclined, TxFiltered, TxError, TxCancelled, TxFailed:
		return true
	}
	return false
}

// Valid reports whether s is one of the known states.
func (s TxState) Valid() bool {
	for _, k := range AllTxStates {
		if s == k {
			return true
		}
	}
	return false
}

// InFlight reports whether the outcome of the payment is still open at the gateway side or
// may still reach it: such payments keep the poller busy and block nothing else.
func (s TxState) InFlight() bool { return !s.Final() }

// stage orders the non-final states: an event that would move a payment back to an earlier
// stage is late (events arrive out of order by design: callbacks, polls, sync responses) and is
// ignored rather than applied.
func (s TxState) stage() int {
	switch s {
	case TxAwaitingApproval, TxWaitingCard:
		return 1
	case TxSending:
		return 2
	case TxUnknown, TxProcessing:
		return 3
	case TxNeedsReview:
		return 4
	}
	return 9 // final
}

// legal lists, for each non-final state, where it may go. Everything else is either a no-op
// (same state, or a late event moving backwards) or refused.
var legal = map[TxState][]TxState{
	TxAwaitingApproval: {TxSending, TxCancelled},
	TxWaitingCard:      {TxSending, TxCancelled, TxFailed},
	// A callback can overtake the sync response that would have moved us to processing.
	TxSending:     {TxProcessing, TxUnknown, TxFailed, TxApproved, TxDeclined, TxFiltered, TxError},
	TxUnknown:     {TxProcessing, TxFailed, TxNeedsReview, TxApproved, TxDeclined, TxFiltered, TxError},
	TxProcessing:  {TxNeedsReview, TxApproved, TxDeclined, TxFiltered, TxError},
	TxNeedsReview: {TxFailed, TxApproved, TxDeclined, TxFiltered, TxError},
}

// ErrIllegalTransition is returned for a transition the state machine does not allow.
var ErrIllegalTransition = errors.New("illegal transition")

// ErrFinalConflict is returned when an event claims a different final status for a payment
// that is already final. The payment keeps its status; the conflict is for a person to review.
var ErrFinalConflict = errors.New("conflicting final status")

// NextState decides what an event that says "the payment is now `to`" does to a payment in
// state `from`. It returns the new state and whether it changed. Repeated and late events are
// no-ops (changed == false, err == nil); a final state never changes.
func NextState(from, to TxState) (TxState, bool, error) {
	if !to.Valid() {
		return from, false, fmt.Errorf("%w: unknown state %q", ErrIllegalTransition, to)
	}
	if from == to {
		return from, false, nil
	}
	if from.Final() {
		if to.Final() {
			return from, false, fmt.Errorf("%w: %s, now told %s", ErrFinalConflict, from, to)
		}
		return from, false, nil // late non-final news about a settled payment
	}
	for _, ok := range legal[from] {
		if ok == to {
			return to, true, nil
		}
	}
	if !to.Final() && to.stage() <= from.stage() {
		return from, false, nil // late: we are already past that
	}
	return from, false, fmt.Errorf("%w: %s → %s", ErrIllegalTransition, from, to)
}

// Review reasons: why a payment is on the "needs attention" queue besides the needs-review
// state itself. They are cleared by a person (acknowledged or resolved) or, for
// ReviewConfirm, by the gateway's answer.
const (
	ReviewConfirm       = "confirm"        // a signed callback contradicted our final status: the gateway is asked
	ReviewLateApproval  = "late_approval"  // the gateway approved a payment we had told the counter failed
	ReviewStatusChanged = "status_changed" // the gateway changed a final status (after reconciliation)
	ReviewResolution    = "resolution"     // a manual resolution waits for a second person's approval
	ReviewApproval      = "approval"       // a refund above the endpoint's limit waits for a second person
)

// Overrides reports whether the gateway's own answer may replace the final state from with
// the different final state to: the gateway's final status can still change after
// reconciliation (§7.1), and a request we gave up on can still have been approved. A payment
// cancelled before anything reached the gateway has no gateway status to take.
func Overrides(from, to TxState) bool {
	return from.Final() && to.Final() && from != to && from != TxCancelled &&
		to != TxCancelled && to != TxFailed
}

// StateFromGateway maps a gateway status (§7.1) onto ours. Anything the gateway does not call
// final, including statuses we do not know, keeps the payment processing.
func StateFromGateway(status string) TxState {
	switch status {
	case "approved":
		return TxApproved
	case "declined":
		return TxDeclined
	case "filtered":
		return TxFiltered
	case "error":
		return TxError
	}
	return TxProcessing
}

// BankStatus says a gateway status (§7.1) in the words a merchant reads.
func BankStatus(status string) string {
	switch status {
	case "approved":
		return "approved"
	case "declined":
		return "declined"
	case "filtered":
		return "declined by its fraud filter"
	case "error":
		return "failed"
	case "processing":
		return "still processing"
	case "unknown":
		return "not decided yet"
	case "":
		return "nothing yet"
	}
	return "an unfamiliar status (" + status + "): a manager should check it"
}
