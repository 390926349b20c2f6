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
	"github.com/example/mposportal/money"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
	"github.com/justinas/nosurf"
)

// render writes a component as the response. The page renders into a buffer first, so a
// failure half-way becomes a clean error page, not half a page. An htmx request gets the bare
// component; a full request gets it inside the layout.
func (p *pages) render(c *gin.Context, status int, title string, comp templ.Component) {
	ctx := templates.WithChrome(c.Request.Context(), p.chrome(c))
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
func (p *pages) chrome(c *gin.Context) templates.Chrome {
	ch := p.storeChrome(c.Request.Context())
	ch.CSRFToken, ch.Path = nosurf.Token(c.Request), c.Request.URL.Path
	if u, ok := c.Get(userKey); ok {
		ch.User = u.(*models.User)
		if z := userZone(ch.User); z != nil {
			ch.Zone = z
		}
		if p.needsSecondFactor(ch.User) && !p.sessions.GetBool(c.Request.Context(), "mfa") {
			ch.User = nil // half signed in (setting up the second factor): no navigation yet
		}
	}
	ch.Flash = p.sessions.PopString(c.Request.Context(), "flash")
	return ch
}

// flash leaves a message for the next page the user sees.
func (p *pages) flash(c *gin.Context, msg string) {
	p.sessions.Put(c.Request.Context(), "flash", msg)
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
func (p *pages) confirmed(c *gin.Context, v templates.ConfirmView) bool {
	if c.PostForm("confirm") == "yes" {
		return true
	}
	p.render(c, http.StatusOK, v.Title, templates.ConfirmPage(v))
	return false
}

// storeLook is how the store shows times and amounts: the first gateway endpoint's time zone
// (the server's when none names one), locale and currency.
type storeLook struct {
	zone     *time.Location
	dayZone  *time.Location // the zone business days are counted in (the endpoint's; UTC when none)
	money    money.Locale
	currency string
	at       time.Time
}

// store looks the store's settings up at most every storeTTL: every page and pushed fragment
// asks for them.
func (p *pages) store(ctx context.Context) storeLook {
	if l := p.look.Load(); l != nil && time.Since(l.at) < storeTTL {
		return *l
	}
	l := storeLook{zone: time.Local, dayZone: time.UTC, money: money.English, at: time.Now()}
	if eps, err := p.settings.List(ctx); err == nil && len(eps) > 0 {
		l.money, l.currency, l.dayZone = eps[0].Money(), eps[0].Currency, eps[0].Location()
		for _, e := range eps {
			if e.TimeZone != "" {
				l.zone = e.Location()
				break
			}
		}
	}
	p.look.Store(&l)
	return l
}

// storeChrome is the store's look for pages and pushed fragments.
func (p *pages) storeChrome(ctx context.Context) templates.Chrome {
	l := p.store(ctx)
	return templates.Chrome{Zone: l.zone, Money: l.money}
}

// storeTTL is how long looked-up store settings are used (a changed endpoint shows within it).
const storeTTL = 10 * time.Second

// readerZone is the zone the signed-in user reads times in: their own choice, else the
// store's. Dates typed into filters are days in it.
func (p *pages) readerZone(c *gin.Context) *time.Location {
	if z := userZone(currentUser(c)); z != nil {
		return z
	}
	return p.store(c.Request.Context()).zone
}

// userZone is the zone a user chose to read times in; nil for the store's.
func userZone(u *models.User) *time.Location {
	if u == nil || u.TimeZone == "" {
		return nil
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		return nil
	}
	return loc
}
