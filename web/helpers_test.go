package web_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	portal "github.com/example/mposportal/app"
	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/web"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// syncBuffer collects log output for scanning.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type app struct {
	t       testing.TB
	clock   *testClock
	secrets sync.Map // username → authenticator secret, for the users who set one up
	db      *gorm.DB
	url     string // where the portal listens
	portal  *portal.App
	server  *web.Server
	logs    *syncBuffer
	readers *devices.Readers
	gw      *fakeGateway // answers the payments' status requests
	// renderer is the live.Notifier the domain services are given (no fan-out: one instance).
	renderer *web.Live
}

const (
	adminPW = "Admin-Pass-1"
	staffPW = "Staff-Pass-1"
	testKey = "B17F59B4-A7DC-41B4-8FF9-37D986B43D20"
	// adminTOTP is the admin's authenticator secret: their sign-ins need its codes.
	adminTOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

// testClock is the portal's clock in handler tests: the real time, moved on by tests that need
// a later authenticator code (each code signs in once).
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// advance moves the clock on by d.
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// totpCode is the authenticator's code for secret at the app's time.
func (a *app) totpCode(secret string) string {
	a.t.Helper()
	code, err := totp.GenerateCode(secret, a.clock.now())
	if err != nil {
		a.t.Fatal(err)
	}
	return code
}

// newApp builds the real web layer on a fresh SQLite file. With setup, it has an admin
// "admin", a staff user "staff" and one endpoint.
func newApp(t testing.TB, setup bool, opts ...func(*web.Deps)) *app {
	t.Helper()
	models.PasswordCost = bcrypt.MinCost // the tests check the password policy, not bcrypt
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gw := &fakeGateway{status: map[string]*mapi.StatusResponse{}}
	clock := &testClock{}
	options := []portal.Option{portal.WithClock(clock.now), portal.WithLogger(log), portal.WithGateways(gw), portal.WithoutBackgroundJobs()}
	for _, o := range opts {
		options = append(options, portal.WithWeb(o))
	}
	// The portal as main builds it (package app), on a fresh database, with no sandbox, a fake
	// gateway and the test's clock; the tests run the scheduled work by hand.
	p, err := portal.New(portal.Config{Addr: "127.0.0.1:0", SandboxAddr: "off", BackupAt: "off",
		DatabaseURL: testdb.URL(t, filepath.Join(t.TempDir(), "portal.db"))}, options...)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	db, readers := p.DB, p.Readers
	factors := &models.SecondFactors{DB: db}
	a := &app{t: t, clock: clock, db: db, url: p.URL, server: p.Handler, logs: logs, readers: readers, gw: gw, renderer: p.Live, portal: p}
	a.secrets.Store("admin", adminTOTP)
	if setup {
		ctx := context.Background()
		users := &models.Users{DB: db}
		for _, u := range []struct {
			name, pw string
			role     models.Role
		}{{"admin", adminPW, models.RoleAdmin}, {"staff", staffPW, models.RoleStaff}} {
			h, _ := models.HashPassword(u.pw)
			if err := users.Create(ctx, &models.User{Username: u.name, Name: strings.ToUpper(u.name[:1]) + u.name[1:], Role: u.role, PasswordHash: h}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := factors.Enrol(ctx, 1, adminTOTP, 0, clock.now()); err != nil {
			t.Fatal(err)
		}
		eps := &models.Endpoints{DB: db}
		defer func() {
			if _, _, err := readers.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Counter 1", Location: "Riga", EndpointID: 1}); err != nil {
				t.Fatal(err)
			}
		}()
		if err := eps.Create(ctx, &models.Endpoint{Name: "Main", EndpointID: "1234", Login: "merchantlogin", ControlKey: testKey,
			Currency: "EUR", BaseURL: "https://gate.example.com", Enabled: true, Address1: "1 Main St", City: "Riga",
			ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// browser is one client with its own cookies, like a browser tab.
type browser struct {
	a    *app
	c    *http.Client
	csrf string
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{a: a, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var reCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// get fetches a page and remembers the CSRF token it carries.
func (b *browser) get(path string) (*http.Response, string) {
	b.a.t.Helper()
	resp, err := b.c.Get(b.a.url + path)
	if err != nil {
		b.a.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := reCSRF.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(body)
}

// post submits a form the way a browser on this site does: same Origin, with the CSRF token
// (unless the test passes its own csrf_token).
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.a.t.Helper()
	if b.csrf == "" {
		b.get("/login")
	}
	if !form.Has("csrf_token") {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.a.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.a.url)
	resp, err := b.c.Do(req)
	if err != nil {
		b.a.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// login signs in and fails the test if it does not work.
func (b *browser) login(user, pw string) *browser {
	b.a.t.Helper()
	resp, body := b.post("/login", url.Values{"username": {user}, "password": {pw}})
	if resp.StatusCode != http.StatusSeeOther {
		b.a.t.Fatalf("login %s: %d %s", user, resp.StatusCode, body)
	}
	switch resp.Header.Get("Location") {
	case "/login/code":
		// The second step: the next code (the last one may have been used already).
		secret, ok := b.a.secrets.Load(user)
		if !ok {
			b.a.t.Fatalf("login %s: asked for a code, but the test knows no secret", user)
		}
		b.a.clock.advance(models.TOTPPeriod)
		b.get("/login/code")
		resp, body = b.post("/login/code", url.Values{"code": {b.a.totpCode(secret.(string))}})
		if resp.StatusCode != http.StatusSeeOther {
			b.a.t.Fatalf("login %s, code step: %d %s", user, resp.StatusCode, body)
		}
	case "/second-factor":
		b.a.secrets.Store(user, b.enrol())
	}
	return b
}

var reSecret = regexp.MustCompile(`data-secret="([A-Z2-7]+)"`)

// enrol sets up an authenticator on the set-up page as a user would and returns its secret.
func (b *browser) enrol() string {
	b.a.t.Helper()
	_, page := b.get("/second-factor")
	m := reSecret.FindStringSubmatch(page)
	if m == nil {
		b.a.t.Fatalf("no secret on the set-up page:\n%s", page)
	}
	resp, body := b.post("/second-factor", url.Values{"code": {b.a.totpCode(m[1])}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="recovery-code"`) {
		b.a.t.Fatalf("set-up: %d %s", resp.StatusCode, body)
	}
	return m[1]
}

// CloseGateway answers every close as a gateway that cannot be reached would.
func (*fakeGateway) CloseGateway(context.Context, uint) (closeday.Gateway, error) {
	return nil, errors.New("no gateway in handler tests")
}

// fakeGateway is the gateway as the payments' status checks see it: it answers a status
// request with the answer set for the order, or fails as an unreachable gateway would. It
// takes no payments.
type fakeGateway struct {
	mu     sync.Mutex
	status map[string]*mapi.StatusResponse // by client_orderid
	asked  []string                        // the orders asked about, in order
	// moneyCalls are the captures and returns asked for ("return P… 5.00").
	moneyCalls []string
	merchant   payments.Merchant
}

// answer sets the gateway's status answer for an order.
func (g *fakeGateway) answer(clientOrderID string, st *mapi.StatusResponse) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status[clientOrderID] = st
}

func (g *fakeGateway) questions() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.asked...)
}

func (g *fakeGateway) Gateway(context.Context, uint) (payments.Gateway, payments.Merchant, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.merchant
	m.Currency = "EUR"
	return g, m, nil
}

func (g *fakeGateway) Sale(context.Context, mapi.OrderRequest) (*mapi.OrderResponse, error) {
	return nil, errors.New("no sales in handler tests")
}

func (g *fakeGateway) Preauth(context.Context, mapi.OrderRequest) (*mapi.OrderResponse, error) {
	return nil, errors.New("no preauths in handler tests")
}

// Capture and Return accept every request, as the gateway does one it finds in order; the
// operation's final status then comes from the status answers set for it.
func (g *fakeGateway) Capture(_ context.Context, r mapi.MoneyRequest) (*mapi.OrderResponse, error) {
	return g.money("capture", r)
}

func (g *fakeGateway) Return(_ context.Context, r mapi.MoneyRequest) (*mapi.OrderResponse, error) {
	return g.money("return", r)
}

func (g *fakeGateway) money(op string, r mapi.MoneyRequest) (*mapi.OrderResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.moneyCalls = append(g.moneyCalls, fmt.Sprintf("%s %s %s", op, r.ClientOrderID, r.Amount.Format(r.Currency)))
	return &mapi.OrderResponse{SerialNumber: fmt.Sprintf("SN-%d", len(g.moneyCalls)), MerchantOrderID: r.ClientOrderID, OrderID: r.OrderID}, nil
}

// moneyRequests lists the captures and returns asked for, in order.
func (g *fakeGateway) moneyRequests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.moneyCalls...)
}

func (g *fakeGateway) Status(_ context.Context, r mapi.StatusRequest) (*mapi.StatusResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, r.ClientOrderID)
	if st, ok := g.status[r.ClientOrderID]; ok {
		return st, nil
	}
	return nil, errors.New("gateway unreachable in handler tests")
}
