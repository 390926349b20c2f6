package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/example/mposportal/models"
)

// TestBrowserCounterGuidesOnADrivenReader, at 768 px: an admin registers SBX-0004 and pairs it
// with `portal reader` (the command a person uses to drive a virtual reader); the counter that
// was already open lets it be chosen the moment it comes online; the waiting screen names it
// and counts down; a .78 payment shows the plain "the bank has not decided yet" line and then
// Approved; the next payment offers the same reader; when the reader goes away the counter
// unchooses it without a reload.
func TestBrowserCounterGuidesOnADrivenReader(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	ctx := browserCtx(t)
	setupAdmin(t, ctx, p)
	code := registerReader(t, ctx, p, "SBX-0004", "Terrace", "Patio")
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.URL+"/counter"),
		chromedp.WaitVisible(`[data-testid="choice-SBX-0004"] input[disabled]`, chromedp.ByQuery), // offline: cannot be chosen
	)
	if err != nil {
		t.Fatalf("register: %v\n%s", err, p.logs.String())
	}
	var checked int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('#reader-choice input:checked').length`, &checked))
	if checked != 0 {
		t.Error("a reader is pre-selected for a user who never took a payment")
	}

	// A person drives the reader from a terminal.
	rctx, stopReader := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runReader(rctx, []string{"-serial", "sbx 0004", "-code", strings.TrimSpace(code), "-portal", p.URL, "-data", p.DataDir,
			"-card", "mastercard", "-tap-delay", "3s"}, io.Discard)
	}()
	defer func() { stopReader(); <-done }()

	var hint, countdown, progress, state string
	err = chromedp.Run(ctx, chromedp.Poll(`document.querySelector('[data-testid="choice-SBX-0004"] input:not([disabled])') !== null`, nil,
		chromedp.WithPollingTimeout(15*time.Second))) // online: live, no reload
	if err != nil {
		db, _ := models.Open(filepath.Join(p.DataDir, "portal.db"), time.Now, nil)
		var rs []models.Reader
		db.Find(&rs)
		for _, r := range rs {
			t.Logf("reader %s online %v enabled %v", r.Serial, r.Online, r.Enabled)
		}
		t.Fatalf("the reader did not become choosable: %v", err)
	}
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="choice-SBX-0004"]`, chromedp.ByQuery),
		fill(`[data-testid="amount"]`, "12.78"),
		chromedp.Click(`[data-testid="start"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="waiting_card"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="tx-hint"]`, &hint, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('[data-testid="tx-countdown"]').textContent.indexOf('stops waiting in') >= 0`, nil),
		chromedp.Text(`[data-testid="tx-countdown"]`, &countdown, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("waiting screen: %v", err)
	}
	if !strings.Contains(hint, "Terrace") || !strings.Contains(hint, "card") {
		t.Errorf("the waiting screen says %q", hint)
	}
	var secs int
	if _, err := fmt.Sscanf(countdown[strings.Index(countdown, "in ")+3:], "%d", &secs); err != nil || secs < 50 || secs > 60 {
		t.Errorf("countdown %q", countdown)
	}
	screenshot(t, ctx, "counter-waiting-768")
	noCSPViolations(t, ctx)
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="processing"]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('[data-testid="tx-hint"]') && document.querySelector('[data-testid="tx-hint"]').textContent.indexOf('has not decided yet') >= 0`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text(`[data-testid="tx-hint"]`, &progress, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("processing: %v\n%s", err, p.logs.String())
	}
	screenshot(t, ctx, "counter-bank-undecided-768")
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="approved"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="tx-status"]`, "data-state", &state, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("approval: %v\n%s", err, p.logs.String())
	}
	var page string
	chromedp.Run(ctx, chromedp.Text(`main`, &page, chromedp.ByQuery))
	for _, raw := range []string{"sale_unknown", "sale_processing", "sale_approved", "unknown_outcome", "waiting_card", "processing →"} {
		if strings.Contains(page, raw) {
			t.Errorf("the payment page shows the raw word %q", raw)
		}
	}
	// The next payment offers the reader just used; when it goes away, it is unchosen live.
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="next-payment"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="choice-SBX-0004"] input:checked`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("next payment: %v", err)
	}
	stopReader()
	<-done
	done <- nil
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(`[data-testid="choice-SBX-0004"] input[disabled]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="reader-lost"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("reader gone: %v", err)
	}
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('#reader-choice input:checked').length`, &checked))
	if checked != 0 {
		t.Error("a reader that went away stays chosen")
	}
	screenshot(t, ctx, "counter-reader-gone-768")
	noCSPViolations(t, ctx)
	// The policy holds: an inline script injected into the page is blocked and reported.
	var ran bool
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`window.__injected = false; var s = document.createElement('script'); s.textContent = 'window.__injected = true'; document.body.appendChild(s)`, nil),
		chromedp.Poll(`window.__csp.length > 0`, nil, chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.Evaluate(`window.__injected`, &ran),
	)
	if err != nil || ran {
		t.Errorf("an injected inline script ran (%v) or was not reported: %v", ran, err)
	}
}
