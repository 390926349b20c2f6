package models

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

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
	return rows.Scan(uintCol{&t.ID}, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt}, strCol{&t.ClientOrderID},
		uintCol{&t.EndpointID}, uintCol{&t.ReaderID}, strCol{&t.ReaderSerial}, strCol{(*string)(&t.Kind)},
		int64Col{&t.AmountMinor}, strCol{&t.Currency}, strCol{&t.Description}, strCol{(*string)(&t.State)},
		strCol{&t.GatewayStatus}, strCol{&t.GatewayOrderID}, strCol{&t.RequestSerial}, strCol{&t.ApprovalCode},
		strCol{&t.RRN}, strCol{&t.ReceiptID}, strCol{&t.TerminalID}, strCol{&t.CardBrand}, strCol{&t.CardBIN},
		strCol{&t.CardLast4}, strCol{&t.EntryMode}, strCol{&t.ErrorCode}, strCol{&t.ErrorMessage},
		uintCol{&t.StartedByID}, strCol{&t.StartedByName}, optTimeCol{&t.SentAt}, optTimeCol{&t.FinalAt},
		optTimeCol{&t.NextCheckAt}, intCol{&t.Checks}, optUintCol{&t.CloseDayID}, strCol{&t.BusinessDay},
		strCol{&t.ReaderLabel}, optStrCol{&t.StartKey}, intCol{&t.NotFound}, strCol{&t.Review}, strCol{&t.ReviewNote},
		strCol{(*string)(&t.ResolveTo)}, uintCol{&t.ResolveByID}, strCol{&t.ResolveByName}, strCol{&t.ResolveReason},
		optUintCol{&t.ParentID}, strCol{&t.ParentOrderID})
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
	var b strings.Builder
	b.WriteString("UPDATE transactions SET ")
	args := make([]any, 0, len(cols)+2)
	for _, c := range cols {
		b.WriteString(c)
		b.WriteString(" = ?, ")
		args = append(args, txValue(t, c))
	}
	b.WriteString("updated_at = ? WHERE id = ?")
	args = append(args, t.UpdatedAt, int64(t.ID))
	_, err := hotExec(ctx, db, b.String(), args...)
	return err
}

// logRow is a row that a group commit appends at the end of its batch (a timeline line, a
// callback log line): rows of one table go in with one multi-row INSERT, without reflection.
type logRow interface {
	logTable() (table, columns string, n int)
	logValues(dst []any) []any
}

func (e *TxEvent) logTable() (string, string, int) {
	return "tx_events", "transaction_id, at, source, from_state, to_state, detail", 6
}

func (e *TxEvent) logValues(dst []any) []any {
	return append(dst, int64(e.TransactionID), e.At, e.Source, string(e.FromState), string(e.ToState), e.Detail)
}

func (d *CallbackDelivery) logTable() (string, string, int) {
	return "callback_deliveries", "at, endpoint_id, remote_ip, client_order_id, order_id, status, type, amount, outcome, http_status, detail", 11
}

func (d *CallbackDelivery) logValues(dst []any) []any {
	return append(dst, d.At, int64(d.EndpointID), d.RemoteIP, d.ClientOrderID, d.OrderID, d.Status, d.Type, d.Amount,
		d.Outcome, int64(d.HTTPStatus), d.Detail)
}

// insertLogRows writes rows of one table. On SQLite, in-process, one prepared single-row
// INSERT run once per row is cheapest (a multi-row statement of a new length would be
// prepared for every batch); PostgreSQL gets one multi-row INSERT, one round trip for all.
func insertLogRows(ctx context.Context, db *gorm.DB, rows []logRow) error {
	table, cols, n := rows[0].logTable()
	one := placeholders(n)
	insert := "INSERT INTO " + table + " (" + cols + ") VALUES "
	perStmt := 1
	if isPostgres(db) {
		perStmt = 500
	}
	args := make([]any, 0, min(len(rows), perStmt)*n)
	for len(rows) > 0 {
		chunk := rows[:min(perStmt, len(rows))]
		rows = rows[len(chunk):]
		args = args[:0]
		for _, r := range chunk {
			args = r.logValues(args)
		}
		if len(args) != len(chunk)*n {
			return fmt.Errorf("models: %s: %d values for %d rows of %d columns", table, len(args), len(chunk), n)
		}
		var err error
		if len(chunk) == 1 {
			_, err = hotExec(ctx, db, insert+one, args...)
		} else {
			_, err = onceExec(ctx, db, insert+strings.TrimSuffix(strings.Repeat(one+", ", len(chunk)), ", "), args...)
		}
		if err != nil {
			return fmt.Errorf("models: insert into %s: %w", table, err)
		}
	}
	return nil
}
