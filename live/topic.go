package live

import "strings"

// Topic is a kind of live fragment a page can receive: a page subscribes to what it shows, so
// a tablet on the counter is not sent every timeline line of every payment. The zero Topic is
// none.
type Topic struct {
	kind topicKind
	id   uint // the payment or close, for one row's page
}

type topicKind uint8

const (
	readers       topicKind = iota + 1 // the admins' reader rows and health
	readerChoices                      // the counter's reader choices: available or not
	paymentRows                        // updates of payment rows already on the page
	newPayments                        // new payments, inserted at the top of a list
	closes                             // close-day rows and statuses
	paymentPage                        // one payment's page: its status, details, timeline, money
	closePage                          // one close's page: its status
)

// The topics of lists and panels; PaymentTopic and CloseTopic are one row's page.
var (
	Readers       = Topic{kind: readers}
	ReaderChoices = Topic{kind: readerChoices}
	PaymentRows   = Topic{kind: paymentRows}
	NewPayments   = Topic{kind: newPayments}
	Closes        = Topic{kind: closes}
)

// PaymentTopic is payment id's page.
func PaymentTopic(id uint) Topic { return Topic{kind: paymentPage, id: id} }

// CloseTopic is close id's page.
func CloseTopic(id uint) Topic { return Topic{kind: closePage, id: id} }

// topicNames are the topics on the wire (a page's socket query); a row's page is its kind's
// name, a colon and the id ("tx:42").
var topicNames = [...]string{readers: "readers", readerChoices: "reader-choices", paymentRows: "tx-rows",
	newPayments: "tx-new", closes: "closes", paymentPage: "tx", closePage: "close"}

// String is the topic as a page names it to its socket: "readers", "tx:42"; "" for none.
func (t Topic) String() string {
	if t.kind == 0 || int(t.kind) >= len(topicNames) {
		return ""
	}
	if s, ok := t.Subject(); ok {
		return s.String()
	}
	return topicNames[t.kind]
}

// ParseTopic reads a topic as String writes it and refuses anything else.
func ParseTopic(s string) (Topic, bool) {
	if c, ok := ParseChange(s); ok {
		switch c.Kind {
		case Payment:
			return PaymentTopic(c.ID), true
		case Close:
			return CloseTopic(c.ID), true
		}
		return Topic{}, false
	}
	if strings.Contains(s, ":") {
		return Topic{}, false
	}
	for k, n := range topicNames {
		if k != 0 && n == s && topicKind(k) != paymentPage && topicKind(k) != closePage {
			return Topic{kind: topicKind(k)}, true
		}
	}
	return Topic{}, false
}

// Staff reports whether staff (not only admins) may receive the topic: the counter's reader
// choices and payments. Reader administration and Close Day are for admins.
func (t Topic) Staff() bool {
	switch t.kind {
	case readerChoices, paymentRows, newPayments, paymentPage:
		return true
	}
	return false
}

// Subject is the one payment or close whose page the topic is, if it is one: such a page
// needs its present state when its socket (re)connects, where a list fetches itself again.
func (t Topic) Subject() (Change, bool) {
	switch t.kind {
	case paymentPage:
		return Change{Kind: Payment, ID: t.id}, true
	case closePage:
		return Change{Kind: Close, ID: t.id}, true
	}
	return Change{}, false
}
