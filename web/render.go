package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
	"github.com/justinas/nosurf"
)

// render writes a component as the response. The page renders into a buffer first, so a
// failure half-way becomes a clean error page, not half a page. An htmx request gets the bare
// component; a full request gets it inside the layout.
func (s *Server) render(c *gin.Context, status int, title string, comp templ.Component) {
	ctx := templates.WithChrome(c.Request.Context(), s.chrome(c))
	if c.GetHeader("HX-Request") != "true" {
		comp = templates.Page(title, comp)
	}
	var buf bytes.Buffer
	if err := comp.Render(ctx, &buf); err != nil {
		fail(c, err)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// chrome gathers the page frame's data: the signed-in user, a pending flash message, the CSRF
// token and the path.
func (s *Server) chrome(c *gin.Context) templates.Chrome {
	ch := templates.Chrome{CSRFToken: nosurf.Token(c.Request), Path: c.Request.URL.Path, Zone: s.displayZone(c.Request.Context())}
	if u, ok := c.Get(userKey); ok {
		ch.User = u.(*models.User)
		if s.needsSecondFactor(ch.User) && !s.sessions.GetBool(c.Request.Context(), "mfa") {
			ch.User = nil // half signed in (setting up the second factor): no navigation yet
		}
	}
	if s.sessions != nil {
		ch.Flash = s.sessions.PopString(c.Request.Context(), "flash")
	}
	return ch
}

// flash leaves a message for the next page the user sees.
func (s *Server) flash(c *gin.Context, msg string) {
	s.sessions.Put(c.Request.Context(), "flash", msg)
}

// redirect ends a successful form post: 303 for a plain request, HX-Redirect for htmx.
func redirect(c *gin.Context, to string) {
	if c.GetHeader("HX-Request") == "true" {
		c.Header("HX-Redirect", to)
		c.Status(http.StatusNoContent)
		return
	}
	c.Redirect(http.StatusSeeOther, to)
}

// isAPI reports whether a path answers in JSON.
func isAPI(path string) bool {
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/callbacks/") || path == "/api"
}

// writeErrorResponse writes an error outside Gin (CSRF failures): JSON under /api, a fragment
// for htmx, the error page otherwise.
func writeErrorResponse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isAPI(r.URL.Path) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	var comp templ.Component = templates.ErrorFragment(status, msg)
	if r.Header.Get("HX-Request") != "true" {
		comp = templates.Page(http.StatusText(status), templates.ErrorPage(status, http.StatusText(status), msg))
	}
	var buf bytes.Buffer
	ctx := templates.WithChrome(context.Background(), templates.Chrome{Path: r.URL.Path})
	comp.Render(ctx, &buf)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// confirmed reports whether a hard-to-undo action was confirmed (confirm=yes); if not, it
// answers with the question, whose form posts the action again confirmed.
func (s *Server) confirmed(c *gin.Context, v templates.ConfirmView) bool {
	if c.PostForm("confirm") == "yes" {
		return true
	}
	s.render(c, http.StatusOK, v.Title, templates.ConfirmPage(v))
	return false
}

// displayZone is the store's time zone, in which pages show times: the first gateway endpoint
// that names one (the server's zone when none does).
// It is looked up at most every zoneTTL: every page and pushed fragment asks for it.
func (s *Server) displayZone(ctx context.Context) *time.Location {
	if z := s.zone.Load(); z != nil && time.Since(z.at) < zoneTTL {
		return z.loc
	}
	loc := time.Local
	if s.endpoints != nil {
		if eps, err := s.endpoints.List(ctx); err == nil {
			for _, e := range eps {
				if e.TimeZone != "" {
					loc = e.Location()
					break
				}
			}
		}
	}
	s.zone.Store(&cachedZone{loc: loc, at: time.Now()})
	return loc
}

// zoneTTL is how long a looked-up display zone is used (a changed endpoint zone shows within it).
const zoneTTL = 10 * time.Second

type cachedZone struct {
	loc *time.Location
	at  time.Time
}
