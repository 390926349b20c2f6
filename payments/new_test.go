package payments_test

import (
	"strings"
	"testing"

	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// A service missing a dependency is refused when it is built, naming what is missing, not at
// the first payment that needs it.
func TestNewRefusesAMissingDependency(t *testing.T) {
	e := paymentstest.New(t, "")
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "missing Audit, Gate") {
			t.Fatalf("panic %q, want it to name Audit and Gate", msg)
		}
	}()
	d := e.Pay.Deps
	d.Audit, d.Gate = nil, nil
	payments.New(d)
	t.Fatal("New built a service without its audit log and gate")
}
