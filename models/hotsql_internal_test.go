package models

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm/schema"
)

func columns(list string) []string {
	cols := strings.Split(list, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}

// The hot paths' column lists follow the model: a field added to Transaction without being
// added to txCols (and scanTx) fails here, as does a column Apply writes that a reload would
// not read again.
func TestTxColumnsMatchTheModel(t *testing.T) {
	s, err := schema.Parse(&Transaction{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := columns(txCols); !slices.Equal(got, s.DBNames) {
		t.Errorf("txCols\n%v\nthe model's columns\n%v", got, s.DBNames)
	}
	mutable := columns(txMutableCols)
	for _, c := range mutable {
		if !slices.Contains(s.DBNames, c) {
			t.Errorf("txMutableCols names %q, not a column", c)
		}
	}
	var a, b Transaction
	b.State, b.GatewayStatus, b.GatewayOrderID, b.RequestSerial, b.ApprovalCode, b.RRN = "x", "x", "x", "x", "x", "x"
	b.ReceiptID, b.TerminalID, b.CardBrand, b.CardBIN, b.CardLast4, b.EntryMode, b.ErrorCode = "x", "x", "x", "x", "x", "x", "x"
	b.ErrorMessage, b.Checks, b.NotFound, b.Review, b.ReviewNote, b.ResolveTo, b.ResolveByID = "x", 1, 1, "x", "x", "x", 1
	b.ResolveByName, b.ResolveReason = "x", "x"
	var now = b.CreatedAt
	b.SentAt, b.FinalAt, b.NextCheckAt = &now, &now, &now
	changed := changedColumns(&a, &b)
	if len(changed) != 25 {
		t.Fatalf("the test sets %d of Apply's columns; update it with changedColumns", len(changed))
	}
	for _, c := range append(changed, "updated_at", "close_day_id", "next_check_at", "checks") {
		if !slices.Contains(mutable, c) {
			t.Errorf("%s changes after a payment is created, but txMutableCols leaves it out", c)
		}
		if c != "close_day_id" && c != "updated_at" {
			_ = txValue(&b, c) // panics for a column it does not know
		}
	}
}

func TestDollarParams(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                               "SELECT 1",
		"UPDATE t SET a = ?, b = ? WHERE id = ?": "UPDATE t SET a = $1, b = $2 WHERE id = $3",
		"INSERT INTO t (a) VALUES (?), (?)":      "INSERT INTO t (a) VALUES ($1), ($2)",
	} {
		if got := dollarParams(in); got != want {
			t.Errorf("dollarParams(%q) = %q, want %q", in, got, want)
		}
	}
}

// reloadTx reads every changeable column into its own field.
func TestReloadTxReadsTheChangeableColumns(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "p.db"), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(db)
	if err := Migrate(db); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	sent, final, next, closeID := at.Add(time.Second), at.Add(2*time.Second), at.Add(3*time.Second), uint(7)
	want := Transaction{UpdatedAt: at.Add(4 * time.Second), ClientOrderID: "PR", EndpointID: 1, ReaderID: 1, ReaderSerial: "S",
		Kind: KindSale, AmountMinor: 1, Currency: "EUR", State: TxNeedsReview, GatewayStatus: "gs", GatewayOrderID: "go",
		RequestSerial: "rs", ApprovalCode: "ac", RRN: "rrn", ReceiptID: "ri", TerminalID: "ti", CardBrand: "cb", CardBIN: "bin",
		CardLast4: "l4", EntryMode: "em", ErrorCode: "ec", ErrorMessage: "msg", SentAt: &sent, FinalAt: &final, NextCheckAt: &next,
		Checks: 3, CloseDayID: &closeID, NotFound: 2, Review: "rv", ReviewNote: "rn", ResolveTo: TxApproved, ResolveByID: 5,
		ResolveByName: "rbn", ResolveReason: "rr"}
	if err := db.Create(&want).Error; err != nil {
		t.Fatal(err)
	}
	db.First(&want, want.ID)
	got := Transaction{ID: want.ID, ClientOrderID: want.ClientOrderID, EndpointID: want.EndpointID, ReaderID: want.ReaderID,
		ReaderSerial: want.ReaderSerial, Kind: want.Kind, AmountMinor: want.AmountMinor, Currency: want.Currency, CreatedAt: want.CreatedAt}
	if err := reloadTx(context.Background(), db, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reloaded\n%+v\nstored\n%+v", got, want)
	}
}
