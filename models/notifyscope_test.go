package models_test

import (
	"regexp"
	"testing"

	"github.com/example/mposportal/models"
)

// Portals kept apart by schema in one PostgreSQL database get NOTIFY channels of their own.
func TestNotifyChannelNamePerSchema(t *testing.T) {
	for _, tt := range []struct{ dsn, want string }{
		{"postgres://p:p@db:5432/portal", "portal_changes"},
		{"postgres://p:p@db:5432/portal?search_path=public", "portal_changes"},
		{"postgres://p:p@db:5432/portal?sslmode=disable&search_path=t_0a1b2c3d4e5f6071", "portal_changes_t_0a1b2c3d4e5f6071"},
		{"host=db dbname=portal search_path=shop_two", "portal_changes_shop_two"},
	} {
		if got := models.NotifyChannelName(tt.dsn, "portal_changes"); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.dsn, got, tt.want)
		}
	}
	// A schema that is no plain identifier gets a stable, safe name of its own.
	odd := "postgres://p:p@db:5432/portal?search_path=Shop%20Two"
	got := models.NotifyChannelName(odd, "portal_changes")
	if !regexp.MustCompile(`^portal_changes_[0-9a-f]{16}$`).MatchString(got) || got != models.NotifyChannelName(odd, "portal_changes") ||
		got == models.NotifyChannelName("postgres://p:p@db:5432/portal?search_path=Shop%20Three", "portal_changes") {
		t.Errorf("%s: %q", odd, got)
	}
}
