package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
)

// needsReview is a sale the gateway accepted and never gave a final status for.
func (a *app) needsReview(t *testing.T, id string) models.Transaction {
	t.Helper()
	return a.addTx(t, id, 1042, models.KindSale, append(toProcessing[:1:1],
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "GW-" + id},
		models.TxUpdate{Source: "poll", State: models.TxNeedsReview, Detail: "no final status after the deadline"})...)
}

// lateApproval is a sale the counter was told was declined, that the gateway approved later.
func (a *app) lateApproval(t *testing.T, id string) models.Transaction {
	t.Helper()
	tx := a.addTx(t, id, 2500, models.KindSale, append(toProcessing[:1:1],
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "GW-" + id},
		models.TxUpdate{Source: "poll", State: models.TxDeclined, ErrorMessage: "do not honour"},
		models.TxUpdate{Source: "poll", State: models.TxApproved, Gateway: true, Override: true, GatewayStatus: "approved"})...)
	if tx.Review != models.ReviewLateApproval {
		t.Fatalf("fixture: review %q, want a late approval", tx.Review)
	}
	return tx
}

func (a *app) tx(t *testing.T, id uint) models.Transaction {
	t.Helper()
	tx, err := (&models.Transactions{DB: a.db}).ByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func (a *app) audited(action string) []models.AuditEvent {
	var es []models.AuditEvent
	a.db.Where("action = ?", action).Order("id").Find(&es)
	return es
}

func (a *app) events(t *testing.T, id uint) int {
	t.Helper()
	evs, err := (&models.Transactions{DB: a.db}).Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func (a *app) addUser(t *testing.T, name, pw string, role models.Role) {
	t.Helper()
	h, _ := models.HashPassword(pw)
	if err := (&models.Users{DB: a.db}).Create(context.Background(), &models.User{Username: name, Name: name, Role: role, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
}

// follow fetches a redirect's target, where the flash is shown.
func (b *browser) follow(resp *http.Response) string {
	b.a.t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		b.a.t.Fatalf("status %d, want 303", resp.StatusCode)
	}
	_, body := b.get(resp.Header.Get("Location"))
	return body
}

func TestRecheckAsksTheBankAndRedirects(t *testing.T) {
	a := newApp(t, true)
	tx := a.needsReview(t, "PREVIEW")
	a.gw.answer("PREVIEW", &mapi.StatusResponse{Status: mapi.StatusApproved, OrderID: "GW-PREVIEW", MerchantOrderID: "PREVIEW", ApprovalCode: "242805"})
	staff := a.browser().login("staff", staffPW)
	_, page := staff.get(fmt.Sprintf("/transactions/%d", tx.ID))
	if !strings.Contains(page, `data-testid="recheck"`) || !strings.Contains(page, "No final answer from the bank after an hour") {
		t.Fatal("the payment page offers no re-check for a payment in needs review")
	}
	if strings.Contains(page, `data-testid="resolve-form"`) {
		t.Error("staff are offered the resolve form")
	}
	resp, _ := staff.post(fmt.Sprintf("/transactions/%d/recheck", tx.ID), url.Values{})
	if loc := resp.Header.Get("Location"); loc != fmt.Sprintf("/transactions/%d", tx.ID) {
		t.Errorf("redirect to %q", loc)
	}
	body := staff.follow(resp)
	if got := a.gw.questions(); len(got) != 1 || got[0] != "PREVIEW" {
		t.Errorf("the gateway was asked about %v, want PREVIEW once", got)
	}
	if got := a.tx(t, tx.ID); got.State != models.TxApproved || got.ApprovalCode != "242805" {
		t.Errorf("after the re-check: %s %q", got.State, got.ApprovalCode)
	}
	if !strings.Contains(body, "Re-checked with the bank: Approved.") || !strings.Contains(body, "re-checked by staff") {
		t.Error("the page lacks the flash or the timeline line naming who re-checked")
	}
	if es := a.audited("payment.recheck"); len(es) != 1 || es[0].ActorName != "staff" || es[0].Subject != "PREVIEW" {
		t.Errorf("audit: %+v", es)
	}

	// The bank does not answer: the page says so, nothing breaks, the attempt is on the timeline.
	other := a.needsReview(t, "PSILENT")
	resp, _ = staff.post(fmt.Sprintf("/transactions/%d/recheck", other.ID), url.Values{})
	if body := staff.follow(resp); !strings.Contains(body, "The bank did not answer the re-check") {
		t.Error("no word that the bank did not answer")
	}
	if got := a.tx(t, other.ID); got.State != models.TxNeedsReview {
		t.Errorf("an unanswered re-check moved the payment to %s", got.State)
	}
}

func TestResolveByStaffIsForbidden(t *testing.T) {
	a := newApp(t, true)
	tx := a.needsReview(t, "PREVIEW")
	before := a.events(t, tx.ID)
	staff := a.browser().login("staff", staffPW)
	staff.get(fmt.Sprintf("/transactions/%d", tx.ID))
	for _, form := range []url.Values{{"to": {"failed"}, "reason": {"phoned the bank"}}, {"to": {"approved"}, "reason": {"phoned the bank"}}} {
		if resp, _ := staff.post(fmt.Sprintf("/transactions/%d/resolve", tx.ID), form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("resolve %s by staff: %d, want 403", form.Get("to"), resp.StatusCode)
		}
	}
	if resp, _ := staff.post(fmt.Sprintf("/transactions/%d/acknowledge", tx.ID), url.Values{"note": {"done"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("acknowledge by staff: %d, want 403", resp.StatusCode)
	}
	if got := a.tx(t, tx.ID); got.State != models.TxNeedsReview || got.ResolveByID != 0 || a.events(t, tx.ID) != before {
		t.Errorf("a refused resolve changed the payment: %s, proposed by %d", got.State, got.ResolveByID)
	}
}

func TestResolveNeedsAReasonAndTwoPeopleToCharge(t *testing.T) {
	a := newApp(t, true)
	a.addUser(t, "admin2", "Admin-Pass-2", models.RoleAdmin)
	tx := a.needsReview(t, "PREVIEW")
	path := fmt.Sprintf("/transactions/%d/resolve", tx.ID)
	before := a.events(t, tx.ID)
	admin := a.browser().login("admin", adminPW)
	_, page := admin.get(fmt.Sprintf("/transactions/%d", tx.ID))
	if !strings.Contains(page, `data-testid="resolve-form"`) || strings.Contains(page, `data-testid="acknowledge-form"`) {
		t.Fatal("an admin sees no resolve form (or an acknowledge form) for a payment in needs review")
	}

	// Without a reason: the page again with the message, 422, nothing changed or audited.
	resp, body := admin.post(path, url.Values{"to": {"failed"}, "reason": {" "}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="review-error"`) || !strings.Contains(body, "Give a reason") {
		t.Errorf("resolve without a reason: %d, message shown %v", resp.StatusCode, strings.Contains(body, "Give a reason"))
	}
	if !strings.Contains(body, `value="failed" required checked`) {
		t.Error("the re-rendered form lost the choice")
	}
	if got := a.tx(t, tx.ID); got.State != models.TxNeedsReview || got.Review != "" || a.events(t, tx.ID) != before {
		t.Errorf("a refused resolve changed the payment: %s %q", got.State, got.Review)
	}
	if len(a.audited("payment.resolve")) != 0 || len(a.audited("payment.resolve_proposed")) != 0 {
		t.Error("a refused resolve was audited")
	}

	// "Charged" by the first admin is only a proposal.
	resp, _ = admin.post(path, url.Values{"to": {"approved"}, "reason": {"bank back office shows it captured"}})
	body = admin.follow(resp)
	if !strings.Contains(body, "Recorded: another manager or admin must approve it") {
		t.Error("no flash for the proposal")
	}
	if got := a.tx(t, tx.ID); got.State != models.TxNeedsReview || got.ResolveByName != "admin" {
		t.Errorf("after the proposal: %s, proposed by %q", got.State, got.ResolveByName)
	}
	if !strings.Contains(body, `data-testid="resolve-proposal"`) || !strings.Contains(body, "you proposed it") ||
		!strings.Contains(body, `value="approved" required disabled`) {
		t.Error("the proposer is not shown the pending proposal, or may approve it")
	}
	if es := a.audited("payment.resolve_proposed"); len(es) != 1 || es[0].ActorName != "admin" {
		t.Errorf("proposal audit: %+v", es)
	}
	// The proposer cannot approve it (the domain refuses; the page says why).
	resp, body = admin.post(path, url.Values{"to": {"approved"}, "reason": {"still captured"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "another manager or admin must approve it") {
		t.Errorf("the proposer approving: %d", resp.StatusCode)
	}
	// The start page lists it as waiting for approval.
	_, home := admin.get("/")
	if !strings.Contains(home, "admin says the customer was charged: another manager or admin must approve it") {
		t.Error("the start page does not list the proposal")
	}

	// A second admin approves.
	second := a.browser().login("admin2", "Admin-Pass-2")
	_, page = second.get(fmt.Sprintf("/transactions/%d", tx.ID))
	if !strings.Contains(page, "approve it by choosing") {
		t.Error("the second admin is not asked to approve")
	}
	resp, _ = second.post(path, url.Values{"to": {"approved"}, "reason": {"confirmed with the bank"}})
	if body := second.follow(resp); !strings.Contains(body, "Resolved: the payment is now Approved.") {
		t.Error("no flash for the resolution")
	}
	if got := a.tx(t, tx.ID); got.State != models.TxApproved || got.NeedsAttention() {
		t.Errorf("after approval: %s, review %q", got.State, got.Review)
	}
	if es := a.audited("payment.resolve"); len(es) != 1 || es[0].ActorName != "admin2" {
		t.Errorf("resolve audit: %+v", es)
	}
}

func TestAcknowledgeALateApproval(t *testing.T) {
	a := newApp(t, true)
	tx := a.lateApproval(t, "PLATE")
	path := fmt.Sprintf("/transactions/%d/acknowledge", tx.ID)
	admin := a.browser().login("admin", adminPW)
	_, page := admin.get(fmt.Sprintf("/transactions/%d", tx.ID))
	if !strings.Contains(page, `data-testid="acknowledge-form"`) || strings.Contains(page, `data-testid="resolve-form"`) {
		t.Fatal("a flagged final payment offers no acknowledge form (or a resolve form)")
	}
	if !strings.Contains(page, "the customer may have paid twice — refund one of the payments") || !strings.Contains(page, `data-testid="tx-review-note"`) {
		t.Error("the payment page lacks the late approval's reason or note")
	}
	if resp, body := admin.post(path, url.Values{"note": {""}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Give a reason") {
		t.Errorf("acknowledge without a note: %d", resp.StatusCode)
	}
	if got := a.tx(t, tx.ID); got.Review != models.ReviewLateApproval {
		t.Errorf("a refused acknowledge cleared the flag")
	}
	resp, _ := admin.post(path, url.Values{"note": {"refunded the second payment"}})
	if body := admin.follow(resp); !strings.Contains(body, "Marked as dealt with.") || strings.Contains(body, `data-testid="tx-review"`) {
		t.Error("after acknowledging: no flash, or still shown as needing attention")
	}
	if got := a.tx(t, tx.ID); got.Review != "" || got.State != models.TxApproved {
		t.Errorf("after acknowledging: %s %q", got.State, got.Review)
	}
	if es := a.audited("payment.acknowledge"); len(es) != 1 || es[0].Detail != "refunded the second payment" {
		t.Errorf("acknowledge audit: %+v", es)
	}
}

func TestStartPageListsWhatNeedsAttention(t *testing.T) {
	a := newApp(t, true)
	staff := a.browser().login("staff", staffPW)
	_, body := staff.get("/")
	if !strings.Contains(body, `data-testid="needs-attention-empty"`) || strings.Contains(body, `data-testid="late-approval-alert"`) {
		t.Error("with nothing to do, the start page has no empty state (or an alert)")
	}
	review := a.needsReview(t, "PREVIEW")
	late := a.lateApproval(t, "PLATE")
	a.addTx(t, "PFINE", 1000, models.KindSale, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved})...)
	_, body = staff.get("/")
	alert := section(body, `data-testid="late-approval-alert"`)
	if alert == "" || !strings.Contains(alert, fmt.Sprintf(`href="/transactions/%d"`, late.ID)) || !strings.Contains(alert, "paid twice") {
		t.Errorf("no late-approval alert linking the payment: %q", alert)
	}
	if strings.Index(body, `data-testid="late-approval-alert"`) > strings.Index(body, "Welcome") {
		t.Error("the alert is not at the top of the page")
	}
	list := section(body, `data-testid="needs-attention"`)
	for _, want := range []string{
		`data-testid="attention-PREVIEW"`, fmt.Sprintf(`href="/transactions/%d"`, review.ID), "No final answer from the bank after an hour: re-check or resolve",
		`data-testid="attention-PLATE"`, "25.00\u00a0EUR", "SBX-0001", "refund one of the payments",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("the needs-attention list lacks %q", want)
		}
	}
	if strings.Contains(list, "PFINE") {
		t.Error("a settled payment is listed as needing attention")
	}
	if strings.Contains(body, `data-testid="problem-closes"`) {
		t.Error("staff see the closes to check")
	}

	// Admins also see the week's problem closes.
	now := time.Now()
	a.addClose(t, models.CloseDay{RequestID: "R-FAILED", State: models.CloseFailed, Error: "refused by the bank's gateway (code 3): day already closed", CreatedAt: now})
	a.addClose(t, models.CloseDay{RequestID: "R-OLD", State: models.CloseFailed, Error: "refused long ago", CreatedAt: now.AddDate(0, 0, -10)})
	a.addClose(t, models.CloseDay{RequestID: "R-DIFF", State: models.CloseFinished, Mismatch: true, SaleCount: 2, GwSaleCount: 3, CreatedAt: now})
	a.addClose(t, models.CloseDay{RequestID: "R-OK", State: models.CloseFinished, CreatedAt: now})
	admin := a.browser().login("admin", adminPW)
	_, body = admin.get("/")
	closes := section(body, `data-testid="problem-closes"`)
	for _, want := range []string{`href="/admin/closeday/c/1"`, "Refused by the bank", "day already closed", "Its payments go into the next close",
		`href="/admin/closeday/c/3"`, "no payment explains it yet"} {
		if !strings.Contains(closes, want) {
			t.Errorf("the closes to check lack %q", want)
		}
	}
	if strings.Contains(closes, "/admin/closeday/c/2\"") || strings.Contains(closes, "/admin/closeday/c/4\"") {
		t.Error("an old refusal or a clean close is listed")
	}
}

func (a *app) addClose(t *testing.T, c models.CloseDay) models.CloseDay {
	t.Helper()
	c.EndpointID = 1
	if err := a.db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	return c
}

// section is the element of body that starts at the tag carrying attr, up to the next card.
func section(body, attr string) string {
	i := strings.Index(body, attr)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	if j := strings.Index(rest[1:], `<section`); j >= 0 {
		return rest[:j+1]
	}
	return rest
}

func TestClosePageShowsAdjustmentsAndFailure(t *testing.T) {
	a := newApp(t, true)
	late := a.addTx(t, "PLATE", 1500, models.KindSale, append(toProcessing, models.TxUpdate{Source: "callback", State: models.TxApproved})...)
	failed := a.addClose(t, models.CloseDay{RequestID: "R-1", State: models.CloseFailed, Trigger: models.TriggerSchedule, DaysFrom: "2026-11-26", DaysTo: "2026-11-26",
		StartedBy: "schedule", Error: "refused by the bank's gateway (code 3): day already closed"})
	explained := a.addClose(t, models.CloseDay{RequestID: "R-2", State: models.CloseFinished, Trigger: models.TriggerCatchUp, DaysFrom: "2026-11-24", DaysTo: "2026-11-26",
		Mismatch: true, Explained: true, AdjustCount: 1, AdjustMinor: 1500, SaleCount: 2, SaleSumMinor: 2000, GwSaleCount: 3, GwSaleSumMinor: 3500, Code39: "00"})
	if err := a.db.Create(&models.CloseAdjustment{CloseDayID: explained.ID, TransactionID: late.ID, ClientOrderID: "PLATE", Kind: models.AdjustAdded,
		AmountMinor: 1500, Reason: "approved after the close went out; the bank counted it"}).Error; err != nil {
		t.Fatal(err)
	}
	next := a.addClose(t, models.CloseDay{RequestID: "R-3", State: models.CloseFinished, Trigger: models.TriggerManual, StartedBy: "admin", DaysFrom: "2026-11-27", DaysTo: "2026-11-27"})
	unexplained := a.addClose(t, models.CloseDay{RequestID: "R-4", State: models.CloseFinished, Mismatch: true, SaleCount: 1, GwSaleCount: 2, Code39: "39", StartedBy: "admin", Trigger: models.TriggerManual})
	admin := a.browser().login("admin", adminPW)

	_, body := admin.get(fmt.Sprintf("/admin/closeday/c/%d", failed.ID))
	box := section(body, `data-testid="close-failed"`)
	if !strings.Contains(box, "day already closed") || !strings.Contains(box, "Its payments go into the next close.") {
		t.Errorf("the failed close's box: %q", box)
	}
	if !strings.Contains(body, "Scheduled close for 2026-11-26") || !strings.Contains(body, "Refused by the bank") {
		t.Error("the failed close lacks its trigger or its refused label")
	}

	_, body = admin.get(fmt.Sprintf("/admin/closeday/c/%d", explained.ID))
	for _, want := range []string{"Catch-up close covering 2026-11-24 to 2026-11-26", "Closed — difference explained", "Totals differ from the bank",
		"We counted 2 sale(s) for 20.00\u00a0EUR; the bank counted 3 for 35.00\u00a0EUR.", "Difference explained by 1 adjustment(s)",
		`data-testid="adjustment-PLATE"`, fmt.Sprintf(`href="/transactions/%d"`, late.ID), "Added: the bank counted it in this close", "15.00\u00a0EUR",
		"approved after the close went out"} {
		if !strings.Contains(body, want) {
			t.Errorf("the explained close's page lacks %q", want)
		}
	}
	if strings.Contains(body, "Looking for the payments") || strings.Contains(body, "code39") {
		t.Error("the explained close says it is still looking, or shows a protocol word")
	}

	_, body = admin.get(fmt.Sprintf("/admin/closeday/c/%d", next.ID))
	carried := section(body, `data-testid="close-carried"`)
	if !strings.Contains(carried, "Carried from the previous close") || !strings.Contains(carried, `data-testid="adjustment-PLATE"`) ||
		!strings.Contains(carried, fmt.Sprintf(`href="/admin/closeday/c/%d"`, explained.ID)) {
		t.Errorf("the next close does not show what the previous one carried: %q", carried)
	}
	if !strings.Contains(body, "Closed by admin") {
		t.Error("a manual close does not say who closed it")
	}

	_, body = admin.get(fmt.Sprintf("/admin/closeday/c/%d", unexplained.ID))
	if !strings.Contains(body, "Looking for the payments that explain the difference") || !strings.Contains(body, "Bank result code 39") ||
		strings.Contains(body, `data-testid="adjustments"`) || strings.Contains(body, `data-testid="close-carried"`) {
		t.Error("the unexplained close's page is wrong")
	}
}
