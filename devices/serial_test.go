package devices_test

import (
	"errors"
	"testing"

	"github.com/example/mposportal/devices"
)

func TestNormalizeSerial(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"SBX-0001", "SBX-0001", true},
		{"  sbx-0001 ", "SBX-0001", true},
		{"sbx 0001", "SBX-0001", true},
		{"sbx_0001", "SBX-0001", true},
		{"WP12345678", "WP12345678", true},
		{"ABCD", "ABCD", true},
		{"ABC", "", false},           // too short
		{"", "", false},              // empty
		{"   ", "", false},           // blank
		{"-SBX1", "", false},         // leading separator
		{"SBX1-", "", false},         // trailing separator
		{"SBX--0001", "", false},     // double separator
		{"SBX-00/1", "", false},      // slash
		{"SBX-0001;DROP", "", false}, // punctuation
		{"SBX-ÄÖ01", "", false},      // non-ASCII letters
		{"A234567890123456789012345678901X", "A234567890123456789012345678901X", true}, // 32
		{"A2345678901234567890123456789012X", "", false},                               // 33
	}
	for _, tt := range tests {
		got, err := devices.NormalizeSerial(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("NormalizeSerial(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, devices.ErrInvalidSerial) {
			t.Errorf("NormalizeSerial(%q) = %q, %v; want ErrInvalidSerial", tt.in, got, err)
		}
	}
}

func FuzzNormalizeSerial(f *testing.F) {
	for _, s := range []string{"SBX-0001", " sbx 0001 ", "--", "A_B_C_D", "ÄÖÜ-1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := devices.NormalizeSerial(s)
		if err != nil {
			return
		}
		// The canonical form is a fixed point, and within the documented alphabet and length.
		again, err := devices.NormalizeSerial(got)
		if err != nil || again != got {
			t.Fatalf("canonical %q does not normalise to itself: %q, %v", got, again, err)
		}
		if len(got) < 4 || len(got) > 32 {
			t.Fatalf("canonical %q has length %d", got, len(got))
		}
		for _, r := range got {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("canonical %q contains %q", got, r)
			}
		}
	})
}
