package models

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// Lean SQL for the hot paths.
//
// A gateway callback and the status poller run a handful of statements per payment,
// thousands of times a second. Through GORM each statement costs its reflective builder and
// scanner, and a statement that GORM first prepares inside a transaction is prepared again in
// every later transaction (database/sql cannot reuse a statement that belongs to a finished
// transaction). These paths therefore run fixed SQL text as database/sql prepared statements,
// each prepared once per pool: reads outside a transaction on the read pool, everything inside
// a transaction (a group commit's unit) on that transaction's connection. The text uses ?
// placeholders and is rewritten to $1, $2, … for PostgreSQL once, when it is prepared.

// hotName is the GORM plugin name under which Open keeps the pools for the hot paths.
const hotName = "mposportal:hotsql"

// hotSQL holds the pools Open made and the statements prepared on them. It is registered as
// a GORM plugin so that it lives exactly as long as the *gorm.DB; Close closes it.
type hotSQL struct {
	writer, reader *sql.DB // reader: SQLite's read-only pool; the one pool on PostgreSQL
	postgres       bool
	mu             sync.RWMutex
	w, r           map[string]*sql.Stmt // prepared on writer, on reader
	pending        map[string]bool      // being prepared on the writer (prepareLater)
	closed         bool
}

func (*hotSQL) Name() string              { return hotName }
func (*hotSQL) Initialize(*gorm.DB) error { return nil }

// useHotSQL registers the pools with db (Open does this once).
func useHotSQL(db *gorm.DB, writer, reader *sql.DB, postgres bool) error {
	return db.Use(&hotSQL{writer: writer, reader: reader, postgres: postgres, w: map[string]*sql.Stmt{}, r: map[string]*sql.Stmt{},
		pending: map[string]bool{}})
}

// hotOf returns db's pools, or nil for a *gorm.DB that Open did not make (the statements then
// run unprepared through GORM's connection, which is correct, only slower).
func hotOf(db *gorm.DB) *hotSQL {
	h, _ := db.Config.Plugins[hotName].(*hotSQL)
	return h
}

// maxHotStmts bounds the statements kept per pool: the hot paths' text is fixed except for
// the list of columns an update changes, of which only a few combinations occur.
const maxHotStmts = 256

// stmt returns q prepared on the writer (write) or the read pool; nil, nil when q is one
// statement more than the cache keeps (it then runs unprepared).
func (h *hotSQL) stmt(ctx context.Context, write bool, q string) (*sql.Stmt, error) {
	if st := h.cached(write, q); st != nil {
		return st, nil
	}
	if h.full(write) {
		return nil, nil
	}
	return h.prepare(ctx, write, q)
}

func (h *hotSQL) full(write bool) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if write {
		return len(h.w) >= maxHotStmts
	}
	return len(h.r) >= maxHotStmts
}

// cached returns q if it is prepared already, else nil.
func (h *hotSQL) cached(write bool, q string) *sql.Stmt {
	cache := h.r
	if write {
		cache = h.w
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return cache[q]
}

// prepare prepares q and keeps it. The lock is not held while preparing: that may wait for a
// connection, which a transaction that needs the lock itself may hold.
func (h *hotSQL) prepare(ctx context.Context, write bool, q string) (*sql.Stmt, error) {
	cache, pool := h.r, h.reader
	if write {
		cache, pool = h.w, h.writer
	}
	text := q
	if h.postgres {
		text = dollarParams(q)
	}
	// Prepared with a context of its own: the statement outlives the request that first
	// needs it.
	st, err := pool.PrepareContext(context.WithoutCancel(ctx), text)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case cache[q] != nil: // prepared meanwhile by another caller
		st.Close()
		return cache[q], nil
	case h.closed:
		st.Close()
		return nil, sql.ErrConnDone
	}
	cache[q] = st // may pass maxHotStmts by the few prepared at the same time
	return st, nil
}

// prepareLater prepares q on the writer in the background. A statement first needed inside a
// transaction cannot be prepared on the pool there and then: on SQLite the transaction holds
// the writer's one connection. It runs unprepared this once, and prepared from then on.
func (h *hotSQL) prepareLater(q string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.pending[q] || h.w[q] != nil || len(h.w) >= maxHotStmts {
		return
	}
	h.pending[q] = true
	go func() {
		// A failure is tried again the next time; one that ends with the database (Close) has
		// nothing left to do.
		h.prepare(context.Background(), true, q)
		h.mu.Lock()
		delete(h.pending, q)
		h.mu.Unlock()
	}()
}

// close closes the prepared statements; one being prepared meanwhile is closed as it is done.
func (h *hotSQL) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, m := range []map[string]*sql.Stmt{h.w, h.r} {
		for q, st := range m {
			st.Close()
			delete(m, q)
		}
	}
}

// txOf returns the database/sql transaction db runs in, or nil when it runs in none (or in
// one this package cannot reach).
func txOf(db *gorm.DB) *sql.Tx {
	switch c := db.Statement.ConnPool.(type) {
	case *sql.Tx:
		return c
	case *gorm.PreparedStmtTX:
		tx, _ := c.Tx.(*sql.Tx)
		return tx
	}
	return nil
}

// inTx reports whether db runs inside a transaction.
func inTx(db *gorm.DB) bool {
	_, ok := db.Statement.ConnPool.(gorm.TxCommitter)
	return ok
}

