package devices_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/example/mposportal/devices"
)

const goodRead = `{"type":"card_read","tx":"P0001","encrypted_data":"0011223344556677","ksn":"FFFF9876543210E00001","encrypted_type":"dukpt-tdes","entry_mode":"chip","pan_first_digits":"411111","pan_last_digits":"1111","cardholder_name":"TEST HOLDER"}`

func TestParseReaderMessageAccepts(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`{"type":"hello","serial":"SBX-0001","firmware":"1.4.2","model":"VR-1","battery":87}`,
			&devices.Hello{Type: "hello", Serial: "SBX-0001", Firmware: "1.4.2", Model: "VR-1", Battery: 87}},
		{`{"type":"heartbeat","battery":0}`, &devices.Heartbeat{Type: "heartbeat", Battery: 0}},
		{goodRead, &devices.CardRead{Type: "card_read", Tx: "P0001", EncryptedData: "0011223344556677",
			KSN: "FFFF9876543210E00001", EncryptedType: "dukpt-tdes", EntryMode: "chip",
			PANFirstDigits: "411111", PANLastDigits: "1111", CardholderName: "TEST HOLDER"}},
		{`{"type":"card_error","tx":"P0001","reason":"timeout"}`,
			&devices.CardError{Type: "card_error", Tx: "P0001", Reason: "timeout"}},
	}
	for _, tt := range tests {
		got, err := devices.ParseReaderMessage([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseReaderMessage(%s): %v", tt.in, err)
			continue
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(tt.want)
		if string(g) != string(w) {
			t.Errorf("ParseReaderMessage(%s) = %s, want %s", tt.in, g, w)
		}
	}
}

func TestParseReaderMessageRefuses(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not json", `hello`},
		{"array", `[]`},
		{"unknown type", `{"type":"present_card","tx":"P1"}`},
		{"missing type", `{"serial":"SBX-0001"}`},
		{"unknown field", `{"type":"heartbeat","battery":5,"pan":"4111111111111111"}`},
		{"trailing data", `{"type":"heartbeat","battery":5}{"type":"heartbeat","battery":5}`},
		{"bad serial", `{"type":"hello","serial":"S/1","firmware":"1","battery":5}`},
		{"no firmware", `{"type":"hello","serial":"SBX-0001","firmware":"","battery":5}`},
		{"battery over 100", `{"type":"heartbeat","battery":101}`},
		{"battery negative", `{"type":"heartbeat","battery":-1}`},
		{"odd hex", strings.Replace(goodRead, `"0011223344556677"`, `"00112233445566"`, 1)},
		{"non hex", strings.Replace(goodRead, `"0011223344556677"`, `"00112233445566ZZ"`, 1)},
		{"short ksn", strings.Replace(goodRead, `FFFF9876543210E00001`, `FFFF9876543210E0000`, 1)},
		{"other scheme", strings.Replace(goodRead, `dukpt-tdes`, `clear`, 1)},
		{"entry mode", strings.Replace(goodRead, `"chip"`, `"magic"`, 1)},
		{"full pan as first digits", strings.Replace(goodRead, `"411111"`, `"4111111111111111"`, 1)},
		{"last five", strings.Replace(goodRead, `"1111","card`, `"11111","card`, 1)},
		{"tx with spaces", strings.Replace(goodRead, `"P0001"`, `"P 0001"`, 1)},
		{"unknown card error", `{"type":"card_error","tx":"P0001","reason":"exploded"}`},
		{"too large", `{"type":"heartbeat","battery":5,"x":"` + strings.Repeat("a", devices.MaxMessageSize) + `"}`},
	}
	for _, tt := range tests {
		got, err := devices.ParseReaderMessage([]byte(tt.in))
		if !errors.Is(err, devices.ErrBadMessage) {
			t.Errorf("%s: ParseReaderMessage = %#v, %v; want ErrBadMessage", tt.name, got, err)
		}
	}
}

func FuzzParseReaderMessage(f *testing.F) {
	f.Add([]byte(goodRead))
	f.Add([]byte(`{"type":"hello","serial":"SBX-0001","firmware":"1.4.2","battery":87}`))
	f.Add([]byte(`{"type":"card_error","tx":"P0001","reason":"timeout"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := devices.ParseReaderMessage(data)
		if err != nil {
			return
		}
		// Whatever is accepted survives a round trip unchanged: no field is silently dropped.
		out, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := devices.ParseReaderMessage(out)
		if err != nil {
			t.Fatalf("re-encoded %s refused: %v", out, err)
		}
		out2, _ := json.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed %s to %s", out, out2)
		}
	})
}
