package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

func TestAuditListFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	a := &models.Audit{DB: openDB(t), Now: func() time.Time { return now }}
	for i, ev := range []models.AuditEvent{
		{ActorName: "alice", Action: "user.create", Subject: "bob"},
		{ActorName: "alice", Action: "endpoint.update", Subject: "Main"},
		{ActorName: "bob", Action: "user.login", Subject: "bob"},
		{ActorName: "alice", Action: "user.disable", Subject: "bob"},
	} {
		now = now.Add(time.Duration(i) * time.Hour)
		if err := a.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := a.List(ctx, models.AuditFilter{})
	if len(all) != 4 || all[0].Action != "user.disable" || all[0].At.IsZero() {
		t.Fatalf("List = %+v", all)
	}
	if got, _ := a.List(ctx, models.AuditFilter{Action: "user."}); len(got) != 3 {
		t.Errorf("prefix user.: %d events, want 3", len(got))
	}
	if got, _ := a.List(ctx, models.AuditFilter{Actor: "bob"}); len(got) != 1 || got[0].Action != "user.login" {
		t.Errorf("actor bob: %+v", got)
	}
	page1, _ := a.List(ctx, models.AuditFilter{Limit: 2})
	page2, _ := a.List(ctx, models.AuditFilter{Limit: 2, BeforeID: page1[1].ID})
	if len(page1) != 2 || len(page2) != 2 || page2[0].ID >= page1[1].ID {
		t.Errorf("keyset pages %+v then %+v", page1, page2)
	}
	from := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	if got, _ := a.List(ctx, models.AuditFilter{From: from}); len(got) != 2 {
		t.Errorf("from %s: %d events, want 2", from, len(got))
	}
	if acts, _ := a.Actions(ctx); len(acts) != 4 {
		t.Errorf("Actions = %v", acts)
	}
}
