package web

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
)

// Hub pushes HTML fragments to every open browser screen over websockets. Fragments carry
// stable ids and hx-swap-oob, so the htmx ws extension swaps them in place. Publishing never
// blocks: a client whose buffer is full is dropped (it reconnects and reloads).
type Hub struct {
	// Snapshot, when set, renders the present state of a topic for a screen that has just
	// subscribed, so that a change between the page's render and its socket is not lost.
	// It returns nothing for topics that need no snapshot (lists).
	Snapshot func(ctx context.Context, topic live.Topic) []templ.Component
	// Store, when set, is how the store shows times and amounts in pushed fragments (its
	// zone and locale); a screen whose user chose another zone gets its own rendering.
	Store func(ctx context.Context) templates.Chrome

	log     *slog.Logger
	mu      sync.Mutex
	clients map[*hubClient]struct{}
	closed  bool
	wg      sync.WaitGroup // one per socket handler, until it returns
}

type hubClient struct {
	send   chan *websocket.PreparedMessage
	conn   *websocket.Conn
	topics map[live.Topic]bool // what the page shows; nil takes everything it may see
	admin  bool                // staff see only Topic.Staff topics
	zone   *time.Location      // the user's chosen display zone; nil: the store's
}

// zoneKey names the rendering a client needs: "" for the store's zone.
func (c *hubClient) zoneKey() string {
	if c.zone == nil {
		return ""
	}
	return c.zone.String()
}

// wants reports whether the client's page shows topic and its user may see it.
func (c *hubClient) wants(topic live.Topic) bool {
	return (c.admin || topic.Staff()) && (c.topics == nil || c.topics[topic])
}

// parseTopics reads the "topics" query of a socket: at most maxTopics topics, comma-separated
// (live.ParseTopic). Anything else subscribes to everything, as a page without topics does;
// what the user may see is checked per fragment all the same.
func parseTopics(q string) map[live.Topic]bool {
	if q == "" {
		return nil
	}
	names := strings.Split(q, ",")
	if len(names) > maxTopics {
		return nil
	}
	topics := make(map[live.Topic]bool, len(names))
	for _, n := range names {
		t, ok := live.ParseTopic(n)
		if !ok {
			return nil
		}
		topics[t] = true
	}
	return topics
}

const maxTopics = 8

const (
	hubBuffer    = 32
	writeTimeout = 10 * time.Second
	pongTimeout  = 60 * time.Second
	pingEvery    = 25 * time.Second
)

// NewHub returns an empty hub.
func NewHub(log *slog.Logger) *Hub {
	return &Hub{log: log, clients: map[*hubClient]struct{}{}}
}

// storeMoney is how the store writes amounts.
func (h *Hub) storeMoney(ctx context.Context) money.Locale {
	if h.Store == nil {
		return money.English
	}
	return h.Store(ctx).Money
}

// render renders a fragment as a screen in zone (nil: the store's) shows it.
func (h *Hub) render(ctx context.Context, c templ.Component, zone *time.Location) (*websocket.PreparedMessage, error) {
	var ch templates.Chrome
	if h.Store != nil {
		ch = h.Store(ctx)
	}
	if zone != nil {
		ch.Zone = zone
	}
	var b bytes.Buffer
	if err := c.Render(templates.WithChrome(ctx, ch), &b); err != nil {
		return nil, err
	}
	return websocket.NewPreparedMessage(websocket.TextMessage, b.Bytes())
}

// Broadcast sends a rendered fragment to every client whose page shows topic, without
// waiting for any of them. The frame is encoded once for all clients.
func (h *Hub) Broadcast(topic live.Topic, msg []byte) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, msg)
	if err != nil {
		h.log.Error("hub message", "error", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if c.wants(topic) {
			h.sendLocked(c, pm)
		}
	}
}

// sendLocked queues a message for c, or drops c if it is too slow: it reconnects and reloads
// rather than hold everyone up. h.mu is held.
func (h *Hub) sendLocked(c *hubClient, pm *websocket.PreparedMessage) {
	select {
	case c.send <- pm:
	default:
		delete(h.clients, c)
		close(c.send)
	}
}

// BroadcastComponent renders c once per display zone its screens use (usually once: the
// store's) and sends it to every client whose page shows topic.
func (h *Hub) BroadcastComponent(topic live.Topic, c templ.Component) {
	h.BroadcastFirst(Choice{topic, c})
}

// Choice is one fragment for the screens whose page shows Topic.
type Choice struct {
	Topic live.Topic
	C     templ.Component
}

