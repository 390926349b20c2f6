package models

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The payment row's SQL for the hot paths (hotsql.go): one column list, read by scanTx in the
// same order. TestTxColumnsMatchTheModel fails when a field is added to Transaction and not
// here.

const txCols = "id, created_at, updated_at, client_order_id, endpoint_id, reader_id, reader_serial, kind, " +
	"amount_minor, currency, description, state, gateway_status, gateway_order_id, request_serial, approval_code, " +
	"rrn, receipt_id, terminal_id, card_brand, card_bin, card_last4, entry_mode, error_code, error_message, " +
	"started_by_id, started_by_name, sent_at, final_at, next_check_at, checks, close_day_id, business_day, " +
	"reader_label, start_key, not_found, review, review_note, resolve_to, resolve_by_id, resolve_by_name, " +
	"resolve_reason, parent_id, parent_order_id"

const (
	sqlTxByID          = "SELECT " + txCols + " FROM transactions WHERE id = ?"
	sqlTxByOrder       = "SELECT " + txCols + " FROM transactions WHERE client_order_id = ?"
	sqlTxByIDLocked    = sqlTxByID + " FOR UPDATE"
	sqlTxByOrderLocked = sqlTxByOrder + " FOR UPDATE"
)

// scanTx reads one row of txCols into t.
func scanTx(rows *sql.Rows, t *Transaction) error {
	*t = Transaction{}
	return rows.Scan(txDests(t)...)
}

// scanTxVersioned reads one row of the row's version and txCols.
func scanTxVersioned(rows *sql.Rows, t *Transaction, version *string) error {
	*t = Transaction{}
	return rows.Scan(append([]any{strCol{version}}, txDests(t)...)...)
}

// txDests are the scan destinations of txCols in t.
func txDests(t *Transaction) []any {
	return []any{uintCol{&t.ID}, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt}, strCol{&t.ClientOrderID},
		uintCol{&t.EndpointID}, uintCol{&t.ReaderID}, strCol{&t.ReaderSerial}, strCol{(*string)(&t.Kind)},
		int64Col{&t.AmountMinor}, strCol{&t.Currency}, strCol{&t.Description}, strCol{(*string)(&t.State)},
		strCol{&t.GatewayStatus}, strCol{&t.GatewayOrderID}, strCol{&t.RequestSerial}, strCol{&t.ApprovalCode},
		strCol{&t.RRN}, strCol{&t.ReceiptID}, strCol{&t.TerminalID}, strCol{&t.CardBrand}, strCol{&t.CardBIN},
		strCol{&t.CardLast4}, strCol{&t.EntryMode}, strCol{&t.ErrorCode}, strCol{&t.ErrorMessage},
		uintCol{&t.StartedByID}, strCol{&t.StartedByName}, optTimeCol{&t.SentAt}, optTimeCol{&t.FinalAt},
		optTimeCol{&t.NextCheckAt}, intCol{&t.Checks}, optUintCol{&t.CloseDayID}, strCol{&t.BusinessDay},
		strCol{&t.ReaderLabel}, optStrCol{&t.StartKey}, intCol{&t.NotFound}, strCol{&t.Review}, strCol{&t.ReviewNote},
		strCol{(*string)(&t.ResolveTo)}, uintCol{&t.ResolveByID}, strCol{&t.ResolveByName}, strCol{&t.ResolveReason},
		optUintCol{&t.ParentID}, strCol{&t.ParentOrderID}}
}

// txMutableCols are the columns that change after a payment is created: those Apply writes
// (changedColumns), the poller's schedule, the close that covered it, updated_at. Every other
// column is written once, when the payment is created. TestTxColumnsMatchTheModel keeps this
// list within txCols.
const txMutableCols = "state, gateway_status, gateway_order_id, request_serial, approval_code, rrn, receipt_id, " +
	"terminal_id, card_brand, card_bin, card_last4, entry_mode, error_code, error_message, sent_at, final_at, " +
	"next_check_at, checks, close_day_id, not_found, review, review_note, resolve_to, resolve_by_id, " +
	"resolve_by_name, resolve_reason, updated_at"

