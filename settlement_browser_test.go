package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/example/mposportal/models"
)

// setSandboxFaults replaces the embedded sandbox's fault switches through its admin API.
func setSandboxFaults(t *testing.T, p *portal, faults string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.SandboxURL+"/sandbox/api/faults", strings.NewReader(faults))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sandbox faults %s: %d", faults, resp.StatusCode)
	}
}

// waitSandboxOrder waits until the sandbox's newest order has the status.
func waitSandboxOrder(t *testing.T, p *portal, status string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.SandboxURL + "/sandbox/api/orders")
		if err != nil {
			t.Fatal(err)
		}
		var orders []struct{ Status string }
		err = json.NewDecoder(resp.Body).Decode(&orders)
		resp.Body.Close()
		if err == nil && len(orders) > 0 && orders[0].Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox's newest order is not %s: %+v %v", status, orders, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startPaymentNoWait starts a sale on SBX-0001 from the counter screen and returns the
// payment's id once the gateway has accepted it (processing), without waiting for a final
// state.
func startPaymentNoWait(t *testing.T, ctx context.Context, p *portal, amount string) uint {
	t.Helper()
	var loc string
	err := startOnCounter(ctx, p, amount)
	if err == nil {
		err = chromedp.Run(ctx,
			chromedp.WaitVisible(`[data-testid="tx-status"][data-state="processing"]`, chromedp.ByQuery),
			chromedp.Location(&loc),
		)
	}
	if err != nil {
		t.Fatalf("payment of %s: %v\n%s", amount, err, p.logs.String())
	}
	var id uint
	if _, err := fmt.Sscanf(loc[strings.LastIndex(loc, "/")+1:], "%d", &id); err != nil {
		t.Fatalf("payment page %s: %v", loc, err)
	}
	return id
}

// TestBrowserNeedsReviewQueueAndRefusedClose: a payment the bank stays silent about goes to
// needs review, shows on the start page's queue, and resolves when a manager re-checks it
// there; a close the bank refuses shows its reason, and the next close takes every sale and
// agrees with the bank.
func TestBrowserNeedsReviewQueueAndRefusedClose(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	ctx := browserCtx(t)
	setupAdmin(t, ctx, p)
	if state, _ := takePayment(t, ctx, p, "10.42"); state != "approved" {
		t.Fatalf("10.42: %s", state)
	}

	// The bank goes silent about 12.34 (no callback, status requests fail) ...
	setSandboxFaults(t, p, `{"CallbacksOff": true, "BlackoutAmount": 1234}`)
	id := startPaymentNoWait(t, ctx, p, "12.34")
	// ... for over an hour: the payment's clock is moved back, as if it had been sent then.
	db, err := models.Open(filepath.Join(p.DataDir, "portal.db"), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	if err := db.Model(&models.Transaction{}).Where("id = ?", id).
		Updates(map[string]any{"sent_at": time.Now().UTC().Add(-61 * time.Minute), "next_check_at": time.Now().UTC()}).Error; err != nil {
		t.Fatal(err)
	}
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="needs_review"]`, chromedp.ByQuery), // live, no reload
		chromedp.Navigate(p.URL+"/"),
		chromedp.WaitVisible(`[data-testid="needs-attention"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("needs review: %v\n%s", err, p.logs.String())
	}
	screenshot(t, ctx, "needs-attention-768")
	err = chromedp.Run(ctx,
		chromedp.Click(fmt.Sprintf(`[data-testid="needs-attention"] a[href="/transactions/%d"]`, id), chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="tx-review"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("from the queue to the payment: %v", err)
	}
	screenshot(t, ctx, "needs-review-768")
	// The bank has approved it meanwhile and answers again: the manager's re-check resolves it.
	waitSandboxOrder(t, p, "approved")
	setSandboxFaults(t, p, `{"CallbacksOff": true}`)
	var flash string
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="recheck"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="approved"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="flash"]`, &flash, chromedp.ByQuery),
	)
	if err != nil {
		var evs []models.TxEvent
		db.Where("transaction_id = ?", id).Order("id").Find(&evs)
		for _, ev := range evs {
			t.Logf("timeline: %s %s→%s %s", ev.Source, ev.FromState, ev.ToState, ev.Detail)
		}
		t.Fatalf("re-check: %v (flash %q)", err, flash)
	}
	var left int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('[data-testid="tx-review"]').length`, &left))
	if left != 0 {
		t.Error("the resolved payment still shows its review panel")
	}

	// The bank refuses the close: its reason is shown, nothing is kept in it.
	setSandboxFaults(t, p, `{"RefuseCloseDay": 1}`)
	var reason string
	err = chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/admin/closeday"),
		chromedp.Click(`[data-testid="close-day"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="confirm-yes"]`, chromedp.ByQuery), // "Close the day on …?"
		chromedp.WaitVisible(`[data-testid="close-status"][data-state="failed"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="close-failed"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="close-failed"]`, &reason, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("refused close: %v\n%s", err, p.logs.String())
	}
	if !strings.Contains(reason, "not allowed") || !strings.Contains(reason, "next close") {
		t.Errorf("refused close says %q", reason)
	}
	screenshot(t, ctx, "close-refused-768")
	// The next close counts both sales and agrees with the bank.
	var gwSum, ourSum string
	err = chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/admin/closeday"),
		chromedp.Click(`[data-testid="close-day"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="confirm-yes"]`, chromedp.ByQuery), // "Close the day on …?"
		chromedp.WaitVisible(`[data-testid="close-status"][data-state="finished"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="close-gw-sum"]`, &gwSum, chromedp.ByQuery),
		chromedp.Text(`[data-testid="close-our-sum"]`, &ourSum, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("next close: %v\n%s", err, p.logs.String())
	}
	var mismatch int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('[data-testid="close-mismatch"]').length`, &mismatch))
	if !strings.Contains(gwSum, "22.76") || !strings.Contains(ourSum, "22.76") || mismatch != 0 {
		t.Errorf("next close: ours %q, the bank's %q, mismatch shown %d", ourSum, gwSum, mismatch)
	}
	screenshot(t, ctx, "close-after-refusal-768")
	noCSPViolations(t, ctx)
	// Where the admin is signed in, from the start page (the top bar's name is hidden on a tablet).
	err = chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/"),
		chromedp.Click(`[data-testid="tile-account"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="session"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sessions page: %v", err)
	}
	screenshot(t, ctx, "account-768")
}
