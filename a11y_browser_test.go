package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axeViolation is one rule axe-core found broken on a page, with where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// axeAudit runs axe-core (vendored in testdata/axe) on the page ctx shows and returns its
// serious and critical violations.
func axeAudit(t *testing.T, ctx context.Context) []axeViolation {
	t.Helper()
	src, err := os.ReadFile("testdata/axe/axe-4.14.1.min.js")
	if err != nil {
		t.Fatal(err)
	}
	var all []axeViolation
	err = chromedp.Run(ctx,
		chromedp.Evaluate(string(src), nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)`, &all,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if err != nil {
		t.Fatalf("axe: %v", err)
	}
	var bad []axeViolation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v)
		}
	}
	return bad
}

// Every page a user opens at 768 px passes axe-core with no serious or critical violation.
func TestBrowserAccessibility(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port")
	ctx := browserCtx(t)
	pages := []string{"/setup"}
	check := func(path string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Navigate(p.URL+path), chromedp.WaitReady(`#main`, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		for _, v := range axeAudit(t, ctx) {
			var where []string
			for _, n := range v.Nodes {
				for _, s := range n.Target {
					if str, ok := s.(string); ok {
						where = append(where, str)
					}
				}
			}
			t.Errorf("%s: %s (%s): %s — %s", path, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
		}
	}
	for _, path := range pages {
		check(path)
	}
	setupAdmin(t, ctx, p)
	if state, _ := takePayment(t, ctx, p, "42.00"); state != "approved" {
		t.Fatalf("payment: %s", state)
	}
	var payment string
	chromedp.Run(ctx, chromedp.Location(&payment))
	check(strings.TrimPrefix(payment, p.URL))
	for _, path := range []string{"/", "/counter", "/transactions", "/account", "/second-factor", "/admin/closeday", "/admin/closeday/history",
		"/admin/readers", "/admin/readers/new", "/admin/readers/1", "/admin/users", "/admin/users/1", "/admin/endpoints",
		"/admin/endpoints/1", "/admin/callbacks", "/admin/audit"} {
		check(path)
	}
	chromedp.Run(ctx, chromedp.Navigate(p.URL+"/"), chromedp.Click(`[data-testid="logout"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="login"]`, chromedp.ByQuery))
	check("/login")
}
