package models_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

func TestSessionStore(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := &models.SessionStore{DB: openDB(t), Now: func() time.Time { return now }}
	if err := s.Commit("tok1", []byte("data-1"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("tok1", []byte("data-2"), now.Add(time.Hour)); err != nil {
		t.Fatalf("second commit of the same token: %v", err)
	}
	b, ok, err := s.Find("tok1")
	if err != nil || !ok || !bytes.Equal(b, []byte("data-2")) {
		t.Errorf("Find = %q, %v, %v", b, ok, err)
	}
	if _, ok, _ := s.Find("nope"); ok {
		t.Error("found an unknown token")
	}
	now = now.Add(2 * time.Hour)
	if _, ok, _ := s.Find("tok1"); ok {
		t.Error("found an expired session")
	}
	s.Commit("tok2", []byte("x"), now.Add(time.Hour))
	if err := s.Delete("tok2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Find("tok2"); ok {
		t.Error("found a deleted session")
	}
}
