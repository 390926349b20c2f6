// Package mailertest runs a small SMTP server for tests (named after net/http/httptest): it
// speaks enough SMTP for a client to deliver (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP,
// QUIT), offers no STARTTLS and no sign-in, and keeps every message it accepts.
package mailertest

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message as the server received it.
type Message struct {
	From string
	To   []string
	Data string // headers and body, CRLF line ends, dot-stuffing undone
}

// Server is a running test SMTP server.
type Server struct {
	ln     net.Listener
	mu     sync.Mutex
	msgs   []Message
	got    chan struct{} // signalled after each accepted message
	wg     sync.WaitGroup
	closed chan struct{}
}

// NewServer starts a server on a local port; it stops when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, got: make(chan struct{}, 1), closed: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting and waits for open conversations to end.
func (s *Server) Close() {
	select {
	case <-s.closed:
		return
	default:
	}
	close(s.closed)
	s.ln.Close()
	s.wg.Wait()
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until at least n messages were accepted, or ctx ends; it returns them.
func (s *Server) WaitFor(ctx context.Context, n int) ([]Message, error) {
	for {
		if ms := s.Messages(); len(ms) >= n {
			return ms, nil
		}
		select {
		case <-ctx.Done():
			return s.Messages(), ctx.Err()
		case <-s.got:
		}
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			stop := make(chan struct{})
			defer close(stop)
			go func() { // a stuck client does not hold Close
				select {
				case <-s.closed:
					conn.Close()
				case <-stop:
				}
			}()
			s.serve(conn)
		}()
	}
}

// serve runs one SMTP conversation.
func (s *Server) serve(conn net.Conn) {
	conn.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(conn)
	reply := func(line string) { conn.Write([]byte(line + "\r\n")) }
	reply("220 mailertest ESMTP")
	var cur Message
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(verb, "EHLO"):
			reply("250-mailertest")
			reply("250 8BITMIME")
		case strings.HasPrefix(verb, "HELO"):
			reply("250 mailertest")
		case strings.HasPrefix(verb, "MAIL FROM:"):
			cur = Message{From: strings.Trim(line[len("MAIL FROM:"):], "<> ")}
			if i := strings.Index(cur.From, ">"); i >= 0 {
				cur.From = cur.From[:i]
			}
			reply("250 OK")
		case strings.HasPrefix(verb, "RCPT TO:"):
			cur.To = append(cur.To, strings.Trim(line[len("RCPT TO:"):], "<> "))
			reply("250 OK")
		case verb == "DATA":
			if cur.From == "" || len(cur.To) == 0 {
				reply("503 MAIL and RCPT first")
				continue
			}
			reply("354 End data with <CR><LF>.<CR><LF>")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = data.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			select {
			case s.got <- struct{}{}:
			default:
			}
			cur = Message{}
			reply("250 OK: queued")
		case verb == "RSET":
			cur = Message{}
			reply("250 OK")
		case verb == "NOOP":
			reply("250 OK")
		case verb == "QUIT":
			reply("221 Bye")
			return
		default:
			reply("502 Command not implemented")
		}
	}
}
