package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/example/mposportal/models"
)

func validEndpoint() models.Endpoint {
	return models.Endpoint{Name: "Main", EndpointID: "1234", Login: "merchantlogin", ControlKey: "B17F59B4-A7DC-41B4-8FF9-37D986B43D20",
		Currency: "EUR", BaseURL: "https://gate.example.com", Enabled: true, Address1: "1 Main St", City: "Riga",
		ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com"}
}

func TestEndpointValidate(t *testing.T) {
	if ve := func() *models.ValidationError { e := validEndpoint(); return e.Validate() }(); ve != nil {
		t.Fatalf("valid endpoint refused: %v", ve)
	}
	tests := map[string]func(e *models.Endpoint){
		"endpoint_id": func(e *models.Endpoint) { e.EndpointID = "12a4" },
		"login":       func(e *models.Endpoint) { e.Login = "" },
		"control_key": func(e *models.Endpoint) { e.ControlKey = "short" },
		"currency":    func(e *models.Endpoint) { e.Currency = "eur" },
		"base_url":    func(e *models.Endpoint) { e.BaseURL = "gate.example.com" },
		"country":     func(e *models.Endpoint) { e.Country = "LVA" },
		"email":       func(e *models.Endpoint) { e.Email = "shop" },
		"name":        func(e *models.Endpoint) { e.Name = "" },
	}
	for field, change := range tests {
		e := validEndpoint()
		change(&e)
		ve := e.Validate()
		if ve == nil || ve.Fields[field] == "" {
			t.Errorf("%s: Validate = %v, want a message for %s", field, ve, field)
		}
	}
}

func TestEndpointsStore(t *testing.T) {
	ctx := context.Background()
	s := &models.Endpoints{DB: openDB(t)}
	created, err := s.EnsureDefault(ctx, validEndpoint())
	if err != nil || !created {
		t.Fatalf("EnsureDefault on an empty table = %v, %v", created, err)
	}
	other := validEndpoint()
	other.EndpointID = "5678"
	created, err = s.EnsureDefault(ctx, other)
	if err != nil || created {
		t.Errorf("EnsureDefault with an endpoint present = %v, %v; want no change", created, err)
	}
	dup := validEndpoint()
	if err := s.Create(ctx, &dup); !errors.Is(err, models.ErrConflict) {
		t.Errorf("duplicate ENDPOINTID: %v, want ErrConflict", err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 {
		t.Errorf("%d endpoints, want 1", len(list))
	}
}

func TestMaskedKeyHidesTheMiddle(t *testing.T) {
	e := validEndpoint()
	m := e.MaskedKey()
	if !strings.HasPrefix(m, "B17F") || !strings.HasSuffix(m, "3D20") || strings.Contains(m, "A7DC") || strings.Contains(m, "37D986") {
		t.Errorf("MaskedKey = %q", m)
	}
	if models.MaskSecret("12345678") != "••••••••" {
		t.Errorf("a short secret is shown: %q", models.MaskSecret("12345678"))
	}
}
