package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
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
	var payment string
	chromedp.Run(ctx, chromedp.Location(&payment))
	payment = strings.TrimPrefix(payment, p.URL)
	pages := []struct{ path, nav string }{
		{"/", ""}, {"/counter", "nav-counter"}, {"/transactions", "nav-transactions"}, {payment, ""}, {payment + "/receipt", ""},
		{"/admin/closeday", "nav-closeday"}, {"/admin/closeday/history", ""},
		{"/admin/readers", "nav-readers"}, {"/admin/readers/new", ""}, {"/admin/readers/1", ""},
		{"/admin/users", "nav-users"}, {"/admin/users/1", ""}, {"/admin/endpoints", "nav-endpoints"}, {"/admin/endpoints/new", ""},
		{"/admin/endpoints/1", ""}, {"/admin/callbacks", "nav-callbacks"}, {"/admin/audit", "nav-audit"}, {"/account", ""},
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
			if bad := clipped(t, ctx); len(bad) > 0 {
				t.Errorf("%s at %d px: content clipped or scrolled sideways in %v", pg.path, w, bad)
			}
			name := strings.Trim(strings.NewReplacer("/", "-", "admin", "").Replace(pg.path), "-")
			screenshot(t, ctx, fmt.Sprintf("admin-%s-%d", strings.ReplaceAll(cmp.Or(name, "home"), "--", "-"), w))
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
	}
	noCSPViolations(t, ctx)
}

// clippedJS lists the elements whose content is wider than their box and hidden or scrolled
// sideways (an ellipsis that shortens a label on purpose does not count).
const clippedJS = `Array.from(document.querySelectorAll('body *')).filter(function (el) {
	var cs = getComputedStyle(el);
	if (cs.display === 'none' || cs.visibility === 'hidden' || el.closest('[hidden], details:not([open]) > :not(summary)')) { return false; }
	if (cs.overflowX === 'visible' || cs.textOverflow === 'ellipsis') { return false; }
	if (el.classList.contains('visually-hidden') || el.closest('.visually-hidden, thead')) { return false; }
	return el.scrollWidth > el.clientWidth + 1;
}).slice(0, 5).map(function (el) { return el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : ''); })`

func clipped(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var bad []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(clippedJS, &bad)); err != nil {
		t.Fatal(err)
	}
	return bad
}

// Staff see their pages whole at every width too.
func TestBrowserStaffPagesFitEveryWidth(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	ctx := browserCtx(t)
	setupAdmin(t, ctx, p)
	createUser(t, ctx, p, "sam", "Sam Staff", "staff", "Staff-Pass-1")
	staff := browserCtx(t)
	login(t, staff, p, "sam", "Staff-Pass-1")
	if state, _ := takePayment(t, staff, p, "12345.67"); state != "approved" {
		t.Fatalf("payment: %s", state)
	}
	var payment string
	chromedp.Run(staff, chromedp.Location(&payment))
	for _, w := range []int64{390, 768, 1280} {
		if err := chromedp.Run(staff, emulation.SetDeviceMetricsOverride(w, 900, 1, w < 700)); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/", "/counter", "/transactions", strings.TrimPrefix(payment, p.URL), "/account"} {
			var scroll, inner int64
			err := chromedp.Run(staff, chromedp.Navigate(p.URL+path), chromedp.WaitReady(`#main`, chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth`, &scroll), chromedp.Evaluate(`window.innerWidth`, &inner))
			if err != nil {
				t.Fatal(err)
			}
			if scroll > inner {
				t.Errorf("staff %s at %d px is %d px wide", path, w, scroll)
			}
			if bad := clipped(t, staff); len(bad) > 0 {
				t.Errorf("staff %s at %d px: content clipped or scrolled sideways in %v", path, w, bad)
			}
			name := cmp.Or(strings.Trim(strings.ReplaceAll(path, "/", "-"), "-"), "home")
			screenshot(t, staff, fmt.Sprintf("staff-%s-%d", name, w))
		}
	}
	if err := chromedp.Run(staff, emulation.SetDeviceMetricsOverride(768, 1024, 1, false)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/counter", "/transactions", strings.TrimPrefix(payment, p.URL), "/account"} {
		if err := chromedp.Run(staff, chromedp.Navigate(p.URL+path), chromedp.WaitReady(`#main`, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		for _, v := range axeAudit(t, staff) {
			t.Errorf("staff %s: %s (%s): %s", path, v.ID, v.Impact, v.Help)
		}
	}
}
