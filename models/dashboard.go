package models

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Takings are a span's money as the merchant counts it: approved sales and captures taken,
// approved refunds given back, and the payments the bank declined.
type Takings struct {
	Payments     int   // approved sales and captures
	TakenMinor   int64 // their sum
	Refunds      int
	RefundsMinor int64
	Declines     int
}

// NetMinor is what was taken less what was given back.
func (t Takings) NetMinor() int64 { return t.TakenMinor - t.RefundsMinor }

// AverageMinor is the average ticket: taken over payments (0 without any).
func (t Takings) AverageMinor() int64 {
	if t.Payments == 0 {
		return 0
	}
	return t.TakenMinor / int64(t.Payments)
}

func (t *Takings) add(r figureRow) {
	switch {
	case r.State == TxApproved && (r.Kind == KindSale || r.Kind == KindCapture):
		t.Payments++
		t.TakenMinor += r.AmountMinor
	case r.State == TxApproved && r.Kind == KindRefund:
		t.Refunds++
		t.RefundsMinor += r.AmountMinor
	case r.State == TxDeclined && !r.Kind.Operation():
		t.Declines++
	}
}

// Share is one line of a breakdown: a reader's, a staff member's or a decline reason's
// figures.
type Share struct {
	Key, Label string
	Takings
}

// Figures are a business day's takings with their breakdowns: what the start page shows.
type Figures struct {
	Day      string // the store's business day, YYYY-MM-DD
	Currency string
	Takings
	ByReader []Share
	ByStaff  []Share
	// ByHour is the net takings per hour of the day in the store's zone, keyed by the hour's
	// start; a day when the clocks change has 23 or 25 of them.
	ByHour   []HourFigure
	Declined []Share // by reason, most frequent first
}

// HourFigure is one hour's net takings.
type HourFigure struct {
	Start    time.Time
	NetMinor int64
	Payments int
}

// FigureQuery says whose figures of which span: a business day, a span of time (a shift), or
// the payments one Close Day covered.
type FigureQuery struct {
	Day        string         // the store's business day, YYYY-MM-DD; or
	From, To   time.Time      // payments started in [From, To); or
	CloseDayID uint           // the payments a close covered (no hours)
	Zone       *time.Location // the store's zone, for the hours
	Currency   string
	StaffID    uint // 0: everyone's
}

type figureRow struct {
	Kind          TxKind
	State         TxState
	AmountMinor   int64
	CreatedAt     time.Time
	ReaderID      uint
	ReaderLabel   string
	ReaderSerial  string
	StartedByID   uint
	StartedByName string
	ErrorCode     string
	ErrorMessage  string
}

