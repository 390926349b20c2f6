package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
)

// waitFor waits, up to a deadline, until cond holds.
func (a *app) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

var reOpKey = regexp.MustCompile(`name="op_key" value="([^"]+)"`)

// manager adds a manager who signs in with an authenticator, like every manager.
func (a *app) manager(t *testing.T) *browser {
	t.Helper()
	h, _ := models.HashPassword("Manager-Pass-1")
	if err := (&models.Users{DB: a.db}).Create(context.Background(), &models.User{Username: "mia", Name: "Mia", Role: models.RoleManager, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	return a.browser().login("mia", "Manager-Pass-1")
}

// opKey opens the payment's page and returns its forms' one-time key.
func (b *browser) opKey(id uint) string {
	b.a.t.Helper()
	_, page := b.get(fmt.Sprintf("/transactions/%d", id))
	m := reOpKey.FindStringSubmatch(page)
	if m == nil {
		b.a.t.Fatalf("no money forms on payment %d", id)
	}
	return m[1]
}

func TestRefundsFromThePaymentPage(t *testing.T) {
	a := newApp(t, true)
	sale := a.addTx(t, "PREFUND", 1500, models.KindSale, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "242805"})...)
	path := fmt.Sprintf("/transactions/%d/operations", sale.ID)

	// Staff see no money forms and are refused.
	staff := a.browser().login("staff", staffPW)
	if _, page := staff.get(fmt.Sprintf("/transactions/%d", sale.ID)); strings.Contains(page, `data-testid="refund-form"`) {
		t.Error("staff are offered a refund")
	}
	if resp, _ := staff.post(path, url.Values{"kind": {"refund"}, "amount": {"5.00"}, "reason": {"x"}, "op_key": {"k-staff"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("staff refund: %d, want 403", resp.StatusCode)
	}

	m := a.manager(t)
	_, page := m.get(fmt.Sprintf("/transactions/%d", sale.ID))
	if !strings.Contains(page, `data-testid="refund-form"`) || strings.Contains(page, `data-testid="capture-form"`) {
		t.Fatal("a manager is not offered a refund of the sale (or is offered a capture)")
	}
	// A reason is required; a negative or excessive amount is refused with the reason why.
	for _, c := range []struct{ amount, reason, want string }{
		{"5.00", "", "Give a reason"},
		{"0", "damaged", "above zero"},
		{"-1", "damaged", "Enter an amount"},
		{"abc", "damaged", "Enter an amount"},
		{"15.01", "damaged", "At most 15.00\u00a0EUR can still be refunded"},
	} {
		resp, body := m.post(path, url.Values{"kind": {"refund"}, "amount": {c.amount}, "reason": {c.reason}, "op_key": {m.opKey(sale.ID)}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.want) {
			t.Errorf("refund %q %q: %d, want 422 with %q", c.amount, c.reason, resp.StatusCode, c.want)
		}
	}
	if got := a.gw.moneyRequests(); len(got) != 0 {
		t.Fatalf("refused refunds reached the gateway: %v", got)
	}

	// Three taps of the same form at once: one refund.
	key := m.opKey(sale.ID)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			m.post(path, url.Values{"kind": {"refund"}, "amount": {"5.00"}, "reason": {"damaged box"}, "op_key": {key}})
		})
	}
	wg.Wait()
	ops, _ := (&models.Transactions{DB: a.db}).Operations(context.Background(), sale.ID)
	if len(ops) != 1 || ops[0].Kind != models.KindRefund || ops[0].AmountMinor != 500 || ops[0].StartedByName != "mia" {
		t.Fatalf("after three taps: %+v", ops)
	}
	a.waitFor(t, "the refund is sent", func() bool { return a.tx(t, ops[0].ID).State == models.TxProcessing })
	if got := a.gw.moneyRequests(); len(got) != 1 || got[0] != "return PREFUND 5.00" {
		t.Errorf("gateway requests: %v", got)
	}
	// While it is open, the page offers no refund, and a second one (another tab) waits.
	if _, page := m.get(fmt.Sprintf("/transactions/%d", sale.ID)); strings.Contains(page, `data-testid="refund-form"`) ||
		!strings.Contains(page, "Refund of 5.00\u00a0EUR in progress.") {
		t.Error("the page offers a refund while one is in progress")
	}
	resp, body := m.post(path, url.Values{"kind": {"refund"}, "amount": {"1.00"}, "reason": {"again"}, "op_key": {"another-tab"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "still being processed") {
		t.Errorf("a refund while one is open: %d", resp.StatusCode)
	}
	// The bank approves it (asked by the refund's own request serial): the payment shows
	// what remains.
	a.gw.answer("PREFUND", &mapi.StatusResponse{Status: mapi.StatusApproved, MerchantOrderID: "PREFUND", OrderID: "1969106",
		TransactionType: "reversal", Amount: 500, ApprovalCode: "777111"})
	if resp, _ := m.post(fmt.Sprintf("/transactions/%d/recheck", ops[0].ID), url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("re-check: %d", resp.StatusCode)
	}
	if got := a.tx(t, ops[0].ID); got.State != models.TxApproved {
		t.Fatalf("refund after the bank's answer: %s", got.State)
	}
	if got := a.tx(t, sale.ID); got.State != models.TxApproved {
		t.Errorf("the sale itself changed: %s", got.State)
	}
	_, page = m.get(fmt.Sprintf("/transactions/%d", sale.ID))
	if !strings.Contains(page, "Partially refunded 5.00\u00a0EUR of 15.00\u00a0EUR; 10.00\u00a0EUR can still be refunded.") {
		t.Error("the payment does not show what remains")
	}
	if es := a.audited("payment.refund"); len(es) != 1 || es[0].ActorName != "mia" || !strings.Contains(es[0].Detail, "damaged box") {
		t.Errorf("refund audit: %+v", es)
	}
}

func TestRefundAboveTheLimitNeedsASecondPerson(t *testing.T) {
	a := newApp(t, true)
	a.db.Model(&models.Endpoint{}).Where("id = 1").Update("refund_approval_minor", 10000)
	a.gw.merchant.RefundApprovalMinor = 10000
	sale := a.addTx(t, "PBIG", 25000, models.KindSale, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "242805"})...)
	path := fmt.Sprintf("/transactions/%d/operations", sale.ID)
	m := a.manager(t)
	resp, _ := m.post(path, url.Values{"kind": {"refund"}, "amount": {"150.00"}, "reason": {"wrong size"}, "op_key": {m.opKey(sale.ID)}})
	if body := m.follow(resp); !strings.Contains(body, "waits for another manager") {
		t.Fatal("no word that the refund waits for approval")
	}
	ops, _ := (&models.Transactions{DB: a.db}).Operations(context.Background(), sale.ID)
	if len(ops) != 1 || ops[0].State != models.TxAwaitingApproval {
		t.Fatalf("operations: %+v", ops)
	}
	refund := ops[0]
	if got := a.gw.moneyRequests(); len(got) != 0 {
		t.Fatalf("sent before approval: %v", got)
	}
	// It is on the start page for everyone who can approve; the one who asked cannot.
	_, home := m.get("/")
	if !strings.Contains(home, "A refund of 150.00\u00a0EUR asked by mia waits for another manager") {
		t.Errorf("the start page does not list the refund waiting for approval:\n%s", home)
	}
	opPath := fmt.Sprintf("/transactions/%d", refund.ID)
	if _, page := m.get(opPath); !strings.Contains(page, `data-testid="approval-mine"`) || strings.Contains(page, `data-testid="approve"`) {
		t.Error("the manager who asked is offered the approval")
	}
	if resp, body := m.post(opPath+"/approve", url.Values{}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "another manager or admin must approve it") {
		t.Errorf("self-approval: %d", resp.StatusCode)
	}
	// Staff cannot approve.
	staff := a.browser().login("staff", staffPW)
	if resp, _ := staff.post(opPath+"/approve", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("staff approval: %d", resp.StatusCode)
	}
	// An admin approves: it goes to the bank, once.
	admin := a.browser().login("admin", adminPW)
	if _, page := admin.get(opPath); !strings.Contains(page, `data-testid="approve"`) {
		t.Fatal("the admin is not offered the approval")
	}
	resp, _ = admin.post(opPath+"/approve", url.Values{})
	if body := admin.follow(resp); !strings.Contains(body, "Approved: the refund of 150.00\u00a0EUR is sent to the bank.") {
		t.Error("no flash for the approval")
	}
	a.waitFor(t, "the approved refund is sent", func() bool { return a.tx(t, refund.ID).State == models.TxProcessing })
	if resp, _ := admin.post(opPath+"/approve", url.Values{}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a second approval: %d", resp.StatusCode)
	}
	if got := a.gw.moneyRequests(); len(got) != 1 || got[0] != "return PBIG 150.00" {
		t.Errorf("gateway requests: %v", got)
	}
	for _, action := range []string{"payment.refund_requested", "payment.refund_approved"} {
		if es := a.audited(action); len(es) != 1 {
			t.Errorf("%s audited %d times", action, len(es))
		}
	}
	if got := a.tx(t, refund.ID); got.Review != "" {
		t.Errorf("still on the attention list: %q", got.Review)
	}
}

