// Package web is the portal's HTTP layer: the Gin route table, handlers, sessions, CSRF
// protection, the error path and rendering. It uses the domain packages through small
// interfaces declared next to the handlers that call them.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/example/mposportal/models"
	"github.com/gin-gonic/gin"
	"github.com/justinas/nosurf"
	"github.com/prometheus/client_golang/prometheus"
)

// UserStore is what the web layer needs of the user table.
type UserStore interface {
	SetLastReader(ctx context.Context, userID, readerID uint) error
	Count(ctx context.Context) (int64, error)
	Create(ctx context.Context, u *models.User) error
	ByID(ctx context.Context, id uint) (models.User, error)
	ByUsername(ctx context.Context, name string) (models.User, error)
	ListPage(ctx context.Context, p models.Page) ([]models.User, models.Paged, error)
	Update(ctx context.Context, u *models.User) error
	SignedIn(ctx context.Context, u *models.User, at time.Time) error
	SetTimeZone(ctx context.Context, u *models.User, zone string) error
	ActiveAdmins(ctx context.Context) (int64, error)
}

// AuditLog records and lists who changed what.
type AuditLog interface {
	Record(ctx context.Context, e models.AuditEvent) error
	ListPage(ctx context.Context, f models.AuditFilter, p models.Page) ([]models.AuditEvent, models.Paged, error)
	Actions(ctx context.Context) ([]string, error)
}

// EndpointStore holds the gateway settings.
type EndpointStore interface {
	List(ctx context.Context) ([]models.Endpoint, error)
	ByID(ctx context.Context, id uint) (models.Endpoint, error)
	ControlKey(ctx context.Context, id uint) (string, error) // a callback's signing key, read lean
	Create(ctx context.Context, e *models.Endpoint) error
	Update(ctx context.Context, e *models.Endpoint) error
}

// Deps are the web layer's dependencies, passed in by main.
type Deps struct {
	Users        UserStore
	Audit        AuditLog
	Endpoints    EndpointStore
	Sessions     scs.Store
	SessionList  SessionLister                   // nil: the sessions page lists none
	Health       func(ctx context.Context) error // readiness of the database
	Log          *slog.Logger
	Metrics      prometheus.Registerer
	Gatherer     prometheus.Gatherer
	CookieSecure bool // serve cookies with Secure (behind HTTPS)
	Hub          *Hub
	Readers      ReaderQueries
	ReaderAdmin  ReaderAdmin
	Devices      *DeviceHandlers
	Payments     PaymentService
	Transactions TxQueries
	Callbacks    CallbackLog
	CloseDays    CloseDayService
	Closes       CloseQueries
	Shifts       ShiftStore
	Now          func() time.Time
	// SecondFactors keeps authenticator secrets; SecondFactorOptional lets admins and managers
	// sign in without one (off by default).
	SecondFactors        SecondFactorStore
	SecondFactorOptional bool
	// ReceiptMail sends e-mailed receipts; nil: receipts are printed only.
	ReceiptMail *ReceiptMailer
}

// Server is the portal's HTTP handler.
type Server struct {
	Engine      *gin.Engine
	handler     http.Handler
	sessions    *scs.SessionManager
	log         *slog.Logger
	users       UserStore
	audit       AuditLog
	endpoints   EndpointStore
	readerQ     ReaderQueries
	readerAdmin ReaderAdmin
	payments    PaymentService
	txQ         TxQueries
	callbacks   CallbackLog
	closeDays   CloseDayService
	closeQ      CloseQueries
	shifts      ShiftStore
	setUp       atomic.Bool // an admin exists; once true it stays true (users are never deleted)
	throttle    *throttle
	sessionList SessionLister
	now         func() time.Time
	hub         *Hub
	metrics     *metrics

	secondFactors        SecondFactorStore
	secondFactorOptional bool
	receiptMail          *ReceiptMailer
	look                 atomic.Pointer[storeLook] // the store's zone, locale and currency, looked up now and then
}

// Hub is the live-update hub (tests publish through it).
func (s *Server) Hub() *Hub { return s.hub }

