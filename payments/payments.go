package payments

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
)

// Polling cadence and deadline (protocol §7.3): first status request 3 s after the sale
// response, then every 5 s; after an hour without a final status a person must look.
const (
	FirstCheckAfter = 3 * time.Second
	CheckEvery      = 5 * time.Second
	CheckDeadline   = 60 * time.Minute
	// After a timeout or 5xx we ask "do you have this order?" quickly: the customer is waiting.
	UnknownCheckAfter = 2 * time.Second
	// How long a reader waits for the card before giving up.
	CardTimeout = 60 * time.Second
	// SendTimeout bounds one sale/preauth request from card read to recorded answer.
	SendTimeout = 90 * time.Second
	// The watchdogs: a payment still waiting for its card after CardTimeout+cardGrace, or
	// still "sending" after SendTimeout+sendGrace, lost the process that was handling it
	// (a crash, a killed instance). The poller then settles it: a card that never came fails,
	// a request whose fate is unknown is asked for by client_orderid.
	cardGrace = 10 * time.Second
	sendGrace = 5 * time.Second
	// ReviewEvery is how often a payment that needs review is still asked about.
	ReviewEvery = 5 * time.Minute
	// DefaultUnknownWindow is how long after a request with an unknown outcome the gateway
	// may still receive it: the client's 60 s request timeout plus a margin. Until it has
	// passed (and UnknownAnswers "not found" answers came), the counter is told not to take
	// the payment again.
	DefaultUnknownWindow = 2 * time.Minute
	UnknownAnswers       = 3
)

// Gateway is the part of the MAPI client a payment needs.
type Gateway interface {
	Sale(ctx context.Context, r mapi.OrderRequest) (*mapi.OrderResponse, error)
	Preauth(ctx context.Context, r mapi.OrderRequest) (*mapi.OrderResponse, error)
	Status(ctx context.Context, r mapi.StatusRequest) (*mapi.StatusResponse, error)
	Capture(ctx context.Context, r mapi.MoneyRequest) (*mapi.OrderResponse, error)
	Return(ctx context.Context, r mapi.MoneyRequest) (*mapi.OrderResponse, error)
}

// Merchant is what an endpoint contributes to a sale request besides credentials.
type Merchant struct {
	Name string // the endpoint's, for messages
	// Disabled: an administrator switched the endpoint off. New payments and operations are
	// refused; payments already sent are still followed up (status checks, callbacks).
	Disabled                                bool
	Currency                                string
	Money                                   money.Locale // how the store writes and types amounts
	Address1, City, ZipCode, Country, Email string
	CallbackURL                             string
	TimeZone                                string // the store's IANA zone; "" = UTC
	// RefundApprovalMinor: refunds above it wait for a second person's approval (0: never).
	RefundApprovalMinor int64
	// ConfirmAboveMinor: a payment above it needs its amount typed twice (0: never).
	ConfirmAboveMinor int64
}

