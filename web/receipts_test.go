package web_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/mailer"
	"github.com/example/mposportal/mailer/mailertest"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/web"
)

var (
	reTags    = regexp.MustCompile(`<[^>]*>`)
	reTagName = regexp.MustCompile(`^<([a-z0-9]+)`)
	reSpaces  = regexp.MustCompile(`[ \t\r\n]+`) // not the no-break space between an amount and its currency
)

// testidText is the text of the element marked data-testid=id: tags dropped, entities
// decoded, spaces collapsed ("" when there is no such element).
func testidText(page, id string) string {
	at := strings.Index(page, `data-testid="`+id+`"`)
	if at < 0 {
		return ""
	}
	open := strings.LastIndex(page[:at], "<")
	m := reTagName.FindStringSubmatch(page[open:])
	if m == nil {
		return ""
	}
	// The element's end: its closing tag, counting the same tags nested inside it.
	start := open + strings.Index(page[open:], ">") + 1
	depth, end := 1, start
	for depth > 0 {
		nextOpen := -1
		if loc := regexp.MustCompile(`<` + m[1] + `[\s>]`).FindStringIndex(page[end:]); loc != nil {
			nextOpen = loc[0]
		}
		nextClose := strings.Index(page[end:], "</"+m[1]+">")
		if nextClose < 0 {
			return ""
		}
		if nextOpen >= 0 && nextOpen < nextClose {
			depth, end = depth+1, end+nextOpen+1
			continue
		}
		depth, end = depth-1, end+nextClose
		if depth > 0 {
			end++
		}
	}
	text := html.UnescapeString(reTags.ReplaceAllString(page[start:end], " "))
	return strings.TrimSpace(reSpaces.ReplaceAllString(text, " "))
}

// receiptStore gives endpoint 1 its receipt details through the admin's endpoint form, in
// the Riga time zone.
func receiptStore(t *testing.T, a *app) {
	t.Helper()
	admin := a.browser().login("admin", adminPW)
	form := url.Values{"name": {"Main"}, "endpoint_id": {"1234"}, "login": {"merchantlogin"}, "currency": {"EUR"},
		"base_url": {"https://gate.example.com"}, "address1": {"1 Main St"}, "city": {"Riga"}, "zip_code": {"LV-1010"},
		"country": {"LV"}, "email": {"shop@example.com"}, "enabled": {"1"}, "time_zone": {"Europe/Riga"},
		"merchant_name": {"Kafejnīca Rīga"}, "address2": {"Floor 2"}, "vat_number": {"LV 4000300 0000"}, "receipt_footer": {"Paldies! Returns within 14 days."}}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("vat_number", "LV<1>")
	resp, body := admin.post("/admin/endpoints/1", bad)
	if resp.StatusCode != http.StatusUnprocessableEntity || testidText(body, "error-vat_number") == "" {
		t.Fatalf("a malformed VAT number: %d, message %q", resp.StatusCode, testidText(body, "error-vat_number"))
	}
	if resp, body := admin.post("/admin/endpoints/1", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the receipt details: %d %s", resp.StatusCode, body)
	}
	_, page := admin.get("/admin/endpoints/1")
	for _, v := range []string{`value="Kafejnīca Rīga"`, `value="Floor 2"`, `value="LV 4000300 0000"`, `value="Paldies! Returns within 14 days."`} {
		if !strings.Contains(page, v) {
			t.Errorf("the endpoint form does not show %s", v)
		}
	}
}

