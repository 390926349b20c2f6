package web

import (
	"context"
	"encoding/csv"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"
)

// The transactions list exports exactly its filtered view, every page, twice over: XLSX for
// people (a bookkeeper's spreadsheet: typed cells, nothing to re-interpret) and CSV for programs
// (plain text, and still safe to double-click). Both are written from one list of columns, so
// they never drift apart.

// cellKind is what a column holds, which decides how each format writes it.
type cellKind uint8

const (
	cellText   cellKind = iota // words a person or the gateway wrote: names, labels, messages, states
	cellCode                   // identifiers and codes: every character counts ("001234567890", "05")
	cellAmount                 // signed minor units in the row's currency
	cellTime                   // an instant
)

type exportCell struct {
	kind     cellKind
	text     string
	minor    int64
	currency string
	at       time.Time
}

func textCell(s string) exportCell { return exportCell{kind: cellText, text: s} }
func codeCell(s string) exportCell { return exportCell{kind: cellCode, text: s} }

// txExportHeader names the columns of txExportRow. New columns go at the end: programs read
// the CSV by position.
var txExportHeader = []string{"created_at", "client_order_id", "gateway_order_id", "type", "amount", "currency", "state",
	"gateway_status", "card_brand", "card_last4", "approval_code", "rrn", "reader", "started_by", "error_code", "error_message",
	"original_order", "reader_label", "description"}

// txExportWidths are the XLSX column widths, in characters.
var txExportWidths = []float64{20, 18, 16, 9, 12, 9, 12, 14, 11, 10, 13, 15, 12, 14, 10, 30, 18, 16, 30}

// txExportRow is one payment as export cells. Amounts are signed (a refund is negative): the
// column adds up to what was taken.
func txExportRow(t *models.Transaction) []exportCell {
	return []exportCell{{kind: cellTime, at: t.CreatedAt}, codeCell(t.ClientOrderID), codeCell(t.GatewayOrderID),
		textCell(string(t.Kind)), {kind: cellAmount, minor: t.SignedMinor(), currency: t.Currency}, textCell(t.Currency),
		textCell(string(t.State)), textCell(t.GatewayStatus), textCell(t.CardBrand), codeCell(t.CardLast4),
		codeCell(t.ApprovalCode), codeCell(t.RRN), codeCell(t.ReaderSerial), textCell(t.StartedByName), codeCell(t.ErrorCode),
		textCell(t.ErrorMessage), codeCell(t.ParentOrderID), textCell(t.ReaderLabel), textCell(t.Description)}
}

// exportPage is how many payments an export loads at a time: memory stays bounded however
// many payments the view holds.
const exportPage = 1000

// eachTx calls fn for every payment of the filtered view, newest first, a page at a time.
func (s *PaymentHandlers) eachTx(ctx context.Context, q models.TxFilter, fn func(t *models.Transaction) error) error {
	q.Limit = exportPage
	for {
		ts, err := s.txQ.List(ctx, q)
		if err != nil {
			return err
		}
		for i := range ts {
			if err := fn(&ts[i]); err != nil {
				return err
			}
		}
		if len(ts) < q.Limit {
			return nil
		}
		q.BeforeID = ts[len(ts)-1].ID
	}
}

