package templates

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
)

func itoa(n int) string { return strconv.Itoa(n) }

func uitoa(n uint) string { return strconv.FormatUint(uint64(n), 10) }

// when formats a time for tables, in the store's time zone, with the zone's name.
func when(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(displayZone(ctx)).Format("2006-01-02 15:04:05 MST")
}

func whenPtr(ctx context.Context, t *time.Time) string {
	if t == nil {
		return "never"
	}
	return when(ctx, *t)
}

func endpointAction(id uint) templ.SafeURL {
	if id == 0 {
		return "/admin/endpoints"
	}
	return templ.SafeURL("/admin/endpoints/" + uitoa(id))
}

func battery(p int) string {
	if p < 0 {
		return "—"
	}
	return strconv.Itoa(p) + " %"
}

func whenMillis(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(displayZone(ctx)).Format("2006-01-02 15:04:05.000 MST")
}

func dash(s string) string { return models.Dash(s) }

// cardLabel is what may be shown of a card: brand and last four, never more.
func cardLabel(t models.Transaction) string {
	if t.CardLast4 == "" {
		return "—"
	}
	b := t.CardBrand
	if b == "" {
		b = "Card"
	}
	return b + " •••• " + t.CardLast4
}

// StateLabel is how staff read a payment's state (for flash messages written by web).
func StateLabel(s models.TxState) string { return stateLabel(s) }

// stateLabel is how staff read a payment's state.
func stateLabel(s models.TxState) string {
	switch s {
	case models.TxAwaitingApproval:
		return "Waiting for approval"
	case models.TxWaitingCard:
		return "Waiting for card"
	case models.TxSending:
		return "Sent to gateway"
	case models.TxUnknown:
		return "Outcome unknown — do not take the payment again yet"
	case models.TxProcessing:
		return "Processing"
	case models.TxNeedsReview:
		return "Needs review"
	case models.TxApproved:
		return "Approved"
	case models.TxDeclined:
		return "Declined"
	case models.TxFiltered:
		return "Declined (fraud filter)"
	case models.TxError:
		return "Error"
	case models.TxCancelled:
		return "Cancelled"
	case models.TxFailed:
		return "Failed"
	}
	return string(s)
}

// age says how long ago t was, in the largest sensible unit.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days"
}

func closeStateLabel(c models.CloseDay) string {
	switch c.State {
	case models.ClosePending, models.CloseSending:
		return "Closing…"
	case models.CloseUnknown:
		return "Outcome unknown: asking again"
	case models.CloseFinished:
		switch {
		case c.Mismatch && c.Explained:
			return "Closed — difference explained"
		case c.Mismatch:
			return "Closed, totals differ"
		}
		return "Closed"
	case models.CloseLocked:
		return "Closed, gate still locked"
	case models.CloseFailed:
		if strings.HasPrefix(c.Error, "refused") {
			return "Refused by the bank"
		}
		return "Failed"
	}
	return string(c.State)
}

// closeTrigger says who or what started a close and the business days it covers.
func closeTrigger(c models.CloseDay) string {
	days := c.DaysFrom
	if c.DaysTo != "" && c.DaysTo != c.DaysFrom {
		days = c.DaysFrom + " to " + c.DaysTo
	}
	switch c.Trigger {
	case models.TriggerSchedule:
		if c.DaysFrom != "" && c.DaysFrom != c.DaysTo && c.DaysTo != "" {
			return "Scheduled close covering " + days
		}
		return "Scheduled close for " + dash(c.DaysTo)
	case models.TriggerCatchUp:
		if c.DaysFrom == c.DaysTo {
			return "Catch-up close for " + dash(c.DaysTo)
		}
		return "Catch-up close covering " + days
	}
	if c.StartedBy == "" {
		return "Closed by hand"
	}
	return "Closed by " + c.StartedBy
}

// closeDays is the business days a close covers, "—" for closes made before they were kept.
func closeDays(c models.CloseDay) string {
	switch {
	case c.DaysFrom == "" && c.DaysTo == "":
		return "—"
	case c.DaysFrom == "" || c.DaysFrom == c.DaysTo:
		return c.DaysTo
	case c.DaysTo == "":
		return c.DaysFrom
	}
	return c.DaysFrom + " to " + c.DaysTo
}

