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
	TopicReaders = "readers" // reader rows, health and counter choices
	TopicTxRows  = "tx-rows" // updates of payment rows already on the page
	TopicTxNew   = "tx-new"  // new payments, inserted at the top of the list
	TopicCloses  = "closes"  // close-day rows and statuses
)

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
