package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/example/mposportal/mailer"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// PaymentLookup loads one payment.
type PaymentLookup interface {
	ByID(ctx context.Context, id uint) (models.Transaction, error)
}

// ReceiptHandlers serve a payment's receipt: printed, and e-mailed when a mail server is
// configured.
type ReceiptHandlers struct {
	*pages
	txQ       PaymentLookup
	endpoints EndpointLookup // the store's name, address and formats on the receipt
	// receiptMail sends e-mailed receipts; nil: receipts are printed only (no e-mail form,
	// and "POST /transactions/:id/receipt/email" is 404).
	receiptMail *ReceiptMailer
	throttle    *throttle // receipts e-mailed per user ("mail:")
}

func newReceiptHandlers(p *pages, txQ PaymentLookup, endpoints EndpointLookup, mail *ReceiptMailer) *ReceiptHandlers {
	return &ReceiptHandlers{pages: p, txQ: txQ, endpoints: endpoints, receiptMail: mail, throttle: newThrottle(p.now)}
}

// txReceipt handles "GET /transactions/:id/receipt": the payment's receipt, for printing, and
// the form to e-mail it when e-mail is configured.
func (s *ReceiptHandlers) txReceipt(c *gin.Context) {
	withID(c, func(id uint) {
		s.renderReceipt(c, http.StatusOK, id, templates.ReceiptMailForm{})
	})
}

// receipt loads payment id and writes its receipt, in its store's time zone and number format
// (the receipt is the store's document: it reads the same whoever opens it).
func (s *ReceiptHandlers) receipt(ctx context.Context, id uint) (models.Transaction, models.Endpoint, templates.Receipt, error) {
	t, err := s.txQ.ByID(ctx, id)
	if err != nil {
		return t, models.Endpoint{}, templates.Receipt{}, err
	}
	look := s.store(ctx)
	zone, loc := look.zone, look.money
	e, err := s.endpoints.ByID(ctx, t.EndpointID)
	switch {
	case err == nil:
		loc = e.Money()
		if e.TimeZone != "" {
			zone = e.Location()
		}
	case !errors.Is(err, models.ErrNotFound):
		return t, e, templates.Receipt{}, err
	}
	var parent *models.Transaction
	if t.ParentID != nil {
		p, err := s.txQ.ByID(ctx, *t.ParentID)
		if err != nil {
			return t, e, templates.Receipt{}, err
		}
		parent = &p
	}
	return t, e, templates.NewReceipt(t, e, parent, zone, loc), nil
}

// renderReceipt renders payment id's receipt page with the e-mail form as submitted. A form
// shown again after a refusal keeps its one-time key (nothing was sent); a fresh one gets a
// new key.
func (s *ReceiptHandlers) renderReceipt(c *gin.Context, status int, id uint, f templates.ReceiptMailForm) {
	ctx := c.Request.Context()
	t, _, r, err := s.receipt(ctx, id)
	if err != nil {
		fail(c, err)
		return
	}
	if s.receiptMail != nil && r.Final {
		f.Enabled = true
		if f.Key == "" {
			f.Key = newStartKey()
		}
		if f.Sent, err = s.receiptMail.Mails.ForTransaction(ctx, id); err != nil {
			fail(c, err)
			return
		}
	}
	s.render(c, status, "Receipt "+t.ClientOrderID, templates.ReceiptPage(r, f))
}

// txReceiptEmail handles "POST /transactions/:id/receipt/email": it queues the receipt for the
// one address typed and returns to the receipt at once; the mail goes out in the background
// (ReceiptMailer), so the counter never waits for the mail server. The form's one-time key
// makes a double tap one e-mail; each user may send a few in a row, then one every 30 s.
func (s *ReceiptHandlers) txReceiptEmail(c *gin.Context) {
	withID(c, func(id uint) {
		if s.receiptMail == nil {
			fail(c, errNotFound)
			return
		}
		ctx := c.Request.Context()
		f := templates.ReceiptMailForm{Key: c.PostForm("mail_key"), To: strings.TrimSpace(c.PostForm("email"))}
		t, e, r, err := s.receipt(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		if !r.Final {
			fail(c, errStatus(http.StatusConflict, "The bank has not answered yet: e-mail the receipt once it has."))
			return
		}
		u := currentUser(c)
		limit := fmt.Sprintf("mail:%d", u.ID)
		to, aerr := mailer.Address(f.To)
		status := http.StatusUnprocessableEntity
		switch {
		case aerr != nil:
			f.Error = "Enter one e-mail address, such as name@example.com."
		case f.Key == "" || len(f.Key) > 64:
			f.Key, f.Error = "", "This form is out of date: reload the page and send it again."
		default:
			if wait := s.throttle.blocked(limit); wait > 0 {
				status, f.Error = http.StatusTooManyRequests, fmt.Sprintf("Many receipts e-mailed in a row: try again in %d seconds.", int(wait.Seconds())+1)
			}
		}
		if f.Error != "" {
			s.renderReceipt(c, status, id, f)
			return
		}
		m := models.ReceiptMail{SendKey: f.Key, TransactionID: id, OrderID: t.ClientOrderID, Recipient: to,
			SenderName: r.Merchant, ReplyTo: e.Email, Subject: r.Subject(), Body: r.Text(), UserID: u.ID, UserName: u.Username}
		switch err := s.receiptMail.Mails.Queue(ctx, &m, actor(c)); {
		case errors.Is(err, models.ErrConflict):
			// The same form again (a double tap): its receipt is on its way already.
		case err != nil:
			fail(c, err)
			return
		default:
			s.throttle.failed(limit) // spends one of the user's sends
			s.receiptMail.Wake()
		}
		s.flash(c, "Receipt on its way to "+to+".")
		redirect(c, fmt.Sprintf("/transactions/%d/receipt", id))
	})
}
