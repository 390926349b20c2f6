package templates

import (
	"net/url"
	"strings"

	"github.com/example/mposportal/live"
)

// liveURL is the socket a page opens for its topics (live.Topic: what the page shows, so the
// portal sends it nothing else).
func liveURL(topics []live.Topic) string {
	if len(topics) == 0 {
		return "/ws"
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.String()
	}
	return "/ws?topics=" + url.QueryEscape(strings.Join(names, ","))
}

// resyncMode says how a screen catches up after its live connection dropped: "snapshot" when
// the server sends the present state on reconnecting (one payment's or close's page), "page"
// when the page is fetched again and its content swapped (lists), "none" when the screen
// holds a form being filled in (the counter), which reconnecting must not wipe.
func resyncMode(topics []live.Topic) string {
	for _, t := range topics {
		if t == live.ReaderChoices {
			return "none"
		}
		if _, ok := t.Subject(); ok {
			return "snapshot"
		}
	}
	return "page"
}
