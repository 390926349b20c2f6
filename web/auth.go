package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

const userKey = "user"

// SignInUsers is what signing in reads and writes of the user table.
type SignInUsers interface {
	Count(ctx context.Context) (int64, error)
	Create(ctx context.Context, u *models.User) error
	ByID(ctx context.Context, id uint) (models.User, error)
	ByUsername(ctx context.Context, name string) (models.User, error)
	SignedIn(ctx context.Context, u *models.User, at time.Time) error
}

// AuthHandlers sign people in and out (setup, password, then the second factor in
// secondfactor.go) and hold the middleware that guards every page: the setup gate, the
// session's user, the roles.
type AuthHandlers struct {
	*pages
	users         SignInUsers
	secondFactors SecondFactorSignIn
	throttle      *throttle   // password and code guessing: per address, user, or both
	setUp         atomic.Bool // an admin exists; once true it stays true (users are never deleted)
}

func newAuthHandlers(p *pages, users SignInUsers, factors SecondFactorSignIn) *AuthHandlers {
	return &AuthHandlers{pages: p, users: users, secondFactors: factors, throttle: newThrottle(p.now)}
}

// currentUser is the signed-in user (requireLogin guarantees one).
func currentUser(c *gin.Context) *models.User {
	u, _ := c.Get(userKey)
	usr, _ := u.(*models.User)
	return usr
}

// loadUser puts the session's user on the context. A user disabled or gone since signing in
// loses the session at the next request.
func (s *AuthHandlers) loadUser(c *gin.Context) {
	ctx := c.Request.Context()
	id := s.sessions.GetInt(ctx, "user_id")
	if id == 0 {
		c.Next()
		return
	}
	u, err := s.users.ByID(ctx, uint(id))
	if err != nil || u.Disabled || s.sessions.GetInt(ctx, "session_epoch") != u.SessionEpoch {
		// Gone, disabled, or every session of the user was ended (a password reset).
		s.sessions.Destroy(ctx)
		c.Next()
		return
	}
	c.Set(userKey, &u)
	c.Next()
}

// requireSetup sends every page to /setup until the first administrator exists.
func (s *AuthHandlers) requireSetup(c *gin.Context) {
	if !s.setUp.Load() {
		n, err := s.users.Count(c.Request.Context())
		if err != nil {
			fail(c, err)
			return
		}
		if n == 0 {
			if isAPI(c.Request.URL.Path) {
				fail(c, errStatus(http.StatusServiceUnavailable, "the portal is not set up yet"))
				return
			}
			c.Redirect(http.StatusSeeOther, "/setup")
			c.Abort()
			return
		}
		s.setUp.Store(true)
	}
	c.Next()
}

// requireLogin lets signed-in users through; others go to the login page (401 under /api).
func (s *AuthHandlers) requireLogin(c *gin.Context) {
	if u := currentUser(c); u != nil {
		if s.needsSecondFactor(u) && !s.sessions.GetBool(c.Request.Context(), "mfa") {
			s.secondFactorFirst(c, u)
			return
		}
		c.Next()
		return
	}
	if isAPI(c.Request.URL.Path) {
		fail(c, errStatus(http.StatusUnauthorized, "sign in first"))
		return
	}
	if c.Request.Method != http.MethodGet {
		fail(c, errStatus(http.StatusUnauthorized, "Your session has ended. Sign in again."))
		return
	}
	c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
	c.Abort()
}

// secondFactorFirst stops a session that has not passed the second factor its user now needs
// (the first administrator, just created; a role raised since signing in; an authenticator set
// up from another device): set one up, or enter a code, before anything else.
func (s *AuthHandlers) secondFactorFirst(c *gin.Context, u *models.User) {
	if c.Request.Method != http.MethodGet || isAPI(c.Request.URL.Path) {
		fail(c, errStatus(http.StatusForbidden, "Finish two-step sign-in first."))
		return
	}
	if u.HasSecondFactor() {
		s.beginSecondFactor(c, u, c.Request.URL.RequestURI())
	} else {
		redirect(c, "/second-factor")
	}
	c.Abort()
}

// requireAdmin refuses staff with 403; nothing behind it runs.
func (s *AuthHandlers) requireAdmin(c *gin.Context) {
	if u := currentUser(c); u == nil || u.Role != models.RoleAdmin {
		fail(c, errForbidden)
		return
	}
	c.Next()
}

// requireManager lets managers and administrators through (captures, releases, refunds);
// staff get 403 and nothing behind it runs.
func (s *AuthHandlers) requireManager(c *gin.Context) {
	if u := currentUser(c); u == nil || !u.Role.AtLeast(models.RoleManager) {
		fail(c, errForbidden)
		return
	}
	c.Next()
}