// New builds the portal: Gin engine and routes, wrapped (outermost first) in the session
// manager and CSRF protection. nosurf is the one CSRF mechanism: a state-changing request must
// come from this site (Sec-Fetch-Site, else Origin, else Referer) and carry the form's token.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	sm := scs.New()
	sm.Store = d.Sessions
	sm.Lifetime = 12 * time.Hour
	sm.IdleTimeout = 2 * time.Hour
	sm.Cookie.Name = "portal_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = d.CookieSecure
	s := &Server{sessions: sm, log: d.Log, users: d.Users, audit: d.Audit, endpoints: d.Endpoints,
		readerQ: d.Readers, readerAdmin: d.ReaderAdmin, payments: d.Payments, txQ: d.Transactions, callbacks: d.Callbacks, closeDays: d.CloseDays, closeQ: d.Closes, shifts: d.Shifts, hub: d.Hub, throttle: newThrottle(d.Now), now: d.Now, sessionList: d.SessionList,
		secondFactors: d.SecondFactors, secondFactorOptional: d.SecondFactorOptional, metrics: newMetrics(d),
		receiptMail: d.ReceiptMail}
	if d.Devices != nil {
		d.Devices.throttle = newThrottle(d.Now)
	}
	if d.Hub != nil && d.Hub.Store == nil {
		d.Hub.Store = s.storeChrome
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.SetTrustedProxies(nil) // ClientIP is the peer address unless a proxy is configured
	e.HandleMethodNotAllowed = true
	s.Engine = e
	s.routes(d)

	csrf := nosurf.New(e)
	csrf.SetBaseCookie(http.Cookie{Name: "csrf_token", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: d.CookieSecure, MaxAge: 12 * 3600})
	csrf.SetIsTLSFunc(func(r *http.Request) bool { return r.TLS != nil || d.CookieSecure })
	csrf.SetFailureHandler(http.HandlerFunc(s.csrfFailed))
	// Readers pair with a code, not a browser session: no CSRF token to carry.
	csrf.ExemptPath("/devices/pair")
	s.handler = sm.LoadAndSave(csrf)
	return s
}

// ServeHTTP serves a request. The gateway's callbacks and the readers' device channel carry no
// browser cookies, so they skip the session and CSRF layers (which would set cookies and cost a
// token per request for nothing); everything else goes through them.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Bodies are bounded before anything reads them: a larger one is refused at once (413),
	// before a session, a form parser or a multipart spool sees it.
	limit := bodyLimit(r.URL.Path)
	if r.ContentLength > limit {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	if machinePath(r.URL.Path) {
		s.Engine.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/ws" {
		// A screen's live socket only reads who is signed in: its session is loaded, never
		// saved (a save when the socket ends would write on a hijacked connection, maybe
		// during shutdown).
		var token string
		if ck, err := r.Cookie(s.sessions.Cookie.Name); err == nil {
			token = ck.Value
		}
		ctx, err := s.sessions.Load(r.Context(), token)
		if err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		s.Engine.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	s.handler.ServeHTTP(w, r)
}

// bodyLimit is the largest request body a path accepts: a pairing form is a serial and a
// code; the portal's own forms are small; nothing uploads files.
func bodyLimit(path string) int64 {
	if strings.HasPrefix(path, "/devices/") || strings.HasPrefix(path, "/callbacks/") {
		return 4 << 10
	}
	return 64 << 10
}

// machinePath reports whether a path is for machines (the gateway's callbacks, the readers'
// device channel): no session, and errors as plain text rather than pages.
func machinePath(p string) bool {
	return strings.HasPrefix(p, "/callbacks/") || strings.HasPrefix(p, "/devices/")
}

// csrfFailed answers a state-changing request without a valid CSRF token: 403, nothing done.
func (s *Server) csrfFailed(w http.ResponseWriter, r *http.Request) {
	writeErrorResponse(w, r, http.StatusForbidden, "Your form expired or did not come from this portal. Reload the page and try again.")
}
