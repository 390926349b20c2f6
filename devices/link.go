package devices

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// ErrReaderOffline is returned when a reader has no live connection.
var ErrReaderOffline = errors.New("reader is offline")

// Link is the registry of live reader connections on this instance. The transport (a
// websocket in web) registers each authenticated connection; the payment flow sends through it.
//
// With several instances a reader is connected to one of them. Link.Relay, when set, carries
// a message for a reader that is not connected here to every instance; the one holding the
// reader delivers it (Deliver).
type Link struct {
	Relay Relay

	mu    sync.Mutex
	conns map[string]*linkConn
}

// Relay broadcasts a relayed reader command to every instance (a models.NotifyChannel does it
// with PostgreSQL NOTIFY).
type Relay interface {
	Forward(payload []byte) error // returns once it is sent
	Post(payload []byte)          // does not wait for it to go
}

// relayed is what travels between instances: a message for a reader, or an order to close
// its connection.
type relayed struct {
	Serial string          `json:"serial"`
	Msg    json.RawMessage `json:"msg,omitempty"`
	Close  string          `json:"close,omitempty"`
}

type linkConn struct {
	send  func(msg any) error
	close func(reason string)
}

// NewLink returns an empty registry.
func NewLink() *Link { return &Link{conns: map[string]*linkConn{}} }

// Register makes serial reachable through send until the returned function is called. A
// second connection for the same serial replaces (and closes) the first.
func (l *Link) Register(serial string, send func(any) error, close func(reason string)) (unregister func()) {
	c := &linkConn{send: send, close: close}
	l.mu.Lock()
	old := l.conns[serial]
	l.conns[serial] = c
	l.mu.Unlock()
	if old != nil {
		old.close("replaced by a new connection")
	}
	return func() {
		l.mu.Lock()
		if l.conns[serial] == c {
			delete(l.conns, serial)
		}
		l.mu.Unlock()
	}
}

// Send delivers a message to a connected reader: directly when it is connected here, else
// through the relay. A relayed message is handed to the other instances; whether the reader
// got it shows in what the reader answers (the payment watchdogs cover silence).
func (l *Link) Send(serial string, msg any) error {
	l.mu.Lock()
	c := l.conns[serial]
	l.mu.Unlock()
	if c != nil {
		return c.send(msg)
	}
	if l.Relay == nil {
		return ErrReaderOffline
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return l.forward(relayed{Serial: serial, Msg: b})
}

// Tell is Send for a message nobody waits on (a payment's result shown on the reader): a
// message relayed to other instances goes without waiting for it to be sent, so that the
// callback or poll that finished the payment answers at once. One that cannot be delivered
// is dropped, as it was when Send's error was ignored.
func (l *Link) Tell(serial string, msg any) {
	l.mu.Lock()
	c := l.conns[serial]
	l.mu.Unlock()
	if c != nil {
		c.send(msg)
		return
	}
	if l.Relay == nil {
		return
	}
	m, err := json.Marshal(msg)
	if err != nil {
		return
	}
	if b, err := json.Marshal(relayed{Serial: serial, Msg: m}); err == nil {
		l.Relay.Post(b)
	}
}

func (l *Link) forward(r relayed) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := l.Relay.Forward(b); err != nil {
		return fmt.Errorf("%w (relay: %v)", ErrReaderOffline, err)
	}
	return nil
}

// Deliver takes a relayed payload from another instance and passes it on if the reader is
// connected here; anything else is ignored.
func (l *Link) Deliver(payload []byte) {
	var r relayed
	if json.Unmarshal(payload, &r) != nil || r.Serial == "" {
		return
	}
	l.mu.Lock()
	c := l.conns[r.Serial]
	l.mu.Unlock()
	switch {
	case c == nil:
	case r.Close != "":
		l.closeLocal(r.Serial, r.Close)
	case len(r.Msg) > 0:
		c.send(r.Msg)
	}
}

// Connected reports whether serial has a live connection here, or, with a relay, may have
// one on another instance (the caller then relies on the reader's recorded presence).
func (l *Link) Connected(serial string) bool {
	if l.Relay != nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[serial] != nil
}

// Count is the number of readers connected to this instance.
func (l *Link) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Close ends serial's connection, here or, through the relay, on the instance holding it.
func (l *Link) Close(serial, reason string) {
	if !l.closeLocal(serial, reason) && l.Relay != nil {
		_ = l.forward(relayed{Serial: serial, Close: reason})
	}
}

func (l *Link) closeLocal(serial, reason string) bool {
	l.mu.Lock()
	c := l.conns[serial]
	delete(l.conns, serial)
	l.mu.Unlock()
	if c != nil {
		c.close(reason)
	}
	return c != nil
}
