package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// txFilter reads the list's filters from the query; bad values are ignored rather than
// refused, so a hand-edited URL still shows something sensible. Dates are days in the zone the
// user reads times in; amounts are read the way the store writes them.
func (s *PaymentHandlers) txFilter(c *gin.Context) (templates.TxFilterForm, models.TxFilter) {
	look := s.store(c.Request.Context())
	zone := s.readerZone(c)
	f := templates.TxFilterForm{State: c.Query("status"), Kind: c.Query("kind"), Reader: c.Query("reader"),
		From: c.Query("from"), To: c.Query("to"), Min: c.Query("min"), Max: c.Query("max"), Q: c.Query("q")}
	q := models.TxFilter{Search: f.Q}
	if st := models.TxState(f.State); st.Valid() {
		q.State = st
	}
	if k := models.TxKind(f.Kind); k == models.KindSale || k == models.KindPreauth || k.Operation() {
		q.Kind = k
	}
	if id, err := strconv.ParseUint(f.Reader, 10, 32); err == nil {
		q.ReaderID = uint(id)
	}
	if t, err := time.ParseInLocation("2006-01-02", f.From, zone); err == nil {
		q.From = t
	}
	if t, err := time.ParseInLocation("2006-01-02", f.To, zone); err == nil {
		q.To = t.AddDate(0, 0, 1)
	}
	if a, err := look.money.Parse(f.Min, look.currency); err == nil {
		q.MinMinor = a
	}
	if a, err := look.money.Parse(f.Max, look.currency); err == nil {
		q.MaxMinor = a
	}
	if b, err := strconv.ParseUint(c.Query("before"), 10, 32); err == nil {
		q.BeforeID = uint(b)
	}
	return f, q
}

func filterValues(f templates.TxFilterForm) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.State, "kind": f.Kind, "reader": f.Reader, "from": f.From, "to": f.To,
		"min": f.Min, "max": f.Max, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// transactionsIndex handles "GET /transactions": the filtered payments, a page at a time.
func (s *PaymentHandlers) transactionsIndex(c *gin.Context) {
	ctx := c.Request.Context()
	f, q := s.txFilter(c)
	ts, pg, err := s.txQ.ListPage(ctx, q, pageFrom(c))
	if err != nil {
		fail(c, err)
		return
	}
	rs, err := s.readerQ.List(ctx, models.ReaderFilter{IncludeRetired: true})
	if err != nil {
		fail(c, err)
		return
	}
	v := filterValues(f).Encode()
	s.render(c, http.StatusOK, "Transactions", templates.TransactionsPage(ts, rs, f, pager(c, pg), "/transactions.csv?"+v, "/transactions.xlsx?"+v))
}
