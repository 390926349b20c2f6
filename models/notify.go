package models

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
}

// NewNotify returns the transport over db, listening through its own connection to url.
func NewNotify(db *gorm.DB, url string, log *slog.Logger) *Notify {
	return &Notify{db: db, url: url, log: log, channels: map[string]func([]byte){}}
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

// Forward sends payload (at most 8000 bytes, PostgreSQL's limit) to every instance. Call it
// after the change it announces is committed.
func (c *NotifyChannel) Forward(payload []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.n.db.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", c.name, string(payload)).Error; err != nil {
		return fmt.Errorf("models: notify %s: %w", c.name, err)
	}
	return nil
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
