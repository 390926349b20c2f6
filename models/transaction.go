package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/example/mposportal/money"
	"gorm.io/gorm"
)

// TxKind is what a payment asks of the card: a sale (authorise and capture) or a preauth
// (authorise only; funds held until captured or released).
type TxKind string

const (
	KindSale    TxKind = "sale"
	KindPreauth TxKind = "preauth"
	// Money after the sale: each is its own record under the payment it acts on (ParentID).
	KindCapture TxKind = "capture" // takes (part of) an approved preauth's held funds
	KindRelease TxKind = "release" // lets an uncaptured preauth's hold go: nothing is charged
	KindRefund  TxKind = "refund"  // gives back (part of) an approved sale or capture
)

// Operation reports whether the kind acts on an earlier payment rather than on a card.
func (k TxKind) Operation() bool { return k == KindCapture || k == KindRelease || k == KindRefund }

// Wire is the gateway's word for the kind in callbacks and status answers (Decision 7): a
// refund and a release are both "reversal".
func (k TxKind) Wire() string {
	if k == KindRefund || k == KindRelease {
		return "reversal"
	}
	return string(k)
}

// Sign is +1 for money taken and -1 for money given back, for signed amounts in lists.
func (k TxKind) Sign() int64 {
	if k == KindRefund {
		return -1
	}
	return 1
}

// Transaction is one card payment started at the counter. The clear card number never reaches
// the portal; the only card data kept is what a receipt may show.
//
// Every change of state rewrites an entry in each of the table's indexes (the row moves), so
// the indexes are the ones queries use: a column that is mostly empty (the poller's schedule,
// the close, the parent, the review reason) is indexed only where it is set, and a column that
// leads a composite index has no index of its own.
type Transaction struct {
	ID             uint      `gorm:"primaryKey"`
	CreatedAt      time.Time `gorm:"index;index:idx_tx_reader_created,priority:2"`
	UpdatedAt      time.Time
	ClientOrderID  string     `gorm:"size:64;uniqueIndex;not null"` // ours, sent as client_orderid
	EndpointID     uint       `gorm:"index;not null"`               // Endpoint row (gateway settings)
	ReaderID       uint       `gorm:"index:idx_tx_reader_created,priority:1;not null"`
	ReaderSerial   string     `gorm:"size:32;not null"`
	Kind           TxKind     `gorm:"size:16;not null"`
	AmountMinor    int64      `gorm:"not null"`
	Currency       string     `gorm:"size:3;not null"`
	Description    string     `gorm:"size:255"`
	State          TxState    `gorm:"size:20;index;index:idx_tx_day_state,priority:2;not null"`
	GatewayStatus  string     `gorm:"size:20"`       // last status word the gateway used
	GatewayOrderID string     `gorm:"size:32;index"` // paynet-order-id
	RequestSerial  string     `gorm:"size:64"`       // serial-number of our sale/preauth request
	ApprovalCode   string     `gorm:"size:16;index"`
	RRN            string     `gorm:"size:24;index"`
	ReceiptID      string     `gorm:"size:64"`
	TerminalID     string     `gorm:"size:32"`
	CardBrand      string     `gorm:"size:20"`
	CardBIN        string     `gorm:"size:8"`
	CardLast4      string     `gorm:"size:4;index"`
	EntryMode      string     `gorm:"size:16"`
	ErrorCode      string     `gorm:"size:16"`
	ErrorMessage   string     `gorm:"size:255"` // decline or failure reason, as shown to staff
	StartedByID    uint       `gorm:"index;index:idx_tx_day_staff,priority:2"`
	StartedByName  string     `gorm:"size:64"`
	SentAt         *time.Time // when the gateway accepted the order (or our request went out); polling deadline counts from here
	FinalAt        *time.Time
	NextCheckAt    *time.Time `gorm:"index:idx_tx_next_check,where:next_check_at IS NOT NULL"` // when the status poller next asks the gateway; nil = nothing to do
	Checks         int        // status requests made so far
	CloseDayID     *uint      `gorm:"index:idx_tx_close_day,where:close_day_id IS NOT NULL"`                       // the close that covered this payment
	BusinessDay    string     `gorm:"size:10;index:idx_tx_day_state,priority:1;index:idx_tx_day_staff,priority:1"` // the store's date (endpoint time zone) the payment was started on
	ReaderLabel    string     `gorm:"size:64"`                                                                     // the reader's label when the payment was taken ("Counter 2")
	// StartKey is the counter form's one-time key: a repeated or concurrent submit of the same
	// form finds this payment instead of starting another.
	StartKey *string `gorm:"size:64;uniqueIndex"`
	NotFound int     // "order not found" answers while the outcome was unknown
	// Review, when set, puts a final payment on the "needs attention" queue (Review* reasons).
	Review     string `gorm:"size:24;index:idx_tx_review,where:review <> ''"`
	ReviewNote string `gorm:"size:255"`
	// A manual resolution proposed by one person, waiting for a second person's approval.
	ResolveTo     TxState `gorm:"size:20"`
	ResolveByID   uint
	ResolveByName string `gorm:"size:64"`
	ResolveReason string `gorm:"size:255"`
	// ParentID is, for a capture, release or refund, the payment it acts on; its wire order
	// ids are the parent's (ParentOrderID and GatewayOrderID) and RequestSerial is its own
	// capture/return request's serial-number, by which its status is asked.
	ParentID      *uint  `gorm:"index:idx_tx_parent,where:parent_id IS NOT NULL"`
	ParentOrderID string `gorm:"size:64;index"`
}

