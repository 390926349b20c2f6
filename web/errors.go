package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// httpError is an error with the status and message a user should see.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errStatus(status int, msg string) error { return &httpError{status, msg} }

var (
	errForbidden = errStatus(http.StatusForbidden, "You do not have access to this page. Ask an administrator if you need it.")
	errNotFound  = errStatus(http.StatusNotFound, "There is nothing here. The link may be out of date.")
)

// fail hands err to the error middleware and stops the handler chain.
func fail(c *gin.Context, err error) {
	c.Error(err)
	c.Abort()
}

// handleErrors is the one error path: it maps errors to a status, logs only server errors,
// and renders JSON under /api, a fragment for htmx, or the error page.
func (p *pages) handleErrors(c *gin.Context) {
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	status, msg := http.StatusInternalServerError, "Something went wrong on our side. It has been logged; try again in a moment."
	var he *httpError
	var ve *models.ValidationError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.As(err, &ve): // the domain refused the input or the request: say why
		status, msg = http.StatusUnprocessableEntity, ve.Error()
	case errors.Is(err, models.ErrNotFound):
		status, msg = errNotFound.(*httpError).status, errNotFound.(*httpError).msg
	case errors.Is(err, models.ErrConflict):
		status, msg = http.StatusConflict, "That conflicts with something that already exists."
	}
	if status >= 500 {
		p.log.Error("request failed", slog.Any("error", err), slog.String("method", methodLabel(c.Request.Method)), slog.String("path", c.FullPath()))
	}
	switch {
	case layerOf(c.Request.URL.Path) == layerMachine:
		c.String(status, msg) // no session there, so no page
	case isAPI(c.Request.URL.Path):
		c.JSON(status, gin.H{"error": msg})
	case c.GetHeader("HX-Request") == "true":
		p.render(c, status, "", templates.ErrorFragment(status, msg))
	default:
		p.render(c, status, http.StatusText(status), templates.ErrorPage(status, http.StatusText(status), msg))
	}
}
