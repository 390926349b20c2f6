package web

import (
	"context"
	"time"

	"github.com/a-h/templ"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
)

// Live renders what changed for this instance's screens. It is the live.Notifier the domain
// is given (with several instances, through a live.Fanout): a change is queued and rendered
// by Run, so a payment, a close or a reader's heartbeat never waits for screens, and a burst
// of changes to one row is rendered once.
type Live struct {
	hub       *Hub
	tx        TxQueries
	readers   ReaderQueries
	closes    CloseQueries
	endpoints EndpointStore

	queue     *live.Queue
	announced map[uint]time.Time // payments whose row lists already received (Run's own)
	swept     time.Time          // when announced was last swept (Run's own)
}

var _ live.Notifier = (*Live)(nil)

// NewLive returns the renderer of hub's screens; Run renders.
func NewLive(hub *Hub, tx TxQueries, readers ReaderQueries, closes CloseQueries, endpoints EndpointStore) *Live {
	return &Live{hub: hub, tx: tx, readers: readers, closes: closes, endpoints: endpoints,
		queue: live.NewQueue(), announced: map[uint]time.Time{}}
}

// Changed queues c for rendering and returns at once.
func (l *Live) Changed(c live.Change) { l.queue.Changed(c) }

// Run renders and pushes queued changes until ctx is done.
func (l *Live) Run(ctx context.Context) error { return l.queue.Run(ctx, l.render) }

func (l *Live) render(ctx context.Context, c live.Change) {
	switch c.Kind {
	case live.Payment:
		l.payment(ctx, c.ID)
	case live.Reader:
		l.reader(ctx, c.ID)
	case live.Close:
		l.close(ctx, c.ID)
	}
}

// Snapshot renders the present state of one payment's or one close's page for a screen that
// has just opened it (Hub.Snapshot); lists need none.
func (l *Live) Snapshot(ctx context.Context, topic live.Topic) []templ.Component {
	s, ok := topic.Subject()
	if !ok {
		return nil
	}
	switch s.Kind {
	case live.Payment:
		if t, err := l.tx.ByID(ctx, s.ID); err == nil {
			return l.paymentPage(ctx, t)
		}
	case live.Close:
		if v, err := l.closeView(ctx, s.ID); err == nil {
			out := []templ.Component{templates.CloseStatus(v, true)}
			if covered, err := l.closes.Covered(ctx, s.ID); err == nil {
				out = append(out, templates.CloseCovered(s.ID, covered, true))
			}
			return out
		}
	}
	return nil
}

// payment pushes a changed payment's list row and its page's panels.
func (l *Live) payment(ctx context.Context, id uint) {
	now := time.Now()
	_, seen := l.announced[id]
	l.announced[id] = now
	// No screen here shows payments or readers (an instance that only takes the gateway's
	// callbacks, or no one signed in): there is nothing to read or render. The payment
	// counts as announced: a screen that opens a list later reads its row there.
	if !l.hub.Wants(live.PaymentRows, live.NewPayments, live.PaymentTopic(id), live.Readers, live.ReaderChoices) {
		return
	}
	t, err := l.tx.ByID(ctx, id)
	if err != nil {
		return
	}
	// Forgotten after ten minutes; swept once a minute, not on every push (a sweep walks
	// every payment announced, thousands in a busy hour).
	if now.Sub(l.swept) > time.Minute {
		l.swept = now
		for k, at := range l.announced {
			if now.Sub(at) > 10*time.Minute {
				delete(l.announced, k)
			}
		}
	}
	// Lists: a just-started payment is inserted where lists take new rows; everywhere else
	// (and afterwards) the row is replaced in place.
	if !seen && now.Sub(t.CreatedAt) < time.Minute {
		l.hub.BroadcastFirst(Choice{live.NewPayments, templates.TxRowNew(t)}, Choice{live.PaymentRows, templates.TxRow(t, true)})
	} else {
		l.hub.BroadcastComponent(live.PaymentRows, templates.TxRow(t, true))
	}
	// A payment that took or freed its reader (waiting for a card) shows the reader busy or
	// free again at the counters. This instance's screens only: every instance hears the
	// payment's change.
	switch t.State {
	case models.TxWaitingCard, models.TxSending, models.TxCancelled, models.TxFailed:
		if t.ReaderID != 0 {
			l.queue.Changed(live.Change{Kind: live.Reader, ID: t.ReaderID})
		}
	}
	// The payment's own page, only if someone has it open.
	topic := live.PaymentTopic(t.ID)
	if !l.hub.Wants(topic) {
		return
	}
	for _, c := range l.paymentPage(ctx, t) {
		l.hub.BroadcastComponent(topic, c)
	}
}

// paymentPage is a payment page's live fragments. One message per fragment: htmx picks the
// parsing context from a message's first tag.
func (l *Live) paymentPage(ctx context.Context, t models.Transaction) []templ.Component {
	evs, _ := l.tx.Events(ctx, t.ID)
	out := []templ.Component{templates.TxStatus(t, true), templates.TxDetails(t, true), templates.TxTimeline(t.ID, evs, true)}
	if m, err := moneyView(ctx, l.tx, t); err == nil {
		out = append(out, templates.TxMoney(t, m, true))
	}
	return out
}

// reader pushes a reader's row and health block to the admins' screens, and whether it is
// free to the counters.
func (l *Live) reader(ctx context.Context, id uint) {
	r, err := l.readers.ByID(ctx, id)
	if err != nil {
		return
	}
	// One message per fragment: htmx picks the parsing context from a message's first tag, so
	// a table row and a div must not share a message.
	l.hub.BroadcastComponent(live.Readers, templates.ReaderRow(r, true))
	l.hub.BroadcastComponent(live.Readers, templates.ReaderHealth(r, true))
	busy := ""
	if w, err := l.tx.WaitingOn(ctx, id); err == nil {
		busy = l.hub.storeMoney(ctx).Format(w.AmountMinor, w.Currency)
	}
	l.hub.BroadcastComponent(live.ReaderChoices, templates.ReaderChoiceStatus(r, busy, true))
}

// close pushes a close's row and status panel, and to its own page the payments it covers
// (they join the close when it takes its totals).
func (l *Live) close(ctx context.Context, id uint) {
	v, err := l.closeView(ctx, id)
	if err != nil {
		return
	}
	l.hub.BroadcastComponent(live.Closes, templates.CloseRow(v.Close, true))
	l.hub.BroadcastFirst(Choice{live.CloseTopic(id), templates.CloseStatus(v, true)},
		Choice{live.Closes, templates.CloseStatus(v, true)})
	if l.hub.Wants(live.CloseTopic(id)) {
		if covered, err := l.closes.Covered(ctx, id); err == nil {
			l.hub.BroadcastComponent(live.CloseTopic(id), templates.CloseCovered(id, covered, true))
		}
	}
}

// closeView loads a close's live panel; a missing endpoint leaves its name blank.
func (l *Live) closeView(ctx context.Context, id uint) (templates.CloseView, error) {
	v, err := closeView(ctx, l.closes, l.endpoints, id)
	if err != nil && v.Close.ID == 0 {
		return v, err
	}
	return v, nil
}
