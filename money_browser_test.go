package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A manager refunds part of a sale from its page at 768 px; a second browser watching the
// transactions list sees the refund arrive live; a refund above the endpoint's limit waits
// until an administrator in another browser approves it.
func TestBrowserRefundsAndSecondApproval(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	admin := browserCtx(t)
	setupAdmin(t, admin, p)
	// A manager, and a second-approval limit of 10.00 on the sandbox endpoint.
	createUser(t, admin, p, "mia", "Mia Manager", "manager", "Manager-Pass-1")
	err := chromedp.Run(admin,
		chromedp.Navigate(p.URL+"/admin/endpoints/1"),
		fill(`input[name=refund_approval]`, "10.00"),
		chromedp.Click(`[data-testid="endpoint-save"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="flash"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("set-up: %v\n%s", err, p.logs.String())
	}
	if state, _ := takePayment(t, admin, p, "25.00"); state != "approved" {
		t.Fatalf("the sale: %s", state)
	}
	var saleURL string
	if err := chromedp.Run(admin, chromedp.Location(&saleURL)); err != nil {
		t.Fatal(err)
	}
	// The admin watches the transactions list.
	if err := chromedp.Run(admin, chromedp.Navigate(p.URL+"/transactions"), chromedp.WaitVisible(`[data-testid="tx-filters"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}

	// The manager signs in (setting up two-step sign-in first) and refunds 5.00.
	manager := browserCtx(t)
	login(t, manager, p, "mia", "Manager-Pass-1")
	err = chromedp.Run(manager,
		chromedp.Navigate(saleURL),
		chromedp.WaitVisible(`[data-testid="refund-form"]`, chromedp.ByQuery),
		chromedp.SetValue(`[data-testid="refund-amount"]`, "5.00", chromedp.ByQuery),
		fill(`[data-testid="refund-reason"]`, "damaged box"),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, manager, "refund-form-768")
	var summary string
	err = chromedp.Run(manager,
		chromedp.Click(`[data-testid="refund-submit"]`, chromedp.ByQuery),
		// The refund settles live on the payment's page.
		chromedp.WaitVisible(`[data-testid="operations"] [data-state="approved"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="money-summary"]`, &summary, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("refund: %v\n%s", err, p.logs.String())
	}
	if !strings.Contains(summary, "Partially refunded 5.00\u00a0EUR of 25.00\u00a0EUR") {
		t.Errorf("summary %q", summary)
	}
	screenshot(t, manager, "refunded-768")
	var amount string
	if err := chromedp.Run(admin, chromedp.WaitVisible(`tr[data-testid$="-R1"][data-state="approved"]`, chromedp.ByQuery),
		chromedp.Text(`tr[data-testid$="-R1"] [data-testid="tx-row-amount"]`, &amount, chromedp.ByQuery)); err != nil {
		t.Fatalf("the list did not show the refund live: %v", err)
	}
	if !strings.Contains(amount, "−5.00") { // U+2212, the minus sign
		t.Errorf("the refund's row shows %q, want a negative amount", amount)
	}
	screenshot(t, admin, "transactions-with-refund-768")

	// 15.00 is above the 10.00 limit: it waits for the administrator.
	err = chromedp.Run(manager,
		chromedp.Navigate(saleURL),
		chromedp.WaitVisible(`[data-testid="refund-form"]`, chromedp.ByQuery),
		chromedp.SetValue(`[data-testid="refund-amount"]`, "15.00", chromedp.ByQuery),
		fill(`[data-testid="refund-reason"]`, "wrong size"),
		chromedp.Click(`[data-testid="refund-submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="operations"] [data-state="awaiting_approval"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("refund above the limit: %v", err)
	}
	err = chromedp.Run(admin,
		chromedp.Navigate(p.URL+"/"),
		chromedp.WaitVisible(`[data-testid="needs-attention"] [data-review="approval"] a`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="needs-attention"] [data-review="approval"] a`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="approve"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("the admin does not see the approval: %v", err)
	}
	screenshot(t, admin, "refund-approval-768")
	err = chromedp.Run(admin, chromedp.Click(`[data-testid="approve"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="approved"]`, chromedp.ByQuery))
	if err != nil {
		t.Fatalf("approval: %v\n%s", err, p.logs.String())
	}
	// The manager's page follows live.
	if err := chromedp.Run(manager, chromedp.WaitVisible(`[data-testid="operations"] li:nth-child(2)[data-state="approved"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="money-summary"]`, &summary, chromedp.ByQuery)); err != nil {
		t.Fatalf("the manager's page did not follow: %v", err)
	}
	if !strings.Contains(summary, "Partially refunded 20.00\u00a0EUR of 25.00\u00a0EUR; 5.00\u00a0EUR can still be refunded.") {
		t.Errorf("summary after the approval %q", summary)
	}
	noCSPViolations(t, manager)
}
