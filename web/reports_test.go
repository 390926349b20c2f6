package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/example/mposportal/models"
)

// A cashier's shift: started by hand, its X report adds up their payments since (declines
// counted apart, other people's payments left out); ending it gives the shift's report. The
// Z report of the close that followed matches Close Day's own totals: sales and captures,
// refunds and releases.
func TestShiftXReportAndCloseZReport(t *testing.T) {
	a := newApp(t, true)
	staff := a.browser().login("staff", staffPW)
	if resp, _ := staff.post("/shift/start", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start shift: %d", resp.StatusCode)
	}
	users := &models.Users{DB: a.db}
	sam, _ := users.ByUsername(t.Context(), "staff")
	now := a.clock.now()
	day := now.UTC().Format("2006-01-02")
	add := func(id string, minor int64, kind models.TxKind, state models.TxState, by uint) {
		tx := models.Transaction{ClientOrderID: id, EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001", ReaderLabel: "Counter 1",
			Kind: kind, AmountMinor: minor, Currency: "EUR", State: state, StartedByID: by, StartedByName: map[uint]string{1: "admin", sam.ID: "staff"}[by],
			BusinessDay: day, CreatedAt: now.Add(1), FinalAt: &now}
		if err := a.db.Create(&tx).Error; err != nil {
			t.Fatal(err)
		}
	}
	add("PS1", 1000, models.KindSale, models.TxApproved, sam.ID)
	add("PS2", 550, models.KindSale, models.TxApproved, sam.ID)
	add("PS3", 300, models.KindSale, models.TxDeclined, sam.ID)
	add("PS4-R1", 200, models.KindRefund, models.TxApproved, sam.ID)
	add("PA1", 2000, models.KindPreauth, models.TxApproved, 1)
	add("PA1-C1", 1200, models.KindCapture, models.TxApproved, 1)
	add("PA2-V1", 800, models.KindRelease, models.TxApproved, 1)

	_, page := staff.get("/shift")
	for _, want := range []string{`data-testid="shift-report"`, "X report", `data-testid="report-payments-count">2<`,
		`data-testid="report-taken">15.50`, `data-testid="report-net">13.50`, `data-testid="report-declines">1<`, "PS1", "PS4-R1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the X report lacks %q", want)
		}
	}
	if strings.Contains(page, "PA1-C1") {
		t.Error("the cashier's X report holds another person's capture")
	}
	resp, _ := staff.post("/shift/end", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/shifts/") {
		t.Fatalf("end shift: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = staff.get(resp.Header.Get("Location"))
	if !strings.Contains(page, "Shift report") || !strings.Contains(page, `data-testid="report-net">13.50`) || strings.Contains(page, `data-testid="shift-end"`) {
		t.Error("the ended shift's report is wrong")
	}
	// Another cashier cannot read it.
	a.addUser(t, "kim", "Kim-Pass-123", models.RoleStaff)
	kim := a.browser().login("kim", "Kim-Pass-123")
	if resp, _ := kim.get(resp.Header.Get("Location")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another cashier's shift report: %d, want 404", resp.StatusCode)
	}

	// Close Day takes everything approved; its Z report says the same as the close.
	closes := &models.CloseDays{DB: a.db}
	c := models.CloseDay{EndpointID: 1, RequestID: "ZREPORT000000001", Trigger: "manual", State: models.ClosePending}
	if err := closes.Start(t.Context(), &c); err != nil {
		t.Fatal(err)
	}
	if err := closes.Snapshot(t.Context(), &c); err != nil {
		t.Fatal(err)
	}
	c, _ = closes.ByID(t.Context(), c.ID)
	if c.SaleCount != 3 || c.SaleSumMinor != 2750 || c.ReversalCount != 2 || c.ReversalMinor != 1000 {
		t.Fatalf("the close counted %d sales %d, %d reversals %d", c.SaleCount, c.SaleSumMinor, c.ReversalCount, c.ReversalMinor)
	}
	f, err := (&models.Transactions{DB: a.db}).Figures(t.Context(), models.FigureQuery{CloseDayID: c.ID, Currency: "EUR"})
	n, released, _ := (&models.Transactions{DB: a.db}).Releases(t.Context(), c.ID)
	if err != nil || f.Payments != c.SaleCount || f.TakenMinor != c.SaleSumMinor || f.Refunds+n != c.ReversalCount || f.RefundsMinor+released != c.ReversalMinor {
		t.Errorf("the Z report's figures %+v (+%d releases of %d) differ from the close's", f.Takings, n, released)
	}
	admin := a.browser().login("admin", adminPW)
	_, page = admin.get(fmt.Sprintf("/admin/closeday/c/%d/report", c.ID))
	for _, want := range []string{`data-testid="z-report"`, `data-testid="z-our-sales">3 · 27.50`, `data-testid="report-taken">27.50`,
		`data-testid="report-net">25.50`, "Preauth holds released: 1 · 8.00", `data-testid="z-readers"`, `data-testid="z-staff"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the Z report lacks %q", want)
		}
	}
}
