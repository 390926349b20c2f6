package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/dukpt"
)

// portal is the whole app started through run, as `go run .` starts it, on random ports with
// a temporary data directory.
type portal struct {
	URL, SandboxURL string
	DataDir         string
	phone           *phone // the administrators' authenticator
	logs            *lockedBuffer
	args            []string
	stop            func() // stops the running portal; once
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var reListening = regexp.MustCompile(`msg="(portal|sandbox gateway) listening".* url=(http://[0-9.:]+)`)

func startPortal(t *testing.T, extra ...string) *portal {
	t.Helper()
	dir := t.TempDir()
	p := &portal{DataDir: dir, logs: &lockedBuffer{}, phone: newPhone(),
		args: append([]string{"mposportal", "-addr", "127.0.0.1:0", "-sandbox-addr", "127.0.0.1:0", "-data", dir}, extra...)}
	p.launch(t)
	t.Cleanup(func() { p.stop() })
	return p
}

// launch runs the portal with p's arguments and waits until it listens.
func (p *portal) launch(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, p.args, func(string) string { return "" }, pw)
		pw.Close()
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			if m := reListening.FindStringSubmatch(line); m != nil {
				if m[1] == "portal" {
					p.URL = m[2]
					close(ready)
				} else {
					p.SandboxURL = m[2]
				}
			}
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run returned before listening: %v\n%s", err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("portal did not start:\n%s", p.logs.String())
	}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("run did not return after cancel")
			}
		})
	}
}

// browserCtx starts headless Chromium (Debian's package). Without it the test is skipped
// locally and fails in CI, where .ci/run installs it.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed; .ci/run must install it")
		}
		t.Skip("chromium not installed")
	}
	// Not t.TempDir: Chromium may still write to its profile while it exits.
	profile, err := os.MkdirTemp("", "portal-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true), chromedp.UserDataDir(profile), chromedp.WindowSize(768, 1024),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 90*time.Second)
	// Every page this browser opens records Content-Security-Policy violations
	// (cspViolations reads them).
	if err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.__csp = [];
			document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });`).Do(ctx)
		return err
	})); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelC()
		cancelB()
		cancelA()
		os.RemoveAll(profile)
	})
	return ctx
}

// noCSPViolations fails the test if the current page reported a Content-Security-Policy
// violation (a blocked inline script, style or connection).
func noCSPViolations(t *testing.T, ctx context.Context) {
	t.Helper()
	var v []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`window.__csp || []`, &v)); err != nil {
		t.Fatal(err)
	}
	if len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", v)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("artifacts", "screenshots")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fill(sel, value string) chromedp.Action {
	return chromedp.SetValue(sel, value, chromedp.ByQuery)
}

func TestBrowserSetupLoginStaffForbidden(t *testing.T) {
	p := startPortal(t)
	ctx := browserCtx(t)
	var text string
	// The first run asks for the administrator, who sets up two-step sign-in at once; signing
	// in again asks for the password and then the app's code.
	if err := chromedp.Run(ctx, chromedp.Navigate(p.URL+"/")); err != nil {
		t.Fatal(err)
	}
	setupAdmin(t, ctx, p)
	if err := chromedp.Run(ctx, chromedp.Click(`[data-testid="logout"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="login"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	login(t, ctx, p, "admin", "Admin-Pass-1")
	err := chromedp.Run(ctx,
		// At 768 px the destinations are in the menu.
		chromedp.Click(`[data-testid="nav-menu"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="nav-users"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="nav-users"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="user-create"]`, chromedp.ByQuery),
		fill(`[data-testid="user-create"] input[name=username]`, "sam"),
		fill(`[data-testid="user-create"] input[name=name]`, "Sam Staff"),
		fill(`[data-testid="user-create"] input[name=password]`, "Staff-Pass-1"),
		chromedp.Click(`[data-testid="user-create-submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="user-sam"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="flash"]`, &text, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("admin flow: %v\n%s", err, p.logs.String())
	}
	if !strings.Contains(text, "User sam created") {
		t.Errorf("flash = %q", text)
	}
	screenshot(t, ctx, "users-768")
	var status string
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="logout"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="login"]`, chromedp.ByQuery),
		fill(`input[name=username]`, "sam"),
		fill(`input[name=password]`, "Staff-Pass-1"),
		chromedp.Click(`[data-testid="login-submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="whoami"]`, chromedp.ByQuery),
		chromedp.Navigate(p.URL+"/admin/users"),
		chromedp.WaitVisible(`[data-testid="error-page"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="error-page"]`, "data-status", &status, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("staff flow: %v\n%s", err, p.logs.String())
	}
	if status != "403" {
		t.Errorf("staff on an admin page: status %s, want 403", status)
	}
	var navUsers int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('[data-testid="nav-users"]').length`, &navUsers))
	if navUsers != 0 {
		t.Error("staff sees the admin navigation")
	}
	screenshot(t, ctx, "staff-forbidden-768")
	key := readKey(t, p.DataDir)
	if strings.Contains(p.logs.String(), key) {
		t.Error("the logs contain the sandbox control key")
	}
}

// readKey reads the sandbox control key from its credentials file.
func readKey(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "sandbox-credentials.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, ok := strings.CutPrefix(line, "CONTROL_KEY="); ok && len(k) > 8 {
			return k
		}
	}
	t.Fatal("no CONTROL_KEY in the credentials file")
	return ""
}

// setupAdmin creates the first administrator through the setup page; the browser is then
// signed in as that admin.
func setupAdmin(t *testing.T, ctx context.Context, p *portal) {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/setup"),
		chromedp.WaitVisible(`[data-testid="setup"]`, chromedp.ByQuery),
		fill(`input[name=username]`, "admin"),
		fill(`input[name=name]`, "Ada Admin"),
		fill(`input[name=password]`, "Admin-Pass-1"),
		fill(`input[name=password2]`, "Admin-Pass-1"),
		chromedp.Click(`[data-testid="setup-submit"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, p.logs.String())
	}
	enrol(t, ctx, p, "admin")
}

