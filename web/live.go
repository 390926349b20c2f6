package web

import (
	"context"
	"github.com/example/mposportal/models"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/templates"
)

// LiveReaders renders a reader's changed row and health block and pushes them to every open
// screen. It implements devices.ReaderPublisher.
type LiveReaders struct {
	Hub     *Hub
	Readers ReaderQueries
	Tx      TxQueries // which readers wait for a card (busy at the counter)
}

var _ devices.ReaderPublisher = (*LiveReaders)(nil)

// ReaderChanged pushes reader id's new state.
func (l *LiveReaders) ReaderChanged(id uint) {
	r, err := l.Readers.ByID(context.Background(), id)
	if err != nil {
		return
	}
	// One message per fragment: htmx picks the parsing context from a message's first tag, so
	// a table row and a div must not share a message.
	l.Hub.BroadcastComponent(templates.TopicReaders, templates.ReaderRow(r, true))
	l.Hub.BroadcastComponent(templates.TopicReaders, templates.ReaderHealth(r, true))
	busy := ""
	if l.Tx != nil {
		if w, err := l.Tx.WaitingOn(context.Background(), id); err == nil {
			busy = l.Hub.storeMoney(context.Background()).Format(w.AmountMinor, w.Currency)
		}
	}
	l.Hub.BroadcastComponent(templates.TopicReaderChoices, templates.ReaderChoiceStatus(r, busy, true))
}

// LiveTransactions pushes a changed payment's list row and its page's panels to every open
// screen. It implements devices.Publisher without slowing the caller: changes are queued and
// rendered by Run, and a burst of changes to one payment is rendered once.
type LiveTransactions struct {
	Hub *Hub
	Tx  TxQueries
	// ReaderChanged, when set, is told when a payment took or freed its reader (waiting for a
	// card), so counters show the reader busy or free again.
	ReaderChanged func(id uint)

	once      sync.Once
	mu        sync.Mutex
	pending   map[uint]bool
	wake      chan struct{}
	announced map[uint]time.Time // payments whose row lists already received (Run's own)
	swept     time.Time          // when announced was last swept (Run's own)
}

var _ devices.Publisher = (*LiveTransactions)(nil)

func (l *LiveTransactions) init() {
	l.once.Do(func() {
		l.pending = map[uint]bool{}
		l.wake = make(chan struct{}, 1)
		l.announced = map[uint]time.Time{}
	})
}

// TransactionChanged queues payment id for a push and returns at once.
func (l *LiveTransactions) TransactionChanged(id uint) {
	l.init()
	l.mu.Lock()
	l.pending[id] = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run renders and pushes queued changes until ctx is done.
func (l *LiveTransactions) Run(ctx context.Context) error {
	l.init()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
		}
		l.mu.Lock()
		ids := l.pending
		l.pending = map[uint]bool{}
		l.mu.Unlock()
		for id := range ids {
			l.push(ctx, id)
		}
	}
}

func (l *LiveTransactions) push(ctx context.Context, id uint) {
	t, err := l.Tx.ByID(ctx, id)
	if err != nil {
		return
	}
	now := time.Now()
	_, seen := l.announced[id]
	l.announced[id] = now
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
		l.Hub.BroadcastFirst(Choice{templates.TopicTxNew, templates.TxRowNew(t)}, Choice{templates.TopicTxRows, templates.TxRow(t, true)})
	} else {
		l.Hub.BroadcastComponent(templates.TopicTxRows, templates.TxRow(t, true))
	}
	// The payment's own page, only if someone has it open.
	if l.ReaderChanged != nil {
		switch t.State {
		case models.TxWaitingCard, models.TxSending, models.TxCancelled, models.TxFailed:
			l.ReaderChanged(t.ReaderID)
		}
	}
	topic := templates.TopicTx(t.ID)
	if !l.Hub.Wants(topic) {
		return
	}
	for _, c := range l.page(ctx, t) {
		l.Hub.BroadcastComponent(topic, c)
	}
}

// page is a payment page's live fragments. One message per fragment: htmx picks the parsing
// context from a message's first tag.
func (l *LiveTransactions) page(ctx context.Context, t models.Transaction) []templ.Component {
	evs, _ := l.Tx.Events(ctx, t.ID)
	out := []templ.Component{templates.TxStatus(t, true), templates.TxDetails(t, true), templates.TxTimeline(t.ID, evs, true)}
	if m, err := moneyView(ctx, l.Tx, t); err == nil {
		out = append(out, templates.TxMoney(t, m, true))
	}
	return out
}

// LiveCloses pushes a close's row and status panel (devices.ClosePublisher).
type LiveCloses struct {
	Hub       *Hub
	Closes    CloseQueries
	Endpoints EndpointStore
}

var _ devices.ClosePublisher = (*LiveCloses)(nil)

// CloseChanged pushes close id's new state.
func (l *LiveCloses) CloseChanged(id uint) {
	v, err := l.view(context.Background(), id)
	if err != nil {
		return
	}
	l.Hub.BroadcastComponent(templates.TopicCloses, templates.CloseRow(v.Close, true))
	l.Hub.BroadcastFirst(Choice{templates.TopicClose(id), templates.CloseStatus(v, true)},
		Choice{templates.TopicCloses, templates.CloseStatus(v, true)})
}

// view loads a close's live panel; a missing endpoint leaves its name blank, as before.
func (l *LiveCloses) view(ctx context.Context, id uint) (templates.CloseView, error) {
	v, err := closeView(ctx, l.Closes, l.Endpoints, id)
	if err != nil && v.Close.ID == 0 {
		return v, err
	}
	return v, nil
}

// ChangeFeed carries "row changed" hints between portal instances (models.Changes).
type ChangeFeed interface {
	Publish(kind string, id uint)
}

// Change kinds on the feed.
const (
	ChangeTransaction = "tx"
	ChangeReader      = "reader"
	ChangeClose       = "close"
)

// SharedLive is the publisher for several instances: a change goes out on the feed, and every
// instance (this one included) renders it for its own screens in Live.Deliver.
type SharedLive struct{ Feed ChangeFeed }

func (s SharedLive) TransactionChanged(id uint) { s.Feed.Publish(ChangeTransaction, id) }
func (s SharedLive) ReaderChanged(id uint)      { s.Feed.Publish(ChangeReader, id) }
func (s SharedLive) CloseChanged(id uint)       { s.Feed.Publish(ChangeClose, id) }

// Live is one instance's renderers, fed by the change feed.
type Live struct {
	Transactions *LiveTransactions
	Readers      *LiveReaders
	Closes       *LiveCloses
}

// Snapshot renders the present state of one payment's or one close's page for a screen that
// has just opened it (Hub.Snapshot); lists need none.
func (l Live) Snapshot(ctx context.Context, topic string) []templ.Component {
	kind, num, _ := strings.Cut(topic, ":")
	id, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return nil
	}
	switch kind {
	case "tx":
		if t, err := l.Transactions.Tx.ByID(ctx, uint(id)); err == nil {
			return l.Transactions.page(ctx, t)
		}
	case "close":
		if v, err := l.Closes.view(ctx, uint(id)); err == nil {
			return []templ.Component{templates.CloseStatus(v, true)}
		}
	}
	return nil
}

// Deliver renders a change heard on the feed for this instance's screens.
func (l Live) Deliver(kind string, id uint) {
	switch kind {
	case ChangeTransaction:
		l.Transactions.TransactionChanged(id)
	case ChangeReader:
		l.Readers.ReaderChanged(id)
	case ChangeClose:
		l.Closes.CloseChanged(id)
	}
}
