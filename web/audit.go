package web

import (
	"context"
	"net/http"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// AuditReads lists the audit log.
type AuditReads interface {
	ListPage(ctx context.Context, f models.AuditFilter, p models.Page) ([]models.AuditEvent, models.Paged, error)
	Actions(ctx context.Context) ([]string, error)
}

// AuditHandlers serve the audit log (admins).
type AuditHandlers struct {
	*pages
	audit AuditReads
}

func newAuditHandlers(p *pages, audit AuditReads) *AuditHandlers {
	return &AuditHandlers{pages: p, audit: audit}
}

// auditIndex handles "GET /admin/audit": newest first, filtered, a page at a time.
func (s *AuditHandlers) auditIndex(c *gin.Context) {
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
	events, pg, err := s.audit.ListPage(ctx, q, pageFrom(c))
	if err != nil {
		fail(c, err)
		return
	}
	actions, err := s.audit.Actions(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "Audit log", templates.AuditPage(events, actions, f, pager(c, pg)))
}
