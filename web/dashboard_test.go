package web_test

import (
	"strings"
	"testing"

	"github.com/example/mposportal/models"
)

// The start page opens on the day's figures: the whole store's for an administrator (with the
// breakdown by staff member), a cashier's own by default, and the store's when they ask.
func TestStartPageShowsTheDaysFigures(t *testing.T) {
	a := newApp(t, true)
	users := &models.Users{DB: a.db}
	staffUser, _ := users.ByUsername(t.Context(), "staff")
	day := a.clock.now().UTC().Format("2006-01-02")
	lastWeek := a.clock.now().UTC().AddDate(0, 0, -7)
	add := func(id string, minor int64, kind models.TxKind, state models.TxState, by uint, name string, at string) {
		tx := models.Transaction{ClientOrderID: id, EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001", ReaderLabel: "Counter 1",
			Kind: kind, AmountMinor: minor, Currency: "EUR", State: state, StartedByID: by, StartedByName: name, BusinessDay: at}
		if err := a.db.Create(&tx).Error; err != nil {
			t.Fatal(err)
		}
	}
	add("PA", 10000, models.KindSale, models.TxApproved, staffUser.ID, "staff", day)
	add("PB", 5000, models.KindSale, models.TxApproved, 1, "admin", day)
	add("PC", 2000, models.KindRefund, models.TxApproved, 1, "admin", day)
	add("PD", 700, models.KindSale, models.TxDeclined, staffUser.ID, "staff", day)
	add("PE", 6500, models.KindSale, models.TxApproved, 1, "admin", lastWeek.Format("2006-01-02"))

	admin := a.browser().login("admin", adminPW)
	_, page := admin.get("/")
	for _, want := range []string{`data-testid="dashboard"`, "Today's takings", "130.00\u00a0EUR", "▲ 100 % on last week", `data-testid="dash-staff"`,
		`data-testid="dash-hours"`, "By reader", "Counter 1 (SBX-0001)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the admin's start page lacks %q", want)
		}
	}
	staff := a.browser().login("staff", staffPW)
	_, page = staff.get("/")
	if !strings.Contains(page, "Your takings today") || !strings.Contains(page, "100.00\u00a0EUR") || strings.Contains(page, "130.00\u00a0EUR") ||
		strings.Contains(page, `data-testid="dash-staff"`) {
		t.Error("a cashier's start page does not show only their own figures")
	}
	_, page = staff.get("/?who=all")
	if !strings.Contains(page, "Today's takings") || !strings.Contains(page, "130.00\u00a0EUR") || strings.Contains(page, `data-testid="dash-staff"`) {
		t.Error("a cashier asking for the whole store's figures does not get them (without the staff breakdown)")
	}
}
