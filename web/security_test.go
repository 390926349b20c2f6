package web_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

var (
	reInlineScript  = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	reEventHandler  = regexp.MustCompile(`\son[a-z]+\s*=`)
	reInlineStyleEl = regexp.MustCompile(`<style[\s>]`)
)

// Every response carries the security headers, and no page has inline script, an event
// handler attribute or an inline style element: the Content-Security-Policy forbids them, so
// one would break the page in the browser.
func TestSecurityHeadersAndNoInlineScript(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	a.addTx(t, "PSEC1", 1000, "sale")
	for _, path := range []string{"/", "/counter", "/transactions", "/transactions/1", "/transactions/1/receipt", "/admin/closeday",
		"/admin/closeday/history", "/admin/readers", "/admin/users", "/admin/endpoints", "/admin/audit", "/admin/callbacks"} {
		resp, body := admin.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
			continue
		}
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" ||
			h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, h)
		}
		for _, m := range reInlineScript.FindAllString(body, -1) {
			if !strings.Contains(m, "src=") {
				t.Errorf("%s: inline script %q", path, m)
			}
		}
		if m := reEventHandler.FindString(body); m != "" {
			t.Errorf("%s: event handler attribute %q", path, m)
		}
		if reInlineStyleEl.MatchString(body) {
			t.Errorf("%s: inline style element", path)
		}
	}
	resp, _ := a.browser().get("/static/app.js")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") == "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("static file: %d %v", resp.StatusCode, resp.Header)
	}
	for _, dir := range []string{"/static/", "/static/vendor/"} {
		if resp, _ := a.browser().get(dir); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s lists the directory: %d", dir, resp.StatusCode)
		}
	}
}

