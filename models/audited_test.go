package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"gorm.io/gorm"
)

// auditTrail is the audit log, oldest first, as "actor@ip action subject: detail".
func auditTrail(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	evs, err := (&models.Audit{DB: db}).List(context.Background(), models.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(evs) {
		out = append(out, fmt.Sprintf("%s@%s %s %s: %s", e.ActorName, e.RemoteIP, e.Action, e.Subject, e.Detail))
	}
	return out
}

func checkTrail(t *testing.T, db *gorm.DB, want ...string) {
	t.Helper()
	if got := auditTrail(t, db); !slices.Equal(got, want) {
		t.Errorf("audit log:\n got %q\nwant %q", got, want)
	}
}

var root = models.Actor{ID: 1, Name: "root", IP: "192.0.2.1"}

// An administrator's changes to users are audited by the store, with the change; a refused
// change leaves no entry.
func TestUserChangesAuditThemselves(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	users, factors := &models.Users{DB: db}, &models.SecondFactors{DB: db}
	u := models.User{Username: "Mia", Name: "Mia", Role: models.RoleStaff, PasswordHash: "x"}
	if err := users.Add(ctx, &u, root); err != nil {
		t.Fatal(err)
	}
	if err := users.Add(ctx, &models.User{Username: "mia", Name: "Other", Role: models.RoleStaff, PasswordHash: "x"}, root); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("a taken username: %v", err)
	}
	if err := users.Edit(ctx, &u, "Mia M.", models.RoleManager, root); err != nil {
		t.Fatal(err)
	}
	if err := users.SetDisabled(ctx, &u, true, root); err != nil {
		t.Fatal(err)
	}
	if err := users.SetDisabled(ctx, &u, false, root); err != nil {
		t.Fatal(err)
	}
	if err := users.ResetPassword(ctx, &u, "new-hash", root); err != nil {
		t.Fatal(err)
	}
	if err := factors.Reset(ctx, u, root); err != nil {
		t.Fatal(err)
	}
	if err := factors.Reset(ctx, models.User{ID: 999, Username: "nobody"}, root); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a reset of no one: %v", err)
	}
	got, _ := users.ByID(ctx, u.ID)
	if got.Name != "Mia M." || got.Role != models.RoleManager || got.Disabled || got.PasswordHash != "new-hash" || got.SessionEpoch != 2 {
		t.Errorf("the user after the changes: %+v", got)
	}
	checkTrail(t, db,
		"root@192.0.2.1 user.create mia: role staff",
		"root@192.0.2.1 user.update mia: role staff → manager",
		"root@192.0.2.1 user.disable mia: ",
		"root@192.0.2.1 user.enable mia: ",
		"root@192.0.2.1 user.password_reset mia: every session of the user was ended",
		"root@192.0.2.1 user.second_factor_reset mia: authenticator and recovery codes removed, sessions ended",
	)
}

// An endpoint saved by an administrator is audited with the save: what identifies it, and
// whether the control key changed (never the key).
func TestEndpointSaveAuditsItself(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := &models.Endpoints{DB: db}
	e := validEndpoint()
	if err := s.Save(ctx, &e, root); err != nil || e.ID == 0 {
		t.Fatalf("create: %v", err)
	}
	e.Login = "otherlogin"
	if err := s.Save(ctx, &e, root); err != nil {
		t.Fatal(err)
	}
	e.ControlKey = "NEW-SECRET-KEY-0001"
	if err := s.Save(ctx, &e, root); err != nil {
		t.Fatal(err)
	}
	twin := validEndpoint()
	if err := s.Save(ctx, &twin, root); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("an ENDPOINTID configured already: %v", err)
	}
	checkTrail(t, db,
		"root@192.0.2.1 endpoint.create Main: endpoint 1234 login merchantlogin currency EUR url https://gate.example.com enabled true; control key changed",
		"root@192.0.2.1 endpoint.update Main: endpoint 1234 login otherlogin currency EUR url https://gate.example.com enabled true",
		"root@192.0.2.1 endpoint.update Main: endpoint 1234 login otherlogin currency EUR url https://gate.example.com enabled true; control key changed",
	)
}

// A shift is audited when it starts (by hand or with the first payment) and when it ends,
// once each, however often the cashier taps.
func TestShiftsAuditTheirStartAndEnd(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := &models.Shifts{DB: db}
	sam := models.User{ID: 4, Username: "sam", Name: "Sam"}
	by := models.Actor{ID: 4, Name: "sam", IP: "192.0.2.9"}
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	first, err := s.Start(ctx, sam, at, "", by)
	if err != nil || first.StartedBy != "cashier" {
		t.Fatalf("start: %+v %v", first, err)
	}
	if again, err := s.Start(ctx, sam, at.Add(time.Minute), "P0001", by); err != nil || again.ID != first.ID {
		t.Fatalf("a second start: %+v %v, want the running shift", again, err)
	}
	if _, err := s.End(ctx, sam.ID, at.Add(time.Hour), by); err != nil {
		t.Fatal(err)
	}
	if _, err := s.End(ctx, sam.ID, at.Add(2*time.Hour), by); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("an end with no shift running: %v", err)
	}
	second, err := s.Start(ctx, sam, at.Add(3*time.Hour), "P0002", by)
	if err != nil || second.StartedBy != "first payment" {
		t.Fatalf("a start by a payment: %+v %v", second, err)
	}
	checkTrail(t, db,
		fmt.Sprintf("sam@192.0.2.9 shift.start shift %d: started by sam", first.ID),
		fmt.Sprintf("sam@192.0.2.9 shift.end shift %d: ended by sam", first.ID),
		fmt.Sprintf("sam@192.0.2.9 shift.start shift %d: started by sam's first payment P0002", second.ID),
	)
}