// adjustmentLabel says in plain words what an adjustment did to a close.
func adjustmentLabel(kind string) string {
	switch kind {
	case models.AdjustAdded:
		return "Added: the bank counted it in this close"
	case models.AdjustRemoved:
		return "Removed: the bank did not count it"
	}
	return kind
}

// attentionReason says in plain words why a payment needs someone, and what to do.
func attentionReason(ctx context.Context, t models.Transaction) string {
	switch t.Review {
	case models.ReviewLateApproval:
		return "The bank approved this payment after the counter was told it failed: the customer may have paid twice — refund one of the payments"
	case models.ReviewStatusChanged:
		return "The bank changed this payment's status after it was final: check the payment, then mark it as dealt with"
	case models.ReviewConfirm:
		return "The bank contradicted this payment's status: asking it to confirm"
	case models.ReviewResolution:
		return t.ResolveByName + " says the customer was charged: another manager or admin must approve it"
	case models.ReviewApproval:
		return "A " + string(t.Kind) + " of " + amt(ctx, t.AmountMinor, t.Currency) + " asked by " + t.StartedByName + " waits for another manager's or admin's approval"
	}
	if t.State == models.TxNeedsReview {
		return "No final answer from the bank after an hour: re-check or resolve"
	}
	return ""
}

// stateHint is the counter's line under a state that asks something of the cashier.
func stateHint(s models.TxState) string {
	switch s {
	case models.TxUnknown:
		return "We could not tell if the bank received this payment. We keep asking; do not take the payment again until this says Failed."
	case models.TxNeedsReview:
		return "No final answer from the bank: a manager must check it."
	}
	return ""
}

// barHeight scales a bar to at most 100 px against the tallest.
func barHeight(b ChartBar, all []ChartBar) int {
	var top int64 = 1
	for _, x := range all {
		top = max(top, x.Minor)
	}
	return int(b.Minor * 100 / top)
}

// CardTimeout is how long a reader waits for the card (payments.CardTimeout; templates do not
// import the domain's services).
const CardTimeout = 60 * time.Second

// Available reports whether a reader can be chosen at the counter: online, enabled and not
// waiting for a card for another payment (busy names that payment).
func Available(r models.Reader, busy string) bool {
	return r.Online && r.Enabled && !r.Retired && busy == ""
}

func unixMillis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// readerName is the reader a payment runs on, as the counter calls it.
func readerName(t models.Transaction) string {
	if t.ReaderLabel != "" {
		return t.ReaderLabel + " (" + t.ReaderSerial + ")"
	}
	return t.ReaderSerial
}

func kindLabel(k models.TxKind) string {
	switch k {
	case models.KindPreauth:
		return "Preauth"
	case models.KindCapture:
		return "Capture"
	case models.KindRelease:
		return "Release"
	case models.KindRefund:
		return "Refund"
	}
	return "Sale"
}

// sinceSent is when the payment's request went to the bank (or, before that, its start).
func sinceSent(t models.Transaction) time.Time {
	if t.SentAt != nil {
		return *t.SentAt
	}
	return t.UpdatedAt
}

// progressLine says in plain words where a payment on its way to the bank stands, and what
// happens next: never a gateway stage name.
func progressLine(t models.Transaction) string {
	switch {
	case t.State == models.TxSending:
		return "Card read. Sending the payment to the bank…"
	case t.GatewayStatus == "unknown":
		return "The bank has not decided yet: we keep asking every 5 s. Do not take the payment again."
	}
	return "Sent to the bank, waiting for its answer: we keep asking every 5 s. Do not take the payment again; if the bank has not answered within an hour, a manager checks it."
}

// sourceLabel says where a timeline line came from.
func sourceLabel(s string) string {
	switch s {
	case "reader":
		return "Reader"
	case "request":
		return "Our request"
	case "response":
		return "Bank's answer"
	case "callback":
		return "Bank's notice"
	case "poll":
		return "Status check"
	case "user":
		return "Staff"
	case "system":
		return "Portal"
	}
	return s
}

