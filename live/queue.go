package live

import (
	"context"
	"sync"
)

// Queue is a Notifier that keeps changes until Run hands them to a renderer, so the caller
// never waits for screens. A change already waiting is not queued again: a burst of changes
// to one row between two rounds is rendered once, with the row as it then is.
type Queue struct {
	mu      sync.Mutex
	pending []Change
	queued  map[Change]bool
	wake    chan struct{}
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	return &Queue{queued: map[Change]bool{}, wake: make(chan struct{}, 1)}
}

// Changed queues c and returns at once.
func (q *Queue) Changed(c Change) {
	q.mu.Lock()
	if !q.queued[c] {
		q.queued[c] = true
		q.pending = append(q.pending, c)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already due
	}
}

// Run hands the queued changes to render, in the order they were first queued, until ctx is
// done. One change at a time: render needs no lock of its own. A change queued while render
// runs (render may queue some itself) goes in the next round.
func (q *Queue) Run(ctx context.Context, render func(context.Context, Change)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		clear(q.queued)
		q.mu.Unlock()
		for _, c := range batch {
			if ctx.Err() != nil {
				return nil
			}
			render(ctx, c)
		}
	}
}
