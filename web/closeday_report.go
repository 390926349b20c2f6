package web

import (
	"context"
	"net/http"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// ZReportFigures is what a Z report reads of payments: the day's figures and the preauths
// the close released.
type ZReportFigures interface {
	Figures(ctx context.Context, q models.FigureQuery) (models.Figures, error)
	Releases(ctx context.Context, closeDayID uint) (int, int64, error)
}

// closeDayReport handles "GET /admin/closeday/c/:id/report": the Z report of a closed day.
func (s *CloseDayHandlers) closeDayReport(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		v, err := closeView(ctx, s.closeQ, s.endpoints, id)
		if err != nil {
			fail(c, err)
			return
		}
		z := templates.ZReportView{Close: v}
		q := models.FigureQuery{CloseDayID: id, Zone: v.Endpoint.Location(), Currency: v.Endpoint.Currency}
		if z.Figures, err = s.txQ.Figures(ctx, q); err != nil {
			fail(c, err)
			return
		}
		if z.Releases, z.Released, err = s.txQ.Releases(ctx, id); err != nil {
			fail(c, err)
			return
		}
		s.render(c, http.StatusOK, "Z report", templates.ZReportPage(z))
	})
}