// Figures adds up one business day. It reads only that day's final payments through the
// business-day index, never the whole ledger, so it costs the same with a million payments.
func (s *Transactions) Figures(ctx context.Context, q FigureQuery) (Figures, error) {
	f := Figures{Day: q.Day, Currency: q.Currency}
	if q.Zone == nil {
		q.Zone = time.UTC
	}
	db := s.DB.WithContext(ctx).Model(&Transaction{}).
		Select("kind, state, amount_minor, created_at, reader_id, reader_label, reader_serial, started_by_id, started_by_name, error_code, error_message")
	var from, to time.Time
	switch {
	case q.Day != "":
		day, err := time.ParseInLocation("2006-01-02", q.Day, q.Zone)
		if err != nil {
			return f, fmt.Errorf("models: figures of %q: %w", q.Day, err)
		}
		from, to = day, day.AddDate(0, 0, 1)
		db = db.Where("business_day = ? AND state IN ?", q.Day, []TxState{TxApproved, TxDeclined})
	case q.CloseDayID != 0:
		db = db.Where("close_day_id = ? AND state IN ?", q.CloseDayID, []TxState{TxApproved, TxDeclined})
	default:
		from, to = q.From.In(q.Zone).Truncate(time.Hour), q.To
		db = db.Where("created_at >= ? AND created_at < ? AND state IN ?", q.From.UTC(), q.To.UTC(), []TxState{TxApproved, TxDeclined})
	}
	db = db.Where("currency = ?", q.Currency)
	if q.StaffID != 0 {
		db = db.Where("started_by_id = ?", q.StaffID)
	}
	// Scanned by hand: a busy day is thousands of rows, and reflection would cost more than
	// the query.
	cur, err := db.Rows()
	if err != nil {
		return f, fmt.Errorf("models: figures of %s: %w", q.Day, err)
	}
	defer cur.Close()
	var rows []figureRow
	for cur.Next() {
		var r figureRow
		if err := cur.Scan(&r.Kind, &r.State, &r.AmountMinor, &r.CreatedAt, &r.ReaderID, &r.ReaderLabel, &r.ReaderSerial,
			&r.StartedByID, &r.StartedByName, &r.ErrorCode, &r.ErrorMessage); err != nil {
			return f, fmt.Errorf("models: figures of %s: %w", q.Day, err)
		}
		rows = append(rows, r)
	}
	if err := cur.Err(); err != nil {
		return f, fmt.Errorf("models: figures of %s: %w", q.Day, err)
	}
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		f.ByHour = append(f.ByHour, HourFigure{Start: h})
	}
	readers, staff, reasons := map[string]*Share{}, map[string]*Share{}, map[string]*Share{}
	share := func(m map[string]*Share, key, label string) *Share {
		if m[key] == nil {
			m[key] = &Share{Key: key, Label: label}
		}
		return m[key]
	}
	for _, r := range rows {
		f.add(r)
		if r.State == TxDeclined {
			if !r.Kind.Operation() {
				share(reasons, r.ErrorCode+"|"+r.ErrorMessage, declineReason(r.ErrorCode, r.ErrorMessage)).Declines++
			}
		}
		share(readers, fmt.Sprint(r.ReaderID), Dash(r.ReaderLabel)+" ("+r.ReaderSerial+")").add(r)
		share(staff, fmt.Sprint(r.StartedByID), Dash(r.StartedByName)).add(r)
		if r.State != TxApproved || r.Kind == KindRelease || r.Kind == KindPreauth {
			continue
		}
		i := sort.Search(len(f.ByHour), func(i int) bool { return f.ByHour[i].Start.After(r.CreatedAt) }) - 1
		if i >= 0 {
			f.ByHour[i].NetMinor += r.Kind.Sign() * r.AmountMinor
			if r.Kind != KindRefund {
				f.ByHour[i].Payments++
			}
		}
	}
	f.ByReader, f.ByStaff = ranked(readers, func(s Share) int64 { return s.NetMinor() }), ranked(staff, func(s Share) int64 { return s.NetMinor() })
	f.Declined = ranked(reasons, func(s Share) int64 { return int64(s.Declines) })
	return f, nil
}

// Releases are approved releases among payments: a release gives a hold back and moves no
// money, but Close Day counts it as a reversal.
func (s *Transactions) Releases(ctx context.Context, closeDayID uint) (n int, minor int64, err error) {
	var r struct {
		N   int
		Sum int64
	}
	err = s.DB.WithContext(ctx).Model(&Transaction{}).Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").
		Where("close_day_id = ? AND kind = ? AND state = ?", closeDayID, KindRelease, TxApproved).Scan(&r).Error
	if err != nil {
		return 0, 0, fmt.Errorf("models: releases in close %d: %w", closeDayID, err)
	}
	return r.N, r.Sum, nil
}

// ranked lists shares by size, largest first, then by label.
func ranked(m map[string]*Share, size func(Share) int64) []Share {
	out := make([]Share, 0, len(m))
	for _, s := range m {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := size(out[i]), size(out[j]); a != b {
			return a > b
		}
		return out[i].Label < out[j].Label
	})
	return out
}

// declineReason is why the bank declined, in words: its message with its code.
func declineReason(code, message string) string {
	switch {
	case message != "" && code != "":
		return message + " (code " + code + ")"
	case message != "":
		return message
	case code != "":
		return "Code " + code
	}
	return "No reason given"
}
