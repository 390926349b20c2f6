package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/models"
)

var reStartKey = regexp.MustCompile(`name="start_key" value="([^"]+)"`)

// The counter form carries a one-time key: the same form posted again (a double tap, a retry,
// the back button) shows the payment it started instead of starting another; a second form on
// the busy reader is refused, keeping what was typed.
func TestCounterFormStartsOnePaymentPerKey(t *testing.T) {
	a := newApp(t, true)
	ctx := context.Background()
	r, err := a.readers.Store.BySerial(ctx, "SBX-0001")
	if err != nil {
		t.Fatal(err)
	}
	a.readers.Link.Register(r.Serial, func(any) error { return nil }, func(string) {})
	a.readers.Connected(ctx, r, &devices.Hello{Serial: r.Serial, Firmware: "2.1.0", Battery: 80})

	b := a.browser().login("staff", staffPW)
	_, page := b.get("/counter")
	m := reStartKey.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the counter form has no start key")
	}
	if _, again := b.get("/counter"); reStartKey.FindStringSubmatch(again)[1] == m[1] {
		t.Error("two counter forms got the same key")
	}
	form := url.Values{"start_key": {m[1]}, "reader_id": {"1"}, "kind": {"sale"}, "amount": {"1.11"}}
	var locations []string
	for range 3 {
		resp, _ := b.post("/counter", form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("start: %d", resp.StatusCode)
		}
		locations = append(locations, resp.Header.Get("Location"))
	}
	if locations[0] != locations[1] || locations[1] != locations[2] {
		t.Errorf("the same form went to %v", locations)
	}
	var n int64
	a.db.Model(&models.Transaction{}).Count(&n)
	if n != 1 {
		t.Errorf("%d payments from one form", n)
	}
	other := a.browser().login("admin", adminPW)
	_, page = other.get("/counter")
	if !strings.Contains(page, `data-testid="reader-busy"`) || !strings.Contains(page, "1.11\u00a0EUR") {
		t.Error("the counter does not show the reader busy")
	}
	key := reStartKey.FindStringSubmatch(page)[1]
	resp, body := other.post("/counter", url.Values{"start_key": {key}, "reader_id": {"1"}, "kind": {"sale"}, "amount": {"2.22"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Counter 1 is busy with 1.11\u00a0EUR") ||
		!strings.Contains(body, `value="2.22"`) || !strings.Contains(body, key) {
		t.Errorf("a second payment on the busy reader: %d, busy message, amount and key kept?", resp.StatusCode)
	}
}
