package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// PaymentService runs payments.
type PaymentService interface {
	Start(ctx context.Context, in payments.StartInput) (models.Transaction, error)
	Cancel(ctx context.Context, id uint, actor payments.Actor) (models.Transaction, error)
	ApplyCallback(ctx context.Context, endpointID uint, key string, q url.Values) (payments.CallbackOutcome, models.Transaction, error)
	Recheck(ctx context.Context, id uint, why string) (models.Transaction, error)
	Resolve(ctx context.Context, id uint, to models.TxState, reason string, actor payments.Actor) (models.Transaction, error)
	Acknowledge(ctx context.Context, id uint, note string, actor payments.Actor) (models.Transaction, error)
	Operate(ctx context.Context, in payments.OperationInput) (models.Transaction, error)
	Approve(ctx context.Context, id uint, actor payments.Actor) (models.Transaction, error)
	Reject(ctx context.Context, id uint, reason string, actor payments.Actor) (models.Transaction, error)
}

// TxQueries reads payments for pages.
type TxQueries interface {
	BusyReaders(ctx context.Context) (map[uint]models.Transaction, error)
	WaitingOn(ctx context.Context, readerID uint) (models.Transaction, error)
	ByID(ctx context.Context, id uint) (models.Transaction, error)
	Events(ctx context.Context, id uint) ([]models.TxEvent, error)
	List(ctx context.Context, f models.TxFilter) ([]models.Transaction, error)
	ListPage(ctx context.Context, f models.TxFilter, p models.Page) ([]models.Transaction, models.Paged, error)
	NeedsAttention(ctx context.Context, limit int) ([]models.Transaction, error)
	Operations(ctx context.Context, parentID uint) ([]models.Transaction, error)
	Figures(ctx context.Context, q models.FigureQuery) (models.Figures, error)
	Releases(ctx context.Context, closeDayID uint) (int, int64, error)
}

func actor(c *gin.Context) payments.Actor {
	u := currentUser(c)
	return payments.Actor{ID: u.ID, Name: u.Username}
}

// counter handles "GET /counter": the tablet screen to take a payment.
func (s *Server) counter(c *gin.Context) {
	f := templates.CounterForm{Kind: "sale"}
	if _, err := fmt.Sscan(c.Query("reader"), &f.ReaderID); err != nil {
		f.ReaderID = currentUser(c).LastReaderID // only the reader this user used last is offered first
	}
	s.renderCounter(c, http.StatusOK, f)
}

// newStartKey is a counter form's one-time key.
func newStartKey() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// renderCounter renders the counter form. A form shown again after a refusal keeps its key
// (its submit has not started anything); a fresh form gets a new one.
func (s *Server) renderCounter(c *gin.Context, status int, f templates.CounterForm) {
	ctx := c.Request.Context()
	rs, err := s.readerQ.List(ctx, models.ReaderFilter{})
	if err != nil {
		fail(c, err)
		return
	}
	waiting, err := s.txQ.BusyReaders(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	look := s.store(ctx)
	f.Busy, f.Currency = map[uint]string{}, look.currency
	for id, t := range waiting {
		f.Busy[id] = look.money.Format(t.AmountMinor, t.Currency)
	}
	if f.StartKey == "" {
		f.StartKey = newStartKey()
	}
	recent, err := s.txQ.List(ctx, models.TxFilter{Limit: 5})
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, status, "Counter", templates.CounterPage(rs, f, recent))
}

// counterStart handles "POST /counter": starts the payment and shows it.
func (s *Server) counterStart(c *gin.Context) {
	f := templates.CounterForm{Kind: c.PostForm("kind"), Amount: c.PostForm("amount"), Description: c.PostForm("description"),
		StartKey: c.PostForm("start_key")}
	fmt.Sscan(c.PostForm("reader_id"), &f.ReaderID)
	f.AmountAgain = c.PostForm("amount_again")
	in := payments.StartInput{StartKey: f.StartKey, ReaderID: f.ReaderID, Kind: models.TxKind(f.Kind), Description: f.Description,
		Amount: f.Amount, AmountAgain: f.AmountAgain, Actor: actor(c)}
	t, err := s.payments.Start(c.Request.Context(), in)
	var se *payments.StartError
	switch {
	case errors.Is(err, payments.ErrAlreadyStarted):
		redirect(c, fmt.Sprintf("/transactions/%d", t.ID)) // the same form again: its payment
	case err == nil:
		s.record(c, "payment.start", t.ClientOrderID, fmt.Sprintf("%s %s %s on %s", t.Kind, t.Amount(), t.Currency, t.ReaderSerial))
		s.shiftStartsWithPayment(c, t)
		if err := s.users.SetLastReader(c.Request.Context(), currentUser(c).ID, t.ReaderID); err != nil {
			s.log.Warn("remember the last reader", "error", err)
		}
		redirect(c, fmt.Sprintf("/transactions/%d", t.ID))
	case errors.As(err, &se):
		f.Errors = templates.FormErrors{se.Field: se.Message}
		s.renderCounter(c, http.StatusUnprocessableEntity, f)
	default:
		fail(c, err)
	}
}

// amount is a payment's amount the way the store writes it, for messages.
func (s *Server) amount(c *gin.Context, t models.Transaction) string {
	return s.store(c.Request.Context()).money.Format(t.AmountMinor, t.Currency)
}