// transactionsCSV handles "GET /transactions.csv": exactly the filtered view, every page. The
// file is UTF-8 with a byte-order mark (without one Excel reads it in the system's legacy code
// page and mangles every non-ASCII name) and CRLF line ends (RFC 4180). Times are ISO 8601 in
// the store's zone with its offset; amounts are plain signed decimals with a currency column.
// Codes are written by csvCode, other text by csvSafe.
func (s *PaymentHandlers) transactionsCSV(c *gin.Context) {
	ctx := c.Request.Context()
	_, q := s.txFilter(c)
	zone := s.store(ctx).zone
	var w *csv.Writer
	start := func() {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="transactions.csv"`)
		c.Writer.WriteString(utf8BOM)
		w = csv.NewWriter(c.Writer)
		w.UseCRLF = true
		w.Write(txExportHeader)
	}
	err := s.eachTx(ctx, q, func(t *models.Transaction) error {
		if w == nil {
			start()
		}
		return w.Write(csvRecord(txExportRow(t), zone))
	})
	switch {
	case err != nil && w == nil: // nothing sent yet: an error page
		fail(c, err)
		return
	case err != nil: // the download has begun and ends short; all that is left is the log
		s.log.Error("csv export", "error", err)
	case w == nil: // an empty view: the header alone
		start()
	}
	w.Flush()
}

const utf8BOM = "\uFEFF"

// csvRecord writes export cells as CSV fields; times in zone.
func csvRecord(cells []exportCell, zone *time.Location) []string {
	rec := make([]string, len(cells))
	for i, x := range cells {
		switch x.kind {
		case cellCode:
			rec[i] = csvCode(x.text)
		case cellAmount:
			rec[i] = money.Plain(x.minor, x.currency) // a number: "-12.50" is not a formula
		case cellTime:
			rec[i] = x.at.In(zone).Format(time.RFC3339)
		default:
			rec[i] = csvSafe(x.text)
		}
	}
	return rec
}

// csvSafe keeps a spreadsheet from running a cell as a formula: text that starts with one of
// the characters OWASP lists (= + - @, tab, carriage return) gets a leading apostrophe, which
// the spreadsheet shows.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// csvCodeText is what csvCode wraps: letters, digits and - . _ / : only (at most 255, the
// longest text an Excel formula may hold). No quote can end the formula's string early, so
// the formula is that text and nothing else whatever the gateway or a reader sent.
var csvCodeText = regexp.MustCompile(`^[0-9A-Za-z._/:-]{1,255}$`)

// csvCode writes a code so that a spreadsheet opening the CSV keeps it exactly: as ="0012…", a
// formula whose value is the text. Excel, LibreOffice and Google Sheets then keep leading zeros
// ("05", "012345") and show a 12-digit RRN as written instead of 1.23457E+11, and no code turns
// into a date ("3-12") or a number ("1E5"); a LibreOffice set not to evaluate formulas on
// import shows the ="…" itself, every digit still there. A program reading the file strips the
// leading =" and the closing ". This is the one formula the CSV ever carries, and only ever a string
// literal (csvCodeText); other codes go through csvSafe like any text. A tab or apostrophe
// prefix was not chosen: a leading tab is itself a formula-injection vector, and an apostrophe
// stays visible. For a spreadsheet the XLSX export, with real text cells, is the better file.
func csvCode(s string) string {
	if csvCodeText.MatchString(s) {
		return `="` + s + `"`
	}
	return csvSafe(s)
}

// xlsxMaxRows is how many rows a worksheet holds (Excel's limit), the header included.
const xlsxMaxRows = 1 << 20

var errTooManyRows = errStatus(http.StatusUnprocessableEntity,
	"This view has more payments than one spreadsheet holds. Narrow the dates, or export CSV.")

// transactionsXLSX handles "GET /transactions.xlsx": the CSV's view and columns as a workbook
// of typed cells: amounts are numbers in the currency's decimals, times are dates in the
// store's zone (named in the header), codes are text cells, so nothing is re-read by the
// spreadsheet. Rows stream to a temporary file (excelize's StreamWriter), a page of payments
// at a time; the workbook is sent once whole, so a failure is an error page, not a short file.
func (s *PaymentHandlers) transactionsXLSX(c *gin.Context) {
	ctx := c.Request.Context()
	_, q := s.txFilter(c)
	zone := s.store(ctx).zone
	header := append([]string{}, txExportHeader...)
	header[0] = "created_at (" + zoneName(zone) + ")"
	x, err := newXLSXSheet("Transactions", header, txExportWidths, zone)
	if err != nil {
		fail(c, err)
		return
	}
	defer x.close()
	err = s.eachTx(ctx, q, func(t *models.Transaction) error { return x.add(txExportRow(t)) })
	if err == nil {
		err = x.sw.Flush()
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	c.Header("Content-Disposition", `attachment; filename="transactions.xlsx"`)
	if err := x.f.Write(c.Writer); err != nil {
		s.log.Error("xlsx export", "error", err) // the download has begun
	}
}

// xlsxSheet is a one-sheet workbook being streamed.
type xlsxSheet struct {
	f                                 *excelize.File
	sw                                *excelize.StreamWriter
	zone                              *time.Location
	row                               int // the last row written
	headerStyle, dateStyle, codeStyle int
	amountStyle                       map[int]int // by the currency's decimals
}

func newXLSXSheet(name string, header []string, widths []float64, zone *time.Location) (*xlsxSheet, error) {
	x := &xlsxSheet{f: excelize.NewFile(), zone: zone, amountStyle: map[int]int{}}
	err := x.f.SetSheetName(x.f.GetSheetName(0), name)
	if err == nil {
		x.sw, err = x.f.NewStreamWriter(name)
	}
	// yyyy-mm-dd reads the same in every locale; a built-in date format follows the viewer's.
	dateFmt, codeFmt := "yyyy-mm-dd hh:mm:ss", 49 // 49 is "@", text: an edited code stays text
	if err == nil {
		x.dateStyle, err = x.f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt})
	}
	if err == nil {
		x.codeStyle, err = x.f.NewStyle(&excelize.Style{NumFmt: codeFmt})
	}
	if err == nil {
		x.headerStyle, err = x.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	}
	for i := 0; err == nil && i < len(widths); i++ {
		err = x.sw.SetColWidth(i+1, i+1, widths[i])
	}
	if err == nil {
		err = x.sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	}
	if err == nil {
		cells := make([]any, len(header))
		for i, h := range header {
			cells[i] = excelize.Cell{StyleID: x.headerStyle, Value: h}
		}
		err = x.sw.SetRow("A1", cells)
		x.row = 1
	}
	if err != nil {
		x.f.Close()
		return nil, err
	}
	return x, nil
}

// add writes one row.
func (x *xlsxSheet) add(cells []exportCell) error {
	if x.row >= xlsxMaxRows {
		return errTooManyRows
	}
	vals := make([]any, len(cells))
	for i, c := range cells {
		switch c.kind {
		case cellAmount:
			d := money.MinorUnits(c.currency)
			style, err := x.amountStyleFor(d)
			if err != nil {
				return err
			}
			// minor / 10^d is the double nearest the decimal amount, as reading "10.42" gives.
			vals[i] = excelize.Cell{StyleID: style, Value: float64(c.minor) / math.Pow10(d)}
		case cellTime:
			// excelize writes the wall clock of the time's own zone: the store's.
			vals[i] = excelize.Cell{StyleID: x.dateStyle, Value: c.at.In(x.zone)}
		case cellCode:
			if c.text != "" {
				vals[i] = excelize.Cell{StyleID: x.codeStyle, Value: c.text}
			}
		default:
			// A text cell is shown, never evaluated, whatever it starts with: no apostrophe.
			if c.text != "" {
				vals[i] = c.text
			}
		}
	}
	x.row++
	cell, err := excelize.CoordinatesToCellName(1, x.row)
	if err != nil {
		return err
	}
	return x.sw.SetRow(cell, vals)
}

// amountStyleFor is the number format for amounts with d decimals: "#,##0.00" for two.
func (x *xlsxSheet) amountStyleFor(d int) (int, error) {
	if s, ok := x.amountStyle[d]; ok {
		return s, nil
	}
	format := "#,##0"
	if d > 0 {
		format += "." + strings.Repeat("0", d)
	}
	s, err := x.f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err == nil {
		x.amountStyle[d] = s
	}
	return s, err
}

// close removes the workbook's temporary files.
func (x *xlsxSheet) close() { x.f.Close() }