// NeedsAttention reports whether someone must look at the payment.
func (t *Transaction) NeedsAttention() bool { return t.State == TxNeedsReview || t.Review != "" }

// TxEvent is one line of a payment's timeline: a request we sent, a response, a callback, a
// poll, a reader message or a state change. Details never hold card numbers or secrets.
type TxEvent struct {
	ID            uint      `gorm:"primaryKey"`
	TransactionID uint      `gorm:"index;not null"`
	At            time.Time `gorm:"not null"`
	Source        string    `gorm:"size:16;not null"` // reader, request, response, callback, poll, user, system
	FromState     TxState   `gorm:"size:20"`
	ToState       TxState   `gorm:"size:20"`
	Detail        string    `gorm:"size:1024"`
}

// Amount is the amount in major units of its currency, plain: "10.42" EUR, "1042" JPY.
func (t *Transaction) Amount() string { return money.Plain(t.AmountMinor, t.Currency) }

// SignedMinor is the amount as the merchant's books see it: a refund gives money back; a
// release moves no money but is shown at its amount.
func (t *Transaction) SignedMinor() int64 { return t.Kind.Sign() * t.AmountMinor }

// TxUpdate is what an event says about a payment: the state it claims and any facts it carries.
// Facts fill blanks only, so a late or repeated event cannot overwrite what we already know.
type TxUpdate struct {
	Source         string
	State          TxState // "" = no state claim (an event that only adds facts or a note)
	GatewayStatus  string
	GatewayOrderID string
	RequestSerial  string
	ApprovalCode   string
	RRN            string
	ReceiptID      string
	TerminalID     string
	CardBrand      string
	CardBIN        string
	CardLast4      string
	EntryMode      string
	ErrorCode      string
	ErrorMessage   string
	SentAt         *time.Time
	// NextCheckAt reschedules the poller when set; ClearCheck stops it. A final state always
	// stops it.
	NextCheckAt *time.Time
	ClearCheck  bool
	CountCheck  bool
	// NotFound counts a "no such order" answer about a request whose outcome is unknown.
	NotFound bool
	// Gateway marks a claim made by the gateway (callback or status answer). A gateway claim
	// that contradicts a final state is never dropped: the payment is flagged and the gateway
	// asked (ReviewConfirm). With Override, the claim is the gateway's answer to our own status
	// request and replaces the final state (Overrides), flagged for review.
	Gateway  bool
	Override bool
	// Review sets a review reason (and ReviewNote); ClearReview clears it and any proposed
	// resolution.
	Review      string
	ReviewNote  string
	ClearReview bool
	// Propose records a manual resolution that waits for a second person.
	Propose *Resolution
	// OnlyFrom, when set, makes the update a no-op unless the payment is in one of these
	// states (e.g. a reader's card error counts only while the payment waits for the card).
	OnlyFrom []TxState
	// Also, when set, gives a row to write in the update's own transaction once its result is
	// known (a gateway callback's delivery, with what it did), so that the change and the row
	// are durable together; TxResult.Logged then says so. It is not called when the update is
	// refused, nor for a QuietRepeat answered from a read outside a transaction (SQLite).
	Also func(TxResult) any
	// Check, when set, sees the payment before anything is written; an error refuses the
	// update (nothing changes) and is returned by Apply.
	Check  func(Transaction) error
	Detail string
	// Routine, when set, leaves the timeline alone if the update changed nothing but the
	// polling schedule: a payment polled every 5 s for an hour would otherwise gather 720
	// identical lines.
	Routine bool
	// QuietRepeat, when set, writes nothing at all — no timeline line — if the update would
	// change nothing (the gateway retrying a callback we applied: the callback log keeps
	// each delivery with its outcome). Such a repeat is recognised by one read of the
	// committed row before any write, so it costs no transaction; TxResult.Repeat says so.
	QuietRepeat bool
}

