package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		"locale":      func(e *models.Endpoint) { e.Locale = "en-IN" }, // groups by lakh: not supported
		"time_zone":   func(e *models.Endpoint) { e.TimeZone = "Europe/Atlantis" },
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

// What receipts say about the merchant is optional, bounded and one line each: the trading
// name also becomes an e-mail's sender name and subject.
func TestEndpointReceiptDetails(t *testing.T) {
	e := validEndpoint()
	e.MerchantName, e.Address2, e.VATNumber = "Kafejnīca “Rīga” — "+strings.Repeat("ā", 40), "Suite 4", "LV40003000000"
	e.ReceiptFooter = strings.Repeat("Paldies! ", 22) // 198 characters
	if ve := e.Validate(); ve != nil {
		t.Fatalf("valid receipt details refused: %v", ve)
	}
	if e.TradingName() != e.MerchantName {
		t.Errorf("TradingName = %q", e.TradingName())
	}
	if e.MerchantName = ""; e.TradingName() != "Main" {
		t.Errorf("without a trading name receipts say %q, want the endpoint's name", e.TradingName())
	}
	for _, vat := range []string{"GB 123 4567 89", "HRB 12345/B", "DE-123.456"} {
		e := validEndpoint()
		if e.VATNumber = vat; e.Validate() != nil {
			t.Errorf("VAT number %q refused: %v", vat, e.Validate())
		}
	}
	tests := map[string]func(e *models.Endpoint){
		"merchant_name":  func(e *models.Endpoint) { e.MerchantName = strings.Repeat("a", 65) },
		"address2":       func(e *models.Endpoint) { e.Address2 = strings.Repeat("a", 51) },
		"vat_number":     func(e *models.Endpoint) { e.VATNumber = "LV<script>" },
		"receipt_footer": func(e *models.Endpoint) { e.ReceiptFooter = strings.Repeat("a", 201) },
	}
	for field, change := range tests {
		e := validEndpoint()
		change(&e)
		if ve := e.Validate(); ve == nil || ve.Fields[field] == "" {
			t.Errorf("%s: Validate = %v, want a message for %s", field, ve, field)
		}
	}
	// A line break in a name would end an e-mail header: refused wherever it is typed.
	for field, change := range map[string]func(e *models.Endpoint){
		"merchant_name":  func(e *models.Endpoint) { e.MerchantName = "Shop\r\nBcc: eve@example.com" },
		"address2":       func(e *models.Endpoint) { e.Address2 = "Floor 2\nRoom 3" },
		"vat_number":     func(e *models.Endpoint) { e.VATNumber = "LV1\n" },
		"receipt_footer": func(e *models.Endpoint) { e.ReceiptFooter = "Thanks\x00" },
	} {
		e := validEndpoint()
		change(&e)
		if ve := e.Validate(); ve == nil || ve.Fields[field] == "" {
			t.Errorf("%s with a control character: Validate = %v", field, ve)
		}
	}
	long := validEndpoint()
	long.VATNumber = strings.Repeat("1", 33)
	if ve := long.Validate(); ve == nil || ve.Fields["vat_number"] == "" {
		t.Errorf("a 33-character VAT number: Validate = %v", ve)
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
	// A 10-character key shows one character at each end, not 8 of its 10.
	if m := models.MaskSecret("ABCDEFGHIJ"); m != "A••••••••J" {
		t.Errorf("a 10-character key masked as %q", m)
	}
}

func TestCallbackLogIsBoundedAndPruned(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	log := &models.Callbacks{DB: db, Now: func() time.Time { return now }}
	huge := strings.Repeat("é", 450_000) // 900,000 bytes
	if err := log.Record(ctx, models.CallbackDelivery{ClientOrderID: huge, OrderID: huge, Status: huge, Type: huge, Amount: huge,
		Detail: huge, RemoteIP: huge, Outcome: "forged"}); err != nil {
		t.Fatal(err)
	}
	var d models.CallbackDelivery
	db.First(&d)
	if len(d.ClientOrderID) > 128 || len(d.Detail) > 255 || len(d.Amount) > 16 || !utf8.ValidString(d.ClientOrderID) {
		t.Errorf("stored lengths %d %d %d", len(d.ClientOrderID), len(d.Detail), len(d.Amount))
	}
	now = now.Add(100 * 24 * time.Hour)
	log.Record(ctx, models.CallbackDelivery{ClientOrderID: "P1", Outcome: "applied"})
	n, err := log.Prune(ctx, now.Add(-models.DefaultCallbackRetention))
	if err != nil || n != 1 {
		t.Errorf("pruned %d, %v; want the one older than 90 days", n, err)
	}
	var left int64
	db.Model(&models.CallbackDelivery{}).Count(&left)
	if left != 1 {
		t.Errorf("%d lines left, want 1", left)
	}
}