// BroadcastFirst sends each client the first choice its page shows (if any): for example a
// new payment row to lists that insert new rows, else the row update to pages that only
// update rows they have. Each fragment is rendered once, and only if a client wants it.
func (h *Hub) BroadcastFirst(choices ...Choice) {
	type key struct {
		choice int
		zone   string
	}
	msgs := map[key]*websocket.PreparedMessage{}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		for i, ch := range choices {
			if !c.wants(ch.Topic) {
				continue
			}
			k := key{i, c.zoneKey()}
			if msgs[k] == nil {
				pm, err := h.render(context.Background(), ch.C, c.zone)
				if err != nil {
					h.log.Error("hub render", "error", err)
					return
				}
				msgs[k] = pm
			}
			h.sendLocked(c, msgs[k])
			break
		}
	}
}

// Wants reports whether any connected screen shows one of topics.
func (h *Hub) Wants(topics ...live.Topic) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		for _, t := range topics {
			if c.wants(t) {
				return true
			}
		}
	}
	return false
}

// Close says goodbye to every connected screen (close code 1012, "service restart": the htmx
// websocket extension reconnects only after 1006, 1011, 1012 or 1013) and closes its
// socket: the HTTP server's shutdown does not close hijacked connections itself
// (main registers it with RegisterOnShutdown). The screens show their banner and reconnect
// to the portal that comes back.
// Close returns once every socket's handler has returned, so nothing of theirs runs after.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	bye := websocket.FormatCloseMessage(websocket.CloseServiceRestart, "the portal is restarting")
	for c := range h.clients {
		c.conn.WriteControl(websocket.CloseMessage, bye, time.Now().Add(time.Second))
		c.conn.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// Clients is the number of connected screens.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

var browserUpgrader = websocket.Upgrader{
	ReadBufferSize: 1024, WriteBufferSize: 4096,
	// The default CheckOrigin refuses a cross-origin Origin header: a page elsewhere cannot
	// open a socket with our user's cookies.
}

// ws handles "GET /ws": a signed-in browser's live-update socket.
func (h *Hub) ws(c *gin.Context) {
	conn, err := browserUpgrader.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		return // the upgrader has answered
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "the portal is restarting"), time.Now().Add(time.Second))
		conn.Close()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	u := currentUser(c)
	cl := &hubClient{send: make(chan *websocket.PreparedMessage, hubBuffer), conn: conn, topics: parseTopics(c.Query("topics")),
		admin: u != nil && u.Role == models.RoleAdmin, zone: userZone(u)}
	h.mu.Lock()
	h.clients[cl] = struct{}{}
	h.mu.Unlock()
	go cl.writePump()
	h.snapshot(c.Request.Context(), cl)
	cl.readPump(h)
}

// snapshot sends a new screen the present state of its topics.
func (h *Hub) snapshot(ctx context.Context, cl *hubClient) {
	if h.Snapshot == nil {
		return
	}
	for topic := range cl.topics {
		if !cl.wants(topic) {
			continue // not this user's to see
		}
		for _, c := range h.Snapshot(ctx, topic) {
			pm, err := h.render(ctx, c, cl.zone)
			if err != nil {
				h.log.Error("hub snapshot", "error", err)
				return
			}
			h.mu.Lock()
			if _, ok := h.clients[cl]; ok {
				h.sendLocked(cl, pm)
			}
			h.mu.Unlock()
		}
	}
}

// readPump discards what the browser sends (htmx may send form data; we do not take input
// here) and notices when it goes away.
func (cl *hubClient) readPump(h *Hub) {
	defer func() {
		h.mu.Lock()
		if _, ok := h.clients[cl]; ok {
			delete(h.clients, cl)
			close(cl.send)
		}
		h.mu.Unlock()
		cl.conn.Close()
	}()
	cl.conn.SetReadLimit(4096)
	cl.conn.SetReadDeadline(time.Now().Add(pongTimeout))
	cl.conn.SetPongHandler(func(string) error { return cl.conn.SetReadDeadline(time.Now().Add(pongTimeout)) })
	for {
		if _, _, err := cl.conn.NextReader(); err != nil {
			return
		}
	}
}

func (cl *hubClient) writePump() {
	ping := time.NewTicker(pingEvery)
	defer func() {
		ping.Stop()
		cl.conn.Close()
	}()
	for {
		select {
		case msg, ok := <-cl.send:
			cl.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if !ok {
				cl.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "slow client"))
				return
			}
			if err := cl.conn.WritePreparedMessage(msg); err != nil {
				return
			}
		case <-ping.C:
			cl.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := cl.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}
