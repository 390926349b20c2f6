// Package templates holds the portal's templ components. Components take plain parameters and
// never query the database or read request state; the page-wide chrome (signed-in user,
// flash message, CSRF token, current path) comes through the context, set by web.
package templates

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/example/mposportal/models"
)

// Chrome is what every page's frame needs.
type Chrome struct {
	User      *models.User // nil when signed out
	Flash     string
	CSRFToken string
	Path      string
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

// navClass marks the current section in the navigation.
func navClass(ctx context.Context, prefix string) string {
	p := chrome(ctx).Path
	if p == prefix || strings.HasPrefix(p, prefix+"/") {
		return "nav-link active"
	}
	return "nav-link"
}

// FormErrors maps a field name to its message.
type FormErrors map[string]string
