package models_test

import (
	"errors"
	"testing"

	"github.com/example/mposportal/models"
)

func TestNextState(t *testing.T) {
	const (
		wait    = models.TxWaitingCard
		send    = models.TxSending
		unknown = models.TxUnknown
		proc    = models.TxProcessing
		review  = models.TxNeedsReview
		ok      = models.TxApproved
		decl    = models.TxDeclined
		filt    = models.TxFiltered
		gwErr   = models.TxError
		cancel  = models.TxCancelled
		failed  = models.TxFailed
	)
	tests := []struct {
		name        string
		from, to    models.TxState
		want        models.TxState
		changed     bool
		errConflict bool
		errIllegal  bool
	}{
		{"card read", wait, send, send, true, false, false},
		{"cancel while waiting", wait, cancel, cancel, true, false, false},
		{"card error", wait, failed, failed, true, false, false},
		{"sync accepted", send, proc, proc, true, false, false},
		{"sync timed out", send, unknown, unknown, true, false, false},
		{"callback before sync response", send, ok, ok, true, false, false},
		{"status found order after timeout", unknown, proc, proc, true, false, false},
		{"status says final after timeout", unknown, decl, decl, true, false, false},
		{"approved", proc, ok, ok, true, false, false},
		{"declined", proc, decl, decl, true, false, false},
		{"filtered", proc, filt, filt, true, false, false},
		{"error", proc, gwErr, gwErr, true, false, false},
		{"deadline passed", proc, review, review, true, false, false},
		{"final after review", review, ok, ok, true, false, false},

		{"duplicate callback", ok, ok, ok, false, false, false},
		{"duplicate processing poll", proc, proc, proc, false, false, false},
		{"late processing poll after approval", ok, proc, ok, false, false, false},
		{"late sync response after callback", ok, proc, ok, false, false, false},
		{"late sending after processing", proc, send, proc, false, false, false},
		{"timeout noticed after order known", proc, unknown, proc, false, false, false},
		{"processing poll during review", review, proc, review, false, false, false},
		{"cancel after approval", ok, cancel, ok, false, true, false},
		{"declined after approved", ok, decl, ok, false, true, false},
		{"approved after declined", decl, ok, decl, false, true, false},

		{"cancel once sent", send, cancel, send, false, false, true},
		{"cancel while processing", proc, cancel, proc, false, false, true},
		{"approve without a card", wait, ok, wait, false, false, true},
		{"processing without a card", wait, proc, wait, false, false, true},
		{"failed while processing", proc, failed, proc, false, false, true},
		{"nonsense", proc, models.TxState("bogus"), proc, false, false, true},
	}
	for _, tt := range tests {
		got, changed, err := models.NextState(tt.from, tt.to)
		if got != tt.want || changed != tt.changed {
			t.Errorf("%s: NextState(%s, %s) = %s, %v; want %s, %v", tt.name, tt.from, tt.to, got, changed, tt.want, tt.changed)
		}
		if errors.Is(err, models.ErrFinalConflict) != tt.errConflict || errors.Is(err, models.ErrIllegalTransition) != tt.errIllegal {
			t.Errorf("%s: NextState(%s, %s) err = %v; want conflict=%v illegal=%v", tt.name, tt.from, tt.to, err, tt.errConflict, tt.errIllegal)
		}
	}
}

// Whatever order events arrive in, a final state is never left and never replaced.
func TestNextStateFinalIsAbsorbing(t *testing.T) {
	for _, from := range models.AllTxStates {
		if !from.Final() {
			continue
		}
		for _, to := range models.AllTxStates {
			got, changed, _ := models.NextState(from, to)
			if got != from || changed {
				t.Errorf("NextState(%s, %s) = %s, %v; a final state must not change", from, to, got, changed)
			}
		}
	}
}

func TestStateFromGateway(t *testing.T) {
	tests := map[string]models.TxState{
		"approved": models.TxApproved, "declined": models.TxDeclined, "filtered": models.TxFiltered,
		"error": models.TxError, "processing": models.TxProcessing, "unknown": models.TxProcessing,
		"chain_declined": models.TxProcessing, "something_new": models.TxProcessing, "": models.TxProcessing,
	}
	for in, want := range tests {
		if got := models.StateFromGateway(in); got != want {
			t.Errorf("StateFromGateway(%q) = %s, want %s", in, got, want)
		}
	}
}