const (
	sqlTxMutable       = "SELECT " + txMutableCols + " FROM transactions WHERE id = ?"
	sqlTxMutableLocked = sqlTxMutable + " FOR UPDATE"
)

// scanTxMutable reads one row of txMutableCols into t, leaving t's other fields as they are.
func scanTxMutable(rows *sql.Rows, t *Transaction) error {
	return rows.Scan(strCol{(*string)(&t.State)}, strCol{&t.GatewayStatus}, strCol{&t.GatewayOrderID},
		strCol{&t.RequestSerial}, strCol{&t.ApprovalCode}, strCol{&t.RRN}, strCol{&t.ReceiptID}, strCol{&t.TerminalID},
		strCol{&t.CardBrand}, strCol{&t.CardBIN}, strCol{&t.CardLast4}, strCol{&t.EntryMode}, strCol{&t.ErrorCode},
		strCol{&t.ErrorMessage}, optTimeCol{&t.SentAt}, optTimeCol{&t.FinalAt}, optTimeCol{&t.NextCheckAt},
		intCol{&t.Checks}, optUintCol{&t.CloseDayID}, intCol{&t.NotFound}, strCol{&t.Review}, strCol{&t.ReviewNote},
		strCol{(*string)(&t.ResolveTo)}, uintCol{&t.ResolveByID}, strCol{&t.ResolveByName}, strCol{&t.ResolveReason},
		timeCol{&t.UpdatedAt})
}

// reloadTx brings payment t, read earlier, up to date: only the columns that can have changed
// since are read again (locked on PostgreSQL, as loadTx does). A missing row is ErrNotFound.
// (Should later code change a column outside txMutableCols, only the payment Apply returns
// would show the old value: Apply writes back nothing but the columns it changed.)
func reloadTx(ctx context.Context, db *gorm.DB, t *Transaction) error {
	q := sqlTxMutable
	if inTx(db) && isPostgres(db) {
		q = sqlTxMutableLocked
	}
	rows, err := hotQuery(ctx, db, q, int64(t.ID))
	return scanOne(rows, err, func(r *sql.Rows) error { return scanTxMutable(r, t) })
}

// txLookup names the payment an update is for: by row id or by our order id.
type txLookup struct {
	id    uint
	order string
}

func (l txLookup) String() string {
	if l.order != "" {
		return strconv.Quote(l.order)
	}
	return strconv.FormatUint(uint64(l.id), 10)
}

// loadTx reads one payment: inside db's transaction when db is in one (locking the row on
// PostgreSQL, where events on one payment must queue; SQLite has one writer anyway), else
// from the read pool. A missing row is ErrNotFound.
func loadTx(ctx context.Context, db *gorm.DB, l txLookup, t *Transaction) error {
	q, arg := sqlTxByID, any(int64(l.id))
	if l.order != "" {
		q, arg = sqlTxByOrder, l.order
	}
	if inTx(db) && isPostgres(db) {
		q = sqlTxByIDLocked
		if l.order != "" {
			q = sqlTxByOrderLocked
		}
	}
	rows, err := hotQuery(ctx, db, q, arg)
	return scanOne(rows, err, func(r *sql.Rows) error { return scanTx(r, t) })
}

// The row's version on PostgreSQL: xmin, the transaction that wrote the row as it is, which
// every write of the row changes (whatever statement or instance makes it).
const (
	sqlTxVersionByID    = "SELECT xmin::text, " + txCols + " FROM transactions WHERE id = ?"
	sqlTxVersionByOrder = "SELECT xmin::text, " + txCols + " FROM transactions WHERE client_order_id = ?"
)

// loadTxVersion is loadTx outside a transaction that also reads the row's version on
// PostgreSQL, for updateTxIfVersion; on SQLite (one writer) the version is "".
func loadTxVersion(ctx context.Context, db *gorm.DB, l txLookup, t *Transaction, version *string) error {
	*version = ""
	if !isPostgres(db) || inTx(db) {
		return loadTx(ctx, db, l, t)
	}
	q, arg := sqlTxVersionByID, any(int64(l.id))
	if l.order != "" {
		q, arg = sqlTxVersionByOrder, l.order
	}
	rows, err := hotQuery(ctx, db, q, arg)
	return scanOne(rows, err, func(r *sql.Rows) error {
		var v string
		err := scanTxVersioned(r, t, &v)
		*version = v
		return err
	})
}

