package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// PaymentActions is what the payment pages ask of payments.Service, which writes the audit
// entry of each action itself (so a job's are audited too).
type PaymentActions interface {
	Start(ctx context.Context, in payments.StartInput) (models.Transaction, error)
	Cancel(ctx context.Context, id uint, actor payments.Actor) (models.Transaction, error)
	Recheck(ctx context.Context, id uint, by payments.Actor) (models.Transaction, error)
	Resolve(ctx context.Context, id uint, to models.TxState, reason string, actor payments.Actor) (models.Transaction, error)
	Acknowledge(ctx context.Context, id uint, note string, actor payments.Actor) (models.Transaction, error)
	Operate(ctx context.Context, in payments.OperationInput) (models.Transaction, error)
	Approve(ctx context.Context, id uint, actor payments.Actor) (models.Transaction, error)
	Reject(ctx context.Context, id uint, reason string, actor payments.Actor) (models.Transaction, error)
}

// PaymentReads reads payments for the payment pages, the list and its exports.
type PaymentReads interface {
	BusyReaders(ctx context.Context) (map[uint]models.Transaction, error)
	ByID(ctx context.Context, id uint) (models.Transaction, error)
	Events(ctx context.Context, id uint) ([]models.TxEvent, error)
	Operations(ctx context.Context, parentID uint) ([]models.Transaction, error)
	List(ctx context.Context, f models.TxFilter) ([]models.Transaction, error)
	ListPage(ctx context.Context, f models.TxFilter, p models.Page) ([]models.Transaction, models.Paged, error)
}

// PaymentHandlers serve taking and following payments: the counter (counter.go), a payment's
// page and the money after the sale (this file), the needs-attention actions (review.go), the
// list (transactions.go) and its exports (exports.go).
type PaymentHandlers struct {
	*pages
	payments PaymentActions
	txQ      PaymentReads
	readerQ  ReaderChoices
	users    LastReaderStore
	shifts   ShiftOpener
}

func newPaymentHandlers(p *pages, pay PaymentActions, txQ PaymentReads, readerQ ReaderChoices, users LastReaderStore, shifts ShiftOpener) *PaymentHandlers {
	return &PaymentHandlers{pages: p, payments: pay, txQ: txQ, readerQ: readerQ, users: users, shifts: shifts}
}

// actor is the signed-in person as the domain audits them: who, and from where.
func actor(c *gin.Context) models.Actor {
	u := currentUser(c)
	return models.Actor{ID: u.ID, Name: u.Username, IP: c.ClientIP()}
}

// amount is a payment's amount the way the store writes it, for messages.
func (s *PaymentHandlers) amount(c *gin.Context, t models.Transaction) string {
	return s.store(c.Request.Context()).money.Format(t.AmountMinor, t.Currency)
}

// txShow handles "GET /transactions/:id".
func (s *PaymentHandlers) txShow(c *gin.Context) {
	withID(c, func(id uint) {
		s.renderTx(c, http.StatusOK, id, templates.ReviewForm{})
	})
}

// renderTx renders payment id's page, with the review form as submitted.
func (s *PaymentHandlers) renderTx(c *gin.Context, status int, id uint, f templates.ReviewForm) {
	s.renderTxMoney(c, status, id, f, templates.MoneyForm{})
}

// renderTxMoney renders payment id's page with the review and money forms as submitted.
func (s *PaymentHandlers) renderTxMoney(c *gin.Context, status int, id uint, f templates.ReviewForm, mf templates.MoneyForm) {
	ctx := c.Request.Context()
	t, err := s.txQ.ByID(ctx, id)
	if err != nil {
		fail(c, err)
		return
	}
	evs, err := s.txQ.Events(ctx, id)
	if err != nil {
		fail(c, err)
		return
	}
	m, err := moneyView(ctx, s.txQ, t)
	if err != nil {
		fail(c, err)
		return
	}
	m.CanOperate = currentUser(c).Role.AtLeast(models.RoleManager)
	m.Key, m.Form = newStartKey(), mf
	s.render(c, status, "Payment "+t.ClientOrderID, templates.TxPage(t, evs, f, m))
}

// operationReads is what a payment's money panel reads: its operations, or an operation's
// payment.
type operationReads interface {
	ByID(ctx context.Context, id uint) (models.Transaction, error)
	Operations(ctx context.Context, parentID uint) ([]models.Transaction, error)
}

