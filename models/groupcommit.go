package models

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
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
	done     sync.WaitGroup // the committers
	mu       sync.RWMutex   // held for reading while queueing, for writing to close
	closed   bool
}

type unit struct {
	ctx context.Context
	fn  func(tx *gorm.DB) error
	err chan error
	// order, when set, is the payment (our order id) fn reads: on PostgreSQL the batch reads
	// its units' payments with one statement before running them (readAhead).
	order string
}

// gatherYields is how many times the committer yields to queueing callers before it commits.
const gatherYields = 3

// pgCommitters is how many batches are in flight at once on PostgreSQL. One committer waits
// for each commit's WAL flush before it gathers the next batch; with a few, one batch runs
// its statements while another's commit is flushed, as the server's own group commit allows.
// Two batches that write the same payment do not lose either write: each write is made only
// if the row is still the version its batch read (writeTx), and the later batch then waits
// for the earlier's commit and reads the row again. SQLite has one writer: one committer.
const pgCommitters = 2

// NewGroupCommit starts the committers that put up to maxBatch units in one transaction.
// Close stops them.
func NewGroupCommit(db *gorm.DB, maxBatch int) *GroupCommit {
	if maxBatch < 1 {
		maxBatch = 1
	}
	g := &GroupCommit{db: db, maxBatch: maxBatch, units: make(chan *unit, maxBatch), quit: make(chan struct{})}
	committers := 1
	if isPostgres(db) {
		committers = pgCommitters
	}
	for range committers {
		g.done.Go(g.run)
	}
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
	g.done.Wait()
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
// it committed. Rows of one type are written together at the end of the batch, the cheapest
// way to append log lines. A nil *GroupCommit inserts the row on its own.
func (g *GroupCommit) Insert(ctx context.Context, db *gorm.DB, row any) error {
	return g.Do(ctx, db, func(tx *gorm.DB) error { return insertLater(tx, row) })
}

// doReading is Do for a unit that reads payment order first: on PostgreSQL the batch reads
// it, with its other units' payments, in one statement (aheadOf gives it to fn).
func (g *GroupCommit) doReading(ctx context.Context, db *gorm.DB, order string, fn func(tx *gorm.DB) error) error {
	if g == nil {
		return db.WithContext(ctx).Transaction(fn)
	}
	return g.enqueue(ctx, db, &unit{ctx: ctx, fn: fn, err: make(chan error, 1), order: order})
}

func (g *GroupCommit) enqueue(ctx context.Context, db *gorm.DB, u *unit) error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
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
	batch := make([]*unit, 0, g.maxBatch)
	for {
		select {
		case u := <-g.units:
			batch = append(batch[:0], u)
		case <-g.quit:
			g.drain()
			return
		}
		// Callers woken by the last commit are about to queue their next unit: a few yields
		// let them, so that a batch gathers several times more units at the cost of
		// microseconds, and each unit's share of a commit shrinks as much.
		for yields := 0; ; yields++ {
		collect:
			for len(batch) < g.maxBatch {
				select {
				case u := <-g.units:
					batch = append(batch, u)
				default:
					break collect
				}
			}
			if len(batch) >= g.maxBatch || yields == gatherYields {
				break
			}
			runtime.Gosched()
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

// batchRows collects the rows a batch appends (log lines, timeline lines): they are written
// at the end of the batch with one multi-row INSERT per table. On PostgreSQL it also collects
// the payments' writes that wait for the end of the batch (writeTx).
type batchRows struct {
	rows []any
	// deferWrites: payments' writes are gathered (only in a batch's first attempt, which a
	// failure replaces with one unit by unit).
	deferWrites bool
	writes      []*txWrite
	writing     map[uint]bool // payments in writes
	// ahead holds the payments the batch read for its units (readAhead), by our order id,
	// with their versions; an order read and not found maps to a nil entry.
	ahead map[string]*versionedTx
}

// versionedTx is a payment as read, with its row version (PostgreSQL's xmin).
type versionedTx struct {
	t       Transaction
	version string
}

type batchRowsKey struct{}

// sqlTxVersionByOrders reads several payments with their versions (readAhead).
const sqlTxVersionByOrders = "SELECT xmin::text, " + txCols + " FROM transactions WHERE client_order_id = ANY(?::text[])"

// readAhead reads, on PostgreSQL, the payments the batch's units name (unit.order) with one
// statement, in the batch's transaction before any unit runs. Each unit then plans from its
// row and writes on the condition that the row is still that version (writeTx), so a row
// another writer changes meanwhile is read again, locked, as it would be without this.
func (b *batchRows) readAhead(tx *gorm.DB, batch []*unit) error {
	if !isPostgres(tx) {
		return nil
	}
	var orders []string
	for _, u := range batch {
		if u.order != "" {
			orders = append(orders, u.order)
		}
	}
	if len(orders) == 0 {
		return nil
	}
	b.ahead = make(map[string]*versionedTx, len(orders))
	for _, o := range orders {
		b.ahead[o] = nil
	}
	rows, err := hotQuery(tx.Statement.Context, tx, sqlTxVersionByOrders, orders)
	if err != nil {
		return fmt.Errorf("models: read %d payments ahead: %w", len(orders), err)
	}
	defer rows.Close()
	for rows.Next() {
		v := new(versionedTx)
		if err := scanTxVersioned(rows, &v.t, &v.version); err != nil {
			return fmt.Errorf("models: read payments ahead: %w", err)
		}
		b.ahead[v.t.ClientOrderID] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("models: read payments ahead: %w", err)
	}
	return rows.Close()
}

// aheadOf returns the payment order as the batch db runs in read it ahead: ok is false when
// it was not read ahead (no batch, SQLite, or a batch run again unit by unit), and t nil
// when it was read and not found.
func aheadOf(db *gorm.DB, order string) (t *versionedTx, ok bool) {
	b, isBatch := db.Statement.Context.Value(batchRowsKey{}).(*batchRows)
	if !isBatch || b.ahead == nil {
		return nil, false
	}
	t, ok = b.ahead[order]
	return t, ok
}

// insertLater appends row: at the end of the current group commit when there is one (the
// row is dropped if its unit fails), else at once.
func insertLater(db *gorm.DB, row any) error {
	if b, ok := db.Statement.Context.Value(batchRowsKey{}).(*batchRows); ok {
		b.rows = append(b.rows, row)
		return nil
	}
	return insertRows(db, []any{row})
}

// errUnitFailed makes the optimistic attempt roll back so that the batch runs again with a
// savepoint per unit.
var errUnitFailed = errors.New("a unit failed")

// commit runs a batch. It first tries every unit in one plain transaction, which is the
// common case and costs no savepoints; if any unit fails, that attempt is rolled back and the
// batch runs again with a savepoint per unit, so that only the failing ones are undone. (Units
// may therefore run twice; each starts from what the database holds, so that is safe.)
func (g *GroupCommit) commit(batch []*unit) {
	if !g.commitFast(batch) {
		g.commitEach(batch)
	}
}

func (g *GroupCommit) commitFast(batch []*unit) bool {
	for _, u := range batch {
		if u.ctx.Err() != nil {
			return false
		}
	}
	rows := &batchRows{deferWrites: len(batch) > 1}
	ctx := context.WithValue(context.Background(), batchRowsKey{}, rows)
	err := g.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := rows.readAhead(tx, batch); err != nil {
			return err
		}
		for _, u := range batch {
			if err := u.fn(tx); err != nil {
				if len(batch) == 1 {
					return err // alone in its transaction: rolling it back undoes just this unit
				}
				return errUnitFailed
			}
		}
		if err := rows.flushWrites(tx); err != nil {
			return errUnitFailed // which unit's write failed is found unit by unit
		}
		return insertRows(tx, rows.rows)
	})
	if errors.Is(err, errUnitFailed) {
		return false
	}
	for _, u := range batch {
		u.err <- err
	}
	return true
}

// insertRows writes appended rows, table by table: log rows (logRow) with a prepared INSERT,
// any other model with one multi-row INSERT through GORM.
func insertRows(tx *gorm.DB, rows []any) error {
	type group struct {
		log   []logRow
		other reflect.Value
	}
	var groups []*group
	byType := map[reflect.Type]*group{}
	for _, r := range rows {
		t := reflect.TypeOf(r)
		g := byType[t]
		if g == nil {
			g = &group{}
			byType[t] = g
			groups = append(groups, g)
		}
		if lr, ok := r.(logRow); ok {
			g.log = append(g.log, lr)
			continue
		}
		if !g.other.IsValid() {
			g.other = reflect.MakeSlice(reflect.SliceOf(t), 0, len(rows))
		}
		g.other = reflect.Append(g.other, reflect.ValueOf(r))
	}
	for _, g := range groups {
		if len(g.log) > 0 {
			if err := insertLogRows(tx.Statement.Context, tx, g.log); err != nil {
				return err
			}
			continue
		}
		if err := tx.CreateInBatches(g.other.Interface(), 500).Error; err != nil {
			return err
		}
	}
	return nil
}

func (g *GroupCommit) commitEach(batch []*unit) {
	errs := make([]error, len(batch))
	rows := &batchRows{}
	// The batch's transaction is not tied to one caller's context: a caller that gives up
	// does not roll back the others' work. Its own unit is skipped if it gave up in time.
	ctx := context.WithValue(context.Background(), batchRowsKey{}, rows)
	err := g.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i, u := range batch {
			if err := u.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			// A nested Transaction is a savepoint: a failing unit rolls back alone, and the
			// rows it appended go with it.
			mark := len(rows.rows)
			if errs[i] = tx.Transaction(u.fn); errs[i] != nil {
				rows.rows = rows.rows[:mark]
			}
		}
		// Rows go in last, one statement per table; if that fails the whole batch fails.
		return insertRows(tx, rows.rows)
	})
	for i, u := range batch {
		if errs[i] == nil {
			errs[i] = err
		}
		u.err <- errs[i]
	}
}
