package models

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// Changes tells every portal instance that a row changed ("tx", 42), so that each can refresh
// the screens connected to it. On PostgreSQL it goes through LISTEN/NOTIFY: every instance,
// the sender included, hears every change, and no broker is needed. On SQLite (one instance)
// a change goes straight to the subscriber.
//
// Notifications are hints, not data: a receiver reads the row itself. One lost while an
// instance's listening connection is down leaves a screen stale until the next change or a
// reload; nothing is lost from the database.
type Changes struct {
	DB      *gorm.DB
	URL     string // PostgreSQL URL for the listening connection; "" = this instance only
	Channel string // default "portal_changes"
	Log     *slog.Logger

	mu      sync.RWMutex
	deliver func(kind string, id uint)
	devices func(payload []byte)
}

// devicePrefix marks a relayed reader command among the notifications.
const devicePrefix = "dev:"

func (c *Changes) channel() string {
	if c.Channel == "" {
		return "portal_changes"
	}
	return c.Channel
}

// Subscribe sets the function that receives every change (one subscriber: the instance's
// live publishers).
func (c *Changes) Subscribe(f func(kind string, id uint)) {
	c.mu.Lock()
	c.deliver = f
	c.mu.Unlock()
}

// SubscribeDevices sets the function that receives relayed reader commands (the instance's
// devices.Link.Deliver).
func (c *Changes) SubscribeDevices(f func(payload []byte)) {
	c.mu.Lock()
	c.devices = f
	c.mu.Unlock()
}

// Forward sends a reader command to every instance (devices.Relay). Without PostgreSQL there
// is no other instance to send to.
func (c *Changes) Forward(payload []byte) error {
	if c.URL == "" {
		return fmt.Errorf("models: no other instances to relay to")
	}
	return c.notify(devicePrefix + string(payload))
}

// notify sends one notification on the channel.
func (c *Changes) notify(payload string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.DB.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", c.channel(), payload).Error
}

func (c *Changes) hand(kind string, id uint) {
	c.mu.RLock()
	f := c.deliver
	c.mu.RUnlock()
	if f != nil {
		f(kind, id)
	}
}

// Publish announces a change to every instance. Call it after the change is committed.
func (c *Changes) Publish(kind string, id uint) {
	if c.URL == "" {
		c.hand(kind, id)
		return
	}
	payload := kind + ":" + strconv.FormatUint(uint64(id), 10)
	if err := c.notify(payload); err != nil {
		c.Log.Error("change notification", "error", err, "change", payload)
		c.hand(kind, id) // at least this instance's screens
	}
}

// Run listens for changes until ctx ends, reconnecting after failures. Without a URL it only
// waits for ctx.
func (c *Changes) Run(ctx context.Context) error {
	if c.URL == "" {
		<-ctx.Done()
		return nil
	}
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := c.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.Log.Warn("change listener disconnected; reconnecting", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (c *Changes) listen(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{c.channel()}.Sanitize()); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if p, ok := strings.CutPrefix(n.Payload, devicePrefix); ok {
			c.mu.RLock()
			f := c.devices
			c.mu.RUnlock()
			if f != nil {
				f([]byte(p))
			}
			continue
		}
		kind, id, err := parseChange(n.Payload)
		if err != nil {
			c.Log.Warn("change notification ignored", "payload", n.Payload, "error", err)
			continue
		}
		c.hand(kind, id)
	}
}

// parseChange reads "kind:id".
func parseChange(s string) (string, uint, error) {
	kind, num, ok := strings.Cut(s, ":")
	id, err := strconv.ParseUint(num, 10, 32)
	if !ok || kind == "" || err != nil {
		return "", 0, fmt.Errorf("models: change %q is not kind:id", s)
	}
	return kind, uint(id), nil
}
