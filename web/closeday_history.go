package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// The Close Day history and its CSV (CloseDayHandlers).

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
func (s *CloseDayHandlers) closeDayHistory(c *gin.Context) {
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
func (s *CloseDayHandlers) closeDayHistoryCSV(c *gin.Context) {
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
		w.Write([]string{x.CreatedAt.In(zone).Format(time.RFC3339), strconv.FormatUint(uint64(x.EndpointID), 10), csvCode(x.RequestID), csvSafe(string(x.State)),
			strconv.Itoa(x.SaleCount), money.Plain(x.SaleSumMinor, x.Currency), strconv.Itoa(x.GwSaleCount), money.Plain(x.GwSaleSumMinor, x.Currency),
			csvCode(x.Code39), csvCode(x.RRN), csvCode(x.GateCloseDate), strconv.FormatBool(x.Mismatch), strconv.FormatBool(x.Explained), strconv.Itoa(x.AdjustCount),
			money.Plain(x.AdjustMinor, x.Currency), csvSafe(x.Trigger), x.DaysFrom, x.DaysTo, csvSafe(x.StartedBy), csvSafe(x.Error)})
	}
	w.Flush()
}
