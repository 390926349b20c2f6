package web

import (
	"context"
	"log/slog"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/example/mposportal/models"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the web layer's dependencies, passed in by main. Every field is required unless
// its comment says what its absence means; New refuses (panics, naming them) Deps that lack a
// required one, so a forgotten dependency stops the portal at start-up rather than failing a
// request later. New hands each area's handler struct only what that area uses.
type Deps struct {
	Users        UserStore
	Audit        AuditLog
	Endpoints    EndpointStore
	Sessions     scs.Store
	SessionList  SessionLister
	Health       func(ctx context.Context) error // readiness of the database; nil: /healthz answers "ok" without asking it
	Log          *slog.Logger
	Metrics      prometheus.Registerer
	Gatherer     prometheus.Gatherer
	CookieSecure bool // serve cookies with Secure (behind HTTPS)
	Hub          *Hub
	Readers      ReaderQueries
	ReaderAdmin  ReaderAdmin
	Devices      *DeviceHandlers // with its Readers, Payments, Link and Log
	Payments     PaymentService
	Transactions TxQueries
	Callbacks    CallbackLog
	CloseDays    CloseDayService
	Closes       CloseQueries
	Shifts       ShiftStore
	Now          func() time.Time // nil: time.Now
	// SecondFactors keeps authenticator secrets; SecondFactorOptional lets admins and managers
	// sign in without one (off by default).
	SecondFactors        SecondFactorStore
	SecondFactorOptional bool
	// ReceiptMail sends e-mailed receipts; nil: receipts are printed only.
	ReceiptMail *ReceiptMailer
}

// missing names the required dependencies d lacks.
func (d Deps) missing() []string {
	var out []string
	need := func(name string, absent bool) {
		if absent {
			out = append(out, name)
		}
	}
	need("Users", d.Users == nil)
	need("Audit", d.Audit == nil)
	need("Endpoints", d.Endpoints == nil)
	need("Sessions", d.Sessions == nil)
	need("SessionList", d.SessionList == nil)
	need("Log", d.Log == nil)
	need("Metrics", d.Metrics == nil)
	need("Gatherer", d.Gatherer == nil)
	need("Hub", d.Hub == nil)
	need("Readers", d.Readers == nil)
	need("ReaderAdmin", d.ReaderAdmin == nil)
	need("Devices", d.Devices == nil)
	if d.Devices != nil {
		need("Devices.Readers", d.Devices.Readers == nil)
		need("Devices.Payments", d.Devices.Payments == nil)
		need("Devices.Link", d.Devices.Link == nil)
		need("Devices.Log", d.Devices.Log == nil)
	}
	need("Payments", d.Payments == nil)
	need("Transactions", d.Transactions == nil)
	need("Callbacks", d.Callbacks == nil)
	need("CloseDays", d.CloseDays == nil)
	need("Closes", d.Closes == nil)
	need("Shifts", d.Shifts == nil)
	need("SecondFactors", d.SecondFactors == nil)
	return out
}

// The store interfaces Deps carries are each the union of what the areas ask of one store;
// each area's handler struct holds the narrow interface declared next to it.

// UserStore is what the web layer asks of the user table: signing in (SignInUsers), the
// administrators' user pages (UserAdmin), the account page (AccountUsers) and the counter's
// last reader (LastReaderStore).
type UserStore interface {
	SignInUsers
	UserAdmin
	AccountUsers
	LastReaderStore
}

// AuditLog records (every area, through pages) and lists (AuditReads) who changed what.
type AuditLog interface {
	AuditRecorder
	AuditReads
}

// SecondFactorStore keeps the users' authenticator secrets and recovery codes: checked and set
// up at sign-in, counted on the account page, reset by an administrator.
type SecondFactorStore interface {
	SecondFactorSignIn
	RecoveryCodes
	SecondFactorReset
}

// PaymentService runs payments: the payment pages' actions and the gateway's callbacks.
type PaymentService interface {
	PaymentActions
	CallbackApplier
}

// TxQueries reads payments: the payment pages (PaymentReads, which covers the receipt's,
// the reader page's and the money panel's smaller needs), the start page, shift and Z reports,
// and the live screens.
type TxQueries interface {
	PaymentReads
	HomeReads
	ShiftPayments
	ZReportFigures
	// WaitingOn is the payment waiting for a card on a reader (live.go: a busy reader).
	WaitingOn(ctx context.Context, readerID uint) (models.Transaction, error)
}

// ReaderQueries reads readers: the reader pages (ReaderReads) and the counter and list's
// choice of reader (ReaderChoices).
type ReaderQueries interface {
	ReaderReads
	ReaderChoices
}

// CloseQueries reads closes: the Close Day pages (CloseReads) and the start page's problems.
type CloseQueries interface {
	CloseReads
	CloseProblems
}
