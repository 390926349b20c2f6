package virtual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Agent is a virtual reader's companion app: it pairs with the portal, keeps the device
// channel open (hello, heartbeats, reconnects) and answers "present card" with a card read
// after a short pause, as if a customer tapped a card. The message format is
// docs/device-channel.md; the agent speaks it as plain JSON so it stays an independent client
// of the portal.
type Agent struct {
	Reader     *Reader
	PortalURL  string // e.g. http://127.0.0.1:8080
	Credential string
	TapDelay   time.Duration // how long the "customer" takes to present the card (default 1.5s)
	Log        *slog.Logger

	mu   sync.Mutex
	card Card
	mode EntryMode
}

// Pair exchanges a pairing code for the device credential.
func (a *Agent) Pair(ctx context.Context, code string) error {
	form := url.Values{"serial": {a.Reader.Serial}, "code": {code}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.PortalURL, "/")+"/devices/pair", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("virtual reader %s: pair: %w", a.Reader.Serial, err)
	}
	defer resp.Body.Close()
	var out struct{ Credential, Error string }
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK || out.Credential == "" {
		return fmt.Errorf("virtual reader %s: pair: HTTP %d %s", a.Reader.Serial, resp.StatusCode, out.Error)
	}
	a.Credential = out.Credential
	return nil
}

// PresentNext chooses the card and entry mode for the next payments.
func (a *Agent) PresentNext(c Card, m EntryMode) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.card, a.mode = c, m
}

func (a *Agent) next() (Card, EntryMode) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.card.PAN == "" {
		a.card, a.mode = catalogue[0], Contactless
	}
	return a.card, a.mode
}

// ErrRefused means the portal refused the credential (revoked, disabled): no retry helps.
var ErrRefused = errors.New("the portal refused the device credential")

// Run keeps the reader connected until ctx ends, reconnecting after failures.
func (a *Agent) Run(ctx context.Context) error {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := a.session(ctx)
		if errors.Is(err, ErrRefused) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		a.Log.Debug("virtual reader disconnected", "serial", a.Reader.Serial, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	return nil
}

func (a *Agent) wsURL() string {
	u := strings.TrimRight(a.PortalURL, "/") + "/devices/ws"
	return "ws" + strings.TrimPrefix(u, "http")
}

// session is one connection.
func (a *Agent) session(ctx context.Context) error {
	h := http.Header{"Authorization": {"Bearer " + a.Credential}}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, a.wsURL(), h)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return ErrRefused
		}
		return err
	}
	defer conn.Close()
	var wmu sync.Mutex
	send := func(v any) error {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteJSON(v)
	}
	if err := send(map[string]any{"type": "hello", "serial": a.Reader.Serial, "firmware": a.Reader.Firmware,
		"model": a.Reader.Model, "battery": a.Reader.Battery()}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	heartbeat := 10 * time.Second
	var pending sync.Map // tx → cancel func for a waiting card
	for {
		var msg struct {
			Type             string `json:"type"`
			Tx               string `json:"tx"`
			HeartbeatSeconds int    `json:"heartbeat_seconds"`
			Message          string `json:"message"`
			Kind             string `json:"kind"`
			Amount           string `json:"amount"`
			Currency         string `json:"currency"`
			Status           string `json:"status"`
		}
		// The portal speaks only when there is something to do; heartbeats go out from their own
		// goroutine, and ctx closes the connection to end this read.
		if err := conn.ReadJSON(&msg); err != nil {
			return err
		}
		switch msg.Type {
		case "welcome":
			if msg.HeartbeatSeconds > 0 {
				heartbeat = time.Duration(msg.HeartbeatSeconds) * time.Second
			}
			go a.heartbeats(ctx, send, heartbeat/2)
		case "present_card":
			card, mode := a.next()
			a.Log.Info("present card", "serial", a.Reader.Serial, "kind", msg.Kind, "amount", msg.Amount+" "+msg.Currency,
				"card", card.Label, "entry", string(mode))
			tctx, tcancel := context.WithCancel(ctx)
			pending.Store(msg.Tx, tcancel)
			go a.tap(tctx, msg.Tx, send)
		case "result":
			a.Log.Info("payment result", "serial", a.Reader.Serial, "status", msg.Status, "message", msg.Message)
		case "cancel":
			a.Log.Info("payment cancelled", "serial", a.Reader.Serial)
			if c, ok := pending.LoadAndDelete(msg.Tx); ok {
				c.(context.CancelFunc)()
			}
		case "error":
			a.Log.Warn("portal refused a reader message", "serial", a.Reader.Serial, "message", msg.Message)
		}
	}
}

func (a *Agent) heartbeats(ctx context.Context, send func(any) error, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if send(map[string]any{"type": "heartbeat", "battery": a.Reader.Battery()}) != nil {
				return
			}
		}
	}
}

// tap waits for the "customer", reads the chosen card and sends the encrypted read.
func (a *Agent) tap(ctx context.Context, tx string, send func(any) error) {
	delay := a.TapDelay
	if delay == 0 {
		delay = 1500 * time.Millisecond
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(delay):
	}
	card, mode := a.next()
	read, err := a.Reader.Read(card, mode)
	if err != nil {
		send(map[string]any{"type": "card_error", "tx": tx, "reason": "read_failed", "message": "the card could not be read"})
		return
	}
	send(map[string]any{"type": "card_read", "tx": tx, "encrypted_data": read.EncryptedData, "ksn": read.KSN,
		"encrypted_type": read.EncryptedType, "entry_mode": string(read.EntryMode), "pan_first_digits": read.PANFirstDigits,
		"pan_last_digits": read.PANLastDigits, "cardholder_name": read.CardholderName})
}
