package templates

import (
	"net/url"
	"strconv"
	"strings"
)

// Topics name the kinds of live fragment a page can receive over the browser websocket. A
// page subscribes to what it shows, so a tablet on the counter is not sent every timeline
// line of every payment.
const (
	TopicReaders       = "readers"        // the admins' reader rows and health
	TopicReaderChoices = "reader-choices" // the counter's reader choices: available or not
	TopicTxRows        = "tx-rows"        // updates of payment rows already on the page
	TopicTxNew         = "tx-new"         // new payments, inserted at the top of the list
	TopicCloses        = "closes"         // close-day rows and statuses
)

// StaffTopic reports whether staff (not only admins) may receive a topic: the counter's reader
// choices and payments; reader administration and Close Day are for admins.
func StaffTopic(topic string) bool {
	switch topic {
	case TopicReaderChoices, TopicTxRows, TopicTxNew:
		return true
	}
	return strings.HasPrefix(topic, "tx:")
}

// TopicTx is one payment's page: its status, details and timeline.
func TopicTx(id uint) string { return "tx:" + strconv.FormatUint(uint64(id), 10) }

// TopicClose is one close's page: its status.
func TopicClose(id uint) string { return "close:" + strconv.FormatUint(uint64(id), 10) }

func liveURL(topics []string) string {
	if len(topics) == 0 {
		return "/ws"
	}
	return "/ws?topics=" + url.QueryEscape(strings.Join(topics, ","))
}

// resyncMode says how a screen catches up after its live connection dropped: "snapshot" when
// the server sends the present state on reconnecting (one payment's or close's page), "page"
// when the page is fetched again and its content swapped (lists), "none" when the screen
// holds a form being filled in (the counter), which reconnecting must not wipe.
func resyncMode(topics []string) string {
	for _, t := range topics {
		switch {
		case t == TopicReaderChoices:
			return "none"
		case strings.HasPrefix(t, "tx:"), strings.HasPrefix(t, "close:"):
			return "snapshot"
		}
	}
	return "page"
}
