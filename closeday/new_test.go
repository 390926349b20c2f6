package closeday_test

import (
	"strings"
	"testing"

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/payments/paymentstest"
)

// The close service missing a dependency is refused when it is built, naming what is missing.
func TestNewRefusesAMissingDependency(t *testing.T) {
	s := closer(paymentstest.New(t, ""))
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "missing Metrics, Sweeper") {
			t.Fatalf("panic %q, want it to name Metrics and Sweeper", msg)
		}
	}()
	d := s.Deps
	d.Sweeper, d.Metrics = nil, nil
	closeday.New(d)
	t.Fatal("New built a close service that sweeps nothing and counts nothing")
}