// txValue is column col's value in t, for the columns Apply may change (changedColumns).
func txValue(t *Transaction, col string) any {
	switch col {
	case "state":
		return string(t.State)
	case "gateway_status":
		return t.GatewayStatus
	case "gateway_order_id":
		return t.GatewayOrderID
	case "request_serial":
		return t.RequestSerial
	case "approval_code":
		return t.ApprovalCode
	case "rrn":
		return t.RRN
	case "receipt_id":
		return t.ReceiptID
	case "terminal_id":
		return t.TerminalID
	case "card_brand":
		return t.CardBrand
	case "card_bin":
		return t.CardBIN
	case "card_last4":
		return t.CardLast4
	case "entry_mode":
		return t.EntryMode
	case "error_code":
		return t.ErrorCode
	case "error_message":
		return t.ErrorMessage
	case "checks":
		return int64(t.Checks)
	case "sent_at":
		return optTime(t.SentAt)
	case "final_at":
		return optTime(t.FinalAt)
	case "next_check_at":
		return optTime(t.NextCheckAt)
	case "not_found":
		return int64(t.NotFound)
	case "review":
		return t.Review
	case "review_note":
		return t.ReviewNote
	case "resolve_to":
		return string(t.ResolveTo)
	case "resolve_by_id":
		return int64(t.ResolveByID)
	case "resolve_by_name":
		return t.ResolveByName
	case "resolve_reason":
		return t.ResolveReason
	case "updated_at":
		return t.UpdatedAt
	}
	panic("models: txValue: no column " + col)
}

// updateTx writes t's columns cols (and updated_at) with one prepared UPDATE.
func updateTx(ctx context.Context, db *gorm.DB, t *Transaction, cols []string) error {
	q, args := updateTxSQL(t, cols)
	_, err := hotExec(ctx, db, q, args...)
	return err
}

