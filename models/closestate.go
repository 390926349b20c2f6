package models

import "fmt"

// CloseState is where a Close Day stands: our request (pending, sending, unknown) and the
// gateway's answer (finished, locked, failed). The column holds the plain string.
type CloseState string

// Close-day states.
const (
	ClosePending  CloseState = "pending"  // created, not sent yet
	CloseSending  CloseState = "sending"  // our totals are taken and the request is in flight
	CloseUnknown  CloseState = "unknown"  // timeout, 5xx or "processing": the same request id is sent again
	CloseFinished CloseState = "finished" // the gateway closed the day and the gate is open
	CloseLocked   CloseState = "locked"   // closed, but the gateway says the gate is still locked
	CloseFailed   CloseState = "failed"   // the gateway refused the close, or we gave up on it
)

// AllCloseStates lists every state, in the order a close moves through them (for filters).
var AllCloseStates = []CloseState{ClosePending, CloseSending, CloseUnknown, CloseFinished, CloseLocked, CloseFailed}

// Valid reports whether s is one of the known states.
func (s CloseState) Valid() bool {
	for _, k := range AllCloseStates {
		if s == k {
			return true
		}
	}
	return false
}

// Settled reports whether a close in this state will not change state any more (its
// explanation of a difference with the gateway may still be written).
func (s CloseState) Settled() bool { return s == CloseFinished || s == CloseFailed }

// Running reports whether a close in this state has not been answered yet: the counter on its
// endpoint stays closed to new payments (as the gateway locks its gate) until it settles.
func (s CloseState) Running() bool {
	return s == ClosePending || s == CloseSending || s == CloseUnknown
}

// closeLegal lists, for each state, where a close may go next (§5 and closeday.Service):
//
//   - pending: the sweep is done and our totals are taken (sending), or the close is given up
//     before anything went out (failed).
//   - sending: the gateway answered finished (finished, or locked when isDayClosing is true),
//     answered "error" or refused the request (failed), or the outcome is unknown: a timeout,
//     a 5xx, status "processing" (unknown). After MaxAttempts the close is failed.
//   - unknown: the same request id goes out again (sending), or the endpoint's gateway
//     settings are gone and it cannot (failed).
//   - locked: the gate lock was released (finished). A lock is never undone into a failure:
//     the gateway did close the day.
//   - finished and failed are settled.
//
// A move to the same state is not a transition: it writes the close's other fields (the
// next check, an explanation) and is always allowed.
var closeLegal = map[CloseState][]CloseState{
	ClosePending: {CloseSending, CloseFailed},
	CloseSending: {CloseUnknown, CloseFinished, CloseLocked, CloseFailed},
	CloseUnknown: {CloseSending, CloseFailed},
	CloseLocked:  {CloseFinished},
}

// CanMoveTo reports whether a close in state s may be written in state to: a legal
// transition, or a write that keeps a known state.
func (s CloseState) CanMoveTo(to CloseState) bool {
	if !s.Valid() || !to.Valid() {
		return false
	}
	if s == to {
		return true
	}
	for _, ok := range closeLegal[s] {
		if ok == to {
			return true
		}
	}
	return false
}

// CloseMoveError is a write of a close that was refused; nothing was written. Reason is
// ErrIllegalTransition when the table does not allow From → To, or ErrConflict when the close
// is no longer what the caller read: another writer moved it (Found is its state now) or
// took its lease.
type CloseMoveError struct {
	ID       uint
	From, To CloseState
	Found    CloseState // the close's state when Reason is ErrConflict ("" when it is gone)
	Reason   error
}

func (e *CloseMoveError) Error() string {
	if e.Reason == ErrConflict {
		return fmt.Sprintf("models: close day %d: %s → %s: it is %s now or another instance holds it: %v",
			e.ID, e.From, e.To, Dash(string(e.Found)), e.Reason)
	}
	return fmt.Sprintf("models: close day %d: %s → %s: %v", e.ID, e.From, e.To, e.Reason)
}

func (e *CloseMoveError) Unwrap() error { return e.Reason }