// hotQuery runs the fixed query q: inside db's transaction when db is in one, else on the read
// pool. The hot paths' statements take microseconds: they are not interrupted when ctx is
// cancelled, which spares database/sql and the SQLite driver a watching goroutine per query.
func hotQuery(ctx context.Context, db *gorm.DB, q string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	h := hotOf(db)
	if h == nil {
		return db.Statement.ConnPool.QueryContext(ctx, rebind(db, q), args...)
	}
	if tx := txOf(db); tx != nil {
		if st := h.cached(true, q); st != nil {
			return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		}
		h.prepareLater(q)
		return tx.QueryContext(ctx, rebind(db, q), args...)
	}
	if inTx(db) {
		return db.Statement.ConnPool.QueryContext(ctx, rebind(db, q), args...)
	}
	st, err := h.stmt(ctx, false, q)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return h.reader.QueryContext(ctx, rebind(db, q), args...)
	}
	return st.QueryContext(ctx, args...)
}

// hotExec runs the fixed statement q, inside db's transaction when db is in one, else on the
// writer; like hotQuery, it is not interrupted by ctx.
func hotExec(ctx context.Context, db *gorm.DB, q string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	h := hotOf(db)
	tx := txOf(db)
	switch {
	case h == nil || (tx == nil && inTx(db)):
		return db.Statement.ConnPool.ExecContext(ctx, rebind(db, q), args...)
	case tx != nil:
		if st := h.cached(true, q); st != nil {
			return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
		h.prepareLater(q)
		return tx.ExecContext(ctx, rebind(db, q), args...)
	}
	st, err := h.stmt(ctx, true, q)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return h.writer.ExecContext(ctx, rebind(db, q), args...)
	}
	return st.ExecContext(ctx, args...)
}

// onceExec runs q once, unprepared (its text varies, as a multi-row INSERT's does): on db's
// transaction or connection.
func onceExec(ctx context.Context, db *gorm.DB, q string, args ...any) (sql.Result, error) {
	if tx := txOf(db); tx != nil {
		return tx.ExecContext(ctx, rebind(db, q), args...)
	}
	return db.Statement.ConnPool.ExecContext(ctx, rebind(db, q), args...)
}

// translateRaw maps an error of plain SQL onto ours as GORM's TranslateError does: a unique
// violation is ErrConflict, whichever database said it.
func translateRaw(db *gorm.DB, err error) error {
	if t, ok := db.Dialector.(gorm.ErrorTranslator); ok && err != nil {
		err = t.Translate(err)
	}
	return translate(err)
}

// isPostgres reports whether db talks to PostgreSQL.
func isPostgres(db *gorm.DB) bool {
	if h := hotOf(db); h != nil {
		return h.postgres
	}
	return db.Dialector.Name() == "postgres"
}

// rebind rewrites q's placeholders for db's dialect.
func rebind(db *gorm.DB, q string) string {
	if isPostgres(db) {
		return dollarParams(q)
	}
	return q
}

// dollarParams rewrites ? placeholders as PostgreSQL's $1, $2, …. The hot paths' SQL text
// holds no string literal with a question mark in it.
func dollarParams(q string) string {
	n := strings.Count(q, "?")
	if n == 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 3*n)
	i := 0
	for _, r := range q {
		if r == '?' {
			i++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// placeholders returns "(?, ?, …)" with n marks.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// Scanners: each fills one field from a column, NULL as the zero value (as GORM does for a
// column added to a table after its rows), without allocating.

type strCol struct{ p *string }

func (c strCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.p = ""
	case string:
		*c.p = v
	case []byte:
		*c.p = string(v)
	default:
		return fmt.Errorf("models: %T is not text", v)
	}
	return nil
}

type optStrCol struct{ p **string }

func (c optStrCol) Scan(v any) error {
	if v == nil {
		*c.p = nil
		return nil
	}
	var s string
	if err := (strCol{&s}).Scan(v); err != nil {
		return err
	}
	*c.p = &s
	return nil
}

func asInt(v any) (int64, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case int:
		return int64(v), nil
	case float64:
		return int64(v), nil
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("models: %T is not a number", v)
}

type int64Col struct{ p *int64 }

func (c int64Col) Scan(v any) (err error) {
	*c.p, err = asInt(v)
	return err
}

type intCol struct{ p *int }

func (c intCol) Scan(v any) error {
	n, err := asInt(v)
	*c.p = int(n)
	return err
}

type uintCol struct{ p *uint }

func (c uintCol) Scan(v any) error {
	n, err := asInt(v)
	*c.p = uint(n)
	return err
}

type optUintCol struct{ p **uint }

func (c optUintCol) Scan(v any) error {
	if v == nil {
		*c.p = nil
		return nil
	}
	n, err := asInt(v)
	u := uint(n)
	*c.p = &u
	return err
}

type timeCol struct{ p *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.p = time.Time{}
	case time.Time:
		*c.p = v
	default:
		return fmt.Errorf("models: %T is not a time", v)
	}
	return nil
}

type optTimeCol struct{ p **time.Time }

func (c optTimeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.p = nil
	case time.Time:
		*c.p = &v
	default:
		return fmt.Errorf("models: %T is not a time", v)
	}
	return nil
}

// optTime is an optional time column's value: NULL for nil.

func optTime(p *time.Time) any {
	if p == nil {
		return nil
	}
	return *p
}

// scanOne scans the single row of rows with scan; sql.ErrNoRows as ErrNotFound.
func scanOne(rows *sql.Rows, err error, scan func(*sql.Rows) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNotFound
	}
	if err := scan(rows); err != nil {
		return err
	}
	return rows.Close()
}
