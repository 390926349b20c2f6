package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/example/mposportal/static"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Which layers a request passes is decided by its path, before the route table
// (Server.ServeHTTP):
//
//	path                          session                   CSRF token      errors
//	/callbacks/…, /devices/…      none: machines call them  none            plain text
//	/ws                           loaded, never saved       none (GET)      page
//	everything else               loaded and saved          on every POST   page, htmx fragment, JSON under /api
//
// The route table below groups its routes the same way.
type layer int

const (
	layerBrowser layer = iota // people in a browser: the session and CSRF layers
	layerSocket               // a screen's live socket: the session read, never written
	layerMachine              // the gateway and the readers: no session, no CSRF, plain-text errors
)

// layerOf is the layer a path is served in.
func layerOf(path string) layer {
	switch {
	case strings.HasPrefix(path, "/callbacks/"), strings.HasPrefix(path, "/devices/"):
		return layerMachine
	case path == "/ws":
		return layerSocket
	}
	return layerBrowser
}

// handlers are the portal's handler structs, one per area, each with only what its area uses
// (New builds them), and what the operations routes and the middleware need.
type handlers struct {
	pages    *pages // the shared plumbing: rendering, the error path
	metrics  *metrics
	health   func(ctx context.Context) error // nil: /healthz does not ask the database
	gatherer prometheus.Gatherer
	hub      *Hub
	devices  *DeviceHandlers

	auth      *AuthHandlers
	account   *AccountHandlers
	users     *UserHandlers
	home      *HomeHandlers
	payments  *PaymentHandlers
	receipts  *ReceiptHandlers
	shifts    *ShiftHandlers
	readers   *ReaderHandlers
	endpoints *EndpointHandlers
	closeDay  *CloseDayHandlers
	audit     *AuditHandlers
	callbacks *CallbackHandlers
}