// Anonymous requests outside the pages (readers' and the gateway's paths, made-up methods)
// get plain errors, never a panic, and add nothing unbounded to /metrics or the log.
func TestAnonymousOddRequestsAreBounded(t *testing.T) {
	a := newApp(t, true)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/devices/x", http.StatusNotFound},
		{"GET", "/devices/pair", http.StatusMethodNotAllowed},
		{"PUT", "/devices/pair", http.StatusMethodNotAllowed},
		{"DELETE", "/callbacks/mapi/1", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, a.url+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	for i := range 50 {
		method := strings.Repeat("X", 2000) + string(rune('A'+i%26)) + strings.Repeat("Y", i)
		req, _ := http.NewRequest(method, a.url+"/callbacks/mapi/1", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if strings.Contains(a.logs.String(), "panic") {
		t.Error("a request panicked")
	}
	if strings.Contains(a.logs.String(), strings.Repeat("X", 100)) {
		t.Error("a made-up method reached the log whole")
	}
	resp, body := a.browser().get("/metrics")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "XXXX") || len(body) > 200_000 {
		t.Errorf("/metrics carries made-up methods (%d bytes)", len(body))
	}
}

// After sign-in the browser only ever goes to a page of this portal, whatever next says.
func TestLoginNextStaysOnThePortal(t *testing.T) {
	a := newApp(t, true)
	for next, want := range map[string]string{
		"/transactions?state=approved": "/transactions?state=approved",
		"/\t/127.0.0.1:38099/pwned":    "/",
		"/\\evil.example":              "/",
		"//evil.example/x":             "/",
		"https://evil.example/":        "/",
		"/\n/evil.example":             "/",
		"/%09/evil.example":            "/%09/evil.example", // stays a path on this site
	} {
		b := a.browser()
		b.get("/login")
		resp, _ := b.post("/login", url.Values{"username": {"staff"}, "password": {staffPW}, "next": {next}})
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != want {
			t.Errorf("next %q: %d to %q, want %q", next, resp.StatusCode, got, want)
		}
	}
}

// A password reset ends every session of that user: the old one is signed out at its next
// request; the new password signs in.
func TestPasswordResetEndsTheUsersSessions(t *testing.T) {
	a := newApp(t, true)
	staff := a.browser().login("staff", staffPW)
	if resp, _ := staff.get("/transactions"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	admin := a.browser().login("admin", adminPW)
	admin.get("/admin/users/2")
	if resp, _ := admin.post("/admin/users/2/password", url.Values{"password": {"Brand-New-Pass-7"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if resp, _ := staff.get("/transactions"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("the old session after the reset: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := admin.get("/admin/users"); resp.StatusCode != http.StatusOK {
		t.Errorf("the admin who reset it: %d", resp.StatusCode)
	}
	again := a.browser().login("staff", "Brand-New-Pass-7")
	if resp, _ := again.get("/transactions"); resp.StatusCode != http.StatusOK {
		t.Errorf("signing in with the new password: %d", resp.StatusCode)
	}
}

// Request bodies are bounded: a 300 MB multipart body to the anonymous pairing endpoint is
// refused at once with 413, and a form larger than the portal's own is refused too.
func TestRequestBodiesAreBounded(t *testing.T) {
	a := newApp(t, true)
	// Announce 300 MB and send only the start: the answer must come without the rest.
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /devices/pair HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n%s",
		300<<20, strings.Repeat("x", 8<<10))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 413 ") {
		t.Errorf("300 MB pairing body: %q %v, want 413", status, err)
	}
	b := a.browser().login("staff", staffPW)
	b.get("/counter")
	resp, _ := b.post("/counter", url.Values{"description": {strings.Repeat("d", 100<<10)}, "amount": {"1.00"}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 100 KB counter form: %d, want 413", resp.StatusCode)
	}
	var n int64
	a.db.Table("transactions").Count(&n)
	if n != 0 {
		t.Errorf("%d payments after refused bodies", n)
	}
}

// Forged callbacks from one address are logged up to a point, then answered 429 and no
// longer stored: an anonymous sender cannot grow the callback log without bound.
func TestForgedCallbacksAreRateLimited(t *testing.T) {
	a := newApp(t, true)
	codes := map[int]int{}
	for i := range 60 {
		q := url.Values{"status": {"approved"}, "orderid": {"1"}, "merchant_order": {fmt.Sprint("P", i)}, "control": {"bad"},
			"amount": {"1.00"}, "type": {"sale"}}
		resp, err := http.Get(a.url + "/callbacks/mapi/1?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	var logged int64
	a.db.Table("callback_deliveries").Count(&logged)
	if codes[http.StatusForbidden] != 30 || codes[http.StatusTooManyRequests] != 30 || logged != 30 {
		t.Errorf("answers %v, %d logged; want 30 refused and logged, then 30 throttled", codes, logged)
	}
}

// A user sees where they are signed in and can end every other session; this one goes on.
func TestUserSeesSessionsAndSignsOutEverywhereElse(t *testing.T) {
	a := newApp(t, true)
	tablet := a.browser().login("staff", staffPW)
	laptop := a.browser().login("staff", staffPW)
	a.browser().login("admin", adminPW) // someone else's session is not listed
	_, page := laptop.get("/account")
	if n := strings.Count(page, `data-testid="session"`); n != 2 || !strings.Contains(page, "This device") || !strings.Contains(page, "Another device") {
		t.Errorf("the sessions page lists %d sessions:\n%s", n, page)
	}
	if resp, _ := laptop.post("/account/signout-others", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out everywhere else: %d", resp.StatusCode)
	}
	if resp, _ := tablet.get("/transactions"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the other session after signing out everywhere else: %d", resp.StatusCode)
	}
	resp, page := laptop.get("/account")
	if resp.StatusCode != http.StatusOK || strings.Count(page, `data-testid="session"`) != 1 {
		t.Errorf("this session after signing out the others: %d, %d listed", resp.StatusCode, strings.Count(page, `data-testid="session"`))
	}
}

// FuzzLoginForm posts arbitrary sign-in forms: the portal never fails (5xx), never signs in
// without the password, and never sends the browser off the portal.
func FuzzLoginForm(f *testing.F) {
	a := newApp(f, true)
	f.Add("staff", staffPW, "/transactions")
	f.Add("admin", "wrong", "//evil.example")
	f.Add("STAFF ", staffPW, "/\t/evil.example")
	f.Add(strings.Repeat("u", 5000), "p", "https://evil.example")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, user, pw, next string) {
		a.t = t // the helpers report to this input's test
		b := a.browser()
		b.get("/login")
		resp, _ := b.post("/login", url.Values{"username": {user}, "password": {pw}, "next": {next}})
		if resp.StatusCode >= 500 {
			t.Fatalf("sign-in with %q: %d", user, resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode == http.StatusSeeOther {
			if pw != staffPW && pw != adminPW {
				t.Fatalf("signed in as %q without the password", user)
			}
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\t\r\n") {
				t.Fatalf("next %q sent the browser to %q", next, loc)
			}
		}
	})
}

// Closing the day, disabling and unpairing a reader ask first: without confirm=yes the answer
// is the question, and nothing changes.
func TestHardToUndoActionsAskFirst(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	for _, path := range []string{"/admin/closeday/1", "/admin/readers/1/disable", "/admin/readers/1/unpair"} {
		before := a.snapshot()
		resp, body := admin.post(path, url.Values{})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="confirm"`) || !strings.Contains(body, `name="confirm" value="yes"`) {
			t.Errorf("%s without confirmation: %d", path, resp.StatusCode)
		}
		if a.snapshot() != before {
			t.Errorf("%s changed something before it was confirmed", path)
		}
	}
	var closes int64
	a.db.Model(&models.CloseDay{}).Count(&closes)
	if closes != 0 {
		t.Errorf("%d closes started without confirmation", closes)
	}
	if resp, _ := admin.post("/admin/readers/1/disable", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("confirmed disable: %d", resp.StatusCode)
	}
}
