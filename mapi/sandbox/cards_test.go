package sandbox

import (
	"testing"
	"time"
)

func TestParseCardBlock(t *testing.T) {
	c, err := parseCardBlock([]byte("4111111111111111=28122011000000\x00"))
	if err != nil {
		t.Fatal(err)
	}
	if c.bin != "411111" || c.last4 != "1111" || c.brand != "VISA" || c.expMonth != "12" || c.expYear != "2028" || c.serviceCode != "201" {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range []string{"", "4111111111111111", "4111111111111112=2812201", "41111=2812201", "4111111111111111=2813201",
		"4111111111111111=28", "4111111111111111=28x2201", "\x00\x00\x00\x00\x00\x00\x00\x00", "ABCDEFGHIJKLMNOP=2812201"} {
		if _, err := parseCardBlock([]byte(bad)); err == nil {
			t.Errorf("parseCardBlock(%q) accepted", bad)
		}
	}
	brands := map[string]string{"5555555555554444": "MASTERCARD", "2223000048400011": "MASTERCARD", "378282246310005": "AMEX",
		"2200000000000004": "MIR", "6759649826438453": "MAESTRO", "6011111111111117": "DISCOVER", "3530111333300000": "JCB"}
	for pan, want := range brands {
		if got := brand(pan); got != want {
			t.Errorf("brand(%s) = %s, want %s", pan, got, want)
		}
	}
	exp := card{expYear: "2026", expMonth: "11"}
	if exp.expired(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)) || !exp.expired(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("a card must be valid through the last day of its expiry month")
	}
}

func FuzzParseCardBlock(f *testing.F) {
	f.Add([]byte("4111111111111111=28122011000000\x00"))
	f.Add([]byte("5555555555554444=2911201\x00"))
	f.Add([]byte("=\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCardBlock(b)
		if err != nil {
			return
		}
		if !luhn(c.pan) || len(c.pan) < 12 || len(c.pan) > 19 || c.bin != c.pan[:6] || c.last4 != c.pan[len(c.pan)-4:] {
			t.Fatalf("accepted %q as %+v", b, c)
		}
	})
}
