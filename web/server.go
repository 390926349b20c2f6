// Package web is the portal's HTTP layer: the Gin route table, handlers, sessions, CSRF
// protection, the error path and rendering. It uses the domain packages through small
// interfaces declared next to the handlers that call them.
package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/justinas/nosurf"
)

// Server is the portal's HTTP handler: the route table (routes.go) behind the session and CSRF
// layers, which machine paths skip (layerOf).
type Server struct {
	Engine   *gin.Engine
	handler  http.Handler // the Engine inside the session and CSRF layers
	sessions *scs.SessionManager
	hub      *Hub
}

// Hub is the live-update hub (tests publish through it).
func (s *Server) Hub() *Hub { return s.hub }

// New builds the portal: each area's handlers with what that area uses, the Gin engine and
// routes, wrapped (outermost first) in the session manager and CSRF protection. nosurf is the
// one CSRF mechanism: a state-changing request must come from this site (Sec-Fetch-Site, else
// Origin, else Referer) and carry the form's token. New panics when d lacks a required
// dependency (Deps).
func New(d Deps) *Server {
	if m := d.missing(); len(m) > 0 {
		panic("web.New: missing required dependencies: " + strings.Join(m, ", "))
	}
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
	p := newPages(sm, d.Log, d.Audit, d.Endpoints, d.Now, d.SecondFactorOptional)
	m := newMetrics(d)
	d.Devices.throttle = newThrottle(d.Now)
	if d.Hub.Store == nil {
		d.Hub.Store = p.storeChrome
	}
	h := handlers{pages: p, metrics: m, health: d.Health, gatherer: d.Gatherer, hub: d.Hub, devices: d.Devices,
		auth:      newAuthHandlers(p, d.Users, d.SecondFactors),
		account:   newAccountHandlers(p, d.Users, d.SecondFactors, d.SessionList),
		users:     newUserHandlers(p, d.Users, d.SecondFactors),
		home:      newHomeHandlers(p, d.Transactions, d.Endpoints, d.Closes),
		payments:  newPaymentHandlers(p, d.Payments, d.Transactions, d.Readers, d.Users, d.Shifts),
		receipts:  newReceiptHandlers(p, d.Transactions, d.Endpoints, d.ReceiptMail),
		shifts:    newShiftHandlers(p, d.Shifts, d.Transactions),
		readers:   newReaderHandlers(p, d.Readers, d.ReaderAdmin, d.Endpoints, d.Transactions),
		endpoints: newEndpointHandlers(p, d.Endpoints),
		closeDay:  newCloseDayHandlers(p, d.CloseDays, d.Closes, d.Endpoints, d.Transactions),
		audit:     newAuditHandlers(p, d.Audit),
		callbacks: newCallbackHandlers(p, d.Payments, d.Endpoints, d.Callbacks, m),
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.SetTrustedProxies(nil) // ClientIP is the peer address unless a proxy is configured
	e.HandleMethodNotAllowed = true
	routes(e, h)

	csrf := nosurf.New(e)
	csrf.SetBaseCookie(http.Cookie{Name: "csrf_token", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: d.CookieSecure, MaxAge: 12 * 3600})
	csrf.SetIsTLSFunc(func(r *http.Request) bool { return r.TLS != nil || d.CookieSecure })
	csrf.SetFailureHandler(http.HandlerFunc(csrfFailed))
	return &Server{Engine: e, handler: sm.LoadAndSave(csrf), sessions: sm, hub: d.Hub}
}

// ServeHTTP serves a request through the layers its path takes (layerOf, in routes.go). The
// gateway's callbacks and the readers' device channel carry no browser cookies, so they skip
// the session and CSRF layers (which would set cookies and cost a token per request for
// nothing); everything else goes through them.
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
	switch layerOf(r.URL.Path) {
	case layerMachine:
		s.Engine.ServeHTTP(w, r)
	case layerSocket:
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
	default:
		s.handler.ServeHTTP(w, r)
	}
}

// bodyLimit is the largest request body a path accepts: a pairing form is a serial and a
// code; the portal's own forms are small; nothing uploads files.
func bodyLimit(path string) int64 {
	if layerOf(path) == layerMachine {
		return 4 << 10
	}
	return 64 << 10
}

// csrfFailed answers a state-changing request without a valid CSRF token: 403, nothing done.
func csrfFailed(w http.ResponseWriter, r *http.Request) {
	writeErrorResponse(w, r, http.StatusForbidden, "Your form expired or did not come from this portal. Reload the page and try again.")
}
