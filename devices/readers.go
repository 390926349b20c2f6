package devices

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/example/mposportal/live"
	"github.com/example/mposportal/models"
)

// Pairing and presence rules.
const (
	PairingCodeTTL    = 10 * time.Minute
	HeartbeatInterval = 10 * time.Second
	// A reader silent for three heartbeats is offline.
	PresenceTimeout = 3 * HeartbeatInterval
)

// Errors a reader (or an admin) can act on.
var (
	ErrPairing      = errors.New("the pairing code is wrong, used or expired")
	ErrUnauthorized = errors.New("unknown or revoked device credential")
	ErrDisabled     = errors.New("the reader is disabled")
)

// Readers is the fleet service: registration, pairing, lifecycle and presence. It writes the
// audit entry of each admin action on a reader itself (reader.register, reader.enable,
// reader.disable, reader.unpair, reader.pairing_code, reader.replace), whoever asks.
type Readers struct {
	ReadersDeps
}

// ReadersDeps is what the fleet service needs. Every field is required: NewReaders refuses
// to build the service without one.
type ReadersDeps struct {
	Store *models.Readers
	Link  *Link // live connections, to close them when a reader is disabled or unpaired
	Live  live.Notifier
	Audit Auditor
	Log   *slog.Logger
	// Waiting ends a payment still waiting for its card on a reader that can no longer read
	// it (disabled, unpaired, replaced, gone offline).
	Waiting WaitingEnder
	Now     func() time.Time
}

// NewReaders builds the fleet service. It panics, naming them, when dependencies are missing:
// a wiring mistake shows at start-up, not at the first reader.
func NewReaders(d ReadersDeps) *Readers {
	var missing []string
	for name, absent := range map[string]bool{"Store": d.Store == nil, "Link": d.Link == nil, "Live": d.Live == nil,
		"Audit": d.Audit == nil, "Log": d.Log == nil, "Waiting": d.Waiting == nil, "Now": d.Now == nil} {
		if absent {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		panic("devices.NewReaders: missing " + strings.Join(missing, ", "))
	}
	return &Readers{ReadersDeps: d}
}

// Auditor records who did what to a reader (models.Audit).
type Auditor interface {
	Record(ctx context.Context, e models.AuditEvent) error
}

// audit records what by did to a reader. The action is done by then: a failure to write the
// entry is logged, not returned.
func (s *Readers) audit(ctx context.Context, by models.Actor, action, serial, detail string) {
	if err := s.Audit.Record(context.WithoutCancel(ctx), by.Event(action, serial, detail)); err != nil {
		s.Log.Error("audit record failed", "action", action, "reader", serial, "error", err)
	}
}

// WaitingEnder ends what waits on a reader.
type WaitingEnder interface {
	EndWaiting(ctx context.Context, readerID uint, reason string)
}

// WaitingFunc is a function that ends what waits on a reader. It lets the fleet be built
// before the payments that use it (app: the payment service is assigned afterwards).
type WaitingFunc func(ctx context.Context, readerID uint, reason string)

// EndWaiting calls f.
func (f WaitingFunc) EndWaiting(ctx context.Context, readerID uint, reason string) {
	f(ctx, readerID, reason)
}

// NothingWaits is the WaitingEnder of a fleet that no payments use (tools, the fleet's tests).
var NothingWaits WaitingEnder = WaitingFunc(func(context.Context, uint, string) {})

func (s *Readers) endWaiting(ctx context.Context, r models.Reader, what string) {
	s.Waiting.EndWaiting(context.WithoutCancel(ctx), r.ID, fmt.Sprintf("%s %s before a card was read", r.Label, what))
}

func (s *Readers) now() time.Time { return s.Now() }

func (s *Readers) publish(id uint) { s.Live.Changed(live.Change{Kind: live.Reader, ID: id}) }

// RegisterInput is the admin's registration form.
type RegisterInput struct {
	Serial, Label, Location string
	EndpointID              uint
	Actor                   models.Actor
}

// Register adds a reader by serial and issues its first pairing code.
func (s *Readers) Register(ctx context.Context, in RegisterInput) (models.Reader, string, error) {
	serial, err := NormalizeSerial(in.Serial)
	if err != nil {
		return models.Reader{}, "", models.Invalid("serial", "Serial number: "+strings.TrimPrefix(err.Error(), ErrInvalidSerial.Error()+": ")).Because(err)
	}
	label, location := strings.TrimSpace(in.Label), strings.TrimSpace(in.Location)
	switch {
	case label == "" || len(label) > 64:
		return models.Reader{}, "", models.Invalid("label", "Give the reader a label of at most 64 characters, e.g. Counter 1.")
	case len(location) > 64:
		return models.Reader{}, "", models.Invalid("location", "The location is at most 64 characters.")
	case in.EndpointID == 0:
		return models.Reader{}, "", models.Invalid("endpoint", "Choose the gateway endpoint the reader belongs to.")
	}
	code, hash, exp := s.newPairingCode()
	r := models.Reader{Serial: serial, Label: label, Location: location, EndpointID: in.EndpointID, Enabled: true,
		Battery: -1, PairingCodeHash: hash, PairingExpiresAt: &exp}
	if err := s.Store.Create(ctx, &r, in.Actor.Name); errors.Is(err, models.ErrConflict) {
		return r, "", models.Invalidf("serial", "A reader with serial %s is already registered.", serial)
	} else if err != nil {
		return r, "", err
	}
	s.publish(r.ID)
	s.audit(ctx, in.Actor, "reader.register", r.Serial, fmt.Sprintf("%s at %s", r.Label, r.Location))
	return r, code, nil
}

// NewPairingCode issues a fresh pairing code (the old one stops working).
func (s *Readers) NewPairingCode(ctx context.Context, id uint, by models.Actor) (models.Reader, string, error) {
	r, err := s.Store.ByID(ctx, id)
	if err != nil {
		return r, "", err
	}
	if r.Retired {
		return r, "", models.Invalid("reader", "This reader was replaced; pair its successor instead.")
	}
	code, hash, exp := s.newPairingCode()
	r.PairingCodeHash, r.PairingExpiresAt = hash, &exp
	if err := s.Store.Update(ctx, &r, "pairing_code", "new pairing code issued", by.Name); err != nil {
		return r, "", err
	}
	s.audit(ctx, by, "reader.pairing_code", r.Serial, "")
	return r, code, nil
}

// pairingAlphabet avoids characters people confuse (0/O, 1/I/L).
const pairingAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

func (s *Readers) newPairingCode() (code, hash string, expires time.Time) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = pairingAlphabet[int(b[i])%len(pairingAlphabet)]
	}
	code = string(b[:4]) + "-" + string(b[4:])
	return code, hashSecret(normalizeCode(code)), s.now().Add(PairingCodeTTL)
}