// Resolution is a manual outcome proposed by one person for a payment in needs review.
type Resolution struct {
	To     TxState
	ByID   uint
	ByName string
	Reason string
}

// TxResult says what Apply did.
type TxResult struct {
	Tx       Transaction
	From     TxState
	Changed  bool  // the state changed
	Conflict error // set when the event contradicted a final state (kept, not applied)
	// Flagged is the review reason this update raised (a late approval, a changed status, a
	// contradiction being confirmed), "" when it raised none.
	Flagged string
	// Repeat: a QuietRepeat update that changed nothing, so nothing was written.
	Repeat bool
	// Logged: the update's Also row was written in its transaction.
	Logged bool
}

// Transactions holds the payment queries.
type Transactions struct {
	DB  *gorm.DB
	Now func() time.Time
	// Batch, when set, groups Apply's writes with other writers' into shared commits.
	Batch *GroupCommit
	// OnFinal, when set, is told about each payment (or operation) that reaches a final state,
	// once and after the change is committed, whichever event got it there (a callback, a
	// status answer, the reader, a person). A repeated event changes nothing and is not told,
	// nor is the gateway replacing one final status with another (that is flagged for review).
	// The business metrics count payments here.
	OnFinal func(Transaction)
}

func (s *Transactions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create stores a new payment and its first timeline line. A payment waiting for its card
// holds its reader: a second one on the same reader is refused by the database
// (idx_tx_reader_waiting), whichever instance starts it, as ErrConflict, like a repeated
// start key.
func (s *Transactions) Create(ctx context.Context, t *Transaction, detail string) error {
	return s.DB.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		if err := db.Create(t).Error; err != nil {
			return fmt.Errorf("models: create transaction %s: %w", t.ClientOrderID, translate(err))
		}
		ev := TxEvent{TransactionID: t.ID, At: s.now(), Source: "user", ToState: t.State, Detail: detail}
		if err := db.Create(&ev).Error; err != nil {
			return fmt.Errorf("models: transaction %s event: %w", t.ClientOrderID, err)
		}
		return nil
	})
}

// ByID loads one payment.
func (s *Transactions) ByID(ctx context.Context, id uint) (Transaction, error) {
	var t Transaction
	if err := loadTx(ctx, s.DB, txLookup{id: id}, &t); err != nil {
		return t, fmt.Errorf("models: transaction %d: %w", id, err)
	}
	return t, nil
}

// ByStartKey loads the payment a counter form with this one-time key started.
func (s *Transactions) ByStartKey(ctx context.Context, key string) (Transaction, error) {
	var t Transaction
	if err := s.DB.WithContext(ctx).Where("start_key = ?", key).First(&t).Error; err != nil {
		return t, fmt.Errorf("models: transaction with start key: %w", translate(err))
	}
	return t, nil
}

