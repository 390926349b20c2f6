package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRestartShowsTheBannerAndCatchesUp, at 768 px: a payment's page is open when the
// portal stops; the screen says its live updates are paused. The bank approved the payment
// while the portal could not hear it (no notice, status questions failing); when the portal
// comes back on the same address, the screen reconnects by itself, the banner goes, and it
// shows the approval without anyone reloading.
func TestBrowserRestartShowsTheBannerAndCatchesUp(t *testing.T) {
	p := startPortal(t, "-addr", freeAddr(t), "-sandbox-addr", freeAddr(t), "-sandbox-any-callback-port")
	ctx := browserCtx(t)
	setupAdmin(t, ctx, p)

	// The bank stays silent about 12.34 while this portal runs (the switches live in the
	// sandbox's memory: the restart clears them, as a network fault ends).
	setSandboxFaults(t, p, `{"CallbacksOff": true, "BlackoutAmount": 1234}`)
	id := startPaymentNoWait(t, ctx, p, "12.34")
	waitSandboxOrder(t, p, "approved") // decided at the bank; the portal does not know yet
	var hidden bool
	err := chromedp.Run(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/transactions/%d", p.URL, id)),
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="processing"]`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById('live-banner').hidden`, &hidden, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if err != nil {
		t.Fatalf("the payment's page: %v", err)
	}

	p.stop()
	err = chromedp.Run(ctx, chromedp.WaitVisible(`[data-testid="live-banner"]`, chromedp.ByQuery))
	if err != nil {
		t.Fatalf("no banner while the portal is down: %v", err)
	}
	var banner string
	chromedp.Run(ctx, chromedp.Text(`[data-testid="live-banner"]`, &banner, chromedp.ByQuery))
	screenshot(t, ctx, "connection-lost-768")

	p.launch(t)
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(`[data-testid="tx-status"][data-state="approved"]`, chromedp.ByQuery),
		chromedp.WaitNotVisible(`[data-testid="live-banner"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("the screen did not catch up after the restart: %v\n%s", err, p.logs.String())
	}
	if banner == "" {
		t.Error("the banner says nothing")
	}
	screenshot(t, ctx, "caught-up-768")
}
