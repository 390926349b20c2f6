package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// Two-step sign-in. After the right password, a user with an authenticator app is not signed
// in yet: the session only remembers who is half-way (for 5 minutes) until the code step
// passes. A user whose role needs a second factor and has none is signed in only after
// setting one up. Session keys:
//
//	mfa_user_id, mfa_epoch, mfa_at, mfa_next  the half-way sign-in
//	mfa_secret                                the secret being set up, until confirmed
//	mfa                                       this session passed a second factor

// SecondFactorSignIn checks a user's second factor at sign-in and sets a new one up.
type SecondFactorSignIn interface {
	Enrol(ctx context.Context, userID uint, secret string, step int64, now time.Time) ([]string, error)
	Verify(ctx context.Context, u models.User, code string, now time.Time) (recovery bool, left int64, err error)
}

// pendingFor is how long a password stays good for the code step.
const pendingFor = 5 * time.Minute

// totpIssuer names the portal in the authenticator app.
const totpIssuer = "mPOS portal"

// beginSecondFactor ends the password step for u: the code step next, or the set-up page.
func (s *AuthHandlers) beginSecondFactor(c *gin.Context, u *models.User, next string) {
	ctx := c.Request.Context()
	if err := s.sessions.RenewToken(ctx); err != nil {
		s.log.Error("session renew", "error", err)
	}
	s.sessions.Put(ctx, "mfa_user_id", int(u.ID))
	s.sessions.Put(ctx, "mfa_epoch", u.SessionEpoch)
	s.sessions.Put(ctx, "mfa_at", s.now().Unix())
	s.sessions.Put(ctx, "mfa_next", next)
	if u.HasSecondFactor() {
		redirect(c, "/login/code")
		return
	}
	redirect(c, "/second-factor")
}

// pendingUser is the user half-way through signing in, if the password step was recent.
func (s *AuthHandlers) pendingUser(c *gin.Context) (*models.User, bool) {
	ctx := c.Request.Context()
	id := s.sessions.GetInt(ctx, "mfa_user_id")
	at := s.sessions.GetInt64(ctx, "mfa_at")
	if id == 0 || s.now().Sub(time.Unix(at, 0)) > pendingFor {
		return nil, false
	}
	u, err := s.users.ByID(ctx, uint(id))
	if err != nil || u.Disabled || u.SessionEpoch != s.sessions.GetInt(ctx, "mfa_epoch") {
		return nil, false
	}
	return &u, true
}

// finishSignIn signs u in after the second factor and forgets the half-way state.
func (s *AuthHandlers) finishSignIn(c *gin.Context, u *models.User) string {
	ctx := c.Request.Context()
	next := safeNext(s.sessions.GetString(ctx, "mfa_next"))
	for _, k := range []string{"mfa_user_id", "mfa_epoch", "mfa_at", "mfa_next", "mfa_secret"} {
		s.sessions.Remove(ctx, k)
	}
	if err := s.users.SignedIn(ctx, u, s.now()); err != nil {
		s.log.Error("last sign-in", "user", u.Username, "error", err)
	}
	s.signIn(c, u)
	s.sessions.Put(ctx, "mfa", true)
	return next
}

// codeKeys are the throttle keys of a code typed by u: the user's own (first, reset by a right
// code) and the address's, shared with passwords.
func codeKeys(c *gin.Context, u *models.User) []string {
	return []string{fmt.Sprintf("mfa:%d", u.ID), "ip:" + c.ClientIP()}
}

// codesBlocked says, when too many wrong codes came in, how long to wait ("" to go ahead).
func (s *AuthHandlers) codesBlocked(keys []string) string {
	if wait := s.throttle.blocked(keys...); wait > 0 {
		return fmt.Sprintf("Too many wrong codes. Try again in %d seconds.", int(wait.Seconds())+1)
	}
	return ""
}

// codeShow handles "GET /login/code".
func (s *AuthHandlers) codeShow(c *gin.Context) {
	u, ok := s.pendingUser(c)
	if !ok || !u.HasSecondFactor() {
		redirect(c, "/login")
		return
	}
	s.render(c, http.StatusOK, "Enter your code", templates.SecondFactorPage(templates.SecondFactorForm{Name: u.Name}))
}