// setupShow handles "GET /setup".
func (s *AuthHandlers) setupShow(c *gin.Context) {
	if n, err := s.users.Count(c.Request.Context()); err != nil || n > 0 {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	s.render(c, http.StatusOK, "Set up", templates.SetupPage(templates.SetupForm{}))
}

// setupPost handles "POST /setup": creates the first administrator, once.
func (s *AuthHandlers) setupPost(c *gin.Context) {
	f := templates.SetupForm{Username: strings.TrimSpace(c.PostForm("username")), Name: strings.TrimSpace(c.PostForm("name")), Errors: templates.FormErrors{}}
	pw := c.PostForm("password")
	if msg := models.ValidateUsername(f.Username); msg != "" {
		f.Errors["username"] = msg
	}
	if f.Name == "" || len(f.Name) > 64 {
		f.Errors["name"] = "Enter a name of at most 64 characters."
	}
	if msg := models.ValidatePassword(pw); msg != "" {
		f.Errors["password"] = msg
	} else if pw != c.PostForm("password2") {
		f.Errors["password2"] = "The passwords do not match."
	}
	if len(f.Errors) > 0 {
		s.render(c, http.StatusUnprocessableEntity, "Set up", templates.SetupPage(f))
		return
	}
	hash, err := models.HashPassword(pw)
	if err != nil {
		fail(c, err)
		return
	}
	u := models.User{Username: f.Username, Name: f.Name, PasswordHash: hash, Role: models.RoleAdmin}
	// Count and create are not one statement; SetupAdmin refuses when any user exists.
	if err := s.createFirstAdmin(c, &u); err != nil {
		fail(c, err)
		return
	}
	s.signIn(c, &u)
	s.record(c, "user.setup", u.Username, "first administrator created")
	s.flash(c, "Welcome! Your administrator account is ready.")
	redirect(c, "/")
}

func (s *AuthHandlers) createFirstAdmin(c *gin.Context, u *models.User) error {
	ctx := c.Request.Context()
	n, err := s.users.Count(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return errStatus(http.StatusConflict, "The portal is already set up. Sign in instead.")
	}
	return s.users.Create(ctx, u)
}

// loginShow handles "GET /login".
func (s *AuthHandlers) loginShow(c *gin.Context) {
	if currentUser(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	s.render(c, http.StatusOK, "Sign in", templates.LoginPage(templates.LoginForm{Next: c.Query("next")}))
}

// loginPost handles "POST /login". Unknown user and wrong password get the same answer and
// take the same time; repeated failures per address and per username are slowed down.
func (s *AuthHandlers) loginPost(c *gin.Context) {
	ctx := c.Request.Context()
	username := strings.ToLower(strings.TrimSpace(c.PostForm("username")))
	if len(username) > 64 {
		username = username[:64] // no such user: usernames are at most 32 characters; kept short for the log
	}
	f := templates.LoginForm{Username: username, Next: safeNext(c.PostForm("next"))}
	ip := c.ClientIP()
	keys := []string{"ipuser:" + ip + "|" + username, "ip:" + ip, "user:" + username}
	if wait := s.throttle.blocked(keys...); wait > 0 {
		f.Error = fmt.Sprintf("Too many failed sign-in attempts. Try again in %d seconds.", int(wait.Seconds())+1)
		s.render(c, http.StatusTooManyRequests, "Sign in", templates.LoginPage(f))
		return
	}
	u, err := s.users.ByUsername(ctx, username)
	ok := err == nil && u.CheckPassword(c.PostForm("password")) && !u.Disabled
	if err != nil {
		models.CheckDummyPassword(c.PostForm("password")) // same time as a real comparison
	}
	if !ok {
		s.throttle.failed(keys...)
		s.record(c, "user.login_failed", username, "")
		f.Error = "Invalid username or password."
		s.render(c, http.StatusUnauthorized, "Sign in", templates.LoginPage(f))
		return
	}
	s.throttle.reset("ipuser:" + ip + "|" + username)
	if s.needsSecondFactor(&u) {
		s.record(c, "user.password_ok", u.Username, "second factor next")
		s.beginSecondFactor(c, &u, f.Next)
		return
	}
	if err := s.users.SignedIn(ctx, &u, s.now()); err != nil {
		fail(c, err)
		return
	}
	s.signIn(c, &u)
	s.record(c, "user.login", u.Username, "")
	redirect(c, f.Next)
}

// safeNext keeps post-login redirects on this site.
func safeNext(next string) string {
	// Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/\t/evil"
	// or "/\\evil" would leave the portal: only a plain local path is followed.
	if next == "" || len(next) > 512 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\t\r\n ") || strings.ContainsFunc(next, unicode.IsControl) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

// logout handles "POST /logout".
func (s *AuthHandlers) logout(c *gin.Context) {
	if u := currentUser(c); u != nil {
		s.record(c, "user.logout", u.Username, "")
	}
	if err := s.sessions.Destroy(c.Request.Context()); err != nil {
		fail(c, err)
		return
	}
	redirect(c, "/login")
}
