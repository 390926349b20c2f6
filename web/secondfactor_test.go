package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/web"
)

// passwordStep signs in with the password only and checks the code step comes next.
func (b *browser) passwordStep(user, pw string) {
	b.a.t.Helper()
	resp, body := b.post("/login", url.Values{"username": {user}, "password": {pw}, "next": {"/transactions"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/code" {
		b.a.t.Fatalf("password step for %s: %d to %q\n%s", user, resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// signedIn reports whether the browser's session reaches the start page.
func (b *browser) signedIn() bool {
	resp, _ := b.get("/")
	return resp.StatusCode == http.StatusOK
}

func TestSecondFactorWrongReusedAndRightCodes(t *testing.T) {
	a := newApp(t, true)
	b := a.browser()
	b.passwordStep("admin", adminPW)
	if b.signedIn() {
		t.Fatal("the password alone signed an administrator in")
	}
	if resp, body := b.get("/login/code"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="second-factor"`) {
		t.Fatalf("code page: %d", resp.StatusCode)
	}
	a.clock.advance(models.TOTPPeriod)
	right := a.totpCode(adminTOTP)
	wrong := "000000"
	if wrong == right {
		wrong = "111111"
	}
	for _, code := range []string{wrong, "12345", "abcdef", strings.Repeat("9", 40)} {
		resp, body := b.post("/login/code", url.Values{"code": {code}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong or was used already") {
			t.Errorf("code %q: %d", code, resp.StatusCode)
		}
	}
	if b.signedIn() {
		t.Fatal("a wrong code signed in")
	}
	// The right code, typed with a space as the app shows it.
	resp, _ := b.post("/login/code", url.Values{"code": {right[:3] + " " + right[3:]}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/transactions" {
		t.Fatalf("right code: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !b.signedIn() {
		t.Fatal("not signed in after the right code")
	}
	// The same code again, from another browser within its 30 seconds: refused (RFC 6238 §5.2).
	other := a.browser()
	other.passwordStep("admin", adminPW)
	if resp, _ := other.post("/login/code", url.Values{"code": {right}}); resp.StatusCode != http.StatusUnauthorized || other.signedIn() {
		t.Errorf("a reused code: %d", resp.StatusCode)
	}
	// The next step's code works.
	a.clock.advance(models.TOTPPeriod)
	if resp, _ := other.post("/login/code", url.Values{"code": {a.totpCode(adminTOTP)}}); resp.StatusCode != http.StatusSeeOther || !other.signedIn() {
		t.Errorf("the next code: %d", resp.StatusCode)
	}
	if es := a.audited("user.login"); len(es) != 2 || es[0].Detail != "with an authenticator code" {
		t.Errorf("sign-ins audited: %+v", es)
	}
	if es := a.audited("user.login_failed"); len(es) != 5 {
		t.Errorf("failed codes audited: %d, want 5", len(es))
	}
}

func TestSecondFactorStepExpiresAndIsThrottled(t *testing.T) {
	a := newApp(t, true)
	b := a.browser()
	b.passwordStep("admin", adminPW)
	a.clock.advance(6 * time.Minute)
	if resp, _ := b.post("/login/code", url.Values{"code": {a.totpCode(adminTOTP)}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("a code 6 minutes after the password: %d to %q, want back to the password", resp.StatusCode, resp.Header.Get("Location"))
	}
	if b.signedIn() {
		t.Fatal("signed in after the password step expired")
	}

	b.passwordStep("admin", adminPW)
	var last int
	for i := 0; i < 12; i++ {
		resp, _ := b.post("/login/code", url.Values{"code": {"000001"}})
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("12 wrong codes: %d, want 429", last)
	}
	if resp, _ := b.post("/login/code", url.Values{"code": {a.totpCode(adminTOTP)}}); resp.StatusCode != http.StatusTooManyRequests || b.signedIn() {
		t.Errorf("the right code while throttled: %d, want 429", resp.StatusCode)
	}
}

var reRecovery = regexp.MustCompile(`data-testid="recovery-code">([a-z2-9]{5}-[a-z2-9]{5})<`)

func TestSecondFactorEnrolmentRecoveryCodesAndReset(t *testing.T) {
	a := newApp(t, true)
	ctx := context.Background()
	users := &models.Users{DB: a.db}
	h, _ := models.HashPassword("Manager-Pass-1")
	if err := users.Create(ctx, &models.User{Username: "mia", Name: "Mia", Role: models.RoleManager, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	// A manager without an authenticator sets one up at sign-in; nothing else opens before.
	m := a.browser()
	resp, _ := m.post("/login", url.Values{"username": {"mia"}, "password": {"Manager-Pass-1"}})
	if resp.Header.Get("Location") != "/second-factor" {
		t.Fatalf("manager sign-in: %d to %q, want the set-up", resp.StatusCode, resp.Header.Get("Location"))
	}
	if m.signedIn() {
		t.Fatal("signed in before setting up the second factor")
	}
	_, page := m.get("/second-factor")
	if !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Error("no QR code on the set-up page")
	}
	secret := reSecret.FindStringSubmatch(page)[1]
	if resp, body := m.post("/second-factor", url.Values{"code": {"000000"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, secret) {
		t.Errorf("a wrong set-up code: %d (the same key should be shown again)", resp.StatusCode)
	}
	resp, body := m.post("/second-factor", url.Values{"code": {a.totpCode(secret)}})
	codes := reRecovery.FindAllStringSubmatch(body, -1)
	if resp.StatusCode != http.StatusOK || len(codes) != models.RecoveryCodeCount {
		t.Fatalf("set-up: %d with %d recovery codes", resp.StatusCode, len(codes))
	}
	if !m.signedIn() {
		t.Fatal("not signed in after the set-up")
	}
	var stored []models.RecoveryCode
	a.db.Where("user_id = ?", 3).Find(&stored)
	for _, rc := range stored {
		for _, c := range codes {
			if strings.Contains(rc.Hash, c[1]) || rc.Hash == strings.ReplaceAll(c[1], "-", "") {
				t.Fatal("a recovery code is stored as it is shown")
			}
		}
	}
	if es := a.audited("user.second_factor_enrol"); len(es) != 1 || es[0].ActorName != "mia" {
		t.Errorf("set-up audit: %+v", es)
	}

	// A recovery code signs in once, typed in capitals.
	r := a.browser()
	r.passwordStep("mia", "Manager-Pass-1")
	resp, _ = r.post("/login/code", url.Values{"code": {strings.ToUpper(codes[0][1])}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(r.follow(resp), "recovery code; 9 left") {
		t.Errorf("a recovery code: %d", resp.StatusCode)
	}
	again := a.browser()
	again.passwordStep("mia", "Manager-Pass-1")
	if resp, _ := again.post("/login/code", url.Values{"code": {codes[0][1]}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a used recovery code: %d, want 401", resp.StatusCode)
	}

	// An administrator resets it: the manager's sessions end and the next sign-in sets up anew.
	admin := a.browser().login("admin", adminPW)
	_, page = admin.get("/admin/users/3")
	if !strings.Contains(page, `data-testid="user-second-factor-reset"`) {
		t.Fatal("no reset on the user's page")
	}
	if resp, _ := admin.post("/admin/users/3/second-factor/reset", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if m.signedIn() || r.signedIn() {
		t.Error("the manager's sessions survived the reset")
	}
	if es := a.audited("user.second_factor_reset"); len(es) != 1 || es[0].ActorName != "admin" || es[0].Subject != "mia" {
		t.Errorf("reset audit: %+v", es)
	}
	var n int64
	a.db.Model(&models.RecoveryCode{}).Where("user_id = ?", 3).Count(&n)
	if n != 0 {
		t.Errorf("%d recovery codes left after the reset", n)
	}
	resp, _ = a.browser().post("/login", url.Values{"username": {"mia"}, "password": {"Manager-Pass-1"}})
	if resp.Header.Get("Location") != "/second-factor" {
		t.Errorf("sign-in after the reset: to %q, want the set-up", resp.Header.Get("Location"))
	}
}

func TestSecondFactorIsOptionalForStaff(t *testing.T) {
	a := newApp(t, true)
	staff := a.browser().login("staff", staffPW)
	_, page := staff.get("/account")
	if !strings.Contains(page, "Set up two-step sign-in") {
		t.Fatal("staff are not offered two-step sign-in")
	}
	a.secrets.Store("staff", staff.enrol())
	// From now on the staff member's sign-in asks for a code too.
	b := a.browser()
	b.passwordStep("staff", staffPW)
	b.login("staff", staffPW)
	if !b.signedIn() {
		t.Error("staff sign-in with a code failed")
	}
}

func TestSecondFactorOptionalSetting(t *testing.T) {
	a := newApp(t, true, func(d *web.Deps) { d.SecondFactorOptional = true })
	ctx := context.Background()
	h, _ := models.HashPassword("Manager-Pass-1")
	if err := (&models.Users{DB: a.db}).Create(ctx, &models.User{Username: "mia", Name: "Mia", Role: models.RoleManager, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	if resp, _ := b.post("/login", url.Values{"username": {"mia"}, "password": {"Manager-Pass-1"}}); resp.Header.Get("Location") != "/" || !b.signedIn() {
		t.Errorf("with the second factor optional, a manager without one: to %q", resp.Header.Get("Location"))
	}
	// One who set one up still needs it.
	a.browser().passwordStep("admin", adminPW)
}

// FuzzSecondFactorForm posts arbitrary codes to the second sign-in step: never a 5xx, never
// signed in unless the code is the authenticator's (or a recovery code, which a fuzzer cannot
// guess), never sent off the portal.
func FuzzSecondFactorForm(f *testing.F) {
	for _, s := range []string{"", "000000", "123 456", "abcde-23456", strings.Repeat("7", 6000), "\x00\xff", "<script>", "-1"} {
		f.Add(s)
	}
	a := newApp(f, true)
	f.Fuzz(func(t *testing.T, code string) {
		a.t = t                    // the helpers report to this input's test
		a.clock.advance(time.Hour) // the fuzzer's wrong codes would otherwise slow its own address down
		b := a.browser()
		b.passwordStep("admin", adminPW)
		resp, _ := b.post("/login/code", url.Values{"code": {code}})
		if resp.StatusCode >= 500 {
			t.Fatalf("code %q: %d", code, resp.StatusCode)
		}
		if loc := resp.Header.Get("Location"); loc != "" && !strings.HasPrefix(loc, "/") {
			t.Fatalf("code %q: sent to %q", code, loc)
		}
		if _, right := models.TOTPStep(adminTOTP, models.NormalizeCode(code), a.clock.now()); b.signedIn() && !right {
			t.Fatalf("code %q signed in", code)
		}
	})
}
