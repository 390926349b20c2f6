package mailer_test

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/mailer"
	"github.com/example/mposportal/mailer/mailertest"
)

// read parses a received message: its headers, and its body decoded.
func read(t *testing.T, m mailertest.Message) (mail.Header, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, m.Data)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header, string(body)
}

func TestSendDeliversOneMessageToOneAddress(t *testing.T) {
	srv := mailertest.NewServer(t)
	c, err := mailer.New(mailer.Config{Addr: srv.Addr(), From: "receipts@shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	text := "Kafejnīca Rīga\nVISA •••• 1111\n.a line starting with a dot\n" + strings.Repeat("x", 120) + "\n"
	err = c.Send(ctx, mailer.Message{To: "Anna <anna@example.com>", FromName: "Kafejnīca Rīga", ReplyTo: "shop@example.com",
		Subject: "Receipt from Kafejnīca Rīga: Sale 10.42\u00a0EUR", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	ms := srv.Messages()
	if len(ms) != 1 {
		t.Fatalf("%d messages, want 1", len(ms))
	}
	if ms[0].From != "receipts@shop.example" || strings.Join(ms[0].To, ",") != "anna@example.com" {
		t.Errorf("envelope from %q to %v", ms[0].From, ms[0].To)
	}
	h, body := read(t, ms[0])
	if got := h.Get("To"); got != "<anna@example.com>" {
		t.Errorf("To: %q", got)
	}
	from, err := mail.ParseAddress(h.Get("From"))
	if err != nil || from.Name != "Kafejnīca Rīga" || from.Address != "receipts@shop.example" {
		t.Errorf("From: %q (%v)", h.Get("From"), err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if subject != "Receipt from Kafejnīca Rīga: Sale 10.42\u00a0EUR" {
		t.Errorf("Subject: %q", subject)
	}
	if h.Get("Reply-To") != "<shop@example.com>" {
		t.Errorf("Reply-To: %q", h.Get("Reply-To"))
	}
	if strings.ReplaceAll(body, "\r\n", "\n") != text {
		t.Errorf("body:\n%q\nwant\n%q", body, text)
	}
}

// Nothing typed can add a header or a recipient: a subject or name with line breaks stays
// one header line, and an address with a second address or a line break is refused.
func TestSendRefusesHeaderInjection(t *testing.T) {
	srv := mailertest.NewServer(t)
	c, err := mailer.New(mailer.Config{Addr: srv.Addr(), From: "receipts@shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, to := range []string{"anna@example.com\r\nBcc: eve@example.com", "anna@example.com, eve@example.com",
		"anna@example.com\nBcc: eve@example.com", "not an address", ""} {
		if err := c.Send(ctx, mailer.Message{To: to, Subject: "Receipt", Text: "x"}); err == nil {
			t.Errorf("sent to %q", to)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages sent to refused addresses", n)
	}
	err = c.Send(ctx, mailer.Message{To: "anna@example.com", FromName: "Shop\r\nBcc: eve@example.com",
		Subject: "Receipt\r\nBcc: eve@example.com", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ms := srv.Messages()
	if len(ms) != 1 || strings.Join(ms[0].To, ",") != "anna@example.com" {
		t.Fatalf("messages %+v", ms)
	}
	h, _ := read(t, ms[0])
	if len(h["Bcc"]) != 0 || strings.Contains(ms[0].Data, "\r\nBcc:") {
		t.Errorf("a typed line break added a header:\n%s", ms[0].Data)
	}
}

func TestNewChecksTheConfiguration(t *testing.T) {
	for _, cfg := range []mailer.Config{{Addr: "smtp.example.com", From: "a@example.com"}, {Addr: "smtp.example.com:587", From: "nobody"},
		{Addr: ":587", From: "a@example.com"}} {
		if _, err := mailer.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// A server that accepts the connection and never answers does not hold the sender past its
// deadline.
func TestSendGivesUpAtTheDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if conn, err := ln.Accept(); err == nil {
			held <- conn // silent: no greeting
		}
	}()
	c, err := mailer.New(mailer.Config{Addr: ln.Addr().String(), From: "receipts@shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Send(ctx, mailer.Message{To: "anna@example.com", Text: "x"}); err == nil {
		t.Error("a silent server accepted the message")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Send took %s against a 300 ms deadline", took)
	}
	select {
	case conn := <-held:
		conn.Close()
	default:
	}
}
