package web_test

import (
	"context"
	"encoding/json"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/models"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pairReader issues a pairing code for reader 1 and pairs it over HTTP as a reader app does.
func (a *app) pairReader(t *testing.T) string {
	t.Helper()
	_, code, err := a.readers.NewPairingCode(context.Background(), 1, models.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(a.url+"/devices/pair", url.Values{"serial": {"sbx-0001"}, "code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Serial, Credential string }
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK || out.Serial != "SBX-0001" || out.Credential == "" {
		t.Fatalf("pair: %d %+v", resp.StatusCode, out)
	}
	return out.Credential
}

func (a *app) dialDevice(cred string) (*websocket.Conn, *http.Response, error) {
	return websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/devices/ws", http.Header{"Authorization": {"Bearer " + cred}})
}

func readJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func TestDeviceChannel(t *testing.T) {
	a := newApp(t, true)
	cred := a.pairReader(t)
	// A browser screen listening for live updates.
	screen := a.screen(t, a.browser().login("admin", adminPW))

	c, _, err := a.dialDevice(cred)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteJSON(map[string]any{"type": "hello", "serial": "SBX-0001", "firmware": "2.1.0", "model": "VR-1", "battery": 77})
	if m := readJSON(t, c); m["type"] != "welcome" || m["label"] != "Counter 1" {
		t.Fatalf("answer to hello: %v", m)
	}
	// The open screen gets the reader's row, now online.
	screen.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, frag, err := screen.ReadMessage()
	if err != nil || !strings.Contains(string(frag), `id="reader-1"`) || !strings.Contains(string(frag), "reader-online") || !strings.Contains(string(frag), "hx-swap-oob") {
		t.Fatalf("live fragment: %s %v", frag, err)
	}
	c.WriteJSON(map[string]any{"type": "heartbeat", "battery": 76, "pan": "4111111111111111"})
	if m := readJSON(t, c); m["type"] != "error" {
		t.Errorf("unknown field: %v", m)
	}
	r, _ := a.readers.Store.ByID(context.Background(), 1)
	if !r.Online || r.Battery != 77 || r.Firmware != "2.1.0" {
		t.Errorf("reader after hello: %+v", r)
	}

	// Disabling closes the connection and refuses new ones.
	a.readers.SetEnabled(context.Background(), 1, false, models.Actor{Name: "admin"})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			break
		}
	}
	if _, resp, err := a.dialDevice(cred); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("disabled reader connects: %v", err)
	}
	a.readers.SetEnabled(context.Background(), 1, true, models.Actor{Name: "admin"})
	a.readers.Unpair(context.Background(), 1, models.Actor{Name: "admin"})
	if _, resp, err := a.dialDevice(cred); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked credential connects: %v", err)
	}
	// A hello for another serial is refused.
	cred = a.pairReader(t)
	c2, _, err := a.dialDevice(cred)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.WriteJSON(map[string]any{"type": "hello", "serial": "SBX-0002", "firmware": "2.1.0", "battery": 77})
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c2.ReadMessage(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Errorf("hello with another serial: %v", err)
	}
	// A page elsewhere cannot open a device socket.
	h := http.Header{"Authorization": {"Bearer " + cred}, "Origin": {"https://evil.example"}}
	if _, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/devices/ws", h); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("device socket with an Origin: %v", err)
	}
}

