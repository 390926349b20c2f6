package devices_test

import (
	"strings"
	"testing"

	"github.com/example/mposportal/devices"
)

// The fleet service missing a dependency is refused when it is built, naming what is missing.
func TestNewReadersRefusesAMissingDependency(t *testing.T) {
	s, _ := newReaders(t)
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "missing Live, Waiting") {
			t.Fatalf("panic %q, want it to name Live and Waiting", msg)
		}
	}()
	d := s.ReadersDeps
	d.Live, d.Waiting = nil, nil
	devices.NewReaders(d)
	t.Fatal("NewReaders built a fleet that tells no screen and ends no payment")
}
