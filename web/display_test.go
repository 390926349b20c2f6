package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// Amounts read the way the store writes numbers (its endpoint's locale) and times show in the
// store's zone, unless a user chose their own zone on the account page; the live updates
// pushed to each screen follow the same choice.
func TestAmountsAndTimesFollowTheStoreAndTheUser(t *testing.T) {
	a := newApp(t, true)
	if err := a.db.Model(&models.Endpoint{}).Where("id = 1").Updates(map[string]any{"time_zone": "Europe/Riga", "locale": "lv-LV"}).Error; err != nil {
		t.Fatal(err)
	}
	tx := a.addTx(t, "PZONE", 110004566, models.KindSale)
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) // 15:00 EEST in Riga, 21:00 JST in Tokyo
	a.db.Model(&models.Transaction{}).Where("id = ?", tx.ID).Update("created_at", summer)

	admin := a.browser().login("admin", adminPW)
	staff := a.browser().login("staff", staffPW)
	const amount = "1\u00a0100\u00a0045,66\u00a0EUR"
	for who, b := range map[string]*browser{"admin": admin, "staff": staff} {
		_, page := b.get("/transactions")
		if !strings.Contains(page, amount) || !strings.Contains(page, "15:00:00 EEST") {
			t.Errorf("%s: the list does not show %q at 15:00 EEST", who, amount)
		}
	}

	// Staff choose Tokyo: their pages change, the admin's do not.
	_, page := staff.get("/account")
	if !strings.Contains(page, `data-testid="zone-choice"`) || !strings.Contains(page, "The store's time zone (Europe/Riga)") {
		t.Fatal("the account page offers no time zone choice")
	}
	if resp, _ := staff.post("/account/zone", url.Values{"zone": {"Mars/Olympus_Mons"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("an unknown zone: %d, want 422", resp.StatusCode)
	}
	if resp, _ := staff.post("/account/zone", url.Values{"zone": {"Asia/Tokyo"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("choosing Tokyo: %d", resp.StatusCode)
	}
	if _, page := staff.get("/transactions"); !strings.Contains(page, "21:00:00 JST") || !strings.Contains(page, amount) {
		t.Error("staff's list is not in Tokyo time after choosing it")
	}
	if _, page := admin.get("/transactions"); !strings.Contains(page, "15:00:00 EEST") {
		t.Error("the admin's list left the store's zone")
	}
	// Date filters are days in the reader's zone: 1 July in Tokyo runs 15:00 UTC on 30 June
	// to 15:00 UTC on 1 July, so a payment at 21:00 JST on 1 July is in it, and not in 2 July.
	if _, page := staff.get("/transactions?from=2026-07-01&to=2026-07-01"); !strings.Contains(page, "PZONE") {
		t.Error("staff's 1 July (Tokyo) does not hold the payment")
	}
	if _, page := staff.get("/transactions?from=2026-07-02&to=2026-07-02"); strings.Contains(page, `data-testid="tx-PZONE"`) {
		t.Error("staff's 2 July (Tokyo) holds a payment of 1 July")
	}
	// Amount filters are typed the store's way.
	if _, page := admin.get("/transactions?min=" + url.QueryEscape("1 100 000,00")); !strings.Contains(page, `data-testid="tx-PZONE"`) {
		t.Error("a minimum typed the Latvian way does not find the payment")
	}

	// The same change pushed live: each screen gets it in its user's zone.
	adminScreen, staffScreen := a.screen(t, admin), a.screen(t, staff)
	if resp, _ := admin.post(fmt.Sprintf("/transactions/%d/cancel", tx.ID), url.Values{}); resp.StatusCode >= 400 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	for who, c := range map[string]struct {
		conn interface {
			SetReadDeadline(time.Time) error
			ReadMessage() (int, []byte, error)
		}
		want, not string
	}{"admin": {adminScreen, "EEST", "JST"}, "staff": {staffScreen, "JST", "EEST"}} {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, msg, err := c.conn.ReadMessage()
			if err != nil {
				t.Fatalf("%s's screen got no row for the cancelled payment: %v", who, err)
			}
			if !strings.Contains(string(msg), "PZONE") || !strings.Contains(string(msg), "2026-07-01") {
				continue
			}
			if !strings.Contains(string(msg), c.want) || strings.Contains(string(msg), c.not) || !strings.Contains(string(msg), amount) {
				t.Errorf("%s's pushed row: %s", who, msg)
			}
			break
		}
	}
}
