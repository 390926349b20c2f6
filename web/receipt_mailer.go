package web

import (
	"context"
	"log/slog"
	"time"

	"github.com/example/mposportal/mailer"
	"github.com/example/mposportal/models"
)

// MailSender delivers one e-mail (mailer.Client).
type MailSender interface {
	Send(ctx context.Context, m mailer.Message) error
}

// ReceiptMailStore keeps the e-mailed receipts (models.ReceiptMails).
type ReceiptMailStore interface {
	Queue(ctx context.Context, m *models.ReceiptMail, by models.Actor) error // audited
	Waiting(ctx context.Context, limit int) ([]models.ReceiptMail, error)
	Claim(ctx context.Context, id uint) (bool, error)
	Finish(ctx context.Context, id uint, failure string) error
	Abandon(ctx context.Context, claimedBefore time.Time) (int64, error)
	ForTransaction(ctx context.Context, txID uint) ([]models.ReceiptMail, error)
}

// ReceiptMailer sends the receipts staff e-mail, one at a time, in the background. What to
// send is in the database: a receipt queued just before a restart, or on another instance,
// is sent by whichever sender claims it first, and only by that one.
type ReceiptMailer struct {
	Mails   ReceiptMailStore
	sender  MailSender
	audit   AuditRecorder
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
	wake    chan struct{}
}

// Bounds of the sending: one message may take receiptMailTimeout; a receipt still queued after
// receiptMailStale is not sent (the customer has long left); one claimed and unfinished after
// receiptMailLost was being sent when the portal stopped.
const (
	receiptMailTimeout = 30 * time.Second
	receiptMailStale   = time.Hour
	receiptMailLost    = 10 * time.Minute
)

// NewReceiptMailer sends receipts through sender, audited in audit.
func NewReceiptMailer(sender MailSender, mails ReceiptMailStore, audit AuditRecorder, log *slog.Logger) *ReceiptMailer {
	return &ReceiptMailer{Mails: mails, sender: sender, audit: audit, log: log, timeout: receiptMailTimeout, now: time.Now,
		wake: make(chan struct{}, 1)}
}

// Wake asks the sender to look for queued receipts now; it never blocks.
func (m *ReceiptMailer) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run sends queued receipts when woken, and every minute for those queued elsewhere, until
// ctx ends.
func (m *ReceiptMailer) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		m.sendWaiting(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-tick.C:
		}
	}
}

// sendWaiting sends every queued receipt it can claim.
func (m *ReceiptMailer) sendWaiting(ctx context.Context) {
	if n, err := m.Mails.Abandon(ctx, m.now().Add(-receiptMailLost)); err != nil {
		m.log.Error("receipt mails", "error", err)
	} else if n > 0 {
		m.log.Warn("receipt mails left unfinished by a stop", "count", n)
	}
	for ctx.Err() == nil {
		ms, err := m.Mails.Waiting(ctx, 20)
		if err != nil {
			m.log.Error("receipt mails", "error", err)
			return
		}
		for _, r := range ms {
			if ctx.Err() != nil {
				return
			}
			m.send(ctx, r)
		}
		if len(ms) < 20 {
			return
		}
	}
}

// send claims and sends one receipt, and records the outcome on it and in the audit log.
func (m *ReceiptMailer) send(ctx context.Context, r models.ReceiptMail) {
	if ok, err := m.Mails.Claim(ctx, r.ID); err != nil || !ok {
		if err != nil {
			m.log.Error("receipt mail claim", "id", r.ID, "error", err)
		}
		return
	}
	failure := ""
	if m.now().Sub(r.CreatedAt) > receiptMailStale {
		failure = "not sent: asked for over an hour earlier"
	} else {
		sctx, cancel := context.WithTimeout(ctx, m.timeout)
		err := m.sender.Send(sctx, mailer.Message{To: r.Recipient, FromName: r.SenderName, ReplyTo: r.ReplyTo, Subject: r.Subject, Text: r.Body})
		cancel()
		if err != nil {
			failure = err.Error()
		}
	}
	// The outcome is written even when the portal is stopping.
	done := context.WithoutCancel(ctx)
	if err := m.Mails.Finish(done, r.ID, failure); err != nil {
		m.log.Error("receipt mail finish", "id", r.ID, "error", err)
	}
	e := models.AuditEvent{ActorID: r.UserID, ActorName: r.UserName, Action: "receipt.emailed", Subject: r.OrderID, Detail: "to " + r.Recipient}
	if failure != "" {
		m.log.Warn("receipt mail not sent", "order", r.OrderID, "error", failure)
		e.Action, e.Detail = "receipt.email_failed", e.Detail+": "+failure
	}
	if err := m.audit.Record(done, e); err != nil {
		m.log.Error("audit record failed", "action", e.Action, "error", err)
	}
}
