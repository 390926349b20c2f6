package devices_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/example/mposportal/devices"
)

// bus is the relay between instances, in memory: what one instance forwards, every instance
// (the sender too) hears, as with PostgreSQL NOTIFY.
type bus struct {
	links []*devices.Link
	fail  error
}

func (b *bus) Forward(p []byte) error {
	if b.fail != nil {
		return b.fail
	}
	for _, l := range b.links {
		l.Deliver(p)
	}
	return nil
}

func (b *bus) Post(p []byte) { b.Forward(p) }

func TestLinkRelaysToTheInstanceHoldingTheReader(t *testing.T) {
	b := &bus{}
	a, c := devices.NewLink(), devices.NewLink()
	a.Relay, c.Relay = b, b
	b.links = []*devices.Link{a, c}
	var got []string
	var closed string
	c.Register("SBX-0001", func(m any) error {
		raw, _ := json.Marshal(m)
		got = append(got, string(raw))
		return nil
	}, func(reason string) { closed = reason })

	// Instance a has no connection for the reader; instance c has, and delivers.
	if err := a.Send("SBX-0001", devices.Cancel{Type: devices.TypeCancel, Tx: "P1"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != `{"type":"cancel","tx":"P1"}` {
		t.Fatalf("reader got %q", got)
	}
	// A relayed message for a reader nobody holds is dropped, not delivered twice or echoed.
	a.Send("SBX-0002", devices.Cancel{Type: devices.TypeCancel, Tx: "P2"})
	if len(got) != 1 {
		t.Fatalf("reader got %q", got)
	}
	// Tell relays without waiting, and reaches the reader the same way.
	a.Tell("SBX-0001", devices.Result{Type: devices.TypeResult, Tx: "P1", Status: "approved"})
	if len(got) != 2 || got[1] != `{"type":"result","tx":"P1","status":"approved"}` {
		t.Fatalf("reader got %q", got)
	}
	// Disabling on instance a closes the connection on instance c.
	a.Close("SBX-0001", "the reader was disabled")
	if closed != "the reader was disabled" {
		t.Errorf("connection closed with %q", closed)
	}
	// A relay that cannot send reports the reader offline.
	b.fail = errors.New("database down")
	if err := a.Send("SBX-0001", devices.Cancel{Type: devices.TypeCancel, Tx: "P3"}); !errors.Is(err, devices.ErrReaderOffline) {
		t.Errorf("Send with a broken relay: %v", err)
	}
	// Without a relay (one instance) an unknown reader is simply offline.
	if err := devices.NewLink().Send("SBX-0001", devices.Cancel{}); !errors.Is(err, devices.ErrReaderOffline) {
		t.Errorf("Send without relay: %v", err)
	}
}
