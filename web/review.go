package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// The "needs attention" actions on a payment: anyone signed in may ask the bank again; an
// admin resolves a payment the bank cannot tell us about, or clears a flag once dealt with.
// The rules (two people to book a charge, a reason for everything) live in payments.Service.

// txRecheck handles "POST /transactions/:id/recheck": ask the bank for the status now.
func (s *PaymentHandlers) txRecheck(c *gin.Context) {
	withID(c, func(id uint) {
		t, err := s.payments.Recheck(c.Request.Context(), id, actor(c))
		switch {
		case err != nil && t.ID == 0:
			// The payment could not even be loaded (gone, or the database failed).
			fail(c, err)
			return
		case err != nil:
			// The bank did not answer, or answered about another order: the attempt is on
			// the payment's timeline and the poller keeps asking, so the person only needs
			// to know it did not work this time.
			s.log.Warn("re-check failed", "order", t.ClientOrderID, "error", err)
			s.flash(c, "The bank did not answer the re-check; the payment's timeline has the details. We keep asking.")
		default:
			s.flash(c, "Re-checked with the bank: "+templates.StateLabel(t.State)+".")
		}
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// txResolve handles "POST /transactions/:id/resolve" (admins): settle a payment in needs
// review by hand. "Charged" is recorded as a proposal until a second person approves it.
func (s *PaymentHandlers) txResolve(c *gin.Context) {
	withID(c, func(id uint) {
		f := templates.ReviewForm{Action: "resolve", To: c.PostForm("to"), Reason: c.PostForm("reason")}
		t, err := s.payments.Resolve(c.Request.Context(), id, models.TxState(f.To), f.Reason, actor(c))
		var ve *models.ValidationError
		switch {
		case errors.Is(err, payments.ErrResolutionProposed):
			s.flash(c, "Recorded: another manager or admin must approve it.")
		case errors.As(err, &ve):
			f.Error = ve.Error()
			s.renderTx(c, http.StatusUnprocessableEntity, id, f)
			return
		case err != nil:
			fail(c, err)
			return
		default:
			s.flash(c, "Resolved: the payment is now "+templates.StateLabel(t.State)+".")
		}
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// txAcknowledge handles "POST /transactions/:id/acknowledge" (admins): clear the flag on a
// final payment, with a note of what was done.
func (s *PaymentHandlers) txAcknowledge(c *gin.Context) {
	withID(c, func(id uint) {
		f := templates.ReviewForm{Action: "acknowledge", Note: c.PostForm("note")}
		_, err := s.payments.Acknowledge(c.Request.Context(), id, f.Note, actor(c))
		var ve *models.ValidationError
		switch {
		case errors.As(err, &ve):
			f.Error = ve.Error()
			s.renderTx(c, http.StatusUnprocessableEntity, id, f)
			return
		case err != nil:
			fail(c, err)
			return
		}
		s.flash(c, "Marked as dealt with.")
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}
