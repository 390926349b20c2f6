package web

import (
	"strconv"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// pageFrom reads which page of a list to show: before=<id> the rows older than id, after=<id>
// the rows newer; neither, the newest. A malformed cursor reads as none.
func pageFrom(c *gin.Context) models.Page {
	var p models.Page
	if id, err := strconv.ParseUint(c.Query("before"), 10, 32); err == nil {
		p.Before = uint(id)
	}
	if id, err := strconv.ParseUint(c.Query("after"), 10, 32); err == nil {
		p.After = uint(id)
	}
	return p
}

// pager links a list's page to the pages either side: the request's own address and query, so
// every filter stays as it was, with the opposite cursor dropped. Empty parameters (a filter
// form submits every field) are left out to keep the links short.
func pager(c *gin.Context, pg models.Paged) templates.Pager {
	link := func(cursor string, id uint) string {
		if id == 0 {
			return ""
		}
		q := c.Request.URL.Query()
		q.Del("before")
		q.Del("after")
		for k, vs := range q {
			if len(vs) == 1 && vs[0] == "" {
				q.Del(k)
			}
		}
		q.Set(cursor, strconv.FormatUint(uint64(id), 10))
		return c.Request.URL.Path + "?" + q.Encode()
	}
	return templates.Pager{Newer: link("after", pg.Newer), Older: link("before", pg.Older)}
}
