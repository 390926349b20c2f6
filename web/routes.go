package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/static"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the portal's one route table: everything the portal serves is listed here.
func (s *Server) routes(d Deps) {
	e := s.Engine
	e.Use(gin.CustomRecovery(func(c *gin.Context, err any) {
		s.log.Error("panic", "error", err, "method", c.Request.Method, "path", c.FullPath())
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	e.Use(securityHeaders, s.observe(s.metrics), s.handleErrors)
	e.NoRoute(func(c *gin.Context) { fail(c, errNotFound) })
	e.NoMethod(func(c *gin.Context) {
		fail(c, errStatus(http.StatusMethodNotAllowed, "That action is not possible here."))
	})

	// Operations: no session, no setup gate.
	e.GET("/healthz", s.healthz(d.Health))
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{})))
	e.GET("/static/*filepath", staticFiles())

	// The device channel: readers authenticate with a pairing code, then a device credential.
	if d.Devices != nil {
		e.POST("/devices/pair", d.Devices.pair)
		e.GET("/devices/ws", d.Devices.ws)
	}

	// The gateway's server callback: signed with the endpoint's control key, no session.
	e.GET("/callbacks/mapi/:id", s.gatewayCallback)

	// Public pages.
	e.GET("/setup", s.loadUser, s.setupShow)
	e.POST("/setup", s.loadUser, s.setupPost)
	pub := e.Group("/", s.requireSetup, s.loadUser)
	pub.GET("/login", s.loginShow)
	pub.POST("/login", s.loginPost)
	pub.POST("/logout", s.logout)
	pub.GET("/login/code", s.codeShow)
	pub.POST("/login/code", s.codePost)
	pub.GET("/second-factor", s.enrolShow)
	pub.POST("/second-factor", s.enrolPost)

	// Signed in: staff and admins.
	auth := e.Group("/", s.requireSetup, s.loadUser, s.requireLogin)
	auth.GET("/", s.home)
	auth.GET("/api/me", s.apiMe)
	auth.GET("/account", s.account)
	auth.POST("/account/signout-others", s.signOutOthers)
	auth.POST("/account/zone", s.accountZone)
	auth.GET("/shift", s.shiftShow)
	auth.POST("/shift/start", s.shiftStart)
	auth.POST("/shift/end", s.shiftEnd)
	auth.GET("/shifts/:id", s.shiftReport)
	if d.Hub != nil {
		auth.GET("/ws", d.Hub.ws)
	}
	auth.GET("/counter", s.counter)
	auth.POST("/counter", s.counterStart)
	auth.GET("/transactions", s.transactionsIndex)
	auth.GET("/transactions.csv", s.transactionsCSV)
	auth.GET("/transactions.xlsx", s.transactionsXLSX)
	auth.GET("/transactions/:id", s.txShow)
	auth.POST("/transactions/:id/cancel", s.txCancel)
	auth.POST("/transactions/:id/recheck", s.txRecheck)
	// Admins only, under the payment's own URL.
	auth.POST("/transactions/:id/resolve", s.requireAdmin, s.txResolve)
	auth.POST("/transactions/:id/acknowledge", s.requireAdmin, s.txAcknowledge)
	auth.GET("/transactions/:id/receipt", s.txReceipt)
	auth.POST("/transactions/:id/receipt/email", s.txReceiptEmail)
	// Managers and admins: money after the sale.
	auth.POST("/transactions/:id/operations", s.requireManager, s.txOperate)
	auth.POST("/transactions/:id/approve", s.requireManager, s.txApprove)
	auth.POST("/transactions/:id/reject", s.requireManager, s.txReject)

	// Admins only.
	admin := e.Group("/admin", s.requireSetup, s.loadUser, s.requireLogin, s.requireAdmin)
	admin.GET("/users", s.usersIndex)
	admin.POST("/users", s.userCreate)
	admin.GET("/users/:id", s.userShow)
	admin.POST("/users/:id", s.userUpdate)
	admin.POST("/users/:id/disable", s.userSetDisabled(true))
	admin.POST("/users/:id/enable", s.userSetDisabled(false))
	admin.POST("/users/:id/password", s.userPassword)
	admin.POST("/users/:id/second-factor/reset", s.userSecondFactorReset)
	admin.GET("/endpoints", s.endpointsIndex)
	admin.GET("/endpoints/new", s.endpointNew)
	admin.POST("/endpoints", s.endpointSave)
	admin.GET("/endpoints/:id", s.endpointShow)
	admin.POST("/endpoints/:id", s.endpointSave)
	admin.GET("/audit", s.auditIndex)
	admin.GET("/callbacks", s.callbacksIndex)
	admin.GET("/closeday", s.closeDayIndex)
	admin.POST("/closeday/:id", s.closeDayTrigger)
	admin.GET("/closeday/c/:id", s.closeDayShow)
	admin.GET("/closeday/c/:id/report", s.closeDayReport)
	admin.GET("/closeday/history", s.closeDayHistory)
	admin.GET("/closeday/history.csv", s.closeDayHistoryCSV)
	admin.GET("/readers", s.readersIndex)
	admin.GET("/readers/new", s.readerNew)
	admin.POST("/readers", s.readerCreate)
	admin.GET("/readers/:id", s.readerShow)
	admin.POST("/readers/:id/enable", s.readerAction("reader.enable", s.readerEnable))
	admin.POST("/readers/:id/disable", s.readerAction("reader.disable", s.readerDisable))
	admin.POST("/readers/:id/unpair", s.readerAction("reader.unpair", s.readerUnpair))
	admin.POST("/readers/:id/pairing-code", s.readerPairingCode)
	admin.POST("/readers/:id/replace", s.readerReplace)
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

// home handles "GET /": what needs someone, then the preauths still holding funds. Admins
// also see the closes of the last week that did not go through cleanly.
func (s *Server) home(c *gin.Context) {
	ctx := c.Request.Context()
	var v templates.HomeView
	var err error
	v.Attention, err = s.txQ.NeedsAttention(ctx, 50)
	if err != nil {
		fail(c, err)
		return
	}
	v.Preauths, err = s.txQ.List(ctx, models.TxFilter{OpenPreauths: true, Limit: 100})
	if err != nil {
		fail(c, err)
		return
	}
	v.WarnDays = map[uint]int{}
	if eps, err := s.endpoints.List(ctx); err == nil {
		for _, e := range eps {
			v.WarnDays[e.ID] = e.WarnDays()
		}
	}
	u := currentUser(c)
	if v.Dashboard, err = s.dashboard(c, u); err != nil {
		fail(c, err)
		return
	}
	if u.Role == models.RoleAdmin {
		v.Problems, err = s.closeQ.Problems(ctx, s.now().AddDate(0, 0, -7))
		if err != nil {
			fail(c, err)
			return
		}
	}
	s.render(c, http.StatusOK, "Home", templates.Home(u, v, s.now()))
}

// apiMe handles "GET /api/me": who is signed in.
func (s *Server) apiMe(c *gin.Context) {
	u := currentUser(c)
	c.JSON(http.StatusOK, gin.H{"id": u.ID, "username": u.Username, "name": u.Name, "role": u.Role})
}

// healthz handles "GET /healthz": 200 when the database answers.
func (s *Server) healthz(check func(ctx context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if check != nil {
			if err := check(c.Request.Context()); err != nil {
				s.log.Error("health check failed", "error", err)
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
