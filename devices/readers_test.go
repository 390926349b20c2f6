package devices_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newReaders(t *testing.T) (*devices.Readers, *clock) {
	t.Helper()
	db := testdb.Open(t)
	c := &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	return devices.NewReaders(devices.ReadersDeps{Store: &models.Readers{DB: db, Now: c.Now}, Link: devices.NewLink(), Now: c.Now,
		Live: live.Nowhere, Audit: &models.Audit{DB: db}, Log: slog.New(slog.DiscardHandler), Waiting: devices.NothingWaits}), c
}

func TestRegisterValidatesAndRefusesDuplicates(t *testing.T) {
	s, _ := newReaders(t)
	ctx := context.Background()
	r, code, err := s.Register(ctx, devices.RegisterInput{Serial: " sbx 0001 ", Label: "Counter 1", Location: "Riga", EndpointID: 1})
	if err != nil || r.Serial != "SBX-0001" || len(code) != 9 {
		t.Fatalf("Register = %+v, %q, %v", r, code, err)
	}
	var fe *models.ValidationError
	if _, _, err := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Again", EndpointID: 1}); !errors.As(err, &fe) || fe.Field() != "serial" {
		t.Errorf("duplicate serial: %v", err)
	}
	if _, _, err := s.Register(ctx, devices.RegisterInput{Serial: "sbx_0001", Label: "Again", EndpointID: 1}); !errors.As(err, &fe) || fe.Field() != "serial" {
		t.Errorf("duplicate serial in another spelling: %v", err)
	}
	if _, _, err := s.Register(ctx, devices.RegisterInput{Serial: "S/1", Label: "Bad", EndpointID: 1}); !errors.As(err, &fe) || fe.Field() != "serial" {
		t.Errorf("malformed serial: %v", err)
	}
	if _, _, err := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0002", Label: "", EndpointID: 1}); !errors.As(err, &fe) || fe.Field() != "label" {
		t.Errorf("no label: %v", err)
	}
}