// WaitingOn returns the payment waiting for a card on a reader, if any.
func (s *Transactions) WaitingOn(ctx context.Context, readerID uint) (Transaction, error) {
	var t Transaction
	if err := s.DB.WithContext(ctx).Where("reader_id = ? AND state = ?", readerID, TxWaitingCard).First(&t).Error; err != nil {
		return t, fmt.Errorf("models: payment waiting on reader %d: %w", readerID, translate(err))
	}
	return t, nil
}

// BusyReaders lists the readers that are waiting for a card.
func (s *Transactions) BusyReaders(ctx context.Context) (map[uint]Transaction, error) {
	var ts []Transaction
	if err := s.DB.WithContext(ctx).Where("state = ?", TxWaitingCard).Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("models: busy readers: %w", err)
	}
	out := make(map[uint]Transaction, len(ts))
	for _, t := range ts {
		out[t.ReaderID] = t
	}
	return out, nil
}

// ByClientOrderID loads one payment by our order id.
func (s *Transactions) ByClientOrderID(ctx context.Context, id string) (Transaction, error) {
	var t Transaction
	if err := loadTx(ctx, s.DB, txLookup{order: id}, &t); err != nil {
		return t, fmt.Errorf("models: transaction %q: %w", id, err)
	}
	return t, nil
}

// Events returns a payment's timeline, oldest first.
func (s *Transactions) Events(ctx context.Context, id uint) ([]TxEvent, error) {
	var evs []TxEvent
	err := s.DB.WithContext(ctx).Where("transaction_id = ?", id).Order("at, id").Find(&evs).Error
	if err != nil {
		return nil, fmt.Errorf("models: transaction %d events: %w", id, err)
	}
	return evs, nil
}

// Apply records an event on a payment inside one database transaction: it locks the row,
// decides the new state with NextState, fills blank facts, writes the timeline line and
// commits. Callers publish or answer (a callback's 200) only after Apply returns, so what they
// report is durable. Illegal transitions are refused and change nothing; a contradiction of a
// final state is recorded on the timeline and reported in TxResult.Conflict.
func (s *Transactions) Apply(ctx context.Context, id uint, u TxUpdate) (TxResult, error) {
	return s.apply(ctx, txLookup{id: id}, u)
}

// ApplyByOrder is Apply for the payment with our order id (client_orderid): one lookup,
// inside the update's transaction, for a gateway callback.
func (s *Transactions) ApplyByOrder(ctx context.Context, clientOrderID string, u TxUpdate) (TxResult, error) {
	return s.apply(ctx, txLookup{order: clientOrderID}, u)
}

func (s *Transactions) apply(ctx context.Context, l txLookup, u TxUpdate) (TxResult, error) {
	if u.QuietRepeat && l.order != "" && s.Batch != nil && isPostgres(s.DB) {
		return s.applyReadAhead(ctx, l, u)
	}
	var read *Transaction
	var version string // the row version read, on PostgreSQL
	if u.QuietRepeat {
		// A repeat is found by one indexed read of the committed row, before any write: if the
		// update would change nothing there, nothing is written (it is as if it had been applied
		// at the moment of that read, and the outcome is the same).
		read = new(Transaction)
		if err := loadTxVersion(ctx, s.DB, l, read, &version); err != nil {
			return TxResult{}, fmt.Errorf("models: transaction %s: %w", l, err)
		}
		p, err := s.plan(*read, u, s.now())
		if err != nil || p.nothing() {
			return p.res, err
		}
	}
	var res TxResult
	err := s.Batch.Do(ctx, s.DB, func(db *gorm.DB) error {
		res = TxResult{}
		if version != "" {
			// PostgreSQL: the plan made from the row read is written on the condition that the
			// row is still the version read (nothing wrote it since), with the batch's other
			// such writes in one statement. Only when it is not, the row is read again,
			// locked, and planned anew.
			p, err := s.plan(*read, u, s.now())
			if err == nil && len(p.cols) > 0 {
				res = p.res
				return writeTx(db, &txWrite{t: &p.after, cols: p.cols, version: version, event: p.event,
					stale:   func(db *gorm.DB) error { return s.applyLocked(db, l, read, u, &res) },
					written: func(db *gorm.DB) error { return appendAlso(db, u, &res) }})
			}
		}
		return s.applyLocked(db, l, read, u, &res)
	})
	if err == nil && s.OnFinal != nil && res.Changed && !res.From.Final() && res.Tx.State.Final() {
		s.OnFinal(res.Tx)
	}
	return res, err
}

