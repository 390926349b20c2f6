package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/example/mposportal/models"
)

func TestFirstRunLeadsToSetup(t *testing.T) {
	a := newApp(t, false)
	b := a.browser()
	for _, p := range []string{"/", "/login", "/admin/users"} {
		resp, _ := b.get(p)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/setup" {
			t.Errorf("GET %s before setup: %d → %s, want /setup", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	b.get("/setup")
	resp, body := b.post("/setup", url.Values{"username": {"root"}, "name": {"Root"}, "password": {"weak"}, "password2": {"weak"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-password"`) {
		t.Errorf("weak password: %d", resp.StatusCode)
	}
	resp, _ = b.post("/setup", url.Values{"username": {"root"}, "name": {"Root"}, "password": {"Root-Pass-1"}, "password2": {"Root-Pass-1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: %d", resp.StatusCode)
	}
	// An administrator sets up two-step sign-in before anything else.
	if resp, _ = b.get("/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/second-factor" {
		t.Fatalf("after setup: %d to %q, want the two-step set-up", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ = b.post("/admin/users", url.Values{"username": {"carol"}, "name": {"Carol"}, "role": {"admin"}, "password": {"Carol-Pass-1"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form posted before the set-up: %d, want 403", resp.StatusCode)
	}
	b.enrol()
	resp, body = b.get("/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Welcome, Root") {
		t.Errorf("after setup the admin is signed in: %d", resp.StatusCode)
	}
	u, err := (&models.Users{DB: a.db}).ByUsername(context.Background(), "root")
	if err != nil || u.Role != models.RoleAdmin || u.PasswordHash == "Root-Pass-1" {
		t.Errorf("first user %+v, %v", u, err)
	}
	// Setup is closed now, for everyone.
	other := a.browser()
	other.get("/login")
	resp, _ = other.post("/setup", url.Values{"username": {"mallory"}, "name": {"M"}, "password": {"Root-Pass-1"}, "password2": {"Root-Pass-1"}})
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("second setup: %d, want 409", resp.StatusCode)
	}
}

func TestLoginThrottling(t *testing.T) {
	a := newApp(t, true)
	b := a.browser()
	// An unknown user gets exactly the wrong-password answer.
	_, unknown := b.post("/login", url.Values{"username": {"nobody"}, "password": {"guess"}})
	for i := 1; i <= 5; i++ {
		resp, body := b.post("/login", url.Values{"username": {"admin"}, "password": {"guess"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Invalid username or password.") {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
		const msg = `data-testid="login-error">Invalid username or password.<`
		if i == 1 && (!strings.Contains(unknown, msg) || !strings.Contains(body, msg)) {
			t.Error("an unknown user gets a different answer than a wrong password")
		}
	}
	resp, body := b.post("/login", url.Values{"username": {"admin"}, "password": {adminPW}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-in attempts") {
		t.Errorf("sixth attempt from the address, even with the right password: %d", resp.StatusCode)
	}
}

func TestDisabledUserLosesSession(t *testing.T) {
	a := newApp(t, true)
	staff := a.browser().login("staff", staffPW)
	admin := a.browser().login("admin", adminPW)
	admin.get("/admin/users/2")
	if resp, _ := admin.post("/admin/users/2/disable", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if resp, _ := staff.get("/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("disabled user's next request: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := a.browser().post("/login", url.Values{"username": {"staff"}, "password": {staffPW}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user signs in: %d", resp.StatusCode)
	}
}

func TestLastAdminCannotBeDisabledOrDemoted(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	before := a.snapshot()
	if resp, _ := admin.post("/admin/users/1/disable", url.Values{}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("disable the last admin: %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/admin/users/1", url.Values{"name": {"Admin"}, "role": {"staff"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("demote the last admin: %d", resp.StatusCode)
	}
	if a.snapshot() != before {
		t.Error("the refused change was stored")
	}
}

func TestControlKeyIsWriteOnlyAndNeverShown(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	for _, p := range []string{"/admin/endpoints", "/admin/endpoints/1", "/admin/audit"} {
		_, body := admin.get(p)
		if strings.Contains(body, testKey) || strings.Contains(body, "A7DC-41B4") {
			t.Errorf("%s shows the control key", p)
		}
	}
	_, body := admin.get("/admin/endpoints")
	if !strings.Contains(body, "B17F••••••••3D20") {
		t.Error("the endpoints page does not show the masked key")
	}
	form := url.Values{"name": {"Main"}, "endpoint_id": {"1234"}, "login": {"merchantlogin"}, "control_key": {""},
		"currency": {"EUR"}, "base_url": {"https://gate2.example.com"}, "address1": {"1 Main St"}, "city": {"Riga"},
		"zip_code": {"LV-1010"}, "country": {"LV"}, "email": {"shop@example.com"}, "enabled": {"1"}}
	if resp, _ := admin.post("/admin/endpoints/1", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save with a blank key: %d", resp.StatusCode)
	}
	e, _ := (&models.Endpoints{DB: a.db}).ByID(context.Background(), 1)
	if e.ControlKey != testKey || e.BaseURL != "https://gate2.example.com" {
		t.Errorf("after saving with a blank key: key kept = %v, url %s", e.ControlKey == testKey, e.BaseURL)
	}
	form.Set("control_key", "NEW-SECRET-KEY-0001")
	form.Set("currency", "euro") // invalid: the form comes back
	resp, body := admin.post("/admin/endpoints/1", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(body, "NEW-SECRET-KEY-0001") {
		t.Errorf("invalid form: %d, echoes the new key: %v", resp.StatusCode, strings.Contains(body, "NEW-SECRET-KEY-0001"))
	}
	form.Set("currency", "EUR")
	admin.post("/admin/endpoints/1", form)
	for _, secret := range []string{testKey, "NEW-SECRET-KEY-0001"} {
		if strings.Contains(a.logs.String(), secret) {
			t.Errorf("the logs contain a control key")
		}
	}
	var n int64
	a.db.Model(&models.AuditEvent{}).Where("detail LIKE ?", "%NEW-SECRET%").Count(&n)
	if n != 0 {
		t.Error("the audit log contains the control key")
	}
}

func TestErrorPathFormats(t *testing.T) {
	a := newApp(t, true)
	b := a.browser().login("staff", staffPW)
	resp, body := b.get("/no/such/page")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `data-testid="error-page"`) {
		t.Errorf("HTML 404: %d", resp.StatusCode)
	}
	resp, body = b.get("/api/nothing")
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"error"`) {
		t.Errorf("API 404: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	req, _ := http.NewRequest(http.MethodGet, a.url+"/admin/users", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := b.c.Do(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("htmx 403: %v", err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	if !strings.Contains(string(buf[:n]), `data-testid="error-fragment"`) || strings.Contains(string(buf[:n]), "<html") {
		t.Errorf("htmx error is not a fragment: %s", buf[:n])
	}
	if strings.Contains(a.logs.String(), "level=ERROR") {
		t.Errorf("4xx responses were logged as errors:\n%s", a.logs.String())
	}
}
