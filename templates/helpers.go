package templates

import (
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/example/mposportal/models"
)

func itoa(n int) string { return strconv.Itoa(n) }

func uitoa(n uint) string { return strconv.FormatUint(uint64(n), 10) }

// when formats a time for tables, in the server's zone.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return when(*t)
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

func whenMillis(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

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

// stateLabel is how staff read a payment's state.
func stateLabel(s models.TxState) string {
	switch s {
	case models.TxWaitingCard:
		return "Waiting for card"
	case models.TxSending:
		return "Sent to gateway"
	case models.TxUnknown:
		return "Checking outcome"
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
		if c.Mismatch {
			return "Closed, totals differ"
		}
		return "Closed"
	case models.CloseLocked:
		return "Closed, gate still locked"
	case models.CloseFailed:
		return "Failed"
	}
	return c.State
}

// barHeight scales a bar to at most 100 px against the tallest.
func barHeight(b ChartBar, all []ChartBar) int {
	var top int64 = 1
	for _, x := range all {
		top = max(top, x.Minor)
	}
	return int(b.Minor * 100 / top)
}
