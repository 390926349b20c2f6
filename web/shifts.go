package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// ShiftStore keeps the cashiers' shifts.
type ShiftStore interface {
	Current(ctx context.Context, userID uint) (models.Shift, error)
	ByID(ctx context.Context, id uint) (models.Shift, error)
	Start(ctx context.Context, u models.User, at time.Time, firstPayment string, by models.Actor) (models.Shift, error)
	End(ctx context.Context, userID uint, at time.Time, by models.Actor) (models.Shift, error)
	Recent(ctx context.Context, userID uint, limit int) ([]models.Shift, error)
}

// ShiftPayments is what a shift's report reads of payments: its figures and its payments.
type ShiftPayments interface {
	Figures(ctx context.Context, q models.FigureQuery) (models.Figures, error)
	List(ctx context.Context, f models.TxFilter) ([]models.Transaction, error)
}

// ShiftHandlers serve the cashiers' shifts and their X and final reports.
type ShiftHandlers struct {
	*pages
	shifts ShiftStore
	txQ    ShiftPayments
}

func newShiftHandlers(p *pages, shifts ShiftStore, txQ ShiftPayments) *ShiftHandlers {
	return &ShiftHandlers{pages: p, shifts: shifts, txQ: txQ}
}

// shiftShow handles "GET /shift": the signed-in user's running shift and its X report.
func (s *ShiftHandlers) shiftShow(c *gin.Context) {
	u := currentUser(c)
	sh, err := s.shifts.Current(c.Request.Context(), u.ID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		s.renderShift(c, nil, true)
	case err != nil:
		fail(c, err)
	default:
		s.renderShift(c, &sh, true)
	}
}

// shiftReport handles "GET /shifts/:id": a shift's report; a cashier sees their own, managers
// and admins everyone's.
func (s *ShiftHandlers) shiftReport(c *gin.Context) {
	withID(c, func(id uint) {
		u := currentUser(c)
		sh, err := s.shifts.ByID(c.Request.Context(), id)
		if err == nil && sh.UserID != u.ID && !u.Role.AtLeast(models.RoleManager) {
			err = models.ErrNotFound // another cashier's shift is not this one's business
		}
		if err != nil {
			fail(c, err)
			return
		}
		s.renderShift(c, &sh, sh.UserID == u.ID)
	})
}

func (s *ShiftHandlers) renderShift(c *gin.Context, sh *models.Shift, mine bool) {
	ctx := c.Request.Context()
	u := currentUser(c)
	v := templates.ShiftView{Shift: sh, Now: s.now(), Mine: mine}
	var err error
	if v.Recent, err = s.shifts.Recent(ctx, u.ID, 10); err != nil {
		fail(c, err)
		return
	}
	if sh != nil {
		look := s.store(ctx)
		to := s.now()
		if sh.EndedAt != nil {
			to = *sh.EndedAt
		}
		q := models.FigureQuery{From: sh.StartedAt, To: to.Add(1), Zone: look.dayZone, Currency: look.currency, StaffID: sh.UserID}
		if v.Figures, err = s.txQ.Figures(ctx, q); err != nil {
			fail(c, err)
			return
		}
		if v.Payments, err = s.txQ.List(ctx, models.TxFilter{StartedByID: sh.UserID, From: sh.StartedAt, To: to.Add(1), Limit: 500}); err != nil {
			fail(c, err)
			return
		}
	}
	title := "Your shift"
	if sh != nil && !sh.Open() {
		title = "Shift report"
	}
	s.render(c, http.StatusOK, title, templates.ShiftPage(v))
}

// shiftStart handles "POST /shift/start": the cashier starts a shift (a second tap, or a shift
// already started by a payment, gives the running one).
func (s *ShiftHandlers) shiftStart(c *gin.Context) {
	u := currentUser(c)
	if _, err := s.shifts.Start(c.Request.Context(), *u, s.now(), "", actor(c)); err != nil {
		fail(c, err)
		return
	}
	redirect(c, "/shift")
}

// shiftEnd handles "POST /shift/end": the cashier ends the shift and gets its final report.
func (s *ShiftHandlers) shiftEnd(c *gin.Context) {
	u := currentUser(c)
	sh, err := s.shifts.End(c.Request.Context(), u.ID, s.now(), actor(c))
	if errors.Is(err, models.ErrNotFound) {
		s.flash(c, "No shift is running.")
		redirect(c, "/shift")
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.flash(c, "Your shift has ended: here is its report.")
	redirect(c, fmt.Sprintf("/shifts/%d", sh.ID))
}
