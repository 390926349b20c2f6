package mapi_test

import (
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/example/mposportal/mapi"
)

func TestEncodeResponseExactBytes(t *testing.T) {
	got := string(mapi.EncodeResponse([]mapi.Pair{
		{"type", "async-response"}, {"serial-number", "00000000-0000-0000-0000-0000043b64ff"},
		{"merchant-order-id", "902B4FF5"}, {"paynet-order-id", "1969106"}, {"end-point-id", "1234"},
	}))
	want := "type=async-response\n&serial-number=00000000-0000-0000-0000-0000043b64ff\n&merchant-order-id=902B4FF5\n&paynet-order-id=1969106\n&end-point-id=1234\n"
	if got != want {
		t.Errorf("EncodeResponse =\n%q\nwant\n%q", got, want)
	}
	// Spaces are %20, never + (Decision 2); reserved characters are escaped.
	got = string(mapi.EncodeResponse([]mapi.Pair{{"error-message", "Unknown device serial number: MPOS-9999 & more+"}}))
	want = "error-message=Unknown%20device%20serial%20number%3A%20MPOS-9999%20%26%20more%2B\n"
	if got != want {
		t.Errorf("EncodeResponse = %q, want %q", got, want)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want url.Values
	}{
		{"spec example", "type=async-response\n&serial-number=00000000-0000-0000-0000-0000043b64ff\n&merchant-order-id=902B4FF5\n&paynet-order-id=1969106\n&end-point-id=1234\n",
			url.Values{"type": {"async-response"}, "serial-number": {"00000000-0000-0000-0000-0000043b64ff"},
				"merchant-order-id": {"902B4FF5"}, "paynet-order-id": {"1969106"}, "end-point-id": {"1234"}}},
		{"plus is a space in form bodies", "cardholder-name=TEST+HOLDER\n", url.Values{"cardholder-name": {"TEST HOLDER"}}},
		{"encoded ampersand", "error-message=a%26b%3Dc\n", url.Values{"error-message": {"a&b=c"}}},
		{"no line feeds", "type=status-response&status=approved", url.Values{"type": {"status-response"}, "status": {"approved"}}},
		{"CRLF", "type=status-response\r\n&status=declined\r\n", url.Values{"type": {"status-response"}, "status": {"declined"}}},
		{"empty", "", url.Values{}},
	}
	for _, tt := range tests {
		got, err := mapi.ParseResponse([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ParseResponse = %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := mapi.ParseResponse([]byte("type=%zz")); err == nil {
		t.Error("ParseResponse accepted a broken escape")
	}
}

func TestParseAmount(t *testing.T) {
	ok := []struct {
		in, currency string
		want         mapi.Amount
	}{
		{"10.42", "EUR", 1042}, {"10.4", "EUR", 1040}, {"10", "EUR", 1000}, {"0.01", "EUR", 1}, {"0", "EUR", 0},
		{"9999999.99", "EUR", 999999999}, {"007.50", "EUR", 750},
		{"1042", "JPY", 1042}, {"9999999999", "JPY", 9999999999}, {"0", "JPY", 0},
		{"10.42", "KWD", 10420}, {"1.042", "KWD", 1042}, {"0.001", "KWD", 1}, {"999999.999", "KWD", 999999999},
	}
	for _, tt := range ok {
		got, err := mapi.ParseAmount(tt.in, tt.currency)
		if err != nil || got != tt.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d", tt.in, tt.currency, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "10000000", "-1.00", "+1.00", "1.234", "1,00", "1e3", "1.", ".5", "ten", " 1.00", "1.00 ", "12345678901", "0x10", "1.-1", "１.00"} {
		if got, err := mapi.ParseAmount(in, "EUR"); !errors.Is(err, mapi.ErrBadAmount) {
			t.Errorf("ParseAmount(%q, EUR) = %d, %v; want ErrBadAmount", in, got, err)
		}
	}
	for _, tt := range []struct{ in, currency string }{{"10.5", "JPY"}, {"10.0", "JPY"}, {"12345678901", "JPY"}, {"1.2345", "KWD"}, {"1000000.000", "KWD"}} {
		if got, err := mapi.ParseAmount(tt.in, tt.currency); !errors.Is(err, mapi.ErrBadAmount) {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want ErrBadAmount", tt.in, tt.currency, got, err)
		}
	}
	for _, tt := range []struct {
		a        mapi.Amount
		currency string
		want     string
	}{{1042, "EUR", "10.42"}, {5, "EUR", "0.05"}, {100, "EUR", "1.00"}, {0, "EUR", "0.00"},
		{1042, "JPY", "1042"}, {0, "JPY", "0"}, {1042, "KWD", "1.042"}, {5, "KWD", "0.005"}, {10420, "KWD", "10.420"}} {
		if got := tt.a.Format(tt.currency); got != tt.want {
			t.Errorf("Amount(%d).Format(%s) = %q, want %q", tt.a, tt.currency, got, tt.want)
		}
		if back, err := mapi.ParseAmount(tt.want, tt.currency); err != nil || back != tt.a {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d back", tt.want, tt.currency, back, err, tt.a)
		}
	}
	for cur, want := range map[string]mapi.Amount{"EUR": 999999999, "JPY": 9999999999, "KWD": 999999999} {
		if got := mapi.MaxAmount(cur); got != want || len(got.Format(cur)) != 10 {
			t.Errorf("MaxAmount(%s) = %s", cur, got.Format(cur))
		}
	}
	if got := mapi.Amount(1042).Minor(); got != "1042" {
		t.Errorf("Minor() = %q", got)
	}
}

func TestStatusFinal(t *testing.T) {
	for s, want := range map[mapi.Status]bool{"approved": true, "declined": true, "filtered": true, "error": true,
		"processing": false, "unknown": false, "chain_declined": false, "new_status": false, "": false} {
		if got := s.Final(); got != want {
			t.Errorf("Status(%q).Final() = %v, want %v", s, got, want)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("type=async-response\n&serial-number=00000000-0000-0000-0000-0000043b64ff\n&paynet-order-id=1969106\n"))
	f.Add([]byte("error-message=a%26b+c\n&x="))
	f.Add([]byte("%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := mapi.ParseResponse(body)
		if err != nil {
			return
		}
		// Whatever parses, the gateway's own writer can say again, and it reads back the same.
		var pairs []mapi.Pair
		for k, vs := range v {
			for _, x := range vs {
				pairs = append(pairs, mapi.Pair{Key: k, Value: x})
			}
		}
		again, err := mapi.ParseResponse(mapi.EncodeResponse(pairs))
		if err != nil {
			t.Fatalf("re-encoded response does not parse: %v", err)
		}
		if !sameValues(v, again) {
			t.Fatalf("round trip changed %v into %v", v, again)
		}
	})
}

// sameValues compares as multisets per key: EncodeResponse takes pairs in map order.
func sameValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, vs := range a {
		count := map[string]int{}
		for _, x := range vs {
			count[x]++
		}
		for _, x := range b[k] {
			count[x]--
		}
		for _, n := range count {
			if n != 0 {
				return false
			}
		}
	}
	return true
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10.42", "0", "-1", "1e3", "9999999.99", "1.042", "9999999999"} {
		f.Add(s, "EUR")
		f.Add(s, "JPY")
		f.Add(s, "KWD")
	}
	f.Fuzz(func(t *testing.T, s, currency string) {
		a, err := mapi.ParseAmount(s, currency)
		if err != nil {
			return
		}
		if a < 0 || a > mapi.MaxAmount(currency) {
			t.Fatalf("ParseAmount(%q, %q) = %d: out of range", s, currency, a)
		}
		b, err := mapi.ParseAmount(a.Format(currency), currency)
		if err != nil || b != a {
			t.Fatalf("ParseAmount(%q, %q) = %d, but its Format %q reads back as %d, %v", s, currency, a, a.Format(currency), b, err)
		}
	})
}