// updateTxIfVersion is updateTx on PostgreSQL if the row is still at version (loadTxVersion);
// it returns the rows written: 0 when the row changed since it was read, or is gone.
func updateTxIfVersion(ctx context.Context, db *gorm.DB, t *Transaction, cols []string, version string) (int64, error) {
	q, args := updateTxSQL(t, cols)
	res, err := hotExec(ctx, db, q+" AND xmin::text = ?", append(args, version)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// txWrite is a payment's planned write on PostgreSQL, made on the condition that the row is
// still the version read (loadTxVersion): t's columns cols and updated_at, and the timeline
// line that goes with them.
type txWrite struct {
	t       *Transaction
	cols    []string
	version string
	event   *TxEvent
	// stale runs, in the same transaction, when the row is not that version any more: it
	// reads the row again, locked, and plans anew.
	stale func(db *gorm.DB) error
	// written, when set, runs in the same transaction once the write is made.
	written func(db *gorm.DB) error
}

// done runs w.written, if any, and appends w's timeline line, once w is made.
func (w *txWrite) done(db *gorm.DB) error {
	if w.event != nil {
		if err := insertLater(db, w.event); err != nil {
			return err
		}
	}
	if w.written != nil {
		return w.written(db)
	}
	return nil
}

// writeTx makes w in db's transaction: with the other payments' writes at the end of the
// group commit when it gathers them (one statement for all), else at once.
func writeTx(db *gorm.DB, w *txWrite) error {
	if b, ok := db.Statement.Context.Value(batchRowsKey{}).(*batchRows); ok && b.deferWrites {
		if b.writing[w.t.ID] {
			// The same payment again in this batch: the writes before are made first, so that
			// this one, whose version they change, is read again after them.
			if err := b.flushWrites(db); err != nil {
				return err
			}
		}
		if b.writing == nil {
			b.writing = map[uint]bool{}
		}
		b.writes = append(b.writes, w)
		b.writing[w.t.ID] = true
		return nil
	}
	n, err := updateTxIfVersion(db.Statement.Context, db, w.t, w.cols, w.version)
	if err != nil {
		return fmt.Errorf("models: save transaction %s: %w", w.t.ClientOrderID, translateRaw(db, err))
	}
	if n == 0 {
		return w.stale(db)
	}
	return w.done(db)
}

// flushWrites makes the gathered writes (writeTx), one statement per set of columns; a write
// whose row changed since it was read is made again by its stale.
func (b *batchRows) flushWrites(db *gorm.DB) error {
	writes := b.writes
	b.writes = nil
	clear(b.writing)
	if len(writes) == 0 {
		return nil
	}
	written, err := updateTxsIfVersion(db.Statement.Context, db, writes)
	if err != nil {
		return fmt.Errorf("models: save %d transactions: %w", len(writes), translateRaw(db, err))
	}
	for _, w := range writes {
		run := w.done
		if !written[w.t.ID] {
			run = w.stale
		}
		if err := run(db); err != nil {
			return err
		}
	}
	return nil
}

// updateTxsIfVersion is updateTxIfVersion for several payments (each at most once), with one
// UPDATE from arrays per set of columns; it returns the payments written.
func updateTxsIfVersion(ctx context.Context, db *gorm.DB, writes []*txWrite) (map[uint]bool, error) {
	var sets [][]*txWrite
	byCols := map[string]int{}
	for _, w := range writes {
		k := strings.Join(w.cols, ",")
		i, ok := byCols[k]
		if !ok {
			i = len(sets)
			byCols[k] = i
			sets = append(sets, nil)
		}
		sets[i] = append(sets[i], w)
	}
	written := make(map[uint]bool, len(writes))
	for _, ws := range sets {
		q, args := updateTxsSQL(ws)
		rows, err := hotQuery(ctx, db, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id uint
			if err := rows.Scan(uintCol{&id}); err != nil {
				rows.Close()
				return nil, err
			}
			written[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// updateTxsSQL is the UPDATE of writes that change the same columns: its text depends on
// those alone (prepared once), the values go in arrays, one per column.
func updateTxsSQL(writes []*txWrite) (string, []any) {
	cols := append(append([]string(nil), writes[0].cols...), "updated_at")
	ids, versions := make([]int64, len(writes)), make([]string, len(writes))
	for i, w := range writes {
		ids[i], versions[i] = int64(w.t.ID), w.version
	}
	args := []any{ids, versions}
	var set, from, names strings.Builder
	from.WriteString("?::bigint[], ?::text[]")
	names.WriteString("id, version")
	for i, c := range cols {
		if i > 0 {
			set.WriteString(", ")
		}
		set.WriteString(c + " = v." + c)
		names.WriteString(", " + c)
		switch c {
		case "checks", "not_found", "resolve_by_id":
			a := make([]int64, len(writes))
			for j, w := range writes {
				a[j] = txValue(w.t, c).(int64)
			}
			args = append(args, a)
			from.WriteString(", ?::bigint[]")
		case "sent_at", "final_at", "next_check_at", "updated_at":
			a := make([]*time.Time, len(writes))
			for j, w := range writes {
				if v, ok := txValue(w.t, c).(time.Time); ok {
					a[j] = &v
				}
			}
			args = append(args, a)
			from.WriteString(", ?::timestamptz[]")
		default:
			a := make([]string, len(writes))
			for j, w := range writes {
				a[j] = txValue(w.t, c).(string)
			}
			args = append(args, a)
			from.WriteString(", ?::text[]")
		}
	}
	return "UPDATE transactions AS t SET " + set.String() + " FROM unnest(" + from.String() + ") AS v(" + names.String() +
		") WHERE t.id = v.id AND t.xmin::text = v.version RETURNING t.id", args
}

func updateTxSQL(t *Transaction, cols []string) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE transactions SET ")
	args := make([]any, 0, len(cols)+3)
	for _, c := range cols {
		b.WriteString(c)
		b.WriteString(" = ?, ")
		args = append(args, txValue(t, c))
	}
	b.WriteString("updated_at = ? WHERE id = ?")
	args = append(args, t.UpdatedAt, int64(t.ID))
	return b.String(), args
}

// logRow is a row that a group commit appends at the end of its batch (a timeline line, a
// callback log line): rows of one table go in with one multi-row INSERT, without reflection.
// logValues gives each column as an int64, a time.Time or a string, as logTypes says on
// PostgreSQL: bigint, timestamptz or text.
type logRow interface {
	logTable() (table, columns string, n int)
	logTypes() []string
	logValues(dst []any) []any
}

func (e *TxEvent) logTable() (string, string, int) {
	return "tx_events", "transaction_id, at, source, from_state, to_state, detail", 6
}

var txEventTypes = []string{"bigint", "timestamptz", "text", "text", "text", "text"}

func (e *TxEvent) logTypes() []string { return txEventTypes }

func (e *TxEvent) logValues(dst []any) []any {
	return append(dst, int64(e.TransactionID), e.At, e.Source, string(e.FromState), string(e.ToState), e.Detail)
}

func (d *CallbackDelivery) logTable() (string, string, int) {
	return "callback_deliveries", "at, endpoint_id, remote_ip, client_order_id, order_id, status, type, amount, outcome, http_status, detail", 11
}

var callbackDeliveryTypes = []string{"timestamptz", "bigint", "text", "text", "text", "text", "text", "text", "text", "bigint", "text"}

func (d *CallbackDelivery) logTypes() []string { return callbackDeliveryTypes }

func (d *CallbackDelivery) logValues(dst []any) []any {
	return append(dst, d.At, int64(d.EndpointID), d.RemoteIP, d.ClientOrderID, d.OrderID, d.Status, d.Type, d.Amount,
		d.Outcome, int64(d.HTTPStatus), d.Detail)
}

// insertLogRows writes rows of one table. On SQLite, in-process, one prepared single-row
// INSERT run once per row is cheapest (a multi-row statement of a new length would be
// prepared for every batch); PostgreSQL gets one INSERT from arrays, one per column: one
// round trip for all, with the same text (prepared once) whatever their number.
func insertLogRows(ctx context.Context, db *gorm.DB, rows []logRow) error {
	table, cols, n := rows[0].logTable()
	if isPostgres(db) {
		q, args, err := insertLogArraysSQL(rows)
		if err == nil {
			_, err = hotExec(ctx, db, q, args...)
		}
		if err != nil {
			return fmt.Errorf("models: insert into %s: %w", table, err)
		}
		return nil
	}
	insert := "INSERT INTO " + table + " (" + cols + ") VALUES " + placeholders(n)
	args := make([]any, 0, n)
	for _, r := range rows {
		if args = r.logValues(args[:0]); len(args) != n {
			return fmt.Errorf("models: %s: %d values for %d columns", table, len(args), n)
		}
		if _, err := hotExec(ctx, db, insert, args...); err != nil {
			return fmt.Errorf("models: insert into %s: %w", table, err)
		}
	}
	return nil
}

// insertLogArraysSQL is the INSERT of rows of one table from arrays, one per column.
func insertLogArraysSQL(rows []logRow) (string, []any, error) {
	table, cols, n := rows[0].logTable()
	types := rows[0].logTypes()
	arrays := make([]any, n)
	for i, typ := range types {
		switch typ {
		case "bigint":
			arrays[i] = make([]int64, 0, len(rows))
		case "timestamptz":
			arrays[i] = make([]time.Time, 0, len(rows))
		default:
			arrays[i] = make([]string, 0, len(rows))
		}
	}
	vals := make([]any, 0, n)
	for _, r := range rows {
		vals = r.logValues(vals[:0])
		if len(vals) != n {
			return "", nil, fmt.Errorf("%d values for %d columns", len(vals), n)
		}
		for i, v := range vals {
			ok := false
			switch a := arrays[i].(type) {
			case []int64:
				var x int64
				x, ok = v.(int64)
				arrays[i] = append(a, x)
			case []time.Time:
				var x time.Time
				x, ok = v.(time.Time)
				arrays[i] = append(a, x)
			case []string:
				var x string
				x, ok = v.(string)
				arrays[i] = append(a, x)
			}
			if !ok {
				return "", nil, fmt.Errorf("column %d: %T is not %s", i, v, types[i])
			}
		}
	}
	casts := make([]string, n)
	for i, typ := range types {
		casts[i] = "?::" + typ + "[]"
	}
	return "INSERT INTO " + table + " (" + cols + ") SELECT * FROM unnest(" + strings.Join(casts, ", ") + ")", arrays, nil
}