func normalizeCode(c string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(c)))
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Pair exchanges a pairing code for a device credential, once. The credential is returned
// only here; the portal keeps its hash.
func (s *Readers) Pair(ctx context.Context, serial, code string) (string, error) {
	serial, err := NormalizeSerial(serial)
	if err != nil {
		return "", ErrPairing
	}
	r, err := s.Store.BySerial(ctx, serial)
	if errors.Is(err, models.ErrNotFound) {
		return "", ErrPairing
	} else if err != nil {
		return "", err
	}
	want := hashSecret(normalizeCode(code))
	switch {
	case r.PairingCodeHash == "" || r.PairingExpiresAt == nil || !s.now().Before(*r.PairingExpiresAt):
		return "", ErrPairing
	case subtle.ConstantTimeCompare([]byte(want), []byte(r.PairingCodeHash)) != 1:
		return "", ErrPairing
	case r.Retired || !r.Enabled:
		return "", ErrDisabled
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	cred := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	r.CredentialHash, r.PairingCodeHash, r.PairingExpiresAt, r.PairedAt = hashSecret(cred), "", nil, &now
	if err := s.Store.Update(ctx, &r, "paired", "device credential issued", ""); err != nil {
		return "", err
	}
	s.publish(r.ID)
	return cred, nil
}

// Authenticate finds the enabled reader a device credential belongs to.
func (s *Readers) Authenticate(ctx context.Context, credential string) (models.Reader, error) {
	if credential == "" {
		return models.Reader{}, ErrUnauthorized
	}
	r, err := s.Store.ByCredentialHash(ctx, hashSecret(credential))
	if errors.Is(err, models.ErrNotFound) {
		return r, ErrUnauthorized
	} else if err != nil {
		return r, err
	}
	if !r.Enabled || r.Retired {
		return r, ErrDisabled
	}
	return r, nil
}

// SetEnabled enables or disables a reader. A disabled reader's connection is closed and it
// cannot take payments.
func (s *Readers) SetEnabled(ctx context.Context, id uint, enabled bool, by models.Actor) (models.Reader, error) {
	r, err := s.Store.ByID(ctx, id)
	if err != nil {
		return r, err
	}
	if r.Retired && enabled {
		return r, models.Invalid("reader", "A replaced reader cannot be enabled again.")
	}
	kind := "enabled"
	if !enabled {
		kind = "disabled"
	}
	r.Enabled = enabled
	if err := s.Store.Update(ctx, &r, kind, "", by.Name); err != nil {
		return r, err
	}
	if enabled {
		s.audit(ctx, by, "reader.enable", r.Serial, "")
	} else {
		s.audit(ctx, by, "reader.disable", r.Serial, "")
	}
	if !enabled {
		s.Link.Close(r.Serial, "the reader was disabled")
	}
	if !enabled {
		s.endWaiting(ctx, r, "was disabled")
	}
	s.publish(r.ID)
	return r, nil
}

// Unpair revokes the device credential and closes the connection.
func (s *Readers) Unpair(ctx context.Context, id uint, by models.Actor) (models.Reader, error) {
	r, err := s.Store.ByID(ctx, id)
	if err != nil {
		return r, err
	}
	r.CredentialHash, r.PairedAt = "", nil
	if err := s.Store.Update(ctx, &r, "unpaired", "device credential revoked", by.Name); err != nil {
		return r, err
	}
	s.audit(ctx, by, "reader.unpair", r.Serial, "")
	s.Link.Close(r.Serial, "the reader was unpaired")
	s.endWaiting(ctx, r, "was unpaired")
	s.publish(r.ID)
	return r, nil
}

// Replace retires a reader and registers a new serial with its label, location and endpoint.
// The old reader's history stays with it.
func (s *Readers) Replace(ctx context.Context, id uint, newSerial string, by models.Actor) (models.Reader, string, error) {
	old, err := s.Store.ByID(ctx, id)
	if err != nil {
		return old, "", err
	}
	if old.Retired {
		return old, "", models.Invalid("serial", "This reader was already replaced.")
	}
	serial, err := NormalizeSerial(newSerial)
	if err != nil {
		return old, "", models.Invalid("serial", "Serial number: "+strings.TrimPrefix(err.Error(), ErrInvalidSerial.Error()+": ")).Because(err)
	}
	code, hash, exp := s.newPairingCode()
	succ := models.Reader{Serial: serial, Label: old.Label, Location: old.Location, EndpointID: old.EndpointID,
		Enabled: true, Battery: -1, PairingCodeHash: hash, PairingExpiresAt: &exp}
	if err := s.Store.Replace(ctx, &old, &succ, by.Name); errors.Is(err, models.ErrConflict) {
		return old, "", models.Invalidf("serial", "A reader with serial %s is already registered.", serial)
	} else if err != nil {
		return old, "", err
	}
	s.Link.Close(old.Serial, "the reader was replaced")
	s.endWaiting(ctx, old, "was replaced")
	s.publish(old.ID)
	s.publish(succ.ID)
	s.audit(ctx, by, "reader.replace", succ.Serial, fmt.Sprintf("replaces reader %d", old.ID))
	return succ, code, nil
}

// Connected records a valid hello.
func (s *Readers) Connected(ctx context.Context, r models.Reader, h *Hello) error {
	if err := s.Store.Seen(ctx, r.ID, h.Firmware, h.Model, h.Battery); err != nil {
		return err
	}
	if !r.Online {
		s.Store.Event(ctx, r.ID, "online", fmt.Sprintf("firmware %s, battery %d%%", h.Firmware, h.Battery), "")
	}
	s.publish(r.ID)
	return nil
}

// Heartbeat refreshes presence and battery.
func (s *Readers) Heartbeat(ctx context.Context, r models.Reader, battery int) error {
	if err := s.Store.Seen(ctx, r.ID, "", "", battery); err != nil {
		return err
	}
	s.publish(r.ID)
	return nil
}

// Disconnected marks a reader offline when its connection ends.
func (s *Readers) Disconnected(ctx context.Context, r models.Reader, why string) {
	if err := s.Store.SetOffline(ctx, r.ID, why); err == nil {
		s.publish(r.ID)
	}
	s.endWaiting(ctx, r, "went offline")
}

// SweepPresence marks offline every reader silent for longer than PresenceTimeout (a
// connection can die without a close frame). It returns how many it marked.
func (s *Readers) SweepPresence(ctx context.Context) (int, error) {
	stale, err := s.Store.StaleOnline(ctx, s.now().Add(-PresenceTimeout))
	if err != nil {
		return 0, err
	}
	for _, r := range stale {
		s.Link.Close(r.Serial, "no heartbeat")
		if err := s.Store.SetOffline(ctx, r.ID, fmt.Sprintf("no heartbeat for %s", PresenceTimeout)); err != nil {
			return 0, err
		}
		s.endWaiting(ctx, r, "went offline")
		s.publish(r.ID)
	}
	return len(stale), nil
}

// PaymentReader is what a payment needs to know about the reader it runs on.
type PaymentReader struct {
	ID         uint
	Serial     string
	Label      string
	EndpointID uint
	Enabled    bool
	Online     bool
}

// PaymentReader looks a reader up for a payment (payments.ReaderLookup).
func (s *Readers) PaymentReader(ctx context.Context, id uint) (PaymentReader, error) {
	r, err := s.Store.ByID(ctx, id)
	if err != nil {
		return PaymentReader{}, err
	}
	online := r.Online
	online = online && s.Link.Connected(r.Serial)
	return PaymentReader{ID: r.ID, Serial: r.Serial, Label: r.Label, EndpointID: r.EndpointID,
		Enabled: r.Enabled && !r.Retired, Online: online}, nil
}