// Location is the store's time zone (UTC when unknown).
func (m Merchant) Location() *time.Location {
	if loc, err := time.LoadLocation(m.TimeZone); err == nil && m.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// BusinessDay is the store's date at t in its time zone (UTC when the zone is unknown).
func BusinessDay(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02")
}

// Gateways builds the client for one endpoint row from its stored settings.
type Gateways interface {
	Gateway(ctx context.Context, endpointID uint) (Gateway, Merchant, error)
}

// ReaderLink sends messages to connected readers over the device channel.
type ReaderLink interface {
	Send(serial string, msg any) error // devices.ErrReaderOffline when not connected
	Tell(serial string, msg any)       // the same without waiting, for what nobody waits on
}

// ReaderLookup finds the reader a payment is started on.
type ReaderLookup interface {
	PaymentReader(ctx context.Context, id uint) (devices.PaymentReader, error)
}

// Gate says whether an endpoint's gate is closed for a running Close Day.
type Gate interface {
	Closing(ctx context.Context, endpointID uint) (bool, error)
}

// ErrAlreadyStarted comes with the payment that the same counter form (its one-time key)
// already started: the caller shows that payment instead of a new one.
var ErrAlreadyStarted = errors.New("this form already started a payment")

// ErrEndpointDisabled: the gateway endpoint is switched off, so nothing new is sent to it.
var ErrEndpointDisabled = errors.New("the gateway endpoint is disabled")

// Auditor records what the domain did that a person must know, whoever did it (a person,
// the gateway, the system).
type Auditor interface {
	Record(ctx context.Context, e models.AuditEvent) error
}

// Actor is who did something, for the timeline and the audit log: a person, or the portal
// itself (models.ActorSystem for a job).
type Actor = models.Actor

// Service runs card payments: from "present card" on a reader to a final status, whether that
// status arrives by callback or by polling, and the money operations after it. Every change
// goes through models.Transactions.Apply, the one idempotent state machine.
type Service struct {
	Deps
	// UnknownWindow overrides DefaultUnknownWindow (tests).
	UnknownWindow time.Duration

	mu     sync.Mutex
	sends  sync.WaitGroup // gateway calls started from reader messages
	closed bool
}

// Deps is what a Service needs. Every field is required: New refuses to build a Service
// without one.
type Deps struct {
	Tx       *models.Transactions
	Readers  ReaderLookup
	Link     ReaderLink
	Gateways Gateways
	Live     live.Notifier // told of every change a screen may show
	Gate     Gate          // a running Close Day holds the counter
	Audit    Auditor       // records what the service did, whoever asked (a person, a job, the gateway)
	Log      *slog.Logger
	Now      func() time.Time
}

// New builds the payment service. It panics, naming them, when dependencies are missing: a
// wiring mistake shows at start-up, not at the first payment.
func New(d Deps) *Service {
	var missing []string
	for name, absent := range map[string]bool{"Tx": d.Tx == nil, "Readers": d.Readers == nil, "Link": d.Link == nil,
		"Gateways": d.Gateways == nil, "Live": d.Live == nil, "Gate": d.Gate == nil, "Audit": d.Audit == nil,
		"Log": d.Log == nil, "Now": d.Now == nil} {
		if absent {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		panic("payments.New: missing " + strings.Join(missing, ", "))
	}
	return &Service{Deps: d}
}

func (p *Service) now() time.Time { return p.Now() }

// audit records what by did in the audit log. The action is done by then, so the entry is
// written even when the caller's request has gone, and a failure to write it is logged, not
// returned: it does not undo the action.
func (p *Service) audit(ctx context.Context, by Actor, action, subject, detail string) {
	if err := p.Audit.Record(context.WithoutCancel(ctx), by.Event(action, subject, detail)); err != nil {
		p.Log.Error("audit record failed", "action", action, "subject", subject, "error", err)
	}
}

// StartInput is what the counter screen submits.
type StartInput struct {
	// StartKey is the counter form's one-time key: the same key starts one payment, however
	// often (or however concurrently) the form is submitted.
	StartKey string
	ReaderID uint
	Kind     models.TxKind
	// Amount is the amount as typed at the counter, read the way the store writes numbers and
	// in its currency's decimals ("1 234,50" in a Latvian store, "1200" yen). Callers that
	// hold minor units set AmountMinor instead.
	Amount      string
	AmountMinor int64
	// AmountAgain is the amount typed a second time, for a payment above the endpoint's
	// confirmation amount (a slip of the finger on 1000.00 for 10.00 costs the customer).
	AmountAgain string
	Description string
	Actor       Actor
}

// Start creates a payment and asks its reader for a card.
func (p *Service) Start(ctx context.Context, in StartInput) (models.Transaction, error) {
	var t models.Transaction
	if len(in.StartKey) > 64 {
		return t, models.Invalid("", "This form is not valid any more: reload the page.")
	}
	if in.StartKey != "" {
		if prev, err := p.Tx.ByStartKey(ctx, in.StartKey); err == nil {
			return prev, ErrAlreadyStarted // the same form again: a double tap, a retry, the back button
		} else if !errors.Is(err, models.ErrNotFound) {
			return t, err
		}
	}
	switch {
	case in.Kind != models.KindSale && in.Kind != models.KindPreauth:
		return t, models.Invalid("kind", "choose Sale or Preauth")
	case in.Amount == "" && in.AmountMinor <= 0:
		return t, models.Invalid("amount", "Enter the amount to charge.")
	case len(in.Description) > 255:
		return t, models.Invalid("description", "the description must be at most 255 characters")
	}
	r, err := p.Readers.PaymentReader(ctx, in.ReaderID)
	if errors.Is(err, models.ErrNotFound) {
		return t, models.Invalid("reader", "choose a reader")
	}
	if err != nil {
		return t, err
	}
	switch {
	case !r.Enabled:
		return t, models.Invalidf("reader", "%s is disabled: choose another reader.", r.Label)
	case !r.Online:
		return t, models.Invalidf("reader", "%s is offline: choose another reader.", r.Label)
	}
	_, merchant, err := p.Gateways.Gateway(ctx, r.EndpointID)
	if err != nil {
		return t, fmt.Errorf("payments: payment on reader %s: %w", r.Serial, err)
	}
	if merchant.Disabled {
		return t, models.Invalidf("reader", "%s takes payments through the gateway endpoint %s, which is switched off: an administrator can enable it under Gateway.", r.Label, merchant.Name).
			Because(ErrEndpointDisabled)
	}
	if busy := p.busy(ctx, r, merchant.Money); busy != nil {
		return t, busy
	}
	closing, err := p.Gate.Closing(ctx, r.EndpointID)
	if err != nil {
		return t, err
	}
	if closing {
		return t, models.Invalid("", "The day is being closed with the bank: try again in a moment.")
	}
	if in.Amount != "" {
		var perr *money.ParseError
		in.AmountMinor, err = merchant.Money.Parse(in.Amount, merchant.Currency)
		if errors.As(err, &perr) {
			return t, models.InvalidAmount("amount", err)
		}
	}
	if in.AmountMinor <= 0 || in.AmountMinor > money.MaxPayment {
		return t, models.Invalidf("amount", "Enter an amount above zero and at most %s.", merchant.Money.Format(money.MaxPayment, merchant.Currency))
	}
	if merchant.ConfirmAboveMinor > 0 && in.AmountMinor > merchant.ConfirmAboveMinor {
		if again, err := merchant.Money.Parse(in.AmountAgain, merchant.Currency); err != nil || again != in.AmountMinor {
			msg := fmt.Sprintf("%s is a large amount: type it again to confirm.", merchant.Money.Format(in.AmountMinor, merchant.Currency))
			if in.AmountAgain != "" {
				msg = "The two amounts differ: type the amount again to confirm."
			}
			return t, models.Invalid("amount_again", msg)
		}
	}
	watchdog := p.now().Add(CardTimeout + cardGrace)
	t = models.Transaction{
		NextCheckAt:   &watchdog,
		ClientOrderID: NewClientOrderID(), EndpointID: r.EndpointID, ReaderID: r.ID, ReaderSerial: r.Serial,
		Kind: in.Kind, AmountMinor: in.AmountMinor, Currency: merchant.Currency, Description: strings.TrimSpace(in.Description),
		State: models.TxWaitingCard, StartedByID: in.Actor.ID, StartedByName: in.Actor.Name,
		BusinessDay: BusinessDay(p.now(), merchant.TimeZone), ReaderLabel: r.Label,
	}
	if in.StartKey != "" {
		t.StartKey = &in.StartKey
	}
	if err := p.Tx.Create(ctx, &t, fmt.Sprintf("%s of %s %s started by %s on %s", t.Kind, t.Amount(), t.Currency, in.Actor.Name, r.Label)); err != nil {
		if !errors.Is(err, models.ErrConflict) {
			return t, err
		}
		// Another submit of the same form won the race, or another payment took the reader.
		if in.StartKey != "" {
			if prev, kerr := p.Tx.ByStartKey(ctx, in.StartKey); kerr == nil {
				return prev, ErrAlreadyStarted
			}
		}
		if busy := p.busy(ctx, r, merchant.Money); busy != nil {
			return models.Transaction{}, busy
		}
		return models.Transaction{}, err
	}
	p.audit(ctx, in.Actor, "payment.start", t.ClientOrderID, fmt.Sprintf("%s %s %s on %s", t.Kind, t.Amount(), t.Currency, t.ReaderSerial))
	msg := devices.PresentCard{Type: devices.TypePresentCard, Tx: t.ClientOrderID, Kind: string(t.Kind), Amount: t.Amount(),
		Currency: t.Currency, TimeoutSeconds: int(CardTimeout / time.Second)}
	if err := p.Link.Send(r.Serial, msg); err != nil {
		res, aerr := p.Tx.Apply(ctx, t.ID, models.TxUpdate{Source: "system", State: models.TxFailed,
			ErrorMessage: "the reader could not be reached", Detail: err.Error()})
		p.publish(t.ID)
		if aerr != nil {
			return t, aerr
		}
		return res.Tx, nil
	}
	p.publish(t.ID)
	return t, nil
}

// busy refuses a start on a reader that is waiting for a card for another payment.
func (p *Service) busy(ctx context.Context, r devices.PaymentReader, loc money.Locale) *models.ValidationError {
	w, err := p.Tx.WaitingOn(ctx, r.ID)
	if err != nil {
		return nil
	}
	return models.Invalidf("reader", "%s is busy with %s: cancel that payment or choose another reader.", r.Label, loc.Format(w.AmountMinor, w.Currency))
}

// EndWaiting ends the payment waiting for a card on a reader that can no longer read it,
// at once and with the true reason (a disabled, unpaired, replaced or disconnected reader),
// instead of letting it run into the card timeout. The bank is asked first, as the card
// watchdog does: normally it has no such payment and nothing was charged, but a database
// restored from a backup taken mid-payment may not know of a card read that was sent.
func (p *Service) EndWaiting(ctx context.Context, readerID uint, reason string) {
	t, err := p.Tx.WaitingOn(ctx, readerID)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, endWaitingTimeout)
	defer cancel()
	gw, _, err := p.Gateways.Gateway(ctx, t.EndpointID)
	var st *mapi.StatusResponse
	if err == nil {
		st, err = gw.Status(ctx, mapi.StatusRequest{ClientOrderID: t.ClientOrderID})
	}
	now := p.now()
	p.cardWatchdog(ctx, t, st, err, now, now.Add(CheckEvery), reason)
}

// endWaitingTimeout bounds the question to the bank when a reader goes away: a slow gateway
// leaves the payment to the watchdog rather than hold up the reader's disconnection.
const endWaitingTimeout = 5 * time.Second

// Cancel withdraws a payment that is still waiting for its card.
func (p *Service) Cancel(ctx context.Context, id uint, actor Actor) (models.Transaction, error) {
	res, err := p.Tx.Apply(ctx, id, models.TxUpdate{Source: "user", State: models.TxCancelled,
		ErrorMessage: "cancelled at the counter", Detail: "cancelled by " + actor.Name})
	if err != nil {
		return res.Tx, err
	}
	if res.Changed {
		_ = p.Link.Send(res.Tx.ReaderSerial, devices.Cancel{Type: devices.TypeCancel, Tx: res.Tx.ClientOrderID})
		p.publish(id)
		p.audit(ctx, actor, "payment.cancel", res.Tx.ClientOrderID, "")
	}
	return res.Tx, nil
}

func (p *Service) publish(id uint) { p.Live.Changed(live.Change{Kind: live.Payment, ID: id}) }

// NewClientOrderID returns a fresh order id for the gateway: "P" and 15 characters of
// Crockford base32, so it is unique, short enough to read out over the phone to support, and
// free of characters that need escaping anywhere.
func NewClientOrderID() string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return "P" + string(b[:])
}
