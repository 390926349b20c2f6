package devices

import (
	"sync"
)

// Link is the registry of live reader connections on this instance. The transport (a
// websocket in web) registers each authenticated connection; the payment flow sends through it.
type Link struct {
	mu    sync.Mutex
	conns map[string]*linkConn
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

// Send delivers a message to a connected reader.
func (l *Link) Send(serial string, msg any) error {
	l.mu.Lock()
	c := l.conns[serial]
	l.mu.Unlock()
	if c == nil {
		return ErrReaderOffline
	}
	return c.send(msg)
}

// Connected reports whether serial has a live connection here.
func (l *Link) Connected(serial string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[serial] != nil
}

// Close ends serial's connection, if any.
func (l *Link) Close(serial, reason string) {
	l.mu.Lock()
	c := l.conns[serial]
	delete(l.conns, serial)
	l.mu.Unlock()
	if c != nil {
		c.close(reason)
	}
}
