package main

import (
	"strings"
	"testing"
	"time"
)

// E-mailed receipts are off unless a mail server is named; a server needs a sender address,
// and the password is read from the environment only (never a flag in the process list).
func TestSMTPConfiguration(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := parseConfig([]string{"portal"}, env(nil))
	if err != nil || cfg.SMTPAddr != "" {
		t.Fatalf("default: %+v, %v; want e-mail off", cfg, err)
	}
	if _, err := parseConfig([]string{"portal", "-smtp-addr", "smtp.example.com:587"}, env(nil)); err == nil || !strings.Contains(err.Error(), "-smtp-from") {
		t.Errorf("a server without a sender: %v", err)
	}
	cfg, err = parseConfig([]string{"portal", "-smtp-from", "receipts@shop.example"}, env(map[string]string{
		"PORTAL_SMTP_ADDR": "smtp.example.com:587", "PORTAL_SMTP_USER": "shop", "PORTAL_SMTP_PASSWORD": "s3cret"}))
	if err != nil || cfg.SMTPAddr != "smtp.example.com:587" || cfg.SMTPFrom != "receipts@shop.example" || cfg.SMTPUser != "shop" || cfg.SMTPPassword != "s3cret" {
		t.Errorf("from flags and environment: %+v, %v", cfg, err)
	}
	if _, err := parseConfig([]string{"portal", "-smtp-password", "x"}, env(nil)); err == nil {
		t.Error("the SMTP password is accepted as a flag")
	}
}

// Retention periods are whole days, at least one; e-mailed receipts default to 90.
func TestRetentionConfiguration(t *testing.T) {
	env := func(string) string { return "" }
	cfg, err := parseConfig([]string{"portal"}, env)
	if err != nil || cfg.ReceiptMailRetention != 90*24*time.Hour {
		t.Fatalf("default: %v, %v; want 90 days", cfg.ReceiptMailRetention, err)
	}
	for _, bad := range []string{"0", "-3"} {
		if _, err := parseConfig([]string{"portal", "-receipt-mail-retention-days", bad}, env); err == nil || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("-receipt-mail-retention-days %s: %v, want refused", bad, err)
		}
	}
}
