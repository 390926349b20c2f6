package templates

import (
	"strings"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
)

// Receipt is what a receipt says, in words, written once for the printed page and for the
// e-mail, so both say the same. It carries no more of the card than its brand and last four.
type Receipt struct {
	TxID      uint
	State     models.TxState
	Merchant  string   // trading name
	Address   []string // address lines
	VATNumber string
	Kind      string // "Sale", "Preauthorisation", "Capture", "Refund", "Release"
	Lines     []ReceiptLine
	// AmountLabel and Amount: "Total", "10.42 EUR"; a refund shows money returned.
	AmountLabel, Amount string
	Result              string // "Approved", "Declined: insufficient funds"
	Approved            bool
	// Notice says plainly what happened to the customer's money when it is not the obvious:
	// nothing was charged, the amount is only held.
	Notice string
	Footer string
	Final  bool // the bank has answered: this is a receipt
}

// ReceiptLine is one "label  value" line.
type ReceiptLine struct{ ID, Label, Value string }

// ReceiptMailForm is the receipt page's "E-mail this receipt" form and what was sent.
type ReceiptMailForm struct {
	Enabled bool   // e-mail is configured and the payment is final
	Key     string // one-time key: a double tap sends once
	To      string
	Error   string
	Sent    []models.ReceiptMail
}

// NewReceipt writes payment t's receipt for the store e, with times in zone and amounts the
// store's way. parent is the payment an operation (capture, refund, release) acts on; nil for
// a payment.
func NewReceipt(t models.Transaction, e models.Endpoint, parent *models.Transaction, zone *time.Location, loc money.Locale) Receipt {
	r := Receipt{TxID: t.ID, State: t.State, Merchant: e.TradingName(), VATNumber: e.VATNumber, Kind: receiptKind(t.Kind),
		Footer: e.ReceiptFooter, Final: t.State.Final(), Approved: t.State == models.TxApproved}
	if r.Merchant == "" {
		r.Merchant = "Card payment"
	}
	for _, l := range []string{e.Address1, e.Address2, strings.TrimSpace(e.ZipCode + " " + e.City), e.Country} {
		if l != "" {
			r.Address = append(r.Address, l)
		}
	}
	at := t.CreatedAt
	if t.FinalAt != nil {
		at = *t.FinalAt // when the bank decided
	}
	stamp := func(x time.Time) string { return x.In(zone).Format("2006-01-02 15:04:05 MST") }
	add := func(id, label, value string) {
		if value != "" {
			r.Lines = append(r.Lines, ReceiptLine{id, label, value})
		}
	}
	add("date", "Date", stamp(at))
	if t.Kind.Operation() {
		of := t.ParentOrderID
		if parent != nil {
			of = parent.ClientOrderID + " (" + receiptKind(parent.Kind) + " of " + stamp(parent.CreatedAt) + ")"
		}
		add("original", "Original payment", of)
	}
	add("terminal", "Terminal", readerName(t))
	add("terminal-id", "Terminal ID", t.TerminalID)
	if t.CardLast4 != "" {
		add("card", "Card", cardLabel(t))
	}
	add("entry", "Entry", entryLabel(t.EntryMode))
	add("approval", "Approval code", t.ApprovalCode)
	add("rrn", "RRN", t.RRN)
	add("order", "Order", t.ClientOrderID)
	if t.Kind == models.KindRefund {
		add("reason", "Reason", t.Description)
	}

	r.AmountLabel, r.Amount = "Amount", loc.Format(t.AmountMinor, t.Currency)
	switch {
	case r.Approved && t.Kind == models.KindRefund:
		r.AmountLabel, r.Amount = "Refunded to the card", loc.Format(t.SignedMinor(), t.Currency)
	case r.Approved && t.Kind == models.KindPreauth:
		r.AmountLabel = "Held on the card"
	case r.Approved && t.Kind == models.KindRelease:
		r.AmountLabel = "Hold released"
	case r.Approved:
		r.AmountLabel = "Total charged"
	}
	r.Result, r.Notice = receiptResult(t)
	return r
}

// receiptKind is a payment's kind as a receipt names it.
func receiptKind(k models.TxKind) string {
	if k == models.KindPreauth {
		return "Preauthorisation"
	}
	return kindLabel(k)
}

// entryLabel says how the card was presented ("" when not known).
func entryLabel(mode string) string {
	switch mode {
	case "chip":
		return "Chip"
	case "contactless":
		return "Contactless"
	case "swipe":
		return "Magnetic stripe"
	case "fallback_swipe":
		return "Magnetic stripe (chip not read)"
	}
	return mode
}

// receiptResult is the bank's answer in words, and what it means for the customer's money.
func receiptResult(t models.Transaction) (result, notice string) {
	reason := func(s string) string {
		if t.ErrorMessage != "" {
			return s + ": " + t.ErrorMessage
		}
		return s
	}
	nothing := "Nothing was charged to the card."
	switch t.Kind {
	case models.KindRefund:
		nothing = "Nothing was refunded to the card."
	case models.KindRelease:
		nothing = "The hold was not released: the amount stays held on the card."
	}
	switch t.State {
	case models.TxApproved:
		switch t.Kind {
		case models.KindPreauth:
			return "Approved", "The amount is held on the card, not charged: it is charged when the payment is captured."
		case models.KindRelease:
			return "Approved", "The held amount is released: nothing was charged for it."
		}
		return "Approved", ""
	case models.TxDeclined:
		return reason("Declined"), nothing
	case models.TxFiltered:
		return reason("Declined by the bank's fraud checks"), nothing
	case models.TxError, models.TxFailed:
		return reason("Failed"), nothing
	case models.TxCancelled:
		return "Cancelled", nothing
	case models.TxAwaitingApproval:
		return "Waiting for a second person's approval", "Nothing has been sent to the bank yet: this is not a receipt."
	}
	return "Not decided yet", "The bank has not answered yet: this is not a receipt."
}

// Subject is the receipt e-mail's subject.
func (r Receipt) Subject() string {
	return "Receipt from " + r.Merchant + ": " + r.Kind + " " + r.Amount
}

// Text is the receipt as plain text, for e-mail: the same lines as the page.
func (r Receipt) Text() string {
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\n") }
	pair := func(label, value string) {
		pad := 18 - len([]rune(label))
		line(label + ":" + strings.Repeat(" ", max(1, pad)) + value)
	}
	line(r.Merchant)
	for _, a := range r.Address {
		line(a)
	}
	if r.VATNumber != "" {
		line("VAT / reg. no. " + r.VATNumber)
	}
	line("")
	line(strings.ToUpper(r.Kind))
	for _, l := range r.Lines {
		pair(l.Label, l.Value)
	}
	line("")
	pair(r.AmountLabel, r.Amount)
	line(r.Result)
	if r.Notice != "" {
		line(r.Notice)
	}
	if r.Footer != "" {
		line("")
		line(r.Footer)
	}
	return b.String()
}
