package live

import (
	"log/slog"
	"strconv"
	"strings"
)

// Kind is what kind of row changed.
type Kind uint8

// The kinds of change a screen can show.
const (
	Payment Kind = iota + 1 // a payment or money operation (models.Transaction)
	Close                   // a Close Day (models.CloseDay)
	Reader                  // a card reader (models.Reader)
)

// kindNames are the kinds on the wire (between instances) and in page topics; "tx" is what
// the portal has always called a payment there.
var kindNames = [...]string{Payment: "tx", Close: "close", Reader: "reader"}

// String is the kind's wire name: "tx", "close" or "reader".
func (k Kind) String() string {
	if k == 0 || int(k) >= len(kindNames) {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Change says that one row changed. It is a hint, not data: whoever renders it reads the row.
type Change struct {
	Kind Kind
	ID   uint
}

// String is the change on the wire between instances: "tx:42".
func (c Change) String() string { return c.Kind.String() + ":" + strconv.FormatUint(uint64(c.ID), 10) }

// ParseChange reads a change as String writes it; anything else (an unknown kind, an id that
// is not a positive whole number written plainly) is refused.
func ParseChange(s string) (Change, bool) {
	name, num, ok := strings.Cut(s, ":")
	if !ok {
		return Change{}, false
	}
	id, ok := parseID(num)
	if !ok {
		return Change{}, false
	}
	for k, n := range kindNames {
		if k != 0 && n == name {
			return Change{Kind: Kind(k), ID: id}, true
		}
	}
	return Change{}, false
}

// parseID reads a row id: 1 to 2³²−1 in plain decimal (no sign, no leading zero), so that
// every id has one spelling and parsing then writing gives back the same text.
func parseID(s string) (uint, bool) {
	if s == "" || s[0] == '0' {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint(id), true
}

// Notifier is told that a row changed, after the change is durable. Changed must not block
// its caller for long: the caller is a payment, a callback or a reader's heartbeat.
type Notifier interface {
	Changed(Change)
}

// Transport carries a change to every instance, the sender included (models.NotifyChannel
// with PostgreSQL NOTIFY). Post does not wait for it to go; if it cannot go, the transport
// hands it to this instance's own receiver (Fanout.Receive), so that at least this
// instance's screens are told.
type Transport interface {
	Post(payload []byte)
}

// Fanout is the Notifier when several instances share one database: a change goes to every
// instance through the transport, and each hands what it hears (Receive) to its own screens'
// notifier.
type Fanout struct {
	Transport Transport
	Local     Notifier
	Log       *slog.Logger
}

// Changed sends c to every instance, without waiting for it to go.
func (f *Fanout) Changed(c Change) { f.Transport.Post([]byte(c.String())) }

// Receive takes a change heard from the transport.
func (f *Fanout) Receive(payload []byte) {
	c, ok := ParseChange(string(payload))
	if !ok {
		f.Log.Warn("change notification ignored", "payload", string(payload))
		return
	}
	f.Local.Changed(c)
}

// Nowhere is the Notifier of a service whose changes no screen shows: the command-line
// tools, and tests of a service on its own.
var Nowhere Notifier = nowhere{}

type nowhere struct{}

func (nowhere) Changed(Change) {}
