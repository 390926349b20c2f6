package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/example/mposportal/web"
)

// A dependency that New requires and main forgot stops the portal at start-up, named, rather
// than failing a request later with a nil pointer.
func TestNewRefusesAMissingDependency(t *testing.T) {
	for _, name := range []string{"Users", "Audit", "Endpoints", "Sessions", "SessionList", "Log", "Metrics", "Gatherer",
		"Hub", "Readers", "ReaderAdmin", "Devices", "Payments", "Transactions", "Callbacks", "CloseDays", "Closes",
		"Shifts", "SecondFactors", "Devices.Readers", "Devices.Payments", "Devices.Link", "Devices.Log"} {
		t.Run(name, func(t *testing.T) {
			without := func(d *web.Deps) {
				if field, ok := strings.CutPrefix(name, "Devices."); ok {
					dh := &web.DeviceHandlers{Readers: d.Devices.Readers, Payments: d.Devices.Payments, Link: d.Devices.Link, Log: d.Devices.Log}
					f := reflect.ValueOf(dh).Elem().FieldByName(field)
					f.Set(reflect.Zero(f.Type()))
					d.Devices = dh
					return
				}
				f := reflect.ValueOf(d).Elem().FieldByName(name)
				f.Set(reflect.Zero(f.Type()))
			}
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("web.New without %s did not refuse", name)
				}
				msg := fmt.Sprint(r)
				if !strings.HasPrefix(msg, "web.New: missing required dependencies: ") || !strings.HasSuffix(msg, " "+name) {
					t.Errorf("web.New without %s: %q", name, msg)
				}
			}()
			newApp(t, false, without)
		})
	}
}

// The optional dependencies say what their absence means: no Health, /healthz answers for the
// process alone; no Now, the real clock. (No ReceiptMail, receipts are printed only:
// TestReceiptSaysWhatTheRulesAsk.)
func TestOptionalDependencies(t *testing.T) {
	get := func(t *testing.T, a *app, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(a.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	t.Run("no health check", func(t *testing.T) {
		a := newApp(t, false)
		if status, body := get(t, a, "/healthz"); status != http.StatusOK || body != "ok" {
			t.Errorf("/healthz: %d %q, want 200 ok", status, body)
		}
	})
	t.Run("health check", func(t *testing.T) {
		var down error
		a := newApp(t, false, func(d *web.Deps) { d.Health = func(context.Context) error { return down } })
		if status, body := get(t, a, "/healthz"); status != http.StatusOK || body != "ok" {
			t.Errorf("/healthz with the database up: %d %q, want 200 ok", status, body)
		}
		down = errors.New("database is closed")
		if status, body := get(t, a, "/healthz"); status != http.StatusServiceUnavailable || body != "database unavailable" {
			t.Errorf("/healthz with the database down: %d %q, want 503", status, body)
		}
		if !strings.Contains(a.logs.String(), "health check failed") {
			t.Error("a failed health check is not logged")
		}
	})
	t.Run("no clock", func(t *testing.T) {
		a := newApp(t, true, func(d *web.Deps) { d.Now = nil })
		b := a.browser().login("staff", staffPW) // the session records when
		if resp, _ := b.get("/"); resp.StatusCode != http.StatusOK {
			t.Errorf("the start page (today's figures) with the real clock: %d", resp.StatusCode)
		}
	})
}

// The route table's groups are the layers ServeHTTP applies: the machines' routes skip the
// session and CSRF layers, a screen's socket reads its session only, and every other route
// passes both (nosurf hands a request without a token cookie a new one).
func TestRouteLayers(t *testing.T) {
	a := newApp(t, true)
	machines := map[string]bool{"POST /devices/pair": true, "GET /devices/ws": true, "GET /callbacks/mapi/:id": true}
	sockets := map[string]bool{"GET /ws": true}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range a.server.Engine.Routes() {
		key := r.Method + " " + r.Path
		path := strings.NewReplacer(":id", "1", "*filepath", "app.css").Replace(r.Path)
		req, err := http.NewRequest(r.Method, a.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var csrf, session bool
		for _, c := range resp.Cookies() {
			csrf = csrf || c.Name == "csrf_token"
			session = session || c.Name == "portal_session"
		}
		wantCSRF := !machines[key] && !sockets[key]
		if csrf != wantCSRF {
			t.Errorf("%s: through the CSRF layer %v, want %v", key, csrf, wantCSRF)
		}
		if session && (machines[key] || sockets[key]) {
			t.Errorf("%s: a session cookie was set", key)
		}
	}
}
