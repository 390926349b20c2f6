package models_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// A receipt is queued once per form key, sent by one sender only, and its outcome kept; the
// list for a payment leaves the bodies out.
func TestReceiptMails(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := &models.ReceiptMails{DB: openDB(t), Now: func() time.Time { return now }}
	sam := models.Actor{ID: 4, Name: "sam", IP: "192.0.2.9"}
	m := models.ReceiptMail{SendKey: "k1", TransactionID: 7, OrderID: "P0007", Recipient: "anna@example.com", Subject: "Receipt", Body: "VISA •••• 1111"}
	if err := s.Queue(ctx, &m, sam); err != nil {
		t.Fatal(err)
	}
	again := models.ReceiptMail{SendKey: "k1", TransactionID: 7, Recipient: "anna@example.com", Subject: "Receipt", Body: "x"}
	if err := s.Queue(ctx, &again, sam); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("the same key again: %v, want ErrConflict", err)
	}
	other := models.ReceiptMail{SendKey: "k2", TransactionID: 7, Recipient: "ben@example.com", Subject: "Receipt", Body: "y"}
	if err := s.Queue(ctx, &other, sam); err != nil {
		t.Fatal(err)
	}
	// Each request is audited with its queueing, the refused double tap not at all.
	checkTrail(t, s.DB, "sam@192.0.2.9 receipt.email P0007: to anna@example.com", "sam@192.0.2.9 receipt.email : to ben@example.com")
	waiting, err := s.Waiting(ctx, 10)
	if err != nil || len(waiting) != 2 || waiting[0].ID != m.ID {
		t.Fatalf("Waiting = %+v, %v", waiting, err)
	}
	if ok, err := s.Claim(ctx, m.ID); !ok || err != nil {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, _ := s.Claim(ctx, m.ID); ok {
		t.Fatal("a receipt was claimed twice")
	}
	if err := s.Finish(ctx, m.ID, ""); err != nil {
		t.Fatal(err)
	}
	// Claimed and never finished (the portal stopped while sending): failed, not sent again.
	s.Claim(ctx, other.ID)
	now = now.Add(11 * time.Minute)
	if n, err := s.Abandon(ctx, now.Add(-10*time.Minute)); n != 1 || err != nil {
		t.Errorf("Abandon = %d, %v; want the one claimed 11 minutes ago", n, err)
	}
	if ws, _ := s.Waiting(ctx, 10); len(ws) != 0 {
		t.Errorf("still waiting: %+v", ws)
	}
	list, err := s.ForTransaction(ctx, 7)
	if err != nil || len(list) != 2 {
		t.Fatalf("ForTransaction = %+v, %v", list, err)
	}
	if list[0].ID != other.ID || list[0].State != models.MailFailed || list[0].Error == "" {
		t.Errorf("the abandoned receipt: %+v", list[0])
	}
	if list[1].State != models.MailSent || list[1].SentAt == nil || list[1].Body != "" {
		t.Errorf("the sent receipt: state %s sent at %v body %q", list[1].State, list[1].SentAt, list[1].Body)
	}
}

// Settled receipts (a customer's address and the message) are deleted after the retention;
// one still queued or being sent is kept whatever its age.
func TestReceiptMailsArePruned(t *testing.T) {
	ctx := context.Background()
	s := &models.ReceiptMails{DB: openDB(t)}
	sam := models.Actor{ID: 4, Name: "sam"}
	var ids []uint
	for i, to := range []string{"sent@example.com", "failed@example.com", "queued@example.com", "sending@example.com"} {
		m := models.ReceiptMail{SendKey: fmt.Sprint("k", i), TransactionID: 7, Recipient: to, Subject: "Receipt", Body: "b"}
		if err := s.Queue(ctx, &m, sam); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for i, failure := range []string{"", "mailbox full"} {
		if ok, err := s.Claim(ctx, ids[i]); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if err := s.Finish(ctx, ids[i], failure); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.Claim(ctx, ids[3]); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n, err := s.Prune(ctx, time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Fatalf("Prune of receipts older than an hour = %d, %v; want none", n, err)
	}
	if n, err := s.Prune(ctx, time.Now().Add(time.Hour)); n != 2 || err != nil {
		t.Fatalf("Prune = %d, %v; want the sent and the failed one", n, err)
	}
	left, err := s.ForTransaction(ctx, 7)
	if err != nil || len(left) != 2 || left[0].Recipient != "sending@example.com" || left[1].Recipient != "queued@example.com" {
		t.Fatalf("left %+v, %v; want the queued and the sending receipt", left, err)
	}
}
