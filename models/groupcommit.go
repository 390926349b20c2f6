package models

import (
	"context"
	"reflect"
	"sync"

	"gorm.io/gorm"
)

// GroupCommit runs small write units from many goroutines in shared database transactions,
// so that one commit (one fsync) makes a whole batch durable. Each unit runs in its own
// savepoint: a unit that fails is rolled back alone and its caller gets its error; the
// others commit. Do returns only after the commit, so a caller that answers "stored" (a
// callback's 200) still answers after the write is durable.
//
// SQLite has one writer, so batching is what lets callback ingestion go past the rate of
// single-row commits. On PostgreSQL it saves round trips and WAL flushes in the same way.
type GroupCommit struct {
	db       *gorm.DB
	maxBatch int
	units    chan *unit
	quit     chan struct{}
	done     chan struct{}
	mu       sync.RWMutex // held for reading while queueing, for writing to close
	closed   bool
}

type unit struct {
	ctx context.Context
	fn  func(tx *gorm.DB) error
	row any // for Insert: a pointer to a model, inserted with the batch's other rows of its type
	err chan error
}

// NewGroupCommit starts a committer that puts up to maxBatch units in one transaction.
// Close stops it.
func NewGroupCommit(db *gorm.DB, maxBatch int) *GroupCommit {
	if maxBatch < 1 {
		maxBatch = 1
	}
	g := &GroupCommit{db: db, maxBatch: maxBatch, units: make(chan *unit, maxBatch),
		quit: make(chan struct{}), done: make(chan struct{})}
	go g.run()
	return g
}

// Close stops the committer after the batch in hand; later calls to Do run on their own.
func (g *GroupCommit) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.quit)
	}
	g.mu.Unlock()
	<-g.done
}

// Do runs fn inside a shared transaction and returns after that transaction committed (or
// with fn's error, or the commit's). A nil *GroupCommit runs fn in a transaction of its own
// on db.
func (g *GroupCommit) Do(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	if g == nil {
		return db.WithContext(ctx).Transaction(fn)
	}
	return g.enqueue(ctx, db, &unit{ctx: ctx, fn: fn, err: make(chan error, 1)})
}

// Insert adds one row (a pointer to a model) in the next shared transaction and returns after
// it committed. Rows of one type are written with one multi-row INSERT per batch, the cheapest
// way to append log lines. A nil *GroupCommit inserts the row on its own.
func (g *GroupCommit) Insert(ctx context.Context, db *gorm.DB, row any) error {
	if g == nil {
		return db.WithContext(ctx).Create(row).Error
	}
	return g.enqueue(ctx, db, &unit{ctx: ctx, row: row, err: make(chan error, 1)})
}

func (g *GroupCommit) enqueue(ctx context.Context, db *gorm.DB, u *unit) error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		if u.row != nil {
			return db.WithContext(ctx).Create(u.row).Error
		}
		return db.WithContext(ctx).Transaction(u.fn)
	}
	// The worker runs until Close, and Close waits for this read lock: the send cannot be
	// stranded in the queue of a stopped worker.
	select {
	case g.units <- u:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the unit is always answered: the worker drains the queue before it exits.
	return <-u.err
}

func (g *GroupCommit) run() {
	defer close(g.done)
	batch := make([]*unit, 0, g.maxBatch)
	for {
		select {
		case u := <-g.units:
			batch = append(batch[:0], u)
		case <-g.quit:
			g.drain()
			return
		}
	collect:
		for len(batch) < g.maxBatch {
			select {
			case u := <-g.units:
				batch = append(batch, u)
			default:
				break collect
			}
		}
		g.commit(batch)
	}
}

// drain answers the units queued when Close was called.
func (g *GroupCommit) drain() {
	for {
		select {
		case u := <-g.units:
			g.commit([]*unit{u})
		default:
			return
		}
	}
}

func (g *GroupCommit) commit(batch []*unit) {
	errs := make([]error, len(batch))
	// The batch's transaction is not tied to one caller's context: a caller that gives up
	// does not roll back the others' work. Its own unit is skipped if it gave up in time.
	rows := map[reflect.Type]reflect.Value{} // a slice of rows per model type
	var order []reflect.Type
	err := g.db.Transaction(func(tx *gorm.DB) error {
		for i, u := range batch {
			if err := u.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			if u.row != nil {
				v := reflect.ValueOf(u.row)
				s, ok := rows[v.Type()]
				if !ok {
					s = reflect.MakeSlice(reflect.SliceOf(v.Type()), 0, len(batch))
					order = append(order, v.Type())
				}
				rows[v.Type()] = reflect.Append(s, v)
				continue
			}
			// A nested Transaction is a savepoint: a failing unit rolls back alone.
			errs[i] = tx.Transaction(u.fn)
		}
		// Rows go in last, one statement per type; if that fails the whole batch fails.
		for _, t := range order {
			if err := tx.CreateInBatches(rows[t].Interface(), 500).Error; err != nil {
				return err
			}
		}
		return nil
	})
	for i, u := range batch {
		if errs[i] == nil {
			errs[i] = err
		}
		u.err <- errs[i]
	}
}
