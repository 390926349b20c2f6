package models

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// Notify carries short notices between portal instances that share one PostgreSQL database,
// through LISTEN/NOTIFY: every instance, the sender included, hears every notice on the
// channels it listens to, and no broker is needed. What a notice means is its channel's
// business (live.Fanout for the screens' changes, devices.Link for relayed reader commands);
// this is only the transport. With SQLite there is one instance and nothing to carry.
//
// Notices are hints, not data: a receiver reads the rows itself. One lost while an instance's
// listening connection is down leaves a screen stale until the next change or a reload;
// nothing is lost from the database.
type Notify struct {
	db  *gorm.DB
	url string // for the listening connection
	log *slog.Logger

	mu       sync.RWMutex
	channels map[string]func(payload []byte)

	// Sending: notices forwarded while one statement is on its way are gathered and sent
	// together by the next (see Forward).
	sendMu  sync.Mutex
	pending *notices      // gathering; nil when none is
	sending chan struct{} // holds a token while a statement is on its way
	posting sync.WaitGroup
	stopped bool // closed: Post delivers here only
}

// notices are sent with one statement, in one transaction: one commit for all of them.
type notices struct {
	channels, payloads []string
	posted             []bool        // by Post, not Forward
	done               chan struct{} // closed when sent; err is then set
	err                error
}

// maxNotices bounds the notices one statement carries.
const maxNotices = 512

// noticeGather is how long the first notice of a statement waits for others to join it.
// Each statement is a commit that the server lets happen one at a time: under load, sent as
// soon as the one before it is done, a statement carried three or four notices, and there
// were more notice commits than callbacks. Screens do not see a few milliseconds.
const noticeGather = 4 * time.Millisecond

// NewNotify returns the transport over db, listening through its own connection to url.
func NewNotify(db *gorm.DB, url string, log *slog.Logger) *Notify {
	return &Notify{db: db, url: url, log: log, channels: map[string]func([]byte){}, sending: make(chan struct{}, 1)}
}

// Channel opens channel name: what is forwarded on it reaches receive on every instance
// (called on the listening goroutine, so it must not block). Open channels before Run.
func (n *Notify) Channel(name string, receive func(payload []byte)) *NotifyChannel {
	n.mu.Lock()
	n.channels[name] = receive
	n.mu.Unlock()
	return &NotifyChannel{n: n, name: name}
}

// NotifyChannel is one channel of a Notify.
type NotifyChannel struct {
	n    *Notify
	name string
}

// Post is Forward without waiting: it returns at once and the notice goes out with others,
// after the statement on its way. A notice that cannot be sent is still heard on this
// instance (its channel's receive is called with it), and the failure logged.
func (c *NotifyChannel) Post(payload []byte) {
	if err := checkPayload(payload); err != nil {
		c.n.log.Error("notice not sent", "channel", c.name, "error", err)
		return
	}
	n := c.n
	n.sendMu.Lock()
	if n.stopped {
		n.sendMu.Unlock()
		n.receiveHere(c.name, string(payload))
		return
	}
	b, lead := n.join(c.name, payload, true)
	if lead {
		n.posting.Add(1)
	}
	n.sendMu.Unlock()
	if lead {
		go func() {
			defer n.posting.Done()
			n.lead(b)
		}()
	}
}

// receiveHere hands a notice to this instance's receiver of channel name.
func (n *Notify) receiveHere(name, payload string) {
	n.mu.RLock()
	receive := n.channels[name]
	n.mu.RUnlock()
	if receive != nil {
		receive([]byte(payload))
	}
}

// checkPayload refuses what PostgreSQL would (a notice too long or not text) before it is
// sent, so that it cannot fail the others sent with it.
func checkPayload(payload []byte) error {
	if len(payload) >= 8000 || !utf8.Valid(payload) || bytes.IndexByte(payload, 0) >= 0 {
		return errors.New("the payload is not text shorter than 8000 bytes")
	}
	return nil
}

// join adds a notice to the statement being gathered; lead reports that it starts it, and
// its caller must send it (lead). sendMu is held.
func (n *Notify) join(channel string, payload []byte, posted bool) (b *notices, lead bool) {
	b = n.pending
	lead = b == nil || len(b.payloads) >= maxNotices
	if lead {
		b = &notices{done: make(chan struct{})}
		n.pending = b
	}
	b.channels = append(b.channels, channel)
	b.payloads = append(b.payloads, string(payload))
	b.posted = append(b.posted, posted)
	return b, lead
}

// lead sends b once the statement before it is done and the notices meanwhile have joined
// it, setting b.err and closing b.done. If it cannot be sent, the posted notices in it are
// heard here (Post); Forward's callers get the error.
func (n *Notify) lead(b *notices) {
	n.sending <- struct{}{}
	time.Sleep(noticeGather)
	n.sendMu.Lock()
	if n.pending == b {
		n.pending = nil
	}
	n.sendMu.Unlock()
	b.err = n.send(b)
	<-n.sending
	close(b.done)
	if b.err == nil || !slices.Contains(b.posted, true) {
		return
	}
	n.log.Error("notices not sent; heard here only", "notices", len(b.payloads), "error", b.err)
	for i, p := range b.payloads {
		if b.posted[i] {
			n.receiveHere(b.channels[i], p)
		}
	}
}

// Forward sends payload (at most 8000 bytes, PostgreSQL's limit) to every instance, and
// returns once it is sent. Call it after the change it announces is committed.
//
// A NOTIFY is a transaction that commits (its own WAL flush), and PostgreSQL lets one such
// commit happen at a time on the server, across all instances: one statement per notice
// would bound every instance's callbacks to one or two per flush. So notices forwarded while
// an instance's previous statement is on its way wait and go together with the next one,
// from any channel. (PostgreSQL delivers identical notices on one channel sent in one
// transaction once; both channels carry notices that mean the same when repeated.)
func (c *NotifyChannel) Forward(payload []byte) error {
	if err := checkPayload(payload); err != nil {
		return fmt.Errorf("models: notify %s: %w", c.name, err)
	}
	n := c.n
	n.sendMu.Lock()
	b, lead := n.join(c.name, payload, false)
	n.sendMu.Unlock()
	if lead {
		// The first notice of a batch sends it, once the statement before it is done;
		// meanwhile later notices join it.
		n.lead(b)
	}
	<-b.done
	if b.err != nil {
		return fmt.Errorf("models: notify %s: %w", c.name, b.err)
	}
	return nil
}

// sqlNotify sends notices in order: channel $1[i], payload $2[i].
const sqlNotify = "SELECT pg_notify(c, p) FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS n(c, p, i) ORDER BY i"

func (n *Notify) send(b *notices) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := hotExec(ctx, n.db, sqlNotify, b.channels, b.payloads)
	return err
}

// Close waits for the notices posted so far to be sent; later ones are heard on this
// instance only. Call it before the database is closed.
func (n *Notify) Close() {
	n.sendMu.Lock()
	n.stopped = true
	n.sendMu.Unlock()
	n.posting.Wait()
}

// Run listens until ctx ends, reconnecting after failures.
func (n *Notify) Run(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := n.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		n.log.Warn("notification listener disconnected; reconnecting", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (n *Notify) listen(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, n.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	n.mu.RLock()
	names := make([]string, 0, len(n.channels))
	for name := range n.channels {
		names = append(names, name)
	}
	n.mu.RUnlock()
	for _, name := range names {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{name}.Sanitize()); err != nil {
			return err
		}
	}
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		n.mu.RLock()
		receive := n.channels[msg.Channel]
		n.mu.RUnlock()
		if receive != nil {
			receive([]byte(msg.Payload))
		}
	}
}
