package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// CloseDayService triggers closes.
type CloseDayService interface {
	Trigger(ctx context.Context, in closeday.TriggerInput) (models.CloseDay, error)
}

// CloseReads reads closes for the Close Day pages.
type CloseReads interface {
	Totals(ctx context.Context, endpointID uint) (models.CloseTotals, error)
	ByID(ctx context.Context, id uint) (models.CloseDay, error)
	List(ctx context.Context, f models.CloseFilter) ([]models.CloseDay, error)
	ListPage(ctx context.Context, f models.CloseFilter, p models.Page) ([]models.CloseDay, models.Paged, error)
	Covered(ctx context.Context, id uint) ([]models.Transaction, error)
	FirstOpenDay(ctx context.Context, endpointID uint) (string, error)
	Adjustments(ctx context.Context, closeID uint) ([]models.CloseAdjustment, error)
	Previous(ctx context.Context, c models.CloseDay) (*models.CloseDay, error)
}

// CloseDayHandlers serve Close Day (admins): the pre-flight and the trigger (this file), the
// history and its CSV (closeday_history.go) and a closed day's Z report (closeday_report.go).
type CloseDayHandlers struct {
	*pages
	closeDays CloseDayService
	closeQ    CloseReads
	endpoints EndpointReads
	txQ       ZReportFigures
}

func newCloseDayHandlers(p *pages, closeDays CloseDayService, closeQ CloseReads, endpoints EndpointReads, txQ ZReportFigures) *CloseDayHandlers {
	return &CloseDayHandlers{pages: p, closeDays: closeDays, closeQ: closeQ, endpoints: endpoints, txQ: txQ}
}

// closeDayIndex handles "GET /admin/closeday": pre-flight per endpoint and recent closes.
func (s *CloseDayHandlers) closeDayIndex(c *gin.Context) {
	ctx := c.Request.Context()
	eps, err := s.endpoints.List(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	var pfs []templates.Preflight
	for _, e := range eps {
		t, err := s.closeQ.Totals(ctx, e.ID)
		if err != nil {
			fail(c, err)
			return
		}
		pf := templates.Preflight{Endpoint: e, Totals: t}
		last, err := s.closeQ.List(ctx, models.CloseFilter{EndpointID: e.ID, Limit: 1})
		if err != nil {
			fail(c, err)
			return
		}
		if len(last) > 0 {
			pf.Last = &last[0]
			if !last[0].Settled() && last[0].State != models.CloseLocked {
				pf.Running = &last[0]
			}
		}
		pfs = append(pfs, pf)
	}
	recent, err := s.closeQ.List(ctx, models.CloseFilter{Limit: 10})
	if err != nil {
		fail(c, err)
		return
	}
	all, _ := s.closeQ.List(ctx, models.CloseFilter{From: s.now().AddDate(0, 0, -30), Limit: 1000})
	s.render(c, http.StatusOK, "Close Day", templates.CloseDayPage(pfs, recent, dailyBars(all, s.store(ctx).zone, s.store(ctx).currency)))
}

// dailyBars sums the gateway's closed sale totals per business day: the last day a close
// covers, or the store's date it was made on.
func dailyBars(cs []models.CloseDay, loc *time.Location, currency string) []templates.ChartBar {
	byDay := map[string]int64{}
	for _, c := range cs {
		if c.GwStatus == "" || c.State == models.CloseFailed {
			continue
		}
		day := c.DaysTo
		if day == "" {
			day = c.CreatedAt.In(loc).Format("2006-01-02")
		}
		byDay[day] += c.GwSaleSumMinor
	}
	var bars []templates.ChartBar
	for d, m := range byDay {
		bars = append(bars, templates.ChartBar{Day: d, Minor: m, Currency: currency})
	}
	sort.Slice(bars, func(i, j int) bool { return bars[i].Day < bars[j].Day })
	return bars
}

// closeDayTrigger handles "POST /admin/closeday/:id": close the day on endpoint :id. A double
// click or a second admin lands on the close already running.
func (s *CloseDayHandlers) closeDayTrigger(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		ep, err := s.endpoints.ByID(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		if !s.confirmed(c, templates.ConfirmView{Title: "Close the day on " + ep.Name + "?",
			Message: "The day's approved payments go to the bank as one batch and are settled; new payments wait until the close is done. This cannot be undone.",
			Action:  fmt.Sprintf("/admin/closeday/%d", ep.ID), Button: "Close the day", Back: "/admin/closeday"}) {
			return
		}
		today := s.now().In(ep.Location()).Format("2006-01-02")
		from := today
		if first, err := s.closeQ.FirstOpenDay(ctx, ep.ID); err == nil && first != "" && first < today {
			from = first
		}
		// The close audits itself (closeday.start), whoever triggers it.
		cl, err := s.closeDays.Trigger(ctx, closeday.TriggerInput{EndpointID: ep.ID, Actor: actor(c),
			Trigger: models.TriggerManual, DaysFrom: from, DaysTo: today})
		switch {
		case errors.Is(err, models.ErrCloseRunning):
			s.flash(c, "A close is already running on this endpoint: here it is.")
		case err != nil:
			fail(c, err)
			return
		}
		redirect(c, fmt.Sprintf("/admin/closeday/c/%d", cl.ID))
	})
}

// closeDayShow handles "GET /admin/closeday/c/:id": the close, what explains a difference with
// the bank's totals, and what the previous close carried over.
func (s *CloseDayHandlers) closeDayShow(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		v, err := closeView(ctx, s.closeQ, s.endpoints, id)
		if err != nil {
			fail(c, err)
			return
		}
		covered, err := s.closeQ.Covered(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		prev, err := s.closeQ.Previous(ctx, v.Close)
		if err != nil {
			fail(c, err)
			return
		}
		var prevAdj []models.CloseAdjustment
		if prev != nil {
			if prevAdj, err = s.closeQ.Adjustments(ctx, prev.ID); err != nil {
				fail(c, err)
				return
			}
		}
		s.render(c, http.StatusOK, "Close Day", templates.CloseDetailPage(v, covered, prev, prevAdj))
	})
}

// closeViewReads is what a close's panel reads of the closes.
type closeViewReads interface {
	ByID(ctx context.Context, id uint) (models.CloseDay, error)
	Adjustments(ctx context.Context, closeID uint) ([]models.CloseAdjustment, error)
}

// closeView loads close id as its page shows it: with its endpoint, and the adjustments once
// they explain a difference.
func closeView(ctx context.Context, closes closeViewReads, endpoints EndpointLookup, id uint) (templates.CloseView, error) {
	var v templates.CloseView
	var err error
	if v.Close, err = closes.ByID(ctx, id); err != nil {
		return v, err
	}
	if v.Endpoint, err = endpoints.ByID(ctx, v.Close.EndpointID); err != nil {
		return v, err
	}
	if v.Close.Explained {
		if v.Adjustments, err = closes.Adjustments(ctx, id); err != nil {
			return v, fmt.Errorf("web: close %d adjustments: %w", id, err)
		}
	}
	return v, nil
}
