package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/gorilla/websocket"
)

// addTx stores a payment in a given state, as the payment flow would have left it.
func (a *app) addTx(t *testing.T, id string, amount int64, kind models.TxKind, steps ...models.TxUpdate) models.Transaction {
	t.Helper()
	s := &models.Transactions{DB: a.db}
	tx := models.Transaction{ClientOrderID: id, EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001", Kind: kind,
		AmountMinor: amount, Currency: "EUR", State: models.TxWaitingCard, StartedByName: "staff"}
	if err := s.Create(context.Background(), &tx, "started"); err != nil {
		t.Fatal(err)
	}
	for _, u := range steps {
		if _, err := s.Apply(context.Background(), tx.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.ByID(context.Background(), tx.ID)
	return got
}

var toProcessing = []models.TxUpdate{
	{Source: "reader", State: models.TxSending, CardLast4: "1111", CardBrand: "VISA"},
	{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969106"},
}

func callbackURL(a *app, cb mapi.Callback, key string) string {
	return a.url + "/callbacks/mapi/1?" + cb.Query(key).Encode()
}

// statusOf GETs u, as the gateway calls back, and returns the answer's status.
func statusOf(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestGatewayCallbackEndpoint(t *testing.T) {
	a := newApp(t, true)
	tx := a.addTx(t, "P1", 1042, models.KindSale, toProcessing...)
	get := func(u string) int { return statusOf(t, u) }
	forged := mapi.Callback{Status: "approved", OrderID: "1969106", MerchantOrder: "P1", Type: "sale", Amount: "10.42"}
	if code := get(callbackURL(a, forged, "not-the-key")); code != http.StatusForbidden {
		t.Errorf("forged callback: %d, want 403", code)
	}
	wrongAmount := mapi.Callback{Status: "approved", OrderID: "1969106", MerchantOrder: "P1", Type: "sale", Amount: "0.01"}
	if code := get(callbackURL(a, wrongAmount, testKey)); code != http.StatusForbidden {
		t.Errorf("amount mismatch: %d, want 403", code)
	}
	if got, _ := (&models.Transactions{DB: a.db}).ByID(context.Background(), tx.ID); got.State != models.TxProcessing {
		t.Fatalf("refused callbacks changed the payment to %s", got.State)
	}
	good := mapi.Callback{Status: "approved", OrderID: "1969106", MerchantOrder: "P1", Type: "sale", Amount: "10.42", ApprovalCode: "242805"}
	for i := 0; i < 2; i++ { // delivered twice: at-least-once
		if code := get(callbackURL(a, good, testKey)); code != http.StatusOK {
			t.Errorf("callback %d: %d, want 200", i, code)
		}
	}
	got, _ := (&models.Transactions{DB: a.db}).ByID(context.Background(), tx.ID)
	if got.State != models.TxApproved || got.ApprovalCode != "242805" {
		t.Errorf("after the callback: %s %s", got.State, got.ApprovalCode)
	}
	// The retry is logged (below) but leaves the payment's timeline alone.
	evs, _ := (&models.Transactions{DB: a.db}).Events(context.Background(), tx.ID)
	var fromCallbacks int
	for _, ev := range evs {
		if ev.Source == "callback" {
			fromCallbacks++
		}
	}
	if fromCallbacks != 1 {
		t.Errorf("%d timeline lines from the callback delivered twice, want 1", fromCallbacks)
	}
	unknown := mapi.Callback{Status: "approved", OrderID: "5", MerchantOrder: "PNOPE", Type: "sale", Amount: "1.00"}
	if code := get(callbackURL(a, unknown, testKey)); code != http.StatusOK {
		t.Errorf("unknown order: %d, want 200", code)
	}
	if code := get(a.url + "/callbacks/mapi/99?" + good.Query(testKey).Encode()); code != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d, want 404", code)
	}
	var outcomes []string
	a.db.Model(&models.CallbackDelivery{}).Order("id").Pluck("outcome", &outcomes)
	want := []string{"forged", "mismatch", "applied", "duplicate", "unknown_order", "unknown_endpoint"}
	if strings.Join(outcomes, ",") != strings.Join(want, ",") {
		t.Errorf("callback log %v, want %v", outcomes, want)
	}
	admin := a.browser().login("admin", adminPW)
	_, body := admin.get("/admin/callbacks")
	if strings.Contains(body, mapi.CallbackControl("approved", "1969106", "P1", testKey)) {
		t.Error("the callback log shows the control signature")
	}
}

// An endpoint's control key changed on another instance is used at once: a callback signed
// with the new key is verified again with the key as stored before it would be called forged
// (this instance reuses a key it read for a moment), and the old key is refused from then on.
func TestCallbackSignedWithAKeyChangedElsewhere(t *testing.T) {
	a := newApp(t, true)
	tx := a.addTx(t, "P1", 1042, models.KindSale, toProcessing...)
	get := func(u string) int { return statusOf(t, u) }
	unknown := mapi.Callback{Status: "approved", OrderID: "5", MerchantOrder: "PNOPE", Type: "sale", Amount: "1.00"}
	if code := get(callbackURL(a, unknown, testKey)); code != http.StatusOK { // the key is read, and kept
		t.Fatalf("callback with the key: %d", code)
	}
	const newKey = "B7E5D0C4-rotated-elsewhere"
	if err := a.db.Model(&models.Endpoint{}).Where("id = ?", 1).Update("control_key", newKey).Error; err != nil {
		t.Fatal(err)
	}
	good := mapi.Callback{Status: "approved", OrderID: "1969106", MerchantOrder: "P1", Type: "sale", Amount: "10.42", ApprovalCode: "242805"}
	if code := get(callbackURL(a, good, newKey)); code != http.StatusOK {
		t.Errorf("callback signed with the new key: %d, want 200", code)
	}
	if got, _ := (&models.Transactions{DB: a.db}).ByID(context.Background(), tx.ID); got.State != models.TxApproved {
		t.Errorf("after the callback signed with the new key the payment is %s", got.State)
	}
	if code := get(callbackURL(a, good, testKey)); code != http.StatusForbidden {
		t.Errorf("callback signed with the old key: %d, want 403", code)
	}
	var outcomes []string
	a.db.Model(&models.CallbackDelivery{}).Order("id").Pluck("outcome", &outcomes)
	if want := "unknown_order,applied,forged"; strings.Join(outcomes, ",") != want {
		t.Errorf("callback log %v, want %s", outcomes, want)
	}
}

// A callback that changes a payment is logged in the change's own transaction: the log line
// has the sender, the outcome and the answer, and exactly one line per delivery.
func TestCallbackIsLoggedWithItsChange(t *testing.T) {
	a := newApp(t, true)
	a.addTx(t, "P1", 1042, models.KindSale, toProcessing...)
	good := mapi.Callback{Status: "approved", OrderID: "1969106", MerchantOrder: "P1", Type: "sale", Amount: "10.42", ApprovalCode: "242805"}
	for range 3 {
		statusOf(t, callbackURL(a, good, testKey))
	}
	var lines []models.CallbackDelivery
	a.db.Order("id").Find(&lines)
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 deliveries", len(lines))
	}
	for i, d := range lines {
		want := map[bool]string{true: "applied", false: "duplicate"}[i == 0]
		if d.Outcome != want || d.HTTPStatus != http.StatusOK || d.RemoteIP != "127.0.0.1" || d.ClientOrderID != "P1" || d.EndpointID != 1 {
			t.Errorf("line %d: %+v, want %s, 200, from 127.0.0.1", i, d, want)
		}
	}
}

func TestTransactionsSearchAndCSV(t *testing.T) {
	a := newApp(t, true)
	a.addTx(t, "PAPPROVED", 1042, models.KindSale, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "242805", RRN: "510321889824"})...)
	a.addTx(t, "PDECLINED", 1051, models.KindSale, append(toProcessing[:1:1], models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969107"},
		models.TxUpdate{Source: "poll", State: models.TxDeclined, ErrorCode: "51", ErrorMessage: "=HYPERLINK(\"x\")"})...)
	a.addTx(t, "PPREAUTH", 5000, models.KindPreauth, append(toProcessing[:1:1], models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969108"},
		models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "111111"})...)
	staff := a.browser().login("staff", staffPW)
	for q, want := range map[string][]string{
		"q=242805":                    {"PAPPROVED"},
		"q=510321889824":              {"PAPPROVED"},
		"q=1969107":                   {"PDECLINED"},
		"q=papproved":                 {"PAPPROVED"},
		"status=declined":             {"PDECLINED"},
		"kind=preauth":                {"PPREAUTH"},
		"min=20":                      {"PPREAUTH"},
		"max=10.50":                   {"PAPPROVED"},
		"q=1111":                      {"PAPPROVED", "PDECLINED", "PPREAUTH"},
		"status=bogus&kind=x&min=abc": {"PAPPROVED", "PDECLINED", "PPREAUTH"},
	} {
		_, body := staff.get("/transactions?" + q)
		for _, id := range []string{"PAPPROVED", "PDECLINED", "PPREAUTH"} {
			in := strings.Contains(body, `data-testid="tx-`+id+`"`)
			if in != contains(want, id) {
				t.Errorf("?%s: %s listed = %v", q, id, in)
			}
		}
		resp, err := staff.c.Get(a.url + "/transactions.csv?" + q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		if err != nil || len(rows) != len(want)+1 {
			t.Errorf("CSV ?%s: %d rows, %v; want header + %d", q, len(rows), err, len(want))
			continue
		}
		for _, r := range rows[1:] {
			if !contains(want, unCode(r[1])) {
				t.Errorf("CSV ?%s has %s", q, r[1])
			}
			if strings.HasPrefix(r[15], "=") {
				t.Errorf("CSV cell %q would run as a formula", r[15])
			}
		}
	}
	_, body := staff.get("/")
	if !strings.Contains(body, "PPREAUTH") || strings.Contains(body, "PAPPROVED</a>") {
		t.Error("the open preauths list is wrong")
	}
	_, body = staff.get("/transactions/1")
	if !strings.Contains(body, "VISA •••• 1111") || !strings.Contains(body, `data-testid="timeline"`) {
		t.Error("the payment page lacks the card or the timeline")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestHubDropsSlowClientsWithoutBlocking(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	u, _ := url.Parse(a.url)
	dial := func() *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws",
			http.Header{"Cookie": {cookieHeader(admin, u)}, "Origin": {a.url}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := a.server.Hub().Clients()
	slow, fast := dial(), dial()
	defer slow.Close()
	defer fast.Close()
	a.waitFor(t, "both screens in the hub", func() bool { return a.server.Hub().Clients() == before+2 })
	big := []byte(strings.Repeat("x", 64<<10))
	done := make(chan struct{})
	go func() {
		for i := 0; i < 500; i++ { // far more than the slow client's buffer and socket hold
			a.server.Hub().Broadcast(live.PaymentRows, big)
		}
		close(done)
	}()
	go func() {
		for {
			if _, _, err := fast.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing blocked on a client that does not read")
	}
	if n := a.server.Hub().Clients(); n > 1 {
		t.Errorf("%d clients still registered; the one not reading should have been dropped", n)
	}
	if _, err := http.Get(a.url + "/ws"); err != nil {
		t.Fatal(err)
	}
}

// Every way of bending a genuine callback is refused with 403 and leaves the payment, its
// timeline and the session-free callback route exactly as they were.
func TestTamperedCallbacksAreAllRefused(t *testing.T) {
	a := newApp(t, true)
	tx := a.addTx(t, "P1", 1042, models.KindSale, toProcessing...)
	a.addTx(t, "P2", 1042, models.KindSale, toProcessing[0], models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969107"})
	genuine := mapi.Callback{Status: "approved", OrderID: "1969106", MerchantOrder: "P1", Type: "sale", Amount: "10.42", ApprovalCode: "242805"}
	tamper := map[string]func(q url.Values){
		"status":                   func(q url.Values) { q.Set("status", "declined") },
		"orderid":                  func(q url.Values) { q.Set("orderid", "1969107") },
		"merchant_order":           func(q url.Values) { q.Set("merchant_order", "P2"); q.Set("client_orderid", "P2") },
		"amount":                   func(q url.Values) { q.Set("amount", "1.00") },
		"type":                     func(q url.Values) { q.Set("type", "preauth") },
		"control flipped":          func(q url.Values) { c := []byte(q.Get("control")); c[0] ^= 1; q.Set("control", string(c)) },
		"control missing":          func(q url.Values) { q.Del("control") },
		"control of another order": func(q url.Values) { q.Set("control", mapi.CallbackControl("approved", "1969107", "P2", testKey)) },
		"control with another key": func(q url.Values) { q.Set("control", mapi.CallbackControl("approved", "1969106", "P1", "other-key")) },
		"status twice":             func(q url.Values) { q.Add("status", "declined") },
		"empty":                    func(q url.Values) { clear(q) },
	}
	before, _ := (&models.Transactions{DB: a.db}).Events(context.Background(), tx.ID)
	for name, f := range tamper {
		q := genuine.Query(testKey)
		f(q)
		resp, err := http.Get(a.url + "/callbacks/mapi/1?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	for _, id := range []string{"P1", "P2"} {
		got, _ := (&models.Transactions{DB: a.db}).ByClientOrderID(context.Background(), id)
		if got.State != models.TxProcessing || got.ApprovalCode != "" {
			t.Errorf("%s after refused callbacks: %s %q", id, got.State, got.ApprovalCode)
		}
	}
	if after, _ := (&models.Transactions{DB: a.db}).Events(context.Background(), tx.ID); len(after) != len(before) {
		t.Errorf("refused callbacks added %d timeline lines", len(after)-len(before))
	}
	// The genuine one still works.
	resp, _ := http.Get(callbackURL(a, genuine, testKey))
	resp.Body.Close()
	if got, _ := (&models.Transactions{DB: a.db}).ByID(context.Background(), tx.ID); resp.StatusCode != http.StatusOK || got.State != models.TxApproved {
		t.Errorf("genuine callback: %d, payment %s", resp.StatusCode, got.State)
	}
}
