package devices_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/models"
)

// The fleet service writes the audit entry of each admin action on a reader itself, with the
// actor it is given, so the action is audited whoever asks for it (a page, a setup, a job).
func TestReaderActionsAuditThemselves(t *testing.T) {
	s, _ := newReaders(t)
	log := &models.Audit{DB: s.Store.DB}
	s.Audit = log
	ctx := context.Background()
	ann := models.Actor{ID: 3, Name: "ann", IP: "198.51.100.7"}

	r, _, err := s.Register(ctx, devices.RegisterInput{Serial: "sbx 0001", Label: "Counter 1", Location: "Riga", EndpointID: 1, Actor: ann})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Again", EndpointID: 1, Actor: ann}); err == nil {
		t.Fatal("a duplicate serial was registered")
	}
	if _, _, err := s.NewPairingCode(ctx, r.ID, ann); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetEnabled(ctx, r.ID, false, ann); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetEnabled(ctx, r.ID, true, ann); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unpair(ctx, r.ID, ann); err != nil {
		t.Fatal(err)
	}
	succ, _, err := s.Replace(ctx, r.ID, "SBX-0009", ann)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetEnabled(ctx, r.ID, true, ann); err == nil {
		t.Fatal("a replaced reader was enabled again")
	}

	evs, err := log.List(ctx, models.AuditFilter{Action: "reader."})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(evs) - 1; i >= 0; i-- { // oldest first
		e := evs[i]
		if e.ActorID != ann.ID || e.ActorName != ann.Name || e.RemoteIP != ann.IP {
			t.Errorf("%s recorded as %d %q from %q", e.Action, e.ActorID, e.ActorName, e.RemoteIP)
		}
		got = append(got, fmt.Sprintf("%s %s %q", e.Action, e.Subject, e.Detail))
	}
	want := []string{
		`reader.register SBX-0001 "Counter 1 at Riga"`,
		`reader.pairing_code SBX-0001 ""`,
		`reader.disable SBX-0001 ""`,
		`reader.enable SBX-0001 ""`,
		`reader.unpair SBX-0001 ""`,
		fmt.Sprintf(`reader.replace SBX-0009 "replaces reader %d"`, r.ID),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit log (refusals leave none):\n got %q\nwant %q", got, want)
	}
	if succ.Serial != "SBX-0009" {
		t.Errorf("successor %q", succ.Serial)
	}
}