func TestPairingCodeIsSingleUseAndExpires(t *testing.T) {
	s, c := newReaders(t)
	ctx := context.Background()
	_, code, _ := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Counter 1", EndpointID: 1})
	if _, err := s.Pair(ctx, "SBX-0001", "WRON-GCOD"); !errors.Is(err, devices.ErrPairing) {
		t.Errorf("wrong code: %v", err)
	}
	if _, err := s.Pair(ctx, "SBX-0002", code); !errors.Is(err, devices.ErrPairing) {
		t.Errorf("code of another serial: %v", err)
	}
	cred, err := s.Pair(ctx, "sbx-0001", " "+code[:4]+code[5:]+" ") // typed without the dash
	if err != nil || len(cred) < 40 {
		t.Fatalf("Pair = %q, %v", cred, err)
	}
	if _, err := s.Pair(ctx, "SBX-0001", code); !errors.Is(err, devices.ErrPairing) {
		t.Errorf("second use of a code: %v", err)
	}
	r, err := s.Authenticate(ctx, cred)
	if err != nil || r.Serial != "SBX-0001" {
		t.Errorf("Authenticate = %+v, %v", r, err)
	}
	stored, _ := s.Store.BySerial(ctx, "SBX-0001")
	if stored.CredentialHash == cred || stored.CredentialHash == "" {
		t.Error("the credential is not stored as a hash")
	}
	_, code2, _ := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0002", Label: "Counter 2", EndpointID: 1})
	c.Add(devices.PairingCodeTTL + time.Second)
	if _, err := s.Pair(ctx, "SBX-0002", code2); !errors.Is(err, devices.ErrPairing) {
		t.Errorf("expired code: %v", err)
	}
	_, code3, err := s.NewPairingCode(ctx, stored.ID+1, models.Actor{Name: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pair(ctx, "SBX-0002", code3); err != nil {
		t.Errorf("fresh code: %v", err)
	}
}

func TestRevokedOrDisabledReaderIsRefused(t *testing.T) {
	s, _ := newReaders(t)
	ctx := context.Background()
	r, code, _ := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Counter 1", EndpointID: 1})
	cred, _ := s.Pair(ctx, "SBX-0001", code)
	closed := make(chan string, 1)
	s.Link.Register("SBX-0001", func(any) error { return nil }, func(reason string) { closed <- reason })
	if _, err := s.SetEnabled(ctx, r.ID, false, models.Actor{Name: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, cred); !errors.Is(err, devices.ErrDisabled) {
		t.Errorf("disabled reader authenticates: %v", err)
	}
	select {
	case <-closed:
	default:
		t.Error("disabling did not close the connection")
	}
	pr, _ := s.PaymentReader(ctx, r.ID)
	if pr.Enabled {
		t.Error("a disabled reader is offered for payments")
	}
	s.SetEnabled(ctx, r.ID, true, models.Actor{Name: "admin"})
	if _, err := s.Unpair(ctx, r.ID, models.Actor{Name: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, cred); !errors.Is(err, devices.ErrUnauthorized) {
		t.Errorf("revoked credential: %v", err)
	}
	if _, err := s.Authenticate(ctx, "made-up"); !errors.Is(err, devices.ErrUnauthorized) {
		t.Errorf("unknown credential: %v", err)
	}
}

func TestPresenceTimeout(t *testing.T) {
	s, c := newReaders(t)
	ctx := context.Background()
	r, code, _ := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Counter 1", EndpointID: 1})
	cred, _ := s.Pair(ctx, "SBX-0001", code)
	r, _ = s.Authenticate(ctx, cred)
	if err := s.Connected(ctx, r, &devices.Hello{Serial: "SBX-0001", Firmware: "2.1.0", Battery: 80}); err != nil {
		t.Fatal(err)
	}
	c.Add(devices.PresenceTimeout - time.Second)
	if n, _ := s.SweepPresence(ctx); n != 0 {
		t.Errorf("swept a reader seen %s ago", devices.PresenceTimeout-time.Second)
	}
	s.Heartbeat(ctx, r, 79)
	c.Add(devices.PresenceTimeout + time.Second)
	if n, _ := s.SweepPresence(ctx); n != 1 {
		t.Errorf("swept %d readers after the timeout, want 1", n)
	}
	got, _ := s.Store.ByID(ctx, r.ID)
	if got.Online || got.Battery != 79 || got.Firmware != "2.1.0" {
		t.Errorf("after the sweep: %+v", got)
	}
	evs, _ := s.Store.Events(ctx, r.ID, 10)
	if len(evs) == 0 || evs[0].Kind != "offline" {
		t.Errorf("history %+v", evs)
	}
}

func TestReplaceKeepsHistory(t *testing.T) {
	s, _ := newReaders(t)
	ctx := context.Background()
	old, _, _ := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Counter 1", Location: "Riga", EndpointID: 1})
	succ, code, err := s.Replace(ctx, old.ID, "SBX-0009", models.Actor{Name: "admin"})
	if err != nil || succ.Label != "Counter 1" || succ.Location != "Riga" || code == "" {
		t.Fatalf("Replace = %+v, %v", succ, err)
	}
	o, _ := s.Store.ByID(ctx, old.ID)
	if !o.Retired || o.Enabled || o.ReplacedByID == nil || *o.ReplacedByID != succ.ID {
		t.Errorf("old reader after replace: %+v", o)
	}
	evs, _ := s.Store.Events(ctx, old.ID, 10)
	if len(evs) != 2 || evs[0].Kind != "replaced" {
		t.Errorf("old history %+v", evs)
	}
	list, _ := s.Store.List(ctx, models.ReaderFilter{})
	if len(list) != 1 || list[0].Serial != "SBX-0009" {
		t.Errorf("active readers %+v", list)
	}
}
