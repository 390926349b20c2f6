package web

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// CloseDayService triggers closes.
type CloseDayService interface {
	Trigger(ctx context.Context, in closeday.TriggerInput) (models.CloseDay, error)
}

// CloseQueries reads closes for pages.
type CloseQueries interface {
	Totals(ctx context.Context, endpointID uint) (models.CloseTotals, error)
	ByID(ctx context.Context, id uint) (models.CloseDay, error)
	List(ctx context.Context, f models.CloseFilter) ([]models.CloseDay, error)
	ListPage(ctx context.Context, f models.CloseFilter, p models.Page) ([]models.CloseDay, models.Paged, error)
	Covered(ctx context.Context, id uint) ([]models.Transaction, error)
	FirstOpenDay(ctx context.Context, endpointID uint) (string, error)
	Adjustments(ctx context.Context, closeID uint) ([]models.CloseAdjustment, error)
	Previous(ctx context.Context, c models.CloseDay) (*models.CloseDay, error)
	Problems(ctx context.Context, since time.Time) ([]models.CloseDay, error)
}

// closeDayIndex handles "GET /admin/closeday": pre-flight per endpoint and recent closes.
func (s *Server) closeDayIndex(c *gin.Context) {
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
func (s *Server) closeDayTrigger(c *gin.Context) {
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
		cl, err := s.closeDays.Trigger(ctx, closeday.TriggerInput{EndpointID: ep.ID, Actor: currentUser(c).Username,
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
func (s *Server) closeDayShow(c *gin.Context) {
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

// closeView loads close id as its page shows it: with its endpoint, and the adjustments once
// they explain a difference.
func closeView(ctx context.Context, closes CloseQueries, endpoints EndpointStore, id uint) (templates.CloseView, error) {
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

// closeFilter reads the history filter; its dates are the store's (loc).
func closeFilter(c *gin.Context, loc *time.Location) (templates.CloseHistoryFilter, models.CloseFilter) {
	f := templates.CloseHistoryFilter{State: c.Query("state"), From: c.Query("from"), To: c.Query("to")}
	q := models.CloseFilter{State: f.State, Limit: 500}
	if t, err := time.ParseInLocation("2006-01-02", f.From, loc); err == nil {
		q.From = t
	}
	if t, err := time.ParseInLocation("2006-01-02", f.To, loc); err == nil {
		q.To = t.AddDate(0, 0, 1)
	}
	return f, q
}

// closeDayHistory handles "GET /admin/closeday/history": newest first, a page at a time; the
// chart shows the days of the closes on the page.
func (s *Server) closeDayHistory(c *gin.Context) {
	loc := s.store(c.Request.Context()).zone
	f, q := closeFilter(c, loc)
	cs, pg, err := s.closeQ.ListPage(c.Request.Context(), q, pageFrom(c))
	if err != nil {
		fail(c, err)
		return
	}
	v := url.Values{"state": {f.State}, "from": {f.From}, "to": {f.To}}
	s.render(c, http.StatusOK, "Close Day history", templates.CloseHistoryPage(cs, f, dailyBars(cs, loc, s.store(c.Request.Context()).currency), "/admin/closeday/history.csv?"+v.Encode(), pager(c, pg)))
}

// closeDayHistoryCSV handles "GET /admin/closeday/history.csv", written like the transactions
// CSV (transactionsCSV): UTF-8 with a byte-order mark, times in the store's zone with its
// offset, codes as ="…" (csvCode), other text formula-guarded (csvSafe).
func (s *Server) closeDayHistoryCSV(c *gin.Context) {
	zone := s.store(c.Request.Context()).zone
	_, q := closeFilter(c, zone)
	cs, err := s.closeQ.List(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="close-days.csv"`)
	c.Writer.WriteString(utf8BOM)
	w := csv.NewWriter(c.Writer)
	w.UseCRLF = true
	w.Write([]string{"created_at", "endpoint_id", "request_id", "state", "our_sale_count", "our_sale_sum", "gateway_sale_count",
		"gateway_sale_sum", "code39", "rrn", "gate_close_date", "mismatch", "explained", "adjustments", "adjustments_net", "trigger", "days_from", "days_to", "started_by", "error"})
	for _, x := range cs {
		w.Write([]string{x.CreatedAt.In(zone).Format(time.RFC3339), strconv.FormatUint(uint64(x.EndpointID), 10), csvCode(x.RequestID), csvSafe(x.State),
			strconv.Itoa(x.SaleCount), money.Plain(x.SaleSumMinor, x.Currency), strconv.Itoa(x.GwSaleCount), money.Plain(x.GwSaleSumMinor, x.Currency),
			csvCode(x.Code39), csvCode(x.RRN), csvCode(x.GateCloseDate), strconv.FormatBool(x.Mismatch), strconv.FormatBool(x.Explained), strconv.Itoa(x.AdjustCount),
			money.Plain(x.AdjustMinor, x.Currency), csvSafe(x.Trigger), x.DaysFrom, x.DaysTo, csvSafe(x.StartedBy), csvSafe(x.Error)})
	}
	w.Flush()
}
