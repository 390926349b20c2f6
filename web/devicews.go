package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/models"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
)

// ReaderService is what the device endpoints need of the fleet.
type ReaderService interface {
	Pair(ctx context.Context, serial, code string) (string, error)
	Authenticate(ctx context.Context, credential string) (models.Reader, error)
	Connected(ctx context.Context, r models.Reader, h *devices.Hello) error
	Heartbeat(ctx context.Context, r models.Reader, battery int) error
	Disconnected(ctx context.Context, r models.Reader, why string)
}

// PaymentEvents is what a reader's messages feed into.
type PaymentEvents interface {
	CardRead(ctx context.Context, serial string, m *devices.CardRead) error
	CardError(ctx context.Context, serial string, m *devices.CardError) error
}

// DeviceHandlers serve the device channel (docs/device-channel.md).
type DeviceHandlers struct {
	Readers  ReaderService
	Payments PaymentEvents
	Link     *devices.Link
	Log      *slog.Logger
	throttle *throttle

	mu      sync.Mutex
	conns   map[*deviceConn]struct{} // this instance's reader connections
	closing bool
	wg      sync.WaitGroup // one per connection, until its reader is recorded offline
}

// Close ends every reader connection of this instance (close code 1012, "service restart":
// the readers reconnect to the portal that comes back) and waits until each has recorded its
// reader offline. A reader that connects meanwhile is closed the same way.
func (d *DeviceHandlers) Close() {
	d.mu.Lock()
	d.closing = true
	conns := make([]*deviceConn, 0, len(d.conns))
	for dc := range d.conns {
		conns = append(conns, dc)
	}
	d.mu.Unlock()
	for _, dc := range conns {
		dc.closeWith(websocket.CloseServiceRestart, "the portal is restarting")
	}
	d.wg.Wait()
}

// track counts a connection in until it ends; false when the portal is shutting down.
func (d *DeviceHandlers) track(dc *deviceConn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	if d.conns == nil {
		d.conns = map[*deviceConn]struct{}{}
	}
	d.conns[dc] = struct{}{}
	d.wg.Add(1)
	return true
}

func (d *DeviceHandlers) untrack(dc *deviceConn) {
	d.mu.Lock()
	delete(d.conns, dc)
	d.mu.Unlock()
	d.wg.Done()
}

// pair handles "POST /devices/pair": a pairing code for a device credential. Not a browser
// form (no CSRF token); guessing is throttled per address.
func (d *DeviceHandlers) pair(c *gin.Context) {
	key := "pair:" + c.ClientIP()
	if wait := d.throttle.blocked(key); wait > 0 {
		c.JSON(http.StatusTooManyRequests, gin.H{"error": "too many pairing attempts; try again later"})
		return
	}
	cred, err := d.Readers.Pair(c.Request.Context(), c.PostForm("serial"), c.PostForm("code"))
	switch {
	case errors.Is(err, devices.ErrPairing), errors.Is(err, devices.ErrDisabled):
		d.throttle.failed(key)
		c.JSON(http.StatusForbidden, gin.H{"error": err.Error()})
		return
	case err != nil:
		fail(c, err)
		return
	}
	serial, _ := devices.NormalizeSerial(c.PostForm("serial"))
	c.JSON(http.StatusOK, gin.H{"serial": serial, "credential": cred})
}

var deviceUpgrader = websocket.Upgrader{
	ReadBufferSize: devices.MaxMessageSize, WriteBufferSize: 4096,
	// Readers are not browsers and send no Origin; a browser page could, but it cannot hold a
	// device credential (Authorization header), so any Origin is refused.
	CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
}

// ws handles "GET /devices/ws": an authenticated reader's connection.
func (d *DeviceHandlers) ws(c *gin.Context) {
	cred, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	r, err := d.Readers.Authenticate(c.Request.Context(), cred)
	switch {
	case !ok || errors.Is(err, devices.ErrUnauthorized):
		c.JSON(http.StatusUnauthorized, gin.H{"error": "unknown or revoked device credential"})
		return
	case errors.Is(err, devices.ErrDisabled):
		c.JSON(http.StatusForbidden, gin.H{"error": "the reader is disabled"})
		return
	case err != nil:
		fail(c, err)
		return
	}
	conn, err := deviceUpgrader.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		return
	}
	dc := &deviceConn{d: d, conn: conn, reader: r, send: make(chan any, 16), done: make(chan struct{})}
	if !d.track(dc) {
		dc.closeWith(websocket.CloseServiceRestart, "the portal is restarting")
		return
	}
	defer d.untrack(dc)
	dc.run()
}

