package web

import (
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// dashboard is the start page's figures for the store's business day now, against the same
// weekday a week before. Staff see their own figures unless they ask for the whole store's
// (?who=all); managers and admins see the store's unless they ask for their own (?who=me).
func (s *HomeHandlers) dashboard(c *gin.Context, u *models.User) (*templates.Dashboard, error) {
	ctx := c.Request.Context()
	look := s.store(ctx)
	if look.currency == "" {
		return nil, nil // no gateway endpoint yet: nothing can have been taken
	}
	mine := c.Query("who") == "me" || c.Query("who") != "all" && u.Role == models.RoleStaff
	q := models.FigureQuery{Day: s.now().In(look.dayZone).Format("2006-01-02"), Zone: look.dayZone, Currency: look.currency}
	if mine {
		q.StaffID = u.ID
	}
	d := &templates.Dashboard{Mine: mine, ShowStaff: u.Role.AtLeast(models.RoleManager)}
	var err error
	if d.Today, err = s.txQ.Figures(ctx, q); err != nil {
		return nil, err
	}
	q.Day = s.now().In(look.dayZone).AddDate(0, 0, -7).Format("2006-01-02")
	if d.LastWeek, err = s.txQ.Figures(ctx, q); err != nil {
		return nil, err
	}
	return d, nil
}
