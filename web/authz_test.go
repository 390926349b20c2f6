package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/example/mposportal/models"
)

// snapshot is everything a forbidden write must leave alone.
func (a *app) snapshot() string {
	ctx := context.Background()
	users, _ := (&models.Users{DB: a.db}).List(ctx)
	eps, _ := (&models.Endpoints{DB: a.db}).List(ctx)
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s|%s|%s|%v|%s|%v|%d\n", u.Username, u.Name, u.Role, u.Disabled, u.PasswordHash, u.HasSecondFactor(), u.SessionEpoch)
	}
	for _, e := range eps {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%v\n", e.EndpointID, e.Login, e.ControlKey, e.BaseURL, e.Enabled)
	}
	readers, _ := (&models.Readers{DB: a.db}).List(ctx, models.ReaderFilter{IncludeRetired: true})
	for _, r := range readers {
		fmt.Fprintf(&b, "%s|%s|%v|%v|%s|%s\n", r.Serial, r.Label, r.Enabled, r.Retired, r.CredentialHash, r.PairingCodeHash)
	}
	return b.String()
}

type want struct{ anon, staff, admin int }

// TestAuthorizationMatrix walks every registered route as anonymous, staff and admin. A route
// added without an entry here fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	a := newApp(t, true)
	staffID, endpointID := "2", "1"
	newUser := url.Values{"username": {"carol"}, "name": {"Carol"}, "role": {"staff"}, "password": {"Carol-Pass-1"}}
	endpointForm := url.Values{"name": {"Changed"}, "endpoint_id": {"999"}, "login": {"x"}, "control_key": {"NEW-KEY-1234567"},
		"currency": {"USD"}, "base_url": {"https://evil.example"}, "address1": {"a"}, "city": {"b"}, "zip_code": {"c"},
		"country": {"US"}, "email": {"a@b.c"}, "enabled": {"1"}}
	const (
		ok, redir, unauth, forbidden = http.StatusOK, http.StatusSeeOther, http.StatusUnauthorized, http.StatusForbidden
	)
	routes := map[string]struct {
		path  string
		form  url.Values
		want  want
		write bool // a write that only an admin may make
	}{
		"GET /healthz":          {"/healthz", nil, want{ok, ok, ok}, false},
		"GET /metrics":          {"/metrics", nil, want{ok, ok, ok}, false},
		"GET /static/*filepath": {"/static/app.css", nil, want{ok, ok, ok}, false},
		"GET /setup":            {"/setup", nil, want{redir, redir, redir}, false},
		"POST /setup":           {"/setup", url.Values{"username": {"mallory"}, "name": {"M"}, "password": {"Mallory-Pass-1"}, "password2": {"Mallory-Pass-1"}}, want{http.StatusConflict, http.StatusConflict, http.StatusConflict}, true},
		"GET /login":            {"/login", nil, want{ok, redir, redir}, false},
		"POST /login":           {"/login", url.Values{"username": {"admin"}, "password": {"wrong"}}, want{unauth, unauth, unauth}, false},
		"POST /logout":          {"/logout", url.Values{}, want{redir, redir, redir}, false},
		// The second sign-in step answers only a half-way sign-in; the set-up page anyone signed in.
		"GET /login/code":                           {"/login/code", nil, want{redir, redir, redir}, false},
		"POST /login/code":                          {"/login/code", url.Values{"code": {"123456"}}, want{redir, redir, redir}, false},
		"GET /second-factor":                        {"/second-factor", nil, want{redir, ok, ok}, false},
		"POST /second-factor":                       {"/second-factor", url.Values{"code": {"123456"}}, want{redir, redir, redir}, false},
		"POST /admin/users/:id/second-factor/reset": {"/admin/users/1/second-factor/reset", url.Values{}, want{unauth, forbidden, redir}, true},
		"GET /":                            {"/", nil, want{redir, ok, ok}, false},
		"GET /api/me":                      {"/api/me", nil, want{unauth, ok, ok}, false},
		"GET /account":                     {"/account", nil, want{redir, ok, ok}, false},
		"POST /account/signout-others":     {"/account/signout-others", url.Values{}, want{unauth, redir, redir}, false},
		"POST /account/zone":               {"/account/zone", url.Values{"zone": {"Europe/Riga"}}, want{unauth, redir, redir}, false},
		"GET /admin/users":                 {"/admin/users", nil, want{redir, forbidden, ok}, false},
		"POST /admin/users":                {"/admin/users", newUser, want{unauth, forbidden, redir}, true},
		"GET /admin/users/:id":             {"/admin/users/" + staffID, nil, want{redir, forbidden, ok}, false},
		"POST /admin/users/:id":            {"/admin/users/" + staffID, url.Values{"name": {"Renamed"}, "role": {"admin"}}, want{unauth, forbidden, redir}, true},
		"POST /admin/users/:id/disable":    {"/admin/users/" + staffID + "/disable", url.Values{}, want{unauth, forbidden, redir}, true},
		"POST /admin/users/:id/enable":     {"/admin/users/" + staffID + "/enable", url.Values{}, want{unauth, forbidden, redir}, false},
		"POST /admin/users/:id/password":   {"/admin/users/" + staffID + "/password", url.Values{"password": {"Other-Pass-9"}}, want{unauth, forbidden, redir}, true},
		"GET /admin/endpoints":             {"/admin/endpoints", nil, want{redir, forbidden, ok}, false},
		"GET /admin/endpoints/new":         {"/admin/endpoints/new", nil, want{redir, forbidden, ok}, false},
		"POST /admin/endpoints":            {"/admin/endpoints", endpointForm, want{unauth, forbidden, redir}, true},
		"GET /admin/endpoints/:id":         {"/admin/endpoints/" + endpointID, nil, want{redir, forbidden, ok}, false},
		"POST /admin/endpoints/:id":        {"/admin/endpoints/" + endpointID, endpointForm, want{unauth, forbidden, redir}, true},
		"GET /admin/audit":                 {"/admin/audit", nil, want{redir, forbidden, ok}, false},
		"GET /admin/closeday":              {"/admin/closeday", nil, want{redir, forbidden, ok}, false},
		"POST /admin/closeday/:id":         {"/admin/closeday/1", url.Values{"confirm": {"yes"}}, want{unauth, forbidden, redir}, false},
		"GET /admin/closeday/c/:id":        {"/admin/closeday/c/1", nil, want{redir, forbidden, http.StatusNotFound}, false},
		"GET /admin/closeday/history":      {"/admin/closeday/history", nil, want{redir, forbidden, ok}, false},
		"GET /admin/closeday/c/:id/report": {"/admin/closeday/c/1/report", nil, want{redir, forbidden, http.StatusNotFound}, false},
		// Everyone signed in keeps their own shift; another cashier's shift is not found.
		"GET /shift":                      {"/shift", nil, want{redir, ok, ok}, false},
		"POST /shift/start":               {"/shift/start", url.Values{}, want{unauth, redir, redir}, false},
		"POST /shift/end":                 {"/shift/end", url.Values{}, want{unauth, redir, redir}, false},
		"GET /shifts/:id":                 {"/shifts/1", nil, want{redir, http.StatusNotFound, http.StatusNotFound}, false},
		"GET /admin/closeday/history.csv": {"/admin/closeday/history.csv", nil, want{redir, forbidden, ok}, false},
		"GET /admin/callbacks":            {"/admin/callbacks", nil, want{redir, forbidden, ok}, false},
		"GET /counter":                    {"/counter", nil, want{redir, ok, ok}, false},
		// Reader 1 is registered but offline: the start is refused with a message (422).
		"POST /counter":                 {"/counter", url.Values{"reader_id": {"1"}, "amount": {"10.42"}, "kind": {"sale"}}, want{unauth, http.StatusUnprocessableEntity, http.StatusUnprocessableEntity}, false},
		"GET /transactions":             {"/transactions", nil, want{redir, ok, ok}, false},
		"GET /transactions.csv":         {"/transactions.csv", nil, want{redir, ok, ok}, false},
		"GET /transactions.xlsx":        {"/transactions.xlsx", nil, want{redir, ok, ok}, false},
		"GET /transactions/:id":         {"/transactions/1", nil, want{redir, http.StatusNotFound, http.StatusNotFound}, false},
		"POST /transactions/:id/cancel": {"/transactions/1/cancel", url.Values{}, want{unauth, http.StatusNotFound, http.StatusNotFound}, false},
		"GET /transactions/:id/receipt": {"/transactions/1/receipt", nil, want{redir, http.StatusNotFound, http.StatusNotFound}, false},
		// Anyone signed in may e-mail a receipt (no payment 1 here, and no mail server).
		"POST /transactions/:id/receipt/email": {"/transactions/1/receipt/email", url.Values{"email": {"a@example.com"}, "mail_key": {"k1"}}, want{unauth, http.StatusNotFound, http.StatusNotFound}, false},
		// Anyone signed in may ask the bank again; only admins resolve or clear a flag.
		"POST /transactions/:id/recheck": {"/transactions/1/recheck", url.Values{}, want{unauth, http.StatusNotFound, http.StatusNotFound}, false},
		"POST /transactions/:id/resolve": {"/transactions/1/resolve", url.Values{"to": {"failed"}, "reason": {"checked with the bank"}}, want{unauth, forbidden, http.StatusNotFound}, false},
		// Managers and admins capture, release and refund; staff never.
		"POST /transactions/:id/operations":  {"/transactions/1/operations", url.Values{"kind": {"refund"}, "amount": {"1.00"}, "reason": {"returned goods"}, "op_key": {"k1"}}, want{unauth, forbidden, http.StatusNotFound}, false},
		"POST /transactions/:id/approve":     {"/transactions/1/approve", url.Values{}, want{unauth, forbidden, http.StatusNotFound}, false},
		"POST /transactions/:id/reject":      {"/transactions/1/reject", url.Values{"reason": {"no receipt"}}, want{unauth, forbidden, http.StatusNotFound}, false},
		"POST /transactions/:id/acknowledge": {"/transactions/1/acknowledge", url.Values{"note": {"refunded the second payment"}}, want{unauth, forbidden, http.StatusNotFound}, false},
		// The gateway's callback carries no session; a forged one is refused whoever sends it.
		"GET /callbacks/mapi/:id":              {"/callbacks/mapi/1?status=approved&orderid=1&merchant_order=P1&control=00", nil, want{forbidden, forbidden, forbidden}, false},
		"GET /admin/readers":                   {"/admin/readers", nil, want{redir, forbidden, ok}, false},
		"GET /admin/readers/new":               {"/admin/readers/new", nil, want{redir, forbidden, ok}, false},
		"POST /admin/readers":                  {"/admin/readers", url.Values{"serial": {"SBX-0002"}, "label": {"Counter 2"}, "location": {"Riga"}, "endpoint_id": {"1"}}, want{unauth, forbidden, redir}, true},
		"GET /admin/readers/:id":               {"/admin/readers/1", nil, want{redir, forbidden, ok}, false},
		"POST /admin/readers/:id/enable":       {"/admin/readers/1/enable", url.Values{}, want{unauth, forbidden, redir}, false},
		"POST /admin/readers/:id/disable":      {"/admin/readers/1/disable", url.Values{"confirm": {"yes"}}, want{unauth, forbidden, redir}, true},
		"POST /admin/readers/:id/unpair":       {"/admin/readers/1/unpair", url.Values{"confirm": {"yes"}}, want{unauth, forbidden, redir}, false},
		"POST /admin/readers/:id/pairing-code": {"/admin/readers/1/pairing-code", url.Values{}, want{unauth, forbidden, redir}, true},
		"POST /admin/readers/:id/replace":      {"/admin/readers/1/replace", url.Values{"serial": {"SBX-0009"}}, want{unauth, forbidden, redir}, true},
		// The device channel answers devices, not sessions: a browser gets the same refusal
		// whoever is signed in.
		"POST /devices/pair": {"/devices/pair", url.Values{"serial": {"SBX-0001"}, "code": {"AAAA-AAAA"}}, want{forbidden, forbidden, forbidden}, false},
		"GET /devices/ws":    {"/devices/ws", nil, want{unauth, unauth, unauth}, false},
		"GET /ws":            {"/ws", nil, want{redir, http.StatusBadRequest, http.StatusBadRequest}, false},
	}
	var registered []string
	for _, r := range a.server.Engine.Routes() {
		registered = append(registered, r.Method+" "+r.Path)
	}
	sort.Strings(registered)
	for _, key := range registered {
		if _, ok := routes[key]; !ok {
			t.Errorf("route %s has no entry in the authorization matrix", key)
		}
	}
	for key, r := range routes {
		method := strings.SplitN(key, " ", 2)[0]
		for _, role := range []string{"anon", "staff", "admin"} {
			// Each request in a fresh app (a subtest, so it is closed before the next): a write
			// by the admin must not affect the next row.
			t.Run(key+" as "+role, func(t *testing.T) {
				a := newApp(t, true)
				b := a.browser()
				wantStatus := r.want.anon
				switch role {
				case "staff":
					b.login("staff", staffPW)
					wantStatus = r.want.staff
				case "admin":
					b.login("admin", adminPW)
					wantStatus = r.want.admin
				}
				before := a.snapshot()
				var resp *http.Response
				if method == http.MethodGet {
					resp, _ = b.get(r.path)
				} else {
					form := url.Values{}
					for k, v := range r.form {
						form[k] = v
					}
					resp, _ = b.post(r.path, form)
				}
				if resp.StatusCode != wantStatus {
					t.Errorf("%s as %s: %d, want %d", key, role, resp.StatusCode, wantStatus)
				}
				changed := a.snapshot() != before
				if r.write && role != "admin" && changed {
					t.Errorf("%s as %s: refused (%d) but the data changed", key, role, resp.StatusCode)
				}
				if r.write && role == "admin" && wantStatus == redir && !changed {
					t.Errorf("%s as admin: %d but nothing changed", key, resp.StatusCode)
				}
			})
		}
	}
}

