package web

import (
	"context"

	"github.com/a-h/templ"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/templates"
)

// LiveReaders renders a reader's changed row and health block and pushes them to every open
// screen. It implements devices.ReaderPublisher.
type LiveReaders struct {
	Hub     *Hub
	Readers ReaderQueries
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
	l.Hub.BroadcastComponent(templates.ReaderRow(r, true))
	l.Hub.BroadcastComponent(templates.ReaderHealth(r, true))
	l.Hub.BroadcastComponent(templates.ReaderChoiceStatus(r, true))
}

// LiveTransactions pushes a changed payment's list row and its page's panels to every open
// screen. It implements devices.Publisher.
type LiveTransactions struct {
	Hub *Hub
	Tx  TxQueries
}

var _ devices.Publisher = (*LiveTransactions)(nil)

// TransactionChanged pushes payment id's new state.
func (l *LiveTransactions) TransactionChanged(id uint) {
	ctx := context.Background()
	t, err := l.Tx.ByID(ctx, id)
	if err != nil {
		return
	}
	evs, _ := l.Tx.Events(ctx, id)
	row := templates.TxRow(t, true)
	if len(evs) == 1 { // just started: lists have no row to replace yet
		row = templates.TxRowNew(t)
	}
	for _, c := range []templ.Component{row, templates.TxStatus(t, true), templates.TxDetails(t, true), templates.TxTimeline(t.ID, evs, true)} {
		l.Hub.BroadcastComponent(c)
	}
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
	ctx := context.Background()
	c, err := l.Closes.ByID(ctx, id)
	if err != nil {
		return
	}
	ep, _ := l.Endpoints.ByID(ctx, c.EndpointID)
	l.Hub.BroadcastComponent(templates.CloseRow(c, true))
	l.Hub.BroadcastComponent(templates.CloseStatus(c, ep, true))
}
