package web

import (
	"context"

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
	l.Hub.BroadcastComponent(templates.Fragments(templates.ReaderRow(r, true), templates.ReaderHealth(r, true)))
}
