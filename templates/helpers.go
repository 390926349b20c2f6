package templates

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/a-h/templ"
)

func itoa(n int) string { return strconv.Itoa(n) }

func uitoa(n uint) string { return strconv.FormatUint(uint64(n), 10) }

// when formats a time for tables, in the server's zone.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return when(*t)
}

func endpointAction(id uint) templ.SafeURL {
	if id == 0 {
		return "/admin/endpoints"
	}
	return templ.SafeURL("/admin/endpoints/" + uitoa(id))
}

func battery(p int) string {
	if p < 0 {
		return "—"
	}
	return strconv.Itoa(p) + " %"
}

// Fragments renders components one after another (one websocket message, several swaps).
func Fragments(cs ...templ.Component) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		for _, c := range cs {
			if err := c.Render(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
}