// applyReadAhead is apply for a QuietRepeat update by order id on PostgreSQL with a group
// commit (a gateway callback): the batch reads its units' payments in one statement
// (readAhead) instead of a read per callback before it. A repeat writes nothing, as it would
// after a read of its own; a change is written on the condition that the row is still the
// version read, else the row is read again, locked, and planned anew.
func (s *Transactions) applyReadAhead(ctx context.Context, l txLookup, u TxUpdate) (TxResult, error) {
	var res TxResult
	var refused error // a refusal decided from the row read: the unit wrote nothing
	err := s.Batch.doReading(ctx, s.DB, l.order, func(db *gorm.DB) error {
		res, refused = TxResult{}, nil
		read, ok := aheadOf(db, l.order)
		switch {
		case !ok:
			return s.applyLocked(db, l, nil, u, &res)
		case read == nil:
			refused = fmt.Errorf("models: transaction %s: %w", l, ErrNotFound)
			return nil
		}
		p, err := s.plan(read.t, u, s.now())
		res = p.res
		switch {
		case err != nil:
			refused = err
			return nil
		case p.nothing():
			return appendAlso(db, u, &res)
		}
		t := read.t
		if len(p.cols) == 0 {
			return s.applyLocked(db, l, &t, u, &res) // a timeline line alone: from the row locked
		}
		return writeTx(db, &txWrite{t: &p.after, cols: p.cols, version: read.version, event: p.event,
			stale:   func(db *gorm.DB) error { return s.applyLocked(db, l, &t, u, &res) },
			written: func(db *gorm.DB) error { return appendAlso(db, u, &res) }})
	})
	if err == nil {
		err = refused
	}
	if err == nil && s.OnFinal != nil && res.Changed && !res.From.Final() && res.Tx.State.Final() {
		s.OnFinal(res.Tx)
	}
	return res, err
}

// applyLocked is apply's unit: it reads the payment in db's transaction, locked on
// PostgreSQL (only the columns that can have changed since read, when it was read before),
// plans u on it and writes the plan, setting *res.
func (s *Transactions) applyLocked(db *gorm.DB, l txLookup, read *Transaction, u TxUpdate, res *TxResult) error {
	*res = TxResult{}
	// The unit's statements run on the batch's context: a caller that gives up must not
	// cancel a statement of the shared transaction.
	bctx := db.Statement.Context
	var t Transaction
	var err error
	if read != nil {
		// Read again inside the transaction, but only what can have changed since.
		t = *read
		err = reloadTx(bctx, db, &t)
	} else {
		err = loadTx(bctx, db, l, &t)
	}
	if err != nil {
		return fmt.Errorf("models: transaction %s: %w", l, err)
	}
	p, err := s.plan(t, u, s.now())
	*res = p.res
	if err != nil {
		return err
	}
	if len(p.cols) > 0 {
		if err := updateTx(bctx, db, &p.after, p.cols); err != nil {
			return fmt.Errorf("models: save transaction %s: %w", t.ClientOrderID, translateRaw(db, err))
		}
	}
	if p.event != nil {
		if err := insertLater(db, p.event); err != nil {
			return fmt.Errorf("models: transaction %s event: %w", t.ClientOrderID, err)
		}
	}
	return appendAlso(db, u, res)
}

// appendAlso writes u's Also row for result res in db's transaction, and marks res Logged.
func appendAlso(db *gorm.DB, u TxUpdate, res *TxResult) error {
	if u.Also == nil {
		return nil
	}
	if err := insertLater(db, u.Also(*res)); err != nil {
		return err
	}
	res.Logged = true
	return nil
}

