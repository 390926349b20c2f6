package web

import (
	"net/http"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// auditIndex handles "GET /admin/audit": newest first, filtered, a page at a time.
func (s *Server) auditIndex(c *gin.Context) {
	ctx := c.Request.Context()
	f := templates.AuditFilter{Action: c.Query("action"), Actor: c.Query("actor"), From: c.Query("from"), To: c.Query("to")}
	q := models.AuditFilter{Action: f.Action, Actor: f.Actor}
	zone := s.readerZone(c)
	if t, err := time.ParseInLocation("2006-01-02", f.From, zone); err == nil {
		q.From = t
	}
	if t, err := time.ParseInLocation("2006-01-02", f.To, zone); err == nil {
		q.To = t.AddDate(0, 0, 1)
	}
	events, pg, err := s.auditLog.ListPage(ctx, q, pageFrom(c))
	if err != nil {
		fail(c, err)
		return
	}
	actions, err := s.auditLog.Actions(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "Audit log", templates.AuditPage(events, actions, f, pager(c, pg)))
}
