package web

import (
	"context"
	"net/http"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// HomeReads is what the start page reads of payments: what needs someone, the preauths still
// holding funds, and the day's figures (dashboard.go).
type HomeReads interface {
	NeedsAttention(ctx context.Context, limit int) ([]models.Transaction, error)
	List(ctx context.Context, f models.TxFilter) ([]models.Transaction, error)
	Figures(ctx context.Context, q models.FigureQuery) (models.Figures, error)
}

// CloseProblems lists the closes since a time that did not go through cleanly.
type CloseProblems interface {
	Problems(ctx context.Context, since time.Time) ([]models.CloseDay, error)
}

// HomeHandlers serve the start page.
type HomeHandlers struct {
	*pages
	txQ       HomeReads
	endpoints EndpointList // how long each endpoint's preauths may hold funds
	closeQ    CloseProblems
}

func newHomeHandlers(p *pages, txQ HomeReads, endpoints EndpointList, closeQ CloseProblems) *HomeHandlers {
	return &HomeHandlers{pages: p, txQ: txQ, endpoints: endpoints, closeQ: closeQ}
}

// home handles "GET /": what needs someone, then the preauths still holding funds. Admins
// also see the closes of the last week that did not go through cleanly.
func (s *HomeHandlers) home(c *gin.Context) {
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
func apiMe(c *gin.Context) {
	u := currentUser(c)
	c.JSON(http.StatusOK, gin.H{"id": u.ID, "username": u.Username, "name": u.Name, "role": u.Role})
}