// txPlan is what an update does to a payment, decided from the row alone: the result, the
// columns to write and the timeline line (nil: none).
type txPlan struct {
	res   TxResult
	after Transaction
	cols  []string
	event *TxEvent
}

// nothing reports whether the plan writes nothing at all.
func (p *txPlan) nothing() bool { return len(p.cols) == 0 && p.event == nil }

// plan decides what update u does to payment t at time now; it touches no database. An error
// (Check's, or an illegal transition) refuses the update.
func (s *Transactions) plan(t Transaction, u TxUpdate, now time.Time) (txPlan, error) {
	var res TxResult
	if u.Check != nil {
		if err := u.Check(t); err != nil {
			res.Tx = t
			return txPlan{res: res}, err
		}
	}
	res.From = t.State
	if len(u.OnlyFrom) > 0 && !slices.Contains(u.OnlyFrom, t.State) {
		res.Tx = t
		return txPlan{res: res}, nil
	}
	to, changed := t.State, false
	overridden := false
	if u.State != "" {
		var err error
		to, changed, err = NextState(t.State, u.State)
		switch {
		case errors.Is(err, ErrFinalConflict) && u.Gateway && u.Override && Overrides(t.State, u.State):
			to, changed, overridden = u.State, true, true
		case errors.Is(err, ErrFinalConflict):
			res.Conflict = err
		case errors.Is(err, ErrIllegalTransition) && u.Gateway && u.Override && t.State == TxWaitingCard && u.State.Valid():
			// Our own status request found the payment at the gateway although no card read
			// was recorded here (a database restored from a backup taken mid-payment): the
			// gateway's status is taken. A callback alone cannot do this.
			to, changed = u.State, true
		case err != nil:
			return txPlan{res: res}, fmt.Errorf("models: transaction %s: %w", t.ClientOrderID, err)
		}
	}
	before := t
	t.State = to
	if res.Conflict != nil {
		// Nothing the contradicting event says is filled in (a decline reason must never
		// land on an approved payment); a gateway claim is flagged and confirmed by asking.
		res.Tx = t
		if u.Gateway && t.Review != ReviewConfirm {
			t.Review, t.ReviewNote, t.NextCheckAt = ReviewConfirm, "the gateway reported "+string(u.State)+"; asking it to confirm", &now
		}
		if u.CountCheck {
			t.Checks++
		}
		return finishPlan(&before, t, res, u, now, false), nil
	}
	if overridden {
		reason, note := ReviewStatusChanged, fmt.Sprintf("the gateway changed the status from %s to %s", before.State, to)
		if to == TxApproved {
			reason = ReviewLateApproval
			note = fmt.Sprintf("the gateway approved this payment after it was shown as %s: the customer may have paid twice", before.State)
			t.ErrorCode, t.ErrorMessage = "", ""
		}
		t.Review, t.ReviewNote = reason, note
		t.FinalAt = &now
	}
	fill(&t.GatewayStatus, u.GatewayStatus, !t.State.Final() || changed)
	fill(&t.GatewayOrderID, u.GatewayOrderID, false)
	fill(&t.RequestSerial, u.RequestSerial, false)
	fill(&t.ApprovalCode, u.ApprovalCode, false)
	fill(&t.RRN, u.RRN, false)
	fill(&t.ReceiptID, u.ReceiptID, false)
	fill(&t.TerminalID, u.TerminalID, false)
	fill(&t.CardBrand, u.CardBrand, false)
	fill(&t.CardBIN, u.CardBIN, false)
	fill(&t.CardLast4, u.CardLast4, false)
	fill(&t.EntryMode, u.EntryMode, false)
	if t.State != TxApproved {
		fill(&t.ErrorCode, u.ErrorCode, changed)
		fill(&t.ErrorMessage, u.ErrorMessage, changed)
	}
	if t.SentAt == nil && u.SentAt != nil {
		t.SentAt = u.SentAt
	}
	if u.CountCheck {
		t.Checks++
	}
	if u.NotFound {
		t.NotFound++
	}
	switch {
	case u.ClearReview || (changed && t.State.Final() && t.Review == ReviewResolution):
		// cleared by a person, or a proposed resolution overtaken by the gateway's answer
		t.Review, t.ReviewNote = "", ""
		t.ResolveTo, t.ResolveByID, t.ResolveByName, t.ResolveReason = "", 0, "", ""
	case u.Review != "":
		t.Review, t.ReviewNote = u.Review, u.ReviewNote
		if u.Propose != nil {
			t.ResolveTo, t.ResolveByID, t.ResolveByName, t.ResolveReason = u.Propose.To, u.Propose.ByID, u.Propose.ByName, u.Propose.Reason
		}
	case t.Review == ReviewConfirm && u.Gateway && u.Override && !overridden && t.State.Final():
		t.Review, t.ReviewNote = "", "" // the gateway confirmed the status we have
	}
	switch {
	case t.State.Final() && t.Review == ReviewConfirm && u.NextCheckAt != nil:
		t.NextCheckAt = u.NextCheckAt // still waiting for the gateway to confirm
	case t.State.Final():
		t.NextCheckAt = nil
		if t.FinalAt == nil {
			t.FinalAt = &now
		}
	case u.ClearCheck:
		t.NextCheckAt = nil
	case u.NextCheckAt != nil:
		t.NextCheckAt = u.NextCheckAt
	}
	res.Changed = changed
	return finishPlan(&before, t, res, u, now, changed), nil
}