// keypadKeys are the counter keypad's keys: the digits, the store's decimal separator (none
// for a currency without decimals: a gap keeps the grid) and delete.
func keypadKeys(ctx context.Context, currency string) []string {
	sep := chrome(ctx).Money.DecimalSeparator()
	if money.MinorUnits(currency) == 0 {
		sep = ""
	}
	return []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", sep, "0", "⌫"}
}

// currencySuffix labels an amount field with its currency: " (EUR)".
func currencySuffix(currency string) string {
	if currency == "" {
		return ""
	}
	return " (" + currency + ")"
}

// inputMode is the on-screen keyboard an amount field asks for: digits only when the currency
// has no decimals.
func inputMode(currency string) string {
	if money.MinorUnits(currency) == 0 {
		return "numeric"
	}
	return "decimal"
}

// keyName is how a screen reader says a keypad key.
func keyName(k string) string {
	switch k {
	case ".", ",":
		return "decimal separator"
	case "⌫":
		return "delete the last digit"
	}
	return k
}

// amt shows an amount for people, the way the store writes numbers, with the currency code:
// "1,100,045.66 EUR", "1 100 045,66 EUR", "1,042 JPY".
func amt(ctx context.Context, minor int64, currency string) string {
	return chrome(ctx).Money.Format(minor, currency)
}

// reconciliation says what the bank's result code of a close means: "Reconciled" (00), the
// totals differing (95, with the code), or the code itself for anything else.
func reconciliation(c models.CloseDay) string {
	switch {
	case c.Code39 == "":
		return "—"
	case c.Code39 == "00" && !c.Mismatch:
		return "Reconciled"
	case c.Mismatch && c.Explained:
		return "Totals differed (bank code " + c.Code39 + "), explained"
	case c.Code39 == "95" || c.Mismatch:
		return "Totals differ (bank code " + c.Code39 + ")"
	}
	return "Bank code " + c.Code39
}

// closeOutcome is a close's result in a line for its Z report.
func closeOutcome(c models.CloseDay) string {
	switch {
	case c.State == models.CloseFailed:
		return "The bank refused this close: " + c.Error
	case !c.Settled():
		return "This close is still running: the figures may change."
	}
	return reconciliation(c)
}

// change says how a figure moved against last week's: "+12 % on last week", "new", "".
func change(now, before int64) string {
	switch {
	case before == 0 && now == 0:
		return "same as last week"
	case before == 0:
		return "none last week"
	}
	pct := (now - before) * 100 / abs(before)
	switch {
	case pct > 0:
		return "▲ " + strconv.FormatInt(pct, 10) + " % on last week"
	case pct < 0:
		return "▼ " + strconv.FormatInt(-pct, 10) + " % on last week"
	}
	return "same as last week"
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// ariaCurrent marks the chosen one of a pair of links.
func ariaCurrent(on bool) string {
	if on {
		return "page"
	}
	return "false"
}

// hourHeight scales an hour's net takings to the chart's 95 px.
func hourHeight(h models.HourFigure, all []models.HourFigure) int {
	var most int64
	for _, x := range all {
		most = max(most, abs(x.NetMinor))
	}
	if most == 0 || h.NetMinor == 0 {
		return 0
	}
	return max(1, int(abs(h.NetMinor)*95/most))
}

// breakBeforeCurrency lets a large figure wrap before its currency code, never inside the
// number: the no-break space before the code becomes an ordinary one.
func breakBeforeCurrency(s string) string {
	if i := strings.LastIndex(s, "\u00a0"); i >= 0 {
		return s[:i] + " " + s[i+len("\u00a0"):]
	}
	return s
}

// zoneAbbrev names the zone a day's hours are in, the store's ("EET", or "EEST/EET" on the
// day the clocks change).
func zoneAbbrev(hours []models.HourFigure) string {
	if len(hours) == 0 {
		return ""
	}
	first, last := hours[0].Start.Format("MST"), hours[len(hours)-1].Start.Format("MST")
	if first == last {
		return first
	}
	return first + "/" + last
}

// sharePercent is a share's bar length against the largest share (0–100).
func sharePercent(s models.Share, all []models.Share) int {
	var most int64
	for _, x := range all {
		most = max(most, abs(x.NetMinor()))
	}
	if most == 0 {
		return 0
	}
	return int(abs(s.NetMinor()) * 100 / most)
}
