// Package mailer sends plain-text e-mails through an SMTP server with the standard library's
// net/smtp: STARTTLS whenever the server offers it, a sign-in when a username is configured.
// It writes every header itself, from values it checks: an address is one parsed address,
// and a name or subject loses any line break, so nothing a visitor types can add a header or
// a recipient.
package mailer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// Config is how to reach the mail server.
type Config struct {
	Addr     string // host:port of the SMTP server (a submission port such as 587)
	From     string // the sender's address
	Username string // empty: no sign-in
	Password string
	// TLS configures STARTTLS; nil verifies the server's certificate for its host name.
	TLS *tls.Config
}

// Message is one e-mail to one person.
type Message struct {
	To       string // one address
	FromName string // shown as the sender's name (the shop's trading name); optional
	ReplyTo  string // where answers go (the shop's own address); optional
	Subject  string
	Text     string // the plain-text body
}

// Client sends messages with one configuration.
type Client struct {
	cfg  Config
	host string
	now  func() time.Time
}

// New checks cfg and returns a client; it does not connect.
func New(cfg Config) (*Client, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("mailer: server address %q: use host:port, e.g. smtp.example.com:587", cfg.Addr)
	}
	if _, err := Address(cfg.From); err != nil {
		return nil, fmt.Errorf("mailer: sender address %q: %w", cfg.From, err)
	}
	return &Client{cfg: cfg, host: host, now: time.Now}, nil
}

// Address checks that s is exactly one e-mail address and returns it bare
// ("shop@example.com"), or an error that can be shown to the person who typed it.
func Address(s string) (string, error) {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n") {
		return "", errors.New("not an e-mail address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || strings.ContainsAny(a.Address, "\r\n<>,; ") {
		return "", errors.New("not an e-mail address")
	}
	return a.Address, nil
}

// Send delivers m, giving up when ctx ends (its deadline bounds the whole conversation).
func (c *Client) Send(ctx context.Context, m Message) error {
	to, err := Address(m.To)
	if err != nil {
		return fmt.Errorf("mailer: recipient: %w", err)
	}
	msg, err := c.compose(m, to)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mailer: connect: %w", err)
	}
	// net/smtp knows no context: the deadline bounds every read and write, and a cancelled
	// context (shutdown) closes the connection under it.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err = c.talk(conn, to, msg)
	if ctx.Err() != nil {
		return fmt.Errorf("mailer: %w", ctx.Err())
	}
	return err
}

// talk runs one SMTP conversation on conn: EHLO (sent by the first Extension call), STARTTLS
// if offered, AUTH if configured, MAIL, RCPT, DATA, QUIT.
func (c *Client) talk(conn net.Conn, to string, msg []byte) error {
	sc, err := smtp.NewClient(conn, c.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mailer: greeting: %w", err)
	}
	defer sc.Close()
	if ok, _ := sc.Extension("STARTTLS"); ok {
		cfg := c.cfg.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12}
		}
		if err := sc.StartTLS(cfg); err != nil {
			return fmt.Errorf("mailer: starttls: %w", err)
		}
	}
	if c.cfg.Username != "" {
		// PlainAuth refuses to send the password over a connection that is neither TLS nor to
		// localhost.
		if err := sc.Auth(smtp.PlainAuth("", c.cfg.Username, c.cfg.Password, c.host)); err != nil {
			return fmt.Errorf("mailer: sign-in: %w", err)
		}
	}
	from, _ := Address(c.cfg.From)
	if err := sc.Mail(from); err != nil {
		return fmt.Errorf("mailer: sender refused: %w", err)
	}
	if err := sc.Rcpt(to); err != nil {
		return fmt.Errorf("mailer: recipient refused: %w", err)
	}
	w, err := sc.Data()
	if err != nil {
		return fmt.Errorf("mailer: data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("mailer: data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mailer: message refused: %w", err)
	}
	return sc.Quit()
}

// oneLine makes a header value of text: line breaks and other control characters become
// spaces, so the value cannot end its header.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// compose writes the message: headers built here, the body as quoted-printable UTF-8 (any
// line length, any character, CRLF line ends).
func (c *Client) compose(m Message, to string) ([]byte, error) {
	fromAddr, _ := Address(c.cfg.From)
	from := mail.Address{Name: oneLine(m.FromName), Address: fromAddr}
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from.String())
	h("To", (&mail.Address{Address: to}).String())
	if m.ReplyTo != "" {
		if r, err := Address(m.ReplyTo); err == nil {
			h("Reply-To", (&mail.Address{Address: r}).String())
		}
	}
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	h("Date", c.now().Format(time.RFC1123Z))
	h("Message-ID", "<"+randomID()+"@"+domainOf(fromAddr)+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(m.Text, "\r\n", "\n"))); err != nil {
		return nil, fmt.Errorf("mailer: body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("mailer: body: %w", err)
	}
	return b.Bytes(), nil
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}
