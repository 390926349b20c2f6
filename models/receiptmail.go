package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// The states of an e-mailed receipt.
const (
	MailQueued  = "queued"  // asked for; the sender has not picked it up yet
	MailSending = "sending" // one sender is talking to the mail server
	MailSent    = "sent"    // the mail server accepted it
	MailFailed  = "failed"  // not sent (Error says why)
)

// ReceiptMail is one receipt e-mailed to a customer: asked for at the counter, sent in the
// background. Subject and Body are the message as built from the payment when it was asked
// for (what the customer gets is what the audit shows); SendKey is the form's one-time key, so
// a repeated submit of the same form finds this row instead of sending again.
type ReceiptMail struct {
	ID            uint      `gorm:"primaryKey"`
	CreatedAt     time.Time `gorm:"index"`
	UpdatedAt     time.Time
	SendKey       string `gorm:"size:64;uniqueIndex;not null"`
	TransactionID uint   `gorm:"index;not null"`
	OrderID       string `gorm:"size:64"` // the payment's ClientOrderID, for the audit
	Recipient     string `gorm:"size:254;not null"`
	SenderName    string `gorm:"size:64"`  // the shop's trading name, as the sender's name
	ReplyTo       string `gorm:"size:254"` // the shop's own address, for answers
	Subject       string `gorm:"size:255;not null"`
	Body          string `gorm:"type:text;not null"`
	State         string `gorm:"size:16;index;not null"`
	Error         string `gorm:"size:255"`
	ClaimedAt     *time.Time
	SentAt        *time.Time
	UserID        uint
	UserName      string `gorm:"size:64"`
}

// ReceiptMails holds the e-mailed receipts.
type ReceiptMails struct {
	DB  *gorm.DB
	Now func() time.Time
}

func (s *ReceiptMails) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Queue stores a receipt to send, asked for by by, and audits the request (receipt.email) in
// the same transaction; ErrConflict when its one-time key was used already.
func (s *ReceiptMails) Queue(ctx context.Context, m *ReceiptMail, by Actor) error {
	m.State, m.Error = MailQueued, ""
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(m).Error; err != nil {
			return fmt.Errorf("models: queue receipt mail for payment %d: %w", m.TransactionID, translate(err))
		}
		return recordIn(tx, by.Event("receipt.email", m.OrderID, "to "+m.Recipient), s.now())
	})
}

// Waiting lists the queued receipts, oldest first.
func (s *ReceiptMails) Waiting(ctx context.Context, limit int) ([]ReceiptMail, error) {
	var ms []ReceiptMail
	err := s.DB.WithContext(ctx).Where("state = ?", MailQueued).Order("id").Limit(limit).Find(&ms).Error
	return ms, err
}

// Claim takes a queued receipt for sending. It reports false when another sender (another
// instance, or the same one woken twice) took it first: each receipt is sent at most once.
func (s *ReceiptMails) Claim(ctx context.Context, id uint) (bool, error) {
	res := s.DB.WithContext(ctx).Model(&ReceiptMail{}).Where("id = ? AND state = ?", id, MailQueued).
		Updates(map[string]any{"state": MailSending, "claimed_at": s.now()})
	if res.Error != nil {
		return false, fmt.Errorf("models: claim receipt mail %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Finish records a claimed receipt's outcome: sent when failure is empty, failed otherwise.
func (s *ReceiptMails) Finish(ctx context.Context, id uint, failure string) error {
	set := map[string]any{"state": MailSent, "sent_at": s.now(), "error": ""}
	if failure != "" {
		set = map[string]any{"state": MailFailed, "error": clip(failure, 255)}
	}
	if err := s.DB.WithContext(ctx).Model(&ReceiptMail{}).Where("id = ? AND state = ?", id, MailSending).Updates(set).Error; err != nil {
		return fmt.Errorf("models: finish receipt mail %d: %w", id, err)
	}
	return nil
}

// Abandon fails the receipts claimed before the given time and never finished (the portal
// stopped while sending): whether they arrived is unknown, and they are not sent again.
func (s *ReceiptMails) Abandon(ctx context.Context, claimedBefore time.Time) (int64, error) {
	res := s.DB.WithContext(ctx).Model(&ReceiptMail{}).Where("state = ? AND claimed_at < ?", MailSending, claimedBefore.UTC()).
		Updates(map[string]any{"state": MailFailed, "error": "the portal stopped while sending: it may not have arrived"})
	if res.Error != nil {
		return 0, fmt.Errorf("models: abandon receipt mails: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// ForTransaction lists the receipts e-mailed for a payment, newest first, without their bodies.
func (s *ReceiptMails) ForTransaction(ctx context.Context, txID uint) ([]ReceiptMail, error) {
	var ms []ReceiptMail
	err := s.DB.WithContext(ctx).Omit("body").Where("transaction_id = ?", txID).Order("id DESC").Limit(20).Find(&ms).Error
	if err != nil {
		return nil, fmt.Errorf("models: receipt mails of payment %d: %w", txID, err)
	}
	return ms, nil
}

// DefaultReceiptMailRetention is how long e-mailed receipts (a customer's address and the
// message sent) are kept once they are settled, sent or failed.
const DefaultReceiptMailRetention = 90 * 24 * time.Hour

// Prune deletes settled receipts (sent or failed) asked for before the given time, in
// batches, and returns how many. Receipts still queued or being sent are kept.
func (s *ReceiptMails) Prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res := s.DB.WithContext(ctx).Where("id IN (?)", s.DB.Model(&ReceiptMail{}).Select("id").
			Where("created_at < ? AND state IN ?", before.UTC(), []string{MailSent, MailFailed}).Limit(5000)).Delete(&ReceiptMail{})
		if res.Error != nil {
			return total, fmt.Errorf("models: prune receipt mails: %w", res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < 5000 {
			return total, nil
		}
	}
}
