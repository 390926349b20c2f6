package models_test

import (
	"testing"

	"github.com/example/mposportal/models"
)

// Every pair of states: the transitions closeday.Service makes are legal, everything else is
// refused; a write that keeps a state is not a transition and is always allowed.
func TestCloseStateTransitions(t *testing.T) {
	const (
		pending  = models.ClosePending
		sending  = models.CloseSending
		unknown  = models.CloseUnknown
		finished = models.CloseFinished
		locked   = models.CloseLocked
		failed   = models.CloseFailed
	)
	legal := map[[2]models.CloseState]string{
		{pending, sending}:  "the sweep is done and our totals are taken",
		{pending, failed}:   "given up before anything went out",
		{sending, unknown}:  "timeout, 5xx or status processing",
		{sending, finished}: "the gateway closed the day",
		{sending, locked}:   "closed with isDayClosing=true",
		{sending, failed}:   "refused, status error, or no answer after MaxAttempts",
		{unknown, sending}:  "the retry with the same request id",
		{unknown, failed}:   "the endpoint's gateway settings are gone",
		{locked, finished}:  "the gate lock was released",
	}
	if len(models.AllCloseStates) != 6 {
		t.Fatalf("%d states: extend this table", len(models.AllCloseStates))
	}
	for _, from := range models.AllCloseStates {
		for _, to := range models.AllCloseStates {
			_, want := legal[[2]models.CloseState{from, to}]
			want = want || from == to
			if got := from.CanMoveTo(to); got != want {
				t.Errorf("%s → %s: CanMoveTo = %v, want %v", from, to, got, want)
			}
		}
	}
	for _, s := range []models.CloseState{"", "bogus", "Finished"} {
		if s.Valid() || s.CanMoveTo(pending) || pending.CanMoveTo(s) || s.CanMoveTo(s) {
			t.Errorf("%q is taken for a state", s)
		}
	}
}

func TestCloseStateHelpers(t *testing.T) {
	for _, tt := range []struct {
		s                        models.CloseState
		settled, running, anyOut bool
	}{
		{models.ClosePending, false, true, true},
		{models.CloseSending, false, true, true},
		{models.CloseUnknown, false, true, true},
		{models.CloseFinished, true, false, false},
		{models.CloseLocked, false, false, true},
		{models.CloseFailed, true, false, false},
	} {
		anyOut := false
		for _, to := range models.AllCloseStates {
			anyOut = anyOut || (to != tt.s && tt.s.CanMoveTo(to))
		}
		if !tt.s.Valid() || tt.s.Settled() != tt.settled || tt.s.Running() != tt.running || anyOut != tt.anyOut {
			t.Errorf("%s: valid %v settled %v running %v leaves %v; want settled %v running %v leaves %v", tt.s, tt.s.Valid(),
				tt.s.Settled(), tt.s.Running(), anyOut, tt.settled, tt.running, tt.anyOut)
		}
		if c := (models.CloseDay{State: tt.s}); c.Settled() != tt.settled {
			t.Errorf("CloseDay in %s: Settled() = %v", tt.s, c.Settled())
		}
	}
}