func TestRefundApprovalRejectedOrExpired(t *testing.T) {
	a := newApp(t, true)
	a.gw.merchant.RefundApprovalMinor = 1000
	sale := a.addTx(t, "PREJ", 5000, models.KindSale, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved})...)
	m := a.manager(t)
	ask := func() models.Transaction {
		t.Helper()
		m.post(fmt.Sprintf("/transactions/%d/operations", sale.ID), url.Values{"kind": {"refund"}, "amount": {"20.00"}, "reason": {"late delivery"}, "op_key": {m.opKey(sale.ID)}})
		ops, _ := (&models.Transactions{DB: a.db}).Operations(context.Background(), sale.ID)
		op := ops[len(ops)-1]
		if op.State != models.TxAwaitingApproval {
			t.Fatalf("refund: %s", op.State)
		}
		return op
	}
	first := ask()
	admin := a.browser().login("admin", adminPW)
	if resp, body := admin.post(fmt.Sprintf("/transactions/%d/reject", first.ID), url.Values{"reason": {""}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Say why") {
		t.Errorf("reject without a reason: %d", resp.StatusCode)
	}
	resp, _ := admin.post(fmt.Sprintf("/transactions/%d/reject", first.ID), url.Values{"reason": {"no receipt shown"}})
	if resp.StatusCode != http.StatusSeeOther || a.tx(t, first.ID).State != models.TxCancelled {
		t.Fatalf("reject: %d, %s", resp.StatusCode, a.tx(t, first.ID).State)
	}
	// Nobody answers the second one: after the expiry the poller lets it lapse.
	second := ask()
	a.clock.advance(31 * time.Minute)
	if resp, _ := admin.post(fmt.Sprintf("/transactions/%d/recheck", second.ID), url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("re-check: %d", resp.StatusCode)
	}
	if got := a.tx(t, second.ID); got.State != models.TxCancelled || !strings.Contains(got.ErrorMessage, "nobody approved it") {
		t.Errorf("after the expiry: %s %q", got.State, got.ErrorMessage)
	}
	if got := a.gw.moneyRequests(); len(got) != 0 {
		t.Errorf("a rejected or lapsed refund reached the bank: %v", got)
	}
	if es := a.audited("payment.refund_expired"); len(es) != 1 {
		t.Errorf("expiry audited %d times", len(es))
	}
}

