// Package templates holds the portal's templ components. Components take plain parameters and
// never query the database or read request state; the page-wide chrome (signed-in user,
// flash message, CSRF token, current path) comes through the context, set by web.
package templates

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
)

// Chrome is what every page's frame needs.
type Chrome struct {
	User      *models.User // nil when signed out
	Flash     string
	CSRFToken string
	// Zone is the store's time zone, in which every time is shown (nil: the server's).
	Zone *time.Location
	// Money is how the store writes numbers (its locale); the zero value writes English.
	Money money.Locale
	Path  string
}

type chromeKey struct{}

// WithChrome attaches the page chrome to a request context.
func WithChrome(ctx context.Context, c Chrome) context.Context {
	return context.WithValue(ctx, chromeKey{}, c)
}

func chrome(ctx context.Context) Chrome {
	c, _ := ctx.Value(chromeKey{}).(Chrome)
	return c
}

func isAdmin(ctx context.Context) bool {
	u := chrome(ctx).User
	return u != nil && u.Role == models.RoleAdmin
}

// displayZone is the zone times are shown in.
func displayZone(ctx context.Context) *time.Location {
	if z := chrome(ctx).Zone; z != nil {
		return z
	}
	return time.Local
}

// isManager reports whether the signed-in user may capture, release, refund and approve
// (managers and administrators).
func isManager(ctx context.Context) bool {
	u := chrome(ctx).User
	return u != nil && u.Role.AtLeast(models.RoleManager)
}

// askedByMe reports whether the signed-in user started t (a refund waiting for approval).
func askedByMe(ctx context.Context, t models.Transaction) bool {
	u := chrome(ctx).User
	return u != nil && t.StartedByID == u.ID
}

// csrfHeaders makes htmx send the CSRF token with every request it makes.
func csrfHeaders(ctx context.Context) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": chrome(ctx).CSRFToken})
	return string(b)
}

// NavItem is one destination in the main navigation.
type NavItem struct{ Href, Label, TestID string }

// navItems are the destinations the signed-in user may open, in the order they are used.
func navItems(ctx context.Context) []NavItem {
	items := []NavItem{{"/counter", "Counter", "nav-counter"}, {"/transactions", "Transactions", "nav-transactions"}, {"/shift", "My shift", "nav-shift"}}
	if isAdmin(ctx) {
		items = append(items, NavItem{"/admin/closeday", "Close Day", "nav-closeday"}, NavItem{"/admin/readers", "Readers", "nav-readers"},
			NavItem{"/admin/users", "Users", "nav-users"}, NavItem{"/admin/endpoints", "Gateway", "nav-endpoints"},
			NavItem{"/admin/callbacks", "Callbacks", "nav-callbacks"}, NavItem{"/admin/audit", "Audit", "nav-audit"})
	}
	return items
}

// navActive reports whether the current page is in the section at prefix.
func navActive(ctx context.Context, prefix string) bool {
	p := chrome(ctx).Path
	return p == prefix || strings.HasPrefix(p, prefix+"/") || strings.HasPrefix(p, prefix+".")
}

// navCurrent marks the current section's link for screen readers.
func navCurrent(ctx context.Context, prefix string) templ.Attributes {
	if navActive(ctx, prefix) {
		return templ.Attributes{"aria-current": "page"}
	}
	return templ.Attributes{}
}

// currentNav names the section the current page is in ("" on the start page), so the closed
// menu still says where the user is.
func currentNav(ctx context.Context) string {
	for _, it := range navItems(ctx) {
		if navActive(ctx, it.Href) {
			return it.Label
		}
	}
	if navActive(ctx, "/account") {
		return "Your account"
	}
	return ""
}

// navClass marks the current section in the navigation.
func navClass(ctx context.Context, prefix string) string {
	if navActive(ctx, prefix) {
		return "nav-link active"
	}
	return "nav-link"
}

// FormErrors maps a field name to its message.
type FormErrors map[string]string