// deviceConn is one reader's live connection.
type deviceConn struct {
	d      *DeviceHandlers
	conn   *websocket.Conn
	reader models.Reader
	send   chan any
	done   chan struct{}
	mu     sync.Mutex
	reason string
}

func (dc *deviceConn) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go dc.writePump()
	defer close(dc.done)
	dc.conn.SetReadLimit(devices.MaxMessageSize)
	dc.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // hello comes first, promptly
	_, data, err := dc.conn.ReadMessage()
	if err != nil {
		return
	}
	msg, err := devices.ParseReaderMessage(data)
	hello, isHello := msg.(*devices.Hello)
	if err != nil || !isHello || hello.Serial != dc.reader.Serial {
		dc.closeWith(websocket.ClosePolicyViolation, "the first message must be a hello with this reader's serial")
		return
	}
	unregister := dc.d.Link.Register(dc.reader.Serial, dc.enqueue, dc.kick)
	defer unregister()
	if err := dc.d.Readers.Connected(ctx, dc.reader, hello); err != nil {
		dc.d.Log.Error("reader connected", "serial", dc.reader.Serial, "error", err)
	}
	defer func() { dc.d.Readers.Disconnected(context.Background(), dc.reader, dc.closeReason()) }()
	dc.enqueue(devices.Welcome{Type: devices.TypeWelcome, Serial: dc.reader.Serial, Label: dc.reader.Label,
		HeartbeatSeconds: int(devices.HeartbeatInterval / time.Second)})
	bad := 0
	for {
		dc.conn.SetReadDeadline(time.Now().Add(devices.PresenceTimeout))
		_, data, err := dc.conn.ReadMessage()
		if err != nil {
			return
		}
		msg, err := devices.ParseReaderMessage(data)
		if err != nil {
			if bad++; bad > 3 {
				dc.closeWith(websocket.ClosePolicyViolation, "too many malformed messages")
				return
			}
			dc.enqueue(devices.ErrorMessage{Type: devices.TypeError, Message: err.Error()})
			continue
		}
		switch m := msg.(type) {
		case *devices.Heartbeat:
			err = dc.d.Readers.Heartbeat(ctx, dc.reader, m.Battery)
		case *devices.CardRead:
			err = dc.d.Payments.CardRead(ctx, dc.reader.Serial, m)
		case *devices.CardError:
			err = dc.d.Payments.CardError(ctx, dc.reader.Serial, m)
		case *devices.Hello:
			err = errors.New("hello was already received")
		}
		if err != nil {
			dc.d.Log.Warn("reader message refused", "serial", dc.reader.Serial, "error", err)
			dc.enqueue(devices.ErrorMessage{Type: devices.TypeError, Message: err.Error()})
		}
	}
}

// enqueue hands a message to the write pump; a reader that does not keep up is disconnected.
func (dc *deviceConn) enqueue(msg any) error {
	select {
	case <-dc.done:
		return devices.ErrReaderOffline
	case dc.send <- msg:
		return nil
	default:
		dc.kick("not reading its messages")
		return devices.ErrReaderOffline
	}
}

// kick closes the connection from elsewhere (disabled, unpaired, replaced, slow).
func (dc *deviceConn) kick(reason string) {
	dc.mu.Lock()
	dc.reason = reason
	dc.mu.Unlock()
	dc.closeWith(websocket.ClosePolicyViolation, reason)
}

func (dc *deviceConn) closeReason() string {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if dc.reason != "" {
		return dc.reason
	}
	return "connection closed"
}

func (dc *deviceConn) closeWith(code int, reason string) {
	dc.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	dc.conn.Close()
}

func (dc *deviceConn) writePump() {
	for {
		select {
		case <-dc.done:
			return
		case msg := <-dc.send:
			b, err := json.Marshal(msg)
			if err != nil {
				continue
			}
			dc.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := dc.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				dc.conn.Close()
				return
			}
		}
	}
}