// addRow stores a payment or an operation as the payment flow would have left it.
func (a *app) addRow(t *testing.T, tx models.Transaction, steps ...models.TxUpdate) models.Transaction {
	t.Helper()
	s := &models.Transactions{DB: a.db}
	tx.EndpointID, tx.ReaderID, tx.ReaderSerial, tx.ReaderLabel = 1, 1, "SBX-0001", "Counter 1"
	tx.Currency, tx.State, tx.StartedByName = "EUR", models.TxWaitingCard, "staff"
	if tx.Kind.Operation() {
		tx.State = models.TxSending
	}
	if err := s.Create(context.Background(), &tx, "started"); err != nil {
		t.Fatal(err)
	}
	for _, u := range steps {
		if _, err := s.Apply(context.Background(), tx.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ByID(context.Background(), tx.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// approvedSale is a contactless Visa sale the bank approved.
func approvedSale(t *testing.T, a *app, id string, amount int64) models.Transaction {
	return a.addRow(t, models.Transaction{ClientOrderID: id, Kind: models.KindSale, AmountMinor: amount},
		models.TxUpdate{Source: "reader", State: models.TxSending, CardBrand: "VISA", CardBIN: "411111", CardLast4: "1111", EntryMode: "contactless"},
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969106"},
		models.TxUpdate{Source: "callback", State: models.TxApproved, ApprovalCode: "242805", RRN: "510321889824"})
}

// rigaTime is how a receipt writes a time: in the store's zone, with the zone's abbreviation.
func rigaTime(t *testing.T, at time.Time) string {
	t.Helper()
	riga, err := time.LoadLocation("Europe/Riga")
	if err != nil {
		t.Fatal(err)
	}
	s := at.In(riga).Format("2006-01-02 15:04:05 MST")
	if !strings.HasSuffix(s, " EET") && !strings.HasSuffix(s, " EEST") {
		t.Fatalf("Riga's time %q has no zone abbreviation", s)
	}
	return s
}

func TestReceiptSaysWhatTheRulesAsk(t *testing.T) {
	a := newApp(t, true)
	receiptStore(t, a)
	sale := approvedSale(t, a, "PRCPT", 1042)
	staff := a.browser().login("staff", staffPW)

	resp, page := staff.get(fmt.Sprintf("/transactions/%d/receipt", sale.ID))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("receipt: %d", resp.StatusCode)
	}
	for id, want := range map[string]string{
		"receipt-merchant": "Kafejnīca Rīga",
		"receipt-address":  "1 Main St Floor 2 LV-1010 Riga LV",
		"receipt-vat":      "VAT / reg. no. LV 4000300 0000",
		"receipt-kind":     "Sale",
		"receipt-date":     "Date " + rigaTime(t, *sale.FinalAt),
		"receipt-terminal": "Terminal Counter 1 (SBX-0001)",
		"receipt-card":     "Card VISA •••• 1111",
		"receipt-entry":    "Entry Contactless",
		"receipt-approval": "Approval code 242805",
		"receipt-rrn":      "RRN 510321889824",
		"receipt-order":    "Order PRCPT",
		"receipt-amount":   "Total charged 10.42\u00a0EUR",
		"receipt-result":   "Approved",
		"receipt-footer":   "Paldies! Returns within 14 days.",
	} {
		if got := testidText(page, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	if strings.Contains(page, "411111") {
		t.Error("the receipt shows the card's first digits")
	}
	if strings.Contains(page, `data-testid="receipt-notice"`) {
		t.Error("an approved sale's receipt carries a notice")
	}
	if strings.Contains(page, `data-testid="receipt-email"`) {
		t.Error("the e-mail form is offered with no mail server configured")
	}
	if resp, _ := staff.post(fmt.Sprintf("/transactions/%d/receipt/email", sale.ID), url.Values{"email": {"anna@example.com"}, "mail_key": {"k1"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("e-mail with no mail server configured: %d, want 404", resp.StatusCode)
	}

	// A refund names the payment it gives money back on, and shows the money returned.
	refund := a.addRow(t, models.Transaction{ClientOrderID: "PRCPT-R1", Kind: models.KindRefund, AmountMinor: 500, Description: "damaged cup",
		ParentID: &sale.ID, ParentOrderID: sale.ClientOrderID, GatewayOrderID: sale.GatewayOrderID, CardBrand: "VISA", CardBIN: "411111", CardLast4: "1111"},
		models.TxUpdate{Source: "response", State: models.TxProcessing},
		models.TxUpdate{Source: "poll", State: models.TxApproved, ApprovalCode: "777001", RRN: "510321889999"})
	_, page = staff.get(fmt.Sprintf("/transactions/%d/receipt", refund.ID))
	for id, want := range map[string]string{
		"receipt-kind":     "Refund",
		"receipt-original": "Original payment PRCPT (Sale of " + rigaTime(t, sale.CreatedAt) + ")",
		"receipt-card":     "Card VISA •••• 1111",
		"receipt-approval": "Approval code 777001",
		"receipt-reason":   "Reason damaged cup",
		"receipt-amount":   "Refunded to the card \u22125.00\u00a0EUR",
		"receipt-result":   "Approved",
	} {
		if got := testidText(page, id); got != want {
			t.Errorf("refund %s: %q, want %q", id, got, want)
		}
	}

	// A declined payment's receipt says plainly that nothing was charged, and why it failed.
	declined := a.addRow(t, models.Transaction{ClientOrderID: "PDECL", Kind: models.KindSale, AmountMinor: 1051},
		models.TxUpdate{Source: "reader", State: models.TxSending, CardBrand: "MASTERCARD", CardLast4: "4444", EntryMode: "chip"},
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969107"},
		models.TxUpdate{Source: "poll", State: models.TxDeclined, ErrorCode: "51", ErrorMessage: "Insufficient funds"})
	_, txPage := staff.get(fmt.Sprintf("/transactions/%d", declined.ID))
	if !strings.Contains(txPage, `data-testid="receipt-link"`) {
		t.Error("a declined payment's page has no receipt link")
	}
	_, page = staff.get(fmt.Sprintf("/transactions/%d/receipt", declined.ID))
	for id, want := range map[string]string{
		"receipt-result": "Declined: Insufficient funds",
		"receipt-notice": "Nothing was charged to the card.",
		"receipt-amount": "Amount 10.51\u00a0EUR",
		"receipt-card":   "Card MASTERCARD •••• 4444",
		"receipt-entry":  "Entry Chip",
		"receipt-date":   "Date " + rigaTime(t, *declined.FinalAt),
	} {
		if got := testidText(page, id); got != want {
			t.Errorf("declined %s: %q, want %q", id, got, want)
		}
	}
	if strings.Contains(page, `data-testid="receipt-approval"`) {
		t.Error("a declined payment's receipt shows an approval code")
	}
}

// withMail gives the app a mail server at addr and runs the receipt sender until the test ends.
func withMail(t *testing.T, addr string) func(*web.Deps) {
	return func(d *web.Deps) {
		mc, err := mailer.New(mailer.Config{Addr: addr, From: "receipts@shop.example"})
		if err != nil {
			t.Fatal(err)
		}
		m := web.NewReceiptMailer(mc, &models.ReceiptMails{DB: d.Endpoints.(*models.Endpoints).DB}, d.Audit, d.Log)
		d.ReceiptMail = m
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
}

var reMailKey = regexp.MustCompile(`name="mail_key" value="([^"]+)"`)

func TestReceiptByEmail(t *testing.T) {
	srv := mailertest.NewServer(t)
	a := newApp(t, true, withMail(t, srv.Addr()))
	receiptStore(t, a)
	sale := approvedSale(t, a, "PMAIL", 1042)
	path := fmt.Sprintf("/transactions/%d/receipt", sale.ID)
	staff := a.browser().login("staff", staffPW)
	_, page := staff.get(path)
	m := reMailKey.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no e-mail form on the receipt")
	}
	key := m[1]
	queued := func() (n int64) {
		a.db.Model(&models.ReceiptMail{}).Count(&n)
		return n
	}

	// One address, well formed, or nothing is queued (so nothing is sent).
	for _, to := range []string{"anna@example.com\r\nBcc: eve@example.com", "anna@example.com, eve@example.com", "not an address", ""} {
		resp, body := staff.post(path+"/email", url.Values{"email": {to}, "mail_key": {key}})
		if resp.StatusCode != http.StatusUnprocessableEntity || testidText(body, "error-email") != "Enter one e-mail address, such as name@example.com." {
			t.Errorf("address %q: %d, message %q", to, resp.StatusCode, testidText(body, "error-email"))
		}
		if !strings.Contains(body, `name="mail_key" value="`+key+`"`) {
			t.Errorf("address %q: the form came back with another key", to)
		}
	}
	if n := queued(); n != 0 {
		t.Fatalf("%d receipts queued for malformed addresses", n)
	}

	// A double tap: the same form twice sends one e-mail.
	for range 2 {
		resp, _ := staff.post(path+"/email", url.Values{"email": {" anna@example.com "}, "mail_key": {key}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != path {
			t.Fatalf("send: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := srv.WaitFor(ctx, 1)
	if err != nil {
		t.Fatalf("no e-mail arrived: %v", err)
	}
	a.waitFor(t, "the receipt is marked sent", func() bool {
		var r models.ReceiptMail
		return a.db.Where("send_key = ?", key).First(&r).Error == nil && r.State == models.MailSent
	})
	if n := queued(); n != 1 {
		t.Errorf("%d receipts queued by one form sent twice", n)
	}
	if msgs = srv.Messages(); len(msgs) != 1 {
		t.Fatalf("%d e-mails for one form sent twice", len(msgs))
	}
	if strings.Join(msgs[0].To, ",") != "anna@example.com" {
		t.Errorf("sent to %v", msgs[0].To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	body := string(raw)
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if msg.Header.Get("To") != "<anna@example.com>" || subject != "Receipt from Kafejnīca Rīga: Sale 10.42\u00a0EUR" {
		t.Errorf("To %q, Subject %q", msg.Header.Get("To"), subject)
	}
	if msg.Header.Get("Reply-To") != "<shop@example.com>" {
		t.Errorf("Reply-To %q, want the shop's address", msg.Header.Get("Reply-To"))
	}
	for _, want := range []string{"Kafejnīca Rīga", "Floor 2", "VAT / reg. no. LV 4000300 0000", "SALE", rigaTime(t, *sale.FinalAt),
		"Counter 1 (SBX-0001)", "VISA •••• 1111", "Contactless", "242805", "510321889824", "10.42\u00a0EUR", "Approved", "Paldies!"} {
		if !strings.Contains(body, want) {
			t.Errorf("the e-mail does not say %q:\n%s", want, body)
		}
	}
	if strings.Contains(msgs[0].Data, "411111") || strings.Contains(body, "411111") {
		t.Error("the e-mail carries the card's first digits")
	}
	_, page = staff.get(path)
	if got := testidText(page, "flash"); got != "Receipt on its way to anna@example.com." {
		t.Errorf("flash %q", got)
	}
	if got := testidText(page, "receipt-mails"); !strings.HasPrefix(got, "anna@example.com: sent") {
		t.Errorf("the receipt's e-mails: %q", got)
	}
	var actions []string
	a.db.Model(&models.AuditEvent{}).Where("action LIKE ? AND subject = ?", "receipt.%", "PMAIL").Order("id").Pluck("action", &actions)
	if strings.Join(actions, ",") != "receipt.email,receipt.emailed" {
		t.Errorf("audit %v, want the request and the sending", actions)
	}

	// Each user may e-mail a few receipts in a row, then waits.
	var last *http.Response
	for i := range 10 {
		last, _ = staff.post(path+"/email", url.Values{"email": {"anna@example.com"}, "mail_key": {fmt.Sprintf("burst-%d", i)}})
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	if last.StatusCode != http.StatusTooManyRequests {
		t.Errorf("eleven receipts in a row: the last answered %d, want 429", last.StatusCode)
	}
}
