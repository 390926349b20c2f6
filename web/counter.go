package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// The counter: the tablet screen where a cashier starts a payment (PaymentHandlers).

// ReaderChoices lists the readers a payment can be taken on (the counter) or filtered by
// (the transactions list).
type ReaderChoices interface {
	List(ctx context.Context, f models.ReaderFilter) ([]models.Reader, error)
}

// LastReaderStore remembers the reader each user took a payment on last, to offer it first.
type LastReaderStore interface {
	SetLastReader(ctx context.Context, userID, readerID uint) error
}

// ShiftOpener opens a cashier's shift with their first payment when none runs (and audits it).
type ShiftOpener interface {
	Current(ctx context.Context, userID uint) (models.Shift, error)
	Start(ctx context.Context, u models.User, at time.Time, firstPayment string, by models.Actor) (models.Shift, error)
}

// counter handles "GET /counter": the tablet screen to take a payment.
func (s *PaymentHandlers) counter(c *gin.Context) {
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
func (s *PaymentHandlers) renderCounter(c *gin.Context, status int, f templates.CounterForm) {
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
func (s *PaymentHandlers) counterStart(c *gin.Context) {
	f := templates.CounterForm{Kind: c.PostForm("kind"), Amount: c.PostForm("amount"), Description: c.PostForm("description"),
		StartKey: c.PostForm("start_key")}
	fmt.Sscan(c.PostForm("reader_id"), &f.ReaderID)
	f.AmountAgain = c.PostForm("amount_again")
	in := payments.StartInput{StartKey: f.StartKey, ReaderID: f.ReaderID, Kind: models.TxKind(f.Kind), Description: f.Description,
		Amount: f.Amount, AmountAgain: f.AmountAgain, Actor: actor(c)}
	t, err := s.payments.Start(c.Request.Context(), in)
	var ve *models.ValidationError
	switch {
	case errors.Is(err, payments.ErrAlreadyStarted):
		redirect(c, fmt.Sprintf("/transactions/%d", t.ID)) // the same form again: its payment
	case err == nil:
		s.shiftStartsWithPayment(c, t)
		if err := s.users.SetLastReader(c.Request.Context(), currentUser(c).ID, t.ReaderID); err != nil {
			s.log.Warn("remember the last reader", "error", err)
		}
		redirect(c, fmt.Sprintf("/transactions/%d", t.ID))
	case errors.As(err, &ve):
		f.Errors = templates.FormErrors(ve.Fields)
		s.renderCounter(c, http.StatusUnprocessableEntity, f)
	default:
		fail(c, err)
	}
}

// shiftStartsWithPayment opens the cashier's shift with their first payment when none runs.
func (s *PaymentHandlers) shiftStartsWithPayment(c *gin.Context, t models.Transaction) {
	u := currentUser(c)
	if _, err := s.shifts.Current(c.Request.Context(), u.ID); err == nil {
		return
	}
	if _, err := s.shifts.Start(c.Request.Context(), *u, t.CreatedAt, t.ClientOrderID, actor(c)); err != nil {
		s.log.Warn("start a shift with the first payment", "user", u.Username, "error", err)
	}
}