// enrol sets up the signed-in user's authenticator on the page the portal sends them to, as a
// person with a phone would: scan the key, type the code, note the recovery codes.
func enrol(t *testing.T, ctx context.Context, p *portal, user string) {
	t.Helper()
	var secret string
	var ok bool
	err := chromedp.Run(ctx,
		chromedp.WaitVisible(`[data-testid="enrol"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="enrol-secret"]`, "data-secret", &secret, &ok, chromedp.ByQuery),
	)
	if err != nil || !ok {
		t.Fatalf("set-up page for %s: %v\n%s", user, err, p.logs.String())
	}
	p.phone.add(user, secret, 0)
	err = chromedp.Run(ctx,
		fill(`[data-testid="enrol"] input[name=code]`, p.phone.code(t, user)),
		chromedp.Click(`[data-testid="enrol-submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="recovery-code"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="recovery-continue"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="whoami"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("set-up for %s: %v\n%s", user, err, p.logs.String())
	}
}

func TestBrowserRegisterPairReaderGoesOnlineLive(t *testing.T) {
	p := startPortal(t)
	ctx := browserCtx(t)
	setupAdmin(t, ctx, p)
	code := registerReader(t, ctx, p, "sbx 0005", "Counter 5", "Back office")
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/admin/readers"),
		chromedp.WaitVisible(`[data-testid="reader-SBX-0005"] [data-testid="reader-offline"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("register: %v\n%s", err, p.logs.String())
	}
	// The reader's companion app pairs with the code shown to the admin and connects.
	iksn, _ := dukpt.ParseKSN("FFFF9876540000000000")
	agent := &virtual.Agent{Reader: virtual.New("SBX-0005", "3.0.1", make([]byte, 16), iksn), PortalURL: p.URL,
		Log: slog.New(slog.DiscardHandler)}
	actx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := agent.Pair(actx, strings.TrimSpace(code)); err != nil {
		t.Fatal(err)
	}
	go agent.Run(actx)
	// Without reloading, the row turns online.
	var fw string
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(`[data-testid="reader-SBX-0005"] [data-testid="reader-online"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="reader-SBX-0005"] td:nth-child(5)`, &fw, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("live update: %v\n%s", err, p.logs.String())
	}
	if strings.TrimSpace(fw) != "3.0.1" {
		t.Errorf("firmware cell %q", fw)
	}
	screenshot(t, ctx, "readers-768")
}

// registerReader registers a reader through the admin's form and returns the pairing code
// it shows.
func registerReader(t *testing.T, ctx context.Context, p *portal, serial, label, location string) string {
	t.Helper()
	var code string
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/admin/readers/new"),
		chromedp.WaitVisible(`[data-testid="reader-form"]`, chromedp.ByQuery),
		fill(`input[name=serial]`, serial),
		fill(`input[name=label]`, label),
		fill(`input[name=location]`, location),
		chromedp.Click(`[data-testid="reader-register"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="pairing-code"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="pairing-code"]`, &code, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("register %s: %v\n%s", serial, err, p.logs.String())
	}
	return code
}

// login signs in through the login page.
func login(t *testing.T, ctx context.Context, p *portal, user, pw string) {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/login"),
		chromedp.WaitVisible(`[data-testid="login"]`, chromedp.ByQuery),
		fill(`input[name=username]`, user),
		fill(`input[name=password]`, pw),
		chromedp.Click(`[data-testid="login-submit"]`, chromedp.ByQuery),
	)
	if err == nil && p.phone.has(user) {
		err = chromedp.Run(ctx,
			chromedp.WaitVisible(`[data-testid="second-factor"]`, chromedp.ByQuery),
			fill(`[data-testid="second-factor"] input[name=code]`, p.phone.code(t, user)),
			chromedp.Click(`[data-testid="second-factor-submit"]`, chromedp.ByQuery),
		)
	}
	var enrolling bool
	if err == nil {
		// Signed in, or (a manager or administrator without an authenticator) asked to set one up.
		err = chromedp.Run(ctx, chromedp.WaitVisible(`[data-testid="whoami"], [data-testid="enrol"]`, chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelector('[data-testid="enrol"]') !== null`, &enrolling))
	}
	if err != nil {
		t.Fatalf("login %s: %v\n%s", user, err, p.logs.String())
	}
	if enrolling {
		enrol(t, ctx, p, user)
	}
}

// createUser adds a user on the Users page as the signed-in administrator would.
func createUser(t *testing.T, ctx context.Context, p *portal, username, name, role, pw string) {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/admin/users"),
		fill(`[data-testid="user-create"] input[name=username]`, username),
		fill(`[data-testid="user-create"] input[name=name]`, name),
		chromedp.SetValue(`[data-testid="user-create"] select[name=role]`, role, chromedp.ByQuery),
		fill(`[data-testid="user-create"] input[name=password]`, pw),
		chromedp.Click(`[data-testid="user-create-submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="user-`+username+`"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("create user %s: %v\n%s", username, err, p.logs.String())
	}
}

func TestBrowserCounterSaleLive(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	counter := browserCtx(t)
	setupAdmin(t, counter, p)
	createUser(t, counter, p, "sam", "Sam Staff", "staff", "Staff-Pass-1")
	err := chromedp.Run(counter,
		chromedp.Click(`[data-testid="logout"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="login"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	login(t, counter, p, "sam", "Staff-Pass-1")
	// A second browser watches the transactions list.
	list := browserCtx(t)
	login(t, list, p, "admin", "Admin-Pass-1")
	if err := chromedp.Run(list, chromedp.Navigate(p.URL+"/transactions"), chromedp.WaitVisible(`[data-testid="tx-filters"]`, chromedp.ByQuery),
		chromedp.Sleep(500*time.Millisecond)); err != nil { // let its websocket connect
		t.Fatal(err)
	}

	state, _ := takePayment(t, counter, p, "10.42")
	if state != "approved" {
		t.Fatalf("10.42: %s, want approved", state)
	}
	screenshot(t, counter, "counter-approved-768")
	noCSPViolations(t, counter)
	if err := chromedp.Run(list, chromedp.WaitVisible(`tr[data-state="approved"]`, chromedp.ByQuery)); err != nil {
		t.Errorf("the second browser did not see the row turn approved: %v", err)
	}
	screenshot(t, list, "transactions-768")
	state, text := takePayment(t, counter, p, "10.51")
	if state != "declined" || !strings.Contains(text, "Insufficient funds") {
		t.Errorf("10.51: %s %q, want declined with the reason", state, text)
	}
	if strings.Contains(p.logs.String(), "4111111111111111") || strings.Contains(p.logs.String(), readKey(t, p.DataDir)) {
		t.Error("the logs contain a card number or the control key")
	}
}

// takePayment takes a sale on demo reader SBX-0001 through the counter screen, typing the
// amount on the keypad, and waits (without reloading) for a final state.
func takePayment(t *testing.T, ctx context.Context, p *portal, amount string) (state, text string) {
	t.Helper()
	err := startOnCounter(ctx, p, amount)
	if err == nil {
		err = chromedp.Run(ctx,
			chromedp.WaitVisible(`[data-testid="tx-status"]`, chromedp.ByQuery),
			// The state arrives over the websocket.
			chromedp.WaitVisible(`[data-testid="tx-status"]:not([data-state="waiting_card"]):not([data-state="sending"]):not([data-state="processing"])`, chromedp.ByQuery),
			chromedp.AttributeValue(`[data-testid="tx-status"]`, "data-state", &state, nil, chromedp.ByQuery),
			chromedp.Text(`[data-testid="tx-status"]`, &text, chromedp.ByQuery),
		)
	}
	if err != nil {
		t.Fatalf("payment of %s: %v\n%s", amount, err, p.logs.String())
	}
	return state, text
}

// startOnCounter starts a sale on demo reader SBX-0001 from the counter screen, typing the
// amount on the keypad.
func startOnCounter(ctx context.Context, p *portal, amount string) error {
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/counter"),
		chromedp.WaitVisible(`[data-testid="choice-SBX-0001"] [data-testid="reader-online"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="choice-SBX-0001"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="amount"]`, chromedp.ByQuery),
	)
	for _, k := range amount {
		if err == nil {
			err = chromedp.Run(ctx, chromedp.Click(`button.key[data-key="`+string(k)+`"]`, chromedp.ByQuery))
		}
	}
	if err == nil {
		err = chromedp.Run(ctx, chromedp.Click(`[data-testid="start"]`, chromedp.ByQuery))
	}
	return err
}

// TestBrowserCloseDay, at 768 px: a shift of three payments (started by the first), its X
// report, Close Day, and the day's Z report, on screen and as printed on an 80 mm roll.
func TestBrowserCloseDay(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	ctx := browserCtx(t)
	setupAdmin(t, ctx, p)
	for _, a := range []string{"10.42", "20.84", "10.51"} {
		takePayment(t, ctx, p, a)
	}
	var net, declines string
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/shift"),
		chromedp.WaitVisible(`[data-testid="shift-report"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="report-net"]`, &net, chromedp.ByQuery),
		chromedp.Text(`[data-testid="report-declines"]`, &declines, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("X report: %v", err)
	}
	if !strings.HasPrefix(net, "31.26") || declines != "1" {
		t.Errorf("the X report says net %q and %q declined, want 31.26 and 1", net, declines)
	}
	screenshot(t, ctx, "x-report-768")
	var count, sum, state, gwSum string
	err = chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/admin/closeday"),
		chromedp.WaitVisible(`[data-testid="preflight-1234"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="preflight-count"]`, &count, chromedp.ByQuery),
		chromedp.Text(`[data-testid="preflight-sum"]`, &sum, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if count != "2" || !strings.HasPrefix(sum, "31.26") {
		t.Errorf("pre-flight shows %s sales for %s, want 2 for 31.26", count, sum)
	}
	screenshot(t, ctx, "closeday-preflight-768")
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="close-day"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="confirm-yes"]`, chromedp.ByQuery), // "Close the day on …?"
		chromedp.WaitVisible(`[data-testid="close-status"][data-state="finished"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="close-status"]`, "data-state", &state, nil, chromedp.ByQuery),
		chromedp.Text(`[data-testid="close-gw-sum"]`, &gwSum, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("close: %v\n%s", err, p.logs.String())
	}
	if gwSum != "31.26\u00a0EUR" {
		t.Errorf("gateway total %q, want 31.26 EUR", gwSum)
	}
	var mismatch int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('[data-testid="close-mismatch"]').length`, &mismatch))
	if mismatch != 0 {
		t.Error("a matching close is flagged as a mismatch")
	}
	// The payments the close took its totals from are listed on the open page at once.
	if err := chromedp.Run(ctx, chromedp.WaitVisible(`[data-testid="close-covered"] tbody tr:nth-child(2)`, chromedp.ByQuery)); err != nil {
		t.Errorf("the finished close lists fewer than its 2 payments: %v", err)
	}
	screenshot(t, ctx, "closeday-result-768")
	var zSales, zTaken string
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="z-report-link"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="z-report"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="z-gw-sales"]`, &zSales, chromedp.ByQuery),
		chromedp.Text(`[data-testid="report-taken"]`, &zTaken, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("Z report: %v", err)
	}
	if !strings.HasPrefix(zSales, "2 · 31.26") || !strings.HasPrefix(zTaken, "31.26") {
		t.Errorf("the Z report says the bank counted %q and we took %q, want 2 · 31.26 both", zSales, zTaken)
	}
	screenshot(t, ctx, "z-report-768")
	// As printed on an 80 mm roll: the report only, one value per line.
	err = chromedp.Run(ctx, emulation.SetEmulatedMedia().WithMedia("print"), emulation.SetDeviceMetricsOverride(302, 1200, 1, false))
	if err != nil {
		t.Fatal(err)
	}
	var navShown bool
	chromedp.Run(ctx, chromedp.Evaluate(`getComputedStyle(document.querySelector('.topbar')).display !== 'none'`, &navShown))
	if navShown {
		t.Error("the navigation prints with the Z report")
	}
	screenshot(t, ctx, "z-report-print-80mm")
	chromedp.Run(ctx, emulation.SetEmulatedMedia().WithMedia(""), emulation.SetDeviceMetricsOverride(768, 1024, 1, false))
	noCSPViolations(t, ctx)
	var rowText string
	err = chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/admin/closeday/history"),
		chromedp.WaitVisible(`[data-testid="closes"] tr[data-state="finished"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="closes"] tr[data-state="finished"]`, &rowText, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rowText, "2 · 31.26") {
		t.Errorf("history row %q lacks the totals 2 · 31.26", rowText)
	}
}
