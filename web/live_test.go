package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/live"
	"github.com/example/mposportal/models"
	"github.com/gorilla/websocket"
)

// topicScreen opens b's live socket for topics and waits (on a deadline) until it has joined
// the hub.
func (a *app) topicScreen(t *testing.T, b *browser, topics ...live.Topic) *websocket.Conn {
	t.Helper()
	names := make([]string, len(topics))
	for i, topic := range topics {
		names[i] = topic.String()
	}
	u, _ := url.Parse(a.url)
	before := a.server.Hub().Clients()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws?topics="+strings.Join(names, ","),
		http.Header{"Cookie": {cookieHeader(b, u)}, "Origin": {a.url}})
	if err != nil {
		t.Fatalf("browser socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	waitClients(t, a, func(n int) bool { return n > before })
	return c
}

// awaitFragment reads c until a message holds every one of want, and returns it.
func awaitFragment(t *testing.T, c *websocket.Conn, what string, want ...string) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: no fragment with %q: %v", what, want, err)
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(string(m), w)
		}
		if ok {
			return string(m)
		}
	}
}

// Every kind of change the domain announces reaches the screens that show it: a reader's
// row, a close's row and panel, and a payment waiting for its card makes its reader busy on
// the counters.
func TestEveryKindOfChangeReachesItsScreens(t *testing.T) {
	a := newApp(t, true)
	ctx := context.Background()
	cred := a.pairReader(t)
	admin := a.browser().login("admin", adminPW)
	staff := a.browser().login("staff", staffPW)
	readers := a.topicScreen(t, admin, live.Readers)
	closes := a.topicScreen(t, admin, live.Closes)
	counter := a.topicScreen(t, staff, live.ReaderChoices)

	// The reader connects (devices.Readers tells the notifier): the admins see it online.
	dev, _, err := a.dialDevice(cred)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.WriteJSON(map[string]any{"type": "hello", "serial": "SBX-0001", "firmware": "2.1.0", "model": "VR-1", "battery": 77})
	if m := readJSON(t, dev); m["type"] != "welcome" {
		t.Fatalf("answer to hello: %v", m)
	}
	awaitFragment(t, readers, "reader online", `id="reader-1"`, "reader-online", "hx-swap-oob")

	// A payment starts waiting for its card on the reader: the counters see it busy.
	tx := a.addTx(t, "PBUSY", 1234, models.KindSale)
	a.renderer.Changed(live.Change{Kind: live.Payment, ID: tx.ID})
	awaitFragment(t, counter, "reader busy", `id="choice-status-1"`, `data-testid="reader-busy"`, "12.34")

	// A close changes: its row and its panel on the Close Day page.
	c := a.addClose(t, models.CloseDay{RequestID: "R-LIVE", State: models.CloseSending, Trigger: models.TriggerManual, StartedBy: "admin"})
	a.renderer.Changed(live.Change{Kind: live.Close, ID: c.ID})
	row := awaitFragment(t, closes, "close row", `data-testid="close-row-`, `data-state="sending"`)
	awaitFragment(t, closes, "close panel", `data-testid="close-status"`, "R-LIVE")
	if !strings.Contains(row, "hx-swap-oob") {
		t.Errorf("the close row is not swapped in place: %s", row)
	}

	// Staff never receive what is the admins' (reader administration, Close Day), even on a
	// socket that asks for everything.
	everything := a.screen(t, staff)
	a.renderer.Changed(live.Change{Kind: live.Close, ID: c.ID})
	if _, err := a.readers.SetEnabled(ctx, 1, false, models.Actor{Name: "admin"}); err != nil {
		t.Fatal(err)
	}
	awaitFragment(t, readers, "reader disabled", `id="reader-1"`)
	everything.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		_, m, err := everything.ReadMessage()
		if err != nil {
			break
		}
		if strings.Contains(string(m), "close-") || strings.Contains(string(m), `id="reader-1"`) {
			t.Errorf("staff's screen received %s", m)
		}
	}
}