func TestPostWithoutValidCSRFTokenIsRefused(t *testing.T) {
	a := newApp(t, true)
	b := a.browser().login("admin", adminPW)
	before := a.snapshot()
	for name, token := range map[string]string{"missing": "", "forged": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="} {
		form := url.Values{"username": {"carol"}, "name": {"Carol"}, "role": {"admin"}, "password": {"Carol-Pass-1"}, "csrf_token": {token}}
		resp, body := b.post("/admin/users", form)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "data-testid=\"error-page\"") {
			t.Errorf("%s token: %d", name, resp.StatusCode)
		}
	}
	// A token of another session does not work either.
	other := a.browser()
	other.get("/login")
	form := url.Values{"username": {"carol"}, "name": {"Carol"}, "role": {"admin"}, "password": {"Carol-Pass-1"}, "csrf_token": {other.csrf}}
	if resp, _ := b.post("/admin/users", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another browser's token: %d", resp.StatusCode)
	}
	// The right token from another origin is refused too.
	req, _ := http.NewRequest(http.MethodPost, a.url+"/admin/users", strings.NewReader(url.Values{"csrf_token": {b.csrf}, "username": {"carol"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := b.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin post: %v %v", resp.StatusCode, err)
	}
	if a.snapshot() != before {
		t.Error("a refused post changed data")
	}
}