// codePost handles "POST /login/code": an authenticator code (each accepted once) or a
// recovery code. Failures slow down per user and per address, like passwords.
func (s *AuthHandlers) codePost(c *gin.Context) {
	u, ok := s.pendingUser(c)
	if !ok || !u.HasSecondFactor() {
		s.flash(c, "Sign in again: the password step expired.")
		redirect(c, "/login")
		return
	}
	f := templates.SecondFactorForm{Name: u.Name}
	keys := codeKeys(c, u)
	if msg := s.codesBlocked(keys); msg != "" {
		f.Error = msg
		s.render(c, http.StatusTooManyRequests, "Enter your code", templates.SecondFactorPage(f))
		return
	}
	recovery, left, err := s.secondFactors.Verify(c.Request.Context(), *u, c.PostForm("code"), s.now())
	if errors.Is(err, models.ErrBadCode) {
		s.throttle.failed(keys...)
		s.record(c, "user.login_failed", u.Username, "wrong second-factor code")
		f.Error = "That code is wrong or was used already. Wait for the next code and try again."
		s.render(c, http.StatusUnauthorized, "Enter your code", templates.SecondFactorPage(f))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.throttle.reset(keys[0])
	next := s.finishSignIn(c, u)
	if recovery {
		s.record(c, "user.login", u.Username, fmt.Sprintf("with a recovery code, %d left", left))
		s.flash(c, fmt.Sprintf("You signed in with a recovery code; %d left. If your phone is lost, set up two-step sign-in again from Your account.", left))
	} else {
		s.record(c, "user.login", u.Username, "with an authenticator code")
	}
	redirect(c, next)
}

// enrolSubject is who is setting up a second factor: the signed-in user, or a user half-way
// through signing in whose role needs one.
func (s *AuthHandlers) enrolSubject(c *gin.Context) (*models.User, bool) {
	if u := currentUser(c); u != nil {
		return u, true
	}
	if u, ok := s.pendingUser(c); ok && !u.HasSecondFactor() {
		return u, false
	}
	return nil, false
}

// enrolShow handles "GET /second-factor": a new secret as a QR code, kept in the session until
// a code from the app confirms it (a reload shows the same one).
func (s *AuthHandlers) enrolShow(c *gin.Context) {
	u, _ := s.enrolSubject(c)
	if u == nil {
		redirect(c, "/login")
		return
	}
	s.renderEnrol(c, u, http.StatusOK, "")
}

func (s *AuthHandlers) renderEnrol(c *gin.Context, u *models.User, status int, msg string) {
	ctx := c.Request.Context()
	secret := s.sessions.GetString(ctx, "mfa_secret")
	key, err := models.NewTOTPKey(totpIssuer, u.Username)
	if err != nil {
		fail(c, err)
		return
	}
	if secret == "" {
		secret = key.Secret()
		s.sessions.Put(ctx, "mfa_secret", secret)
	} else if key, err = models.TOTPKeyFor(totpIssuer, u.Username, secret); err != nil {
		fail(c, err)
		return
	}
	img, err := key.Image(200, 200)
	if err != nil {
		fail(c, err)
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		fail(c, err)
		return
	}
	v := templates.EnrolView{Name: u.Name, Required: u.Role.NeedsSecondFactor() && !s.secondFactorOptional,
		Replacing: u.HasSecondFactor(), Secret: secret, Error: msg,
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}
	s.render(c, status, "Two-step sign-in", templates.EnrolPage(v))
}

// enrolPost handles "POST /second-factor": the code proves the app has the secret; then the
// secret is stored, recovery codes are made and shown once, and a half-way sign-in completes.
func (s *AuthHandlers) enrolPost(c *gin.Context) {
	ctx := c.Request.Context()
	u, signedIn := s.enrolSubject(c)
	secret := s.sessions.GetString(ctx, "mfa_secret")
	switch {
	case u == nil:
		s.flash(c, "Sign in again: the set-up expired.")
		redirect(c, "/login")
		return
	case secret == "":
		redirect(c, "/second-factor") // a new key to scan
		return
	}
	keys := codeKeys(c, u)
	if msg := s.codesBlocked(keys); msg != "" {
		s.renderEnrol(c, u, http.StatusTooManyRequests, msg)
		return
	}
	step, ok := models.TOTPStep(secret, models.NormalizeCode(c.PostForm("code")), s.now())
	if !ok {
		s.throttle.failed(keys...)
		s.renderEnrol(c, u, http.StatusUnprocessableEntity, "That is not the code the app shows for this key. Check the phone's time is right and enter the current code.")
		return
	}
	s.throttle.reset(keys[0])
	codes, err := s.secondFactors.Enrol(ctx, u.ID, secret, step, s.now())
	if err != nil {
		fail(c, err)
		return
	}
	s.sessions.Remove(ctx, "mfa_secret")
	next := "/account" // moved to a new phone from the account page
	if signedIn {
		if !s.sessions.GetBool(ctx, "mfa") {
			next = "/" // set up because the role needs it: on to the start page
		}
		s.sessions.Put(ctx, "mfa", true)
	} else {
		next = s.finishSignIn(c, u)
	}
	s.record(c, "user.second_factor_enrol", u.Username, "authenticator app set up, 10 recovery codes issued")
	s.render(c, http.StatusOK, "Recovery codes", templates.RecoveryCodesPage(codes, next))
}