func TestPreauthRadarFlagsOldHolds(t *testing.T) {
	a := newApp(t, true)
	a.db.Model(&models.Endpoint{}).Where("id = 1").Update("preauth_warn_days", 3)
	a.addTx(t, "PFRESH", 2000, models.KindPreauth, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved})...)
	old := a.addTx(t, "POLD", 3000, models.KindPreauth, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved})...)
	a.db.Model(&models.Transaction{}).Where("id = ?", old.ID).Update("created_at", time.Now().Add(-4*24*time.Hour))
	captured := a.addTx(t, "PCAPT", 1000, models.KindPreauth, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved})...)
	capture := models.Transaction{ClientOrderID: "PCAPT-C1", ParentID: &captured.ID, ParentOrderID: "PCAPT", EndpointID: 1, ReaderID: 1,
		ReaderSerial: "SBX-0001", Kind: models.KindCapture, AmountMinor: 1000, Currency: "EUR", State: models.TxApproved}
	if err := (&models.Transactions{DB: a.db}).Create(context.Background(), &capture, "fixture"); err != nil {
		t.Fatal(err)
	}
	_, home := a.browser().login("staff", staffPW).get("/")
	for id, want := range map[string]bool{"PFRESH": true, "POLD": true, "PCAPT": false} {
		if got := strings.Contains(home, `data-testid="preauth-`+id+`"`); got != want {
			t.Errorf("preauth %s listed: %v, want %v", id, got, want)
		}
	}
	if n := strings.Count(home, `data-testid="preauth-stale"`); n != 1 || !strings.Contains(home, "4 days: capture or release it") {
		t.Errorf("stale badges: %d", n)
	}
}