func TestPairingGuessesAreThrottled(t *testing.T) {
	a := newApp(t, true)
	var last int
	for i := 0; i < 7; i++ {
		resp, err := http.PostForm(a.url+"/devices/pair", url.Values{"serial": {"SBX-0001"}, "code": {"GUES-S000"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("seventh wrong pairing code: %d, want 429", last)
	}
}

func cookieHeader(b *browser, u *url.URL) string {
	var parts []string
	for _, c := range b.c.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// The browsers' live socket needs a session and this site's Origin: a page elsewhere cannot
// open it with the user's cookies, and nobody opens it without signing in.
func TestBrowserSocketNeedsSessionAndOrigin(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	u, _ := url.Parse(a.url)
	wsURL := "ws" + strings.TrimPrefix(a.url, "http") + "/ws"
	cases := []struct {
		name string
		h    http.Header
		ok   bool
	}{
		{"signed in, same origin", http.Header{"Cookie": {cookieHeader(admin, u)}, "Origin": {a.url}}, true},
		{"signed in, foreign origin", http.Header{"Cookie": {cookieHeader(admin, u)}, "Origin": {"https://evil.example"}}, false},
		{"no session", http.Header{"Origin": {a.url}}, false},
		{"forged session cookie", http.Header{"Cookie": {"session=" + strings.Repeat("A", 43)}, "Origin": {a.url}}, false},
	}
	for _, c := range cases {
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL, c.h)
		if conn != nil {
			conn.Close()
		}
		if (err == nil) != c.ok {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Errorf("%s: connected = %v (HTTP %d), want %v", c.name, err == nil, status, c.ok)
		}
	}
}

// A screen gets only the fragments its page shows: a payment page gets its own payment's
// fragments and not the lists' rows; a page that names no topics gets everything.
func TestScreensGetOnlyTheirTopics(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	u, _ := url.Parse(a.url)
	h := http.Header{"Cookie": {cookieHeader(admin, u)}, "Origin": {a.url}}
	dial := func(query string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws"+query, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	txPage, list, all, bogus := dial("?topics=tx:1"), dial("?topics=tx-rows,tx-new"), dial(""), dial("?topics=%3Cscript%3E")
	for a.server.Hub().Clients() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	a.server.Hub().Broadcast(live.PaymentRows, []byte("row"))
	a.server.Hub().Broadcast(live.PaymentTopic(1), []byte("status of 1"))
	a.server.Hub().Broadcast(live.PaymentTopic(2), []byte("status of 2"))
	read := func(c *websocket.Conn, n int) []string {
		var got []string
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for len(got) < n+1 {
			_, m, err := c.ReadMessage()
			if err != nil {
				break
			}
			got = append(got, string(m))
		}
		return got
	}
	for name, c := range map[string]struct {
		conn *websocket.Conn
		want string
	}{
		"payment page": {txPage, "status of 1"},
		"list":         {list, "row"},
		"no topics":    {all, "row|status of 1|status of 2"},
		"bad topics":   {bogus, "row|status of 1|status of 2"},
	} {
		if got := strings.Join(read(c.conn, strings.Count(c.want, "|")+1), "|"); got != c.want {
			t.Errorf("%s got %q, want %q", name, got, c.want)
		}
	}
}

// A payment page's socket starts with the payment's present state: a change between the
// page's render and the socket's opening is not lost.
func TestPaymentPageSocketStartsWithThePresentState(t *testing.T) {
	a := newApp(t, true)
	tx := a.addTx(t, "PSNAP", 1042, models.KindSale, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "242805"})...)
	admin := a.browser().login("admin", adminPW)
	u, _ := url.Parse(a.url)
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws?topics="+live.PaymentTopic(tx.ID).String(),
		http.Header{"Cookie": {cookieHeader(admin, u)}, "Origin": {a.url}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil || !strings.Contains(string(msg), `data-state="approved"`) {
		t.Fatalf("first message %q, %v; want the approved status", msg, err)
	}
}

// The live socket authorises every topic kind per role, like the route matrix: staff get the
// counter's reader choices and payments, never reader administration or Close Day, whatever
// they subscribe to (a named topic, or none meaning "everything").
func TestLiveTopicsAreAuthorisedPerRole(t *testing.T) {
	a := newApp(t, true)
	kinds := map[live.Topic]bool{ // topic kind → staff may see it
		live.Readers: false, live.ReaderChoices: true, live.PaymentRows: true,
		live.NewPayments: true, live.Closes: false, live.PaymentTopic(1): true, live.CloseTopic(1): false,
	}
	u, _ := url.Parse(a.url)
	for _, role := range []struct {
		user, pw string
		admin    bool
	}{{"staff", staffPW, false}, {"admin", adminPW, true}} {
		b := a.browser().login(role.user, role.pw)
		h := http.Header{"Cookie": {cookieHeader(b, u)}, "Origin": {a.url}}
		for topic, staffMay := range kinds {
			for _, query := range []string{"?topics=" + topic.String(), ""} {
				before := a.server.Hub().Clients()
				c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws"+query, h)
				if err != nil {
					t.Fatal(err)
				}
				waitClients(t, a, func(n int) bool { return n > before })
				a.server.Hub().Broadcast(topic, []byte("fragment of "+topic.String()))
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				_, m, err := c.ReadMessage()
				got := err == nil && string(m) == "fragment of "+topic.String()
				if want := role.admin || staffMay; got != want {
					t.Errorf("%s subscribed %q: received %q = %v, want %v", role.user, query, topic, got, want)
				}
				c.Close()
				waitClients(t, a, func(n int) bool { return n <= before })
			}
		}
	}
}

// waitClients waits (on a deadline) until the hub's client count satisfies ok.
func waitClients(t *testing.T, a *app, ok func(int) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(a.server.Hub().Clients()); {
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d clients", a.server.Hub().Clients())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Shutting the hub down tells every screen the portal is restarting (1012, after which the
// htmx websocket extension reconnects) and closes its
// socket, so the page shows its banner and reconnects to the portal that comes back.
func TestHubCloseSaysServiceRestart(t *testing.T) {
	a := newApp(t, true)
	screen := a.screen(t, a.browser().login("admin", adminPW))
	a.server.Hub().Close()
	var err error
	screen.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err = screen.ReadMessage(); err != nil {
			break
		}
	}
	if !websocket.IsCloseError(err, websocket.CloseServiceRestart) {
		t.Errorf("the screen's socket ended with %v, want 1012 service restart", err)
	}
}

// screen opens b's live-update socket and waits (on a deadline) until it has joined the hub,
// so that an update sent next cannot pass it by.
func (a *app) screen(t *testing.T, b *browser) *websocket.Conn {
	t.Helper()
	u, _ := url.Parse(a.url)
	before := a.server.Hub().Clients()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws",
		http.Header{"Cookie": {cookieHeader(b, u)}, "Origin": {a.url}})
	if err != nil {
		t.Fatalf("browser socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	for deadline := time.Now().Add(5 * time.Second); a.server.Hub().Clients() == before; {
		if time.Now().After(deadline) {
			t.Fatal("the screen never joined the hub")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c
}