// moneyView gathers a payment's operations and balance, or an operation's payment.
func moneyView(ctx context.Context, q operationReads, t models.Transaction) (templates.MoneyView, error) {
	var m templates.MoneyView
	if t.ParentID != nil {
		p, err := q.ByID(ctx, *t.ParentID)
		if err != nil {
			return m, err
		}
		m.Parent = &p
		return m, nil
	}
	ops, err := q.Operations(ctx, t.ID)
	if err != nil {
		return m, err
	}
	m.Ops, m.Balance = ops, models.BalanceOf(t, ops)
	return m, nil
}

// txOperate handles "POST /transactions/:id/operations": a manager's capture, release or
// refund. The form's one-time key makes a double tap one operation; a refusal re-renders the
// page with the reason and changes nothing.
func (s *PaymentHandlers) txOperate(c *gin.Context) {
	withID(c, func(id uint) {
		mf := templates.MoneyForm{Kind: c.PostForm("kind"), Amount: c.PostForm("amount"), Reason: c.PostForm("reason")}
		op, err := s.payments.Operate(c.Request.Context(), payments.OperationInput{Key: c.PostForm("op_key"), ParentID: id,
			Kind: models.TxKind(mf.Kind), Amount: mf.Amount, Reason: mf.Reason, Actor: actor(c)})
		var ve *models.ValidationError
		switch {
		case errors.Is(err, payments.ErrAlreadyDone):
			redirect(c, fmt.Sprintf("/transactions/%d", id)) // the same form again: show what it did
			return
		case errors.As(err, &ve):
			mf.Error = ve.Error()
			s.renderTxMoney(c, http.StatusUnprocessableEntity, id, templates.ReviewForm{}, mf)
			return
		case err != nil:
			fail(c, err)
			return
		}
		if op.State == models.TxAwaitingApproval {
			s.flash(c, fmt.Sprintf("The refund of %s is above the limit: it waits for another manager's or admin's approval.", s.amount(c, op)))
		} else {
			s.flash(c, fmt.Sprintf("%s of %s sent to the bank.", strings.ToUpper(string(op.Kind[:1]))+string(op.Kind[1:]), s.amount(c, op)))
		}
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// txCancel handles "POST /transactions/:id/cancel": only while the reader waits for the card.
func (s *PaymentHandlers) txCancel(c *gin.Context) {
	withID(c, func(id uint) {
		t, err := s.payments.Cancel(c.Request.Context(), id, actor(c))
		if errors.Is(err, models.ErrIllegalTransition) {
			fail(c, errStatus(http.StatusConflict, "The card was already read: the payment can no longer be cancelled here."))
			return
		} else if err != nil {
			fail(c, err)
			return
		}
		redirect(c, fmt.Sprintf("/transactions/%d", t.ID))
	})
}

// txApprove handles "POST /transactions/:id/approve": a second manager's yes to a refund
// above the endpoint's limit.
func (s *PaymentHandlers) txApprove(c *gin.Context) {
	withID(c, func(id uint) {
		op, err := s.payments.Approve(c.Request.Context(), id, actor(c))
		if s.approvalRefused(c, id, err) {
			return
		}
		s.flash(c, fmt.Sprintf("Approved: the refund of %s is sent to the bank.", s.amount(c, op)))
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// txReject handles "POST /transactions/:id/reject": a second manager's no, with a reason.
func (s *PaymentHandlers) txReject(c *gin.Context) {
	withID(c, func(id uint) {
		_, err := s.payments.Reject(c.Request.Context(), id, c.PostForm("reason"), actor(c))
		if s.approvalRefused(c, id, err) {
			return
		}
		s.flash(c, "Rejected: nothing was refunded.")
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// approvalRefused answers an approve or reject the domain refused (422 with the reason) or
// that failed; it reports whether it answered.
func (s *PaymentHandlers) approvalRefused(c *gin.Context, id uint, err error) bool {
	var ve *models.ValidationError
	switch {
	case errors.As(err, &ve):
		s.renderTx(c, http.StatusUnprocessableEntity, id, templates.ReviewForm{Action: "approval", Error: ve.Error()})
		return true
	case err != nil:
		fail(c, err)
		return true
	}
	return false
}
