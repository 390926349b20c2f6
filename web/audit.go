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

const auditPage = 50

// auditIndex handles "GET /admin/audit": newest first, filtered, paged by id.
func (s *Server) auditIndex(c *gin.Context) {
	ctx := c.Request.Context()
	f := templates.AuditFilter{Action: c.Query("action"), Actor: c.Query("actor"), From: c.Query("from"), To: c.Query("to")}
	q := models.AuditFilter{Action: f.Action, Actor: f.Actor, Limit: auditPage + 1}
	if t, err := time.ParseInLocation("2006-01-02", f.From, time.Local); err == nil {
		q.From = t
	}
	if t, err := time.ParseInLocation("2006-01-02", f.To, time.Local); err == nil {
		q.To = t.AddDate(0, 0, 1)
	}
	if b, err := strconv.ParseUint(c.Query("before"), 10, 32); err == nil {
		q.BeforeID = uint(b)
	}
	events, err := s.audit.List(ctx, q)
	if err != nil {
		fail(c, err)
		return
	}
	actions, err := s.audit.Actions(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	next := ""
	if len(events) > auditPage {
		events = events[:auditPage]
		v := url.Values{"action": {f.Action}, "actor": {f.Actor}, "from": {f.From}, "to": {f.To},
			"before": {strconv.FormatUint(uint64(events[len(events)-1].ID), 10)}}
		next = "/admin/audit?" + v.Encode()
	}
	s.render(c, http.StatusOK, "Audit log", templates.AuditPage(events, actions, f, next))
}