// routes is the portal's one route table: everything the portal serves is listed here.
func routes(e *gin.Engine, h handlers) {
	e.Use(gin.CustomRecovery(func(c *gin.Context, err any) {
		h.pages.log.Error("panic", "error", err, "method", c.Request.Method, "path", c.FullPath())
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	e.Use(securityHeaders, observe(h.pages.log, h.metrics), h.pages.handleErrors)
	e.NoRoute(func(c *gin.Context) { fail(c, errNotFound) })
	e.NoMethod(func(c *gin.Context) {
		fail(c, errStatus(http.StatusMethodNotAllowed, "That action is not possible here."))
	})

	// ── Machines (layerMachine): no session, no CSRF. ──

	// The device channel: readers authenticate with a pairing code, then a device credential.
	e.POST("/devices/pair", h.devices.pair)
	e.GET("/devices/ws", h.devices.ws)
	// The gateway's server callback: signed with the endpoint's control key.
	e.GET("/callbacks/mapi/:id", h.callbacks.gatewayCallback)

	// ── Everything else (layerBrowser): the session, and a CSRF token on every POST. ──

	// Operations: no user, no setup gate.
	e.GET("/healthz", healthz(h.pages.log, h.health))
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(h.gatherer, promhttp.HandlerOpts{})))
	e.GET("/static/*filepath", staticFiles())

	// Public pages.
	a := h.auth
	e.GET("/setup", a.loadUser, a.setupShow)
	e.POST("/setup", a.loadUser, a.setupPost)
	pub := e.Group("/", a.requireSetup, a.loadUser)
	pub.GET("/login", a.loginShow)
	pub.POST("/login", a.loginPost)
	pub.POST("/logout", a.logout)
	pub.GET("/login/code", a.codeShow)
	pub.POST("/login/code", a.codePost)
	pub.GET("/second-factor", a.enrolShow)
	pub.POST("/second-factor", a.enrolPost)

	// Signed in: staff and admins.
	auth := e.Group("/", a.requireSetup, a.loadUser, a.requireLogin)
	auth.GET("/", h.home.home)
	auth.GET("/api/me", apiMe)
	auth.GET("/account", h.account.account)
	auth.POST("/account/signout-others", h.account.signOutOthers)
	auth.POST("/account/zone", h.account.accountZone)
	auth.GET("/shift", h.shifts.shiftShow)
	auth.POST("/shift/start", h.shifts.shiftStart)
	auth.POST("/shift/end", h.shifts.shiftEnd)
	auth.GET("/shifts/:id", h.shifts.shiftReport)
	// A screen's live updates (layerSocket: the session is read, never written).
	auth.GET("/ws", h.hub.ws)
	pay := h.payments
	auth.GET("/counter", pay.counter)
	auth.POST("/counter", pay.counterStart)
	auth.GET("/transactions", pay.transactionsIndex)
	auth.GET("/transactions.csv", pay.transactionsCSV)
	auth.GET("/transactions.xlsx", pay.transactionsXLSX)
	auth.GET("/transactions/:id", pay.txShow)
	auth.POST("/transactions/:id/cancel", pay.txCancel)
	auth.POST("/transactions/:id/recheck", pay.txRecheck)
	// Admins only, under the payment's own URL.
	auth.POST("/transactions/:id/resolve", a.requireAdmin, pay.txResolve)
	auth.POST("/transactions/:id/acknowledge", a.requireAdmin, pay.txAcknowledge)
	auth.GET("/transactions/:id/receipt", h.receipts.txReceipt)
	auth.POST("/transactions/:id/receipt/email", h.receipts.txReceiptEmail)
	// Managers and admins: money after the sale.
	auth.POST("/transactions/:id/operations", a.requireManager, pay.txOperate)
	auth.POST("/transactions/:id/approve", a.requireManager, pay.txApprove)
	auth.POST("/transactions/:id/reject", a.requireManager, pay.txReject)

	// Admins only.
	admin := e.Group("/admin", a.requireSetup, a.loadUser, a.requireLogin, a.requireAdmin)
	u := h.users
	admin.GET("/users", u.usersIndex)
	admin.POST("/users", u.userCreate)
	admin.GET("/users/:id", u.userShow)
	admin.POST("/users/:id", u.userUpdate)
	admin.POST("/users/:id/disable", u.userSetDisabled(true))
	admin.POST("/users/:id/enable", u.userSetDisabled(false))
	admin.POST("/users/:id/password", u.userPassword)
	admin.POST("/users/:id/second-factor/reset", u.userSecondFactorReset)
	admin.GET("/endpoints", h.endpoints.endpointsIndex)
	admin.GET("/endpoints/new", h.endpoints.endpointNew)
	admin.POST("/endpoints", h.endpoints.endpointSave)
	admin.GET("/endpoints/:id", h.endpoints.endpointShow)
	admin.POST("/endpoints/:id", h.endpoints.endpointSave)
	admin.GET("/audit", h.audit.auditIndex)
	admin.GET("/callbacks", h.callbacks.callbacksIndex)
	cd := h.closeDay
	admin.GET("/closeday", cd.closeDayIndex)
	admin.POST("/closeday/:id", cd.closeDayTrigger)
	admin.GET("/closeday/c/:id", cd.closeDayShow)
	admin.GET("/closeday/c/:id/report", cd.closeDayReport)
	admin.GET("/closeday/history", cd.closeDayHistory)
	admin.GET("/closeday/history.csv", cd.closeDayHistoryCSV)
	r := h.readers
	admin.GET("/readers", r.readersIndex)
	admin.GET("/readers/new", r.readerNew)
	admin.POST("/readers", r.readerCreate)
	admin.GET("/readers/:id", r.readerShow)
	admin.POST("/readers/:id/enable", r.readerAction("reader.enable", r.readerEnable))
	admin.POST("/readers/:id/disable", r.readerAction("reader.disable", r.readerDisable))
	admin.POST("/readers/:id/unpair", r.readerAction("reader.unpair", r.readerUnpair))
	admin.POST("/readers/:id/pairing-code", r.readerPairingCode)
	admin.POST("/readers/:id/replace", r.readerReplace)
}

// contentSecurityPolicy allows only the portal's own scripts, styles and sockets: no inline
// script or event-handler attribute, no framing, forms only to the portal.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. Pages are not stored by browsers
// or proxies (they show payments and are per user); static files set their own caching.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

// healthz handles "GET /healthz": 200 when the database answers (check; nil: when the
// process does).
func healthz(log *slog.Logger, check func(ctx context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if check != nil {
			if err := check(c.Request.Context()); err != nil {
				log.Error("health check failed", "error", err)
				c.String(http.StatusServiceUnavailable, "database unavailable")
				return
			}
		}
		c.String(http.StatusOK, "ok")
	}
}

// staticFiles serves the embedded static files; vendored files have versioned names and are
// cached for a year, the stylesheet for an hour.
func staticFiles() gin.HandlerFunc {
	fs := http.FileServerFS(static.FS)
	return func(c *gin.Context) {
		if p := c.Param("filepath"); p == "" || strings.HasSuffix(p, "/") {
			fail(c, errNotFound) // files only: no directory listings
			return
		}
		if len(c.Param("filepath")) > 8 && c.Param("filepath")[:8] == "/vendor/" {
			c.Header("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			c.Header("Cache-Control", "public, max-age=3600")
		}
		http.StripPrefix("/static", fs).ServeHTTP(c.Writer, c.Request)
	}
}