// txShow handles "GET /transactions/:id".
func (s *Server) txShow(c *gin.Context) {
	withID(c, func(id uint) {
		s.renderTx(c, http.StatusOK, id, templates.ReviewForm{})
	})
}

// renderTx renders payment id's page, with the review form as submitted.
func (s *Server) renderTx(c *gin.Context, status int, id uint, f templates.ReviewForm) {
	s.renderTxMoney(c, status, id, f, templates.MoneyForm{})
}

// renderTxMoney renders payment id's page with the review and money forms as submitted.
func (s *Server) renderTxMoney(c *gin.Context, status int, id uint, f templates.ReviewForm, mf templates.MoneyForm) {
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

// moneyView gathers a payment's operations and balance, or an operation's payment.
func moneyView(ctx context.Context, q TxQueries, t models.Transaction) (templates.MoneyView, error) {
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
func (s *Server) txOperate(c *gin.Context) {
	withID(c, func(id uint) {
		mf := templates.MoneyForm{Kind: c.PostForm("kind"), Amount: c.PostForm("amount"), Reason: c.PostForm("reason")}
		op, err := s.payments.Operate(c.Request.Context(), payments.OperationInput{Key: c.PostForm("op_key"), ParentID: id,
			Kind: models.TxKind(mf.Kind), Amount: mf.Amount, Reason: mf.Reason, Actor: actor(c)})
		var oerr *models.OperationError
		switch {
		case errors.Is(err, payments.ErrAlreadyDone):
			redirect(c, fmt.Sprintf("/transactions/%d", id)) // the same form again: show what it did
			return
		case errors.As(err, &oerr):
			mf.Error = oerr.Message
			s.renderTxMoney(c, http.StatusUnprocessableEntity, id, templates.ReviewForm{}, mf)
			return
		case err != nil:
			fail(c, err)
			return
		}
		detail := fmt.Sprintf("%s %s %s of %s", op.Kind, op.Amount(), op.Currency, op.ParentOrderID)
		if op.Description != "" {
			detail += ": " + op.Description
		}
		if op.State == models.TxAwaitingApproval {
			s.record(c, "payment.refund_requested", op.ClientOrderID, detail+"; waits for a second person's approval")
			s.flash(c, fmt.Sprintf("The refund of %s is above the limit: it waits for another manager's or admin's approval.", s.amount(c, op)))
		} else {
			s.record(c, "payment."+string(op.Kind), op.ClientOrderID, detail)
			s.flash(c, fmt.Sprintf("%s of %s sent to the bank.", strings.ToUpper(string(op.Kind[:1]))+string(op.Kind[1:]), s.amount(c, op)))
		}
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// txCancel handles "POST /transactions/:id/cancel": only while the reader waits for the card.
func (s *Server) txCancel(c *gin.Context) {
	withID(c, func(id uint) {
		t, err := s.payments.Cancel(c.Request.Context(), id, actor(c))
		if errors.Is(err, models.ErrIllegalTransition) {
			fail(c, errStatus(http.StatusConflict, "The card was already read: the payment can no longer be cancelled here."))
			return
		} else if err != nil {
			fail(c, err)
			return
		}
		s.record(c, "payment.cancel", t.ClientOrderID, "")
		redirect(c, fmt.Sprintf("/transactions/%d", t.ID))
	})
}

// txApprove handles "POST /transactions/:id/approve": a second manager's yes to a refund
// above the endpoint's limit.
func (s *Server) txApprove(c *gin.Context) {
	withID(c, func(id uint) {
		op, err := s.payments.Approve(c.Request.Context(), id, actor(c))
		if s.approvalRefused(c, id, err) {
			return
		}
		s.record(c, "payment.refund_approved", op.ClientOrderID, fmt.Sprintf("refund %s %s asked by %s", op.Amount(), op.Currency, op.StartedByName))
		s.flash(c, fmt.Sprintf("Approved: the refund of %s is sent to the bank.", s.amount(c, op)))
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// txReject handles "POST /transactions/:id/reject": a second manager's no, with a reason.
func (s *Server) txReject(c *gin.Context) {
	withID(c, func(id uint) {
		op, err := s.payments.Reject(c.Request.Context(), id, c.PostForm("reason"), actor(c))
		if s.approvalRefused(c, id, err) {
			return
		}
		s.record(c, "payment.refund_rejected", op.ClientOrderID, fmt.Sprintf("refund %s %s asked by %s: %s", op.Amount(), op.Currency, op.StartedByName, op.ErrorMessage))
		s.flash(c, "Rejected: nothing was refunded.")
		redirect(c, fmt.Sprintf("/transactions/%d", id))
	})
}

// approvalRefused answers an approve or reject the domain refused (422 with the reason) or
// that failed; it reports whether it answered.
func (s *Server) approvalRefused(c *gin.Context, id uint, err error) bool {
	var oerr *models.OperationError
	switch {
	case errors.As(err, &oerr):
		s.renderTx(c, http.StatusUnprocessableEntity, id, templates.ReviewForm{Action: "approval", Error: oerr.Message})
		return true
	case err != nil:
		fail(c, err)
		return true
	}
	return false
}
