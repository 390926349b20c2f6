package web

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/example/mposportal/models"
	"github.com/gin-gonic/gin"
)

// pages is the request plumbing every area's handlers share, built once by New and embedded
// (as a pointer) in each handler struct: rendering in the page frame and the store's look
// (render.go), the session (flash messages, signing in), the audit record of what a person
// did, and the one error path (errors.go). An area's own dependencies live on its own struct.
type pages struct {
	sessions *scs.SessionManager
	log      *slog.Logger
	recorder AuditRecorder
	settings EndpointList // the store's settings: its time zone, number format and currency
	now      func() time.Time
	// secondFactorOptional lets admins and managers sign in without a second factor; the
	// page frame shows no navigation to a session that still owes one.
	secondFactorOptional bool
	look                 atomic.Pointer[storeLook] // the store's zone, locale and currency, looked up now and then
}

// AuditRecorder records who changed what (models.Audit).
type AuditRecorder interface {
	Record(ctx context.Context, e models.AuditEvent) error
}

func newPages(sessions *scs.SessionManager, log *slog.Logger, audit AuditRecorder, settings EndpointList,
	now func() time.Time, secondFactorOptional bool) *pages {
	return &pages{sessions: sessions, log: log, recorder: audit, settings: settings, now: now, secondFactorOptional: secondFactorOptional}
}

// record writes an audit event for the current request, for what exists only in web: signing
// in and out, sessions, the second-factor set-up and the portal's first-run setup. What the
// domain does (payments, readers, closes, users, endpoints, shifts, receipts) it audits itself,
// with the actor (actor(c)) the handler passes in.
func (p *pages) record(c *gin.Context, action, subject, detail string) {
	e := models.AuditEvent{Action: action, Subject: subject, Detail: detail, RemoteIP: c.ClientIP()}
	if u := currentUser(c); u != nil {
		e.ActorID, e.ActorName = u.ID, u.Username
	}
	if err := p.recorder.Record(c.Request.Context(), e); err != nil {
		p.log.Error("audit record failed", "action", action, "error", err)
	}
}

// signIn starts a fresh session for u (a new token: no session fixation).
func (p *pages) signIn(c *gin.Context, u *models.User) {
	ctx := c.Request.Context()
	if err := p.sessions.RenewToken(ctx); err != nil {
		p.log.Error("session renew", "error", err)
	}
	p.sessions.Put(ctx, "user_id", int(u.ID))
	p.sessions.Put(ctx, "session_epoch", u.SessionEpoch)
	// Shown on the user's sessions page, to tell their devices apart.
	p.sessions.Put(ctx, "signed_in_at", p.now().Unix())
	p.sessions.Put(ctx, "ip", c.ClientIP())
	p.sessions.Put(ctx, "ua", truncate(c.Request.UserAgent(), 120))
	c.Set(userKey, u)
}

// needsSecondFactor reports whether u may not use the portal without a second factor.
func (p *pages) needsSecondFactor(u *models.User) bool {
	return u.HasSecondFactor() || (u.Role.NeedsSecondFactor() && !p.secondFactorOptional)
}

// withID parses the :id path parameter; a malformed id is a 404.
func withID(c *gin.Context, f func(id uint)) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		fail(c, errNotFound)
		return
	}
	f(uint(id))
}