// finishPlan lists what changed and words the timeline line.
func finishPlan(before *Transaction, t Transaction, res TxResult, u TxUpdate, now time.Time, changed bool) txPlan {
	// Only the columns that changed are written: every index on an untouched column is
	// left alone, which is most of the cost of an update on this wide, well-indexed table.
	cols := changedColumns(before, &t)
	if len(cols) > 0 {
		t.UpdatedAt = now.UTC()
	}
	p := txPlan{after: t, cols: cols}
	quiet := !changed && res.Conflict == nil &&
		((u.Routine && onlySchedule(cols)) || (u.QuietRepeat && len(cols) == 0))
	if quiet {
		res.Tx = t
		res.Repeat = u.QuietRepeat && len(cols) == 0
		p.res = res
		return p
	}
	detail := u.Detail
	switch {
	case res.Conflict != nil && before.Review != ReviewConfirm && t.Review == ReviewConfirm:
		detail = fmt.Sprintf("%s: contradicts the final status %s; flagged, and the gateway is asked to confirm", detail, t.State)
	case res.Conflict != nil:
		detail = fmt.Sprintf("%s (not applied: %v)", detail, res.Conflict)
	}
	if t.Review != before.Review && t.ReviewNote != "" && res.Conflict == nil {
		detail += "; " + t.ReviewNote
	}
	ev := &TxEvent{TransactionID: t.ID, At: now, Source: u.Source, FromState: res.From, Detail: detail}
	if changed {
		ev.ToState = t.State
	}
	p.event = ev
	res.Tx, res.Changed = t, changed
	if t.Review != before.Review && t.Review != "" {
		res.Flagged = t.Review
	}
	p.res = res
	return p
}

// changedColumns lists the columns Apply may change whose value differs between a and b.
func changedColumns(a, b *Transaction) []string {
	var cols []string
	add := func(col string, differs bool) {
		if differs {
			cols = append(cols, col)
		}
	}
	add("state", a.State != b.State)
	add("gateway_status", a.GatewayStatus != b.GatewayStatus)
	add("gateway_order_id", a.GatewayOrderID != b.GatewayOrderID)
	add("request_serial", a.RequestSerial != b.RequestSerial)
	add("approval_code", a.ApprovalCode != b.ApprovalCode)
	add("rrn", a.RRN != b.RRN)
	add("receipt_id", a.ReceiptID != b.ReceiptID)
	add("terminal_id", a.TerminalID != b.TerminalID)
	add("card_brand", a.CardBrand != b.CardBrand)
	add("card_bin", a.CardBIN != b.CardBIN)
	add("card_last4", a.CardLast4 != b.CardLast4)
	add("entry_mode", a.EntryMode != b.EntryMode)
	add("error_code", a.ErrorCode != b.ErrorCode)
	add("error_message", a.ErrorMessage != b.ErrorMessage)
	add("checks", a.Checks != b.Checks)
	add("sent_at", !timeEqual(a.SentAt, b.SentAt))
	add("final_at", !timeEqual(a.FinalAt, b.FinalAt))
	add("next_check_at", !timeEqual(a.NextCheckAt, b.NextCheckAt))
	add("not_found", a.NotFound != b.NotFound)
	add("review", a.Review != b.Review)
	add("review_note", a.ReviewNote != b.ReviewNote)
	add("resolve_to", a.ResolveTo != b.ResolveTo)
	add("resolve_by_id", a.ResolveByID != b.ResolveByID)
	add("resolve_by_name", a.ResolveByName != b.ResolveByName)
	add("resolve_reason", a.ResolveReason != b.ResolveReason)
	return cols
}

