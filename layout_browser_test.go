package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Every destination is reachable at 390, 768, 1024 and 1280 px, the current page is named,
// and no page is wider than the screen.
func TestBrowserNavigationFitsEveryWidth(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	ctx := browserCtx(t)
	setupAdmin(t, ctx, p)
	if state, _ := takePayment(t, ctx, p, "1234.56"); state != "approved" {
		t.Fatalf("payment: %s", state)
	}
	pages := []struct{ path, nav string }{
		{"/", ""}, {"/counter", "nav-counter"}, {"/transactions", "nav-transactions"}, {"/admin/closeday", "nav-closeday"},
		{"/admin/readers", "nav-readers"}, {"/admin/users", "nav-users"}, {"/admin/endpoints", "nav-endpoints"},
		{"/admin/callbacks", "nav-callbacks"}, {"/admin/audit", "nav-audit"}, {"/account", ""},
	}
	for _, w := range []int64{390, 768, 1024, 1280} {
		if err := chromedp.Run(ctx, emulation.SetDeviceMetricsOverride(w, 900, 1, w < 700)); err != nil {
			t.Fatal(err)
		}
		for _, pg := range pages {
			var scroll, inner int64
			err := chromedp.Run(ctx, chromedp.Navigate(p.URL+pg.path), chromedp.WaitReady(`#main`, chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth`, &scroll), chromedp.Evaluate(`window.innerWidth`, &inner))
			if err != nil {
				t.Fatal(err)
			}
			if scroll > inner {
				t.Errorf("%s at %d px is %d px wide", pg.path, w, scroll)
			}
			if pg.nav == "" {
				continue
			}
			// The active page is marked for screen readers and, below 1250 px, named on the
			// closed menu.
			var current string
			var marked bool
			chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`document.querySelector('[data-testid=%q]').getAttribute('aria-current') === 'page'`, pg.nav), &marked))
			if !marked {
				t.Errorf("%s at %d px: its navigation link is not aria-current", pg.path, w)
			}
			if w < 1250 {
				chromedp.Run(ctx, chromedp.Text(`.nav-current`, &current, chromedp.ByQuery))
				if current == "" {
					t.Errorf("%s at %d px: the menu does not name the page", pg.path, w)
				}
			}
		}
		// Every destination can be opened from the menu (or the bar on a wide screen).
		if w < 1250 {
			if err := chromedp.Run(ctx, chromedp.Click(`[data-testid="nav-menu"]`, chromedp.ByQuery)); err != nil {
				t.Fatal(err)
			}
		}
		for _, pg := range pages {
			if pg.nav == "" {
				continue
			}
			var visible bool
			chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`(function(){var r=document.querySelector('[data-testid=%q]').getBoundingClientRect();return r.width>0&&r.height>0&&r.right<=window.innerWidth;})()`, pg.nav), &visible))
			if !visible {
				t.Errorf("at %d px %s is not reachable", w, pg.nav)
			}
		}
		screenshot(t, ctx, fmt.Sprintf("nav-open-%d", w))
		chromedp.Run(ctx, chromedp.Navigate(p.URL+"/transactions"), chromedp.WaitReady(`#main`, chromedp.ByQuery))
		screenshot(t, ctx, fmt.Sprintf("transactions-%d", w))
	}
	noCSPViolations(t, ctx)
}