// onlySchedule reports whether cols name nothing but the poller's bookkeeping.
func onlySchedule(cols []string) bool {
	for _, c := range cols {
		if c != "next_check_at" && c != "checks" {
			return false
		}
	}
	return true
}

func timeEqual(a, b *time.Time) bool {
	return a == b || (a != nil && b != nil && a.Equal(*b))
}

// fill sets *dst to v when v is given and *dst is blank, or always when overwrite is set.
func fill(dst *string, v string, overwrite bool) {
	if v != "" && (*dst == "" || overwrite) {
		*dst = v
	}
}

// Reschedule is the status poller's path when an answer brought nothing new: one statement
// moves the next check and counts this one, and only while the payment is still in state
// (a callback may have moved it meanwhile). It reports whether the payment was rescheduled;
// when not, the caller applies the answer in full with Apply.
func (s *Transactions) Reschedule(ctx context.Context, id uint, state TxState, next time.Time) (bool, error) {
	var n int64
	now := s.now().UTC()
	err := s.Batch.Do(ctx, s.DB, func(db *gorm.DB) error {
		res, err := hotExec(db.Statement.Context, db, sqlReschedule, next, now, int64(id), string(state))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("models: reschedule transaction %d: %w", id, err)
	}
	return n == 1, nil
}

const sqlReschedule = "UPDATE transactions SET next_check_at = ?, checks = checks + 1, updated_at = ? " +
	"WHERE id = ? AND state = ? AND next_check_at IS NOT NULL"

// DueCheck is a payment whose status check is due, and when it was due (the poller measures
// how late it runs).
type DueCheck struct {
	ID  uint      `gorm:"column:id"`
	Due time.Time `gorm:"column:next_check_at"`
}

// LeaseDueChecks takes up to limit payments whose next status check is due, earliest first,
// and moves their next check lease ahead, so that another poller (another instance) does not
// take them too. The check itself then sets the real next time.
func (s *Transactions) LeaseDueChecks(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]DueCheck, error) {
	var due []DueCheck
	err := s.DB.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		due = due[:0]
		q := sqlDueChecks
		if isPostgres(db) {
			// Rows another instance has leased in its own open transaction are skipped, not waited for.
			q += " FOR UPDATE SKIP LOCKED"
		}
		rows, err := hotQuery(ctx, db, q, now, int64(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d DueCheck
			if err := rows.Scan(uintCol{&d.ID}, timeCol{&d.Due}); err != nil {
				return err
			}
			due = append(due, d)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(due) == 0 {
			return nil
		}
		args := make([]any, 0, len(due)+1)
		args = append(args, now.Add(lease))
		for _, d := range due {
			args = append(args, int64(d.ID))
		}
		_, err = onceExec(ctx, db, "UPDATE transactions SET next_check_at = ? WHERE id IN "+placeholders(len(due)), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("models: lease due status checks: %w", err)
	}
	return due, nil
}

const sqlDueChecks = "SELECT id, next_check_at FROM transactions WHERE next_check_at IS NOT NULL AND next_check_at <= ? " +
	"ORDER BY next_check_at, id LIMIT ?"
