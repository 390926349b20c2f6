package virtual_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/dukpt"
)

// The public X9.24-1 test BDK and device.
var bdk, _ = hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")

const iksnHex = "FFFF9876543210E00000"

func newReader(t *testing.T, iksn string) *virtual.Reader {
	t.Helper()
	k, err := dukpt.ParseKSN(iksn)
	if err != nil {
		t.Fatal(err)
	}
	ipek, err := dukpt.DeriveIPEK(bdk, k)
	if err != nil {
		t.Fatal(err)
	}
	return virtual.New("SBX-0001", "2.1.0", ipek, k)
}

func card(t *testing.T, id string) virtual.Card {
	t.Helper()
	c, ok := virtual.CardByID(id)
	if !ok {
		t.Fatalf("no card %q", id)
	}
	return c
}

// decrypt is the gateway's side: KSN and hex from the read, BDK from its key store.
func decrypt(t *testing.T, read virtual.CardRead) (dukpt.KSN, []byte) {
	t.Helper()
	ksn, err := dukpt.ParseKSN(read.KSN)
	if err != nil {
		t.Fatal(err)
	}
	if read.EncryptedData != strings.ToUpper(read.EncryptedData) {
		t.Errorf("encrypted data %s is not upper-case hex", read.EncryptedData)
	}
	ct, err := hex.DecodeString(read.EncryptedData)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := dukpt.DecryptData(bdk, ksn, ct)
	if err != nil {
		t.Fatal(err)
	}
	return ksn, plain
}

func TestReadDecryptsToTheCardBlock(t *testing.T) {
	tests := []struct {
		card  string
		mode  virtual.EntryMode
		block string
		first string
		last  string
	}{
		{"visa", virtual.Contactless, "4111111111111111=28122011000000\x00", "411111", "1111"},
		{"mastercard", virtual.Chip, "5555555555554444=29112011000000\x00", "555555", "4444"},
		{"amex", virtual.Swipe, "378282246310005=28102011000000\x00\x00", "378282", "0005"},
		{"maestro", virtual.FallbackSwipe, "6759649826438453=28072211000000\x00", "675964", "8453"},
		{"mir", virtual.Chip, "2200000000000004=28092011000000\x00", "220000", "0004"},
		{"visa-expired", virtual.Chip, "4000000000000002=22012011000000\x00", "400000", "0002"},
		// The garbled read goes through the reader like any other: the gateway finds it unusable.
		{"garbled", virtual.Swipe, "4111111111111121=28122011000000\x00", "411111", "1121"},
	}
	r := newReader(t, iksnHex)
	for i, tt := range tests {
		t.Run(tt.card, func(t *testing.T) {
			read, err := r.Read(card(t, tt.card), tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			ksn, plain := decrypt(t, read)
			if got, want := string(plain), tt.block; got != want {
				t.Errorf("decrypted block %q, want %q", got, want)
			}
			got := virtual.CardRead{KSN: ksn.String(), EncryptedType: read.EncryptedType, EntryMode: read.EntryMode,
				PANFirstDigits: read.PANFirstDigits, PANLastDigits: read.PANLastDigits, CardholderName: read.CardholderName}
			want := virtual.CardRead{KSN: fmt.Sprintf("FFFF9876543210E%05X", i+1), EncryptedType: "dukpt-tdes", EntryMode: tt.mode,
				PANFirstDigits: tt.first, PANLastDigits: tt.last, CardholderName: "TEST HOLDER"}
			if got != want {
				t.Errorf("read = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSuccessiveReadsUseSuccessiveKSNs(t *testing.T) {
	r := newReader(t, iksnHex)
	visa := card(t, "visa")
	seen := map[string]bool{}
	var first []byte
	for i := 1; i <= 5; i++ {
		read, err := r.Read(visa, virtual.Chip)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := read.KSN, fmt.Sprintf("FFFF9876543210E%05X", i); got != want {
			t.Errorf("read %d: KSN %s, want %s", i, got, want)
		}
		if seen[read.EncryptedData] {
			t.Errorf("read %d repeated a ciphertext", i)
		}
		seen[read.EncryptedData] = true
		_, plain := decrypt(t, read)
		if first == nil {
			first = plain
		} else if !bytes.Equal(plain, first) {
			t.Errorf("read %d decrypted to %q, first to %q", i, plain, first)
		}
	}
	if got, want := r.Battery(), 95; got != want {
		t.Errorf("battery after 5 reads %d, want %d", got, want)
	}
}

// A reader resumed at a counter next to a skip hands out only counters the gateway accepts.
func TestReadsSkipUnusableCounters(t *testing.T) {
	r := newReader(t, "FFFF9876543210EFFA00")
	for _, want := range []string{"FFFF9876543210EFFC00", "FFFF9876543210F00000"} {
		read, err := r.Read(card(t, "visa"), virtual.Chip)
		if err != nil {
			t.Fatal(err)
		}
		if read.KSN != want {
			t.Errorf("KSN %s, want %s", read.KSN, want)
		}
		decrypt(t, read)
	}
	exhausted := newReader(t, "FFFF9876543210FFF800")
	if _, err := exhausted.Read(card(t, "visa"), virtual.Chip); !errors.Is(err, dukpt.ErrExhausted) {
		t.Errorf("read on an exhausted reader: %v, want ErrExhausted", err)
	}
}

func TestConcurrentReadsGetDistinctKSNs(t *testing.T) {
	r := newReader(t, iksnHex)
	visa := card(t, "visa")
	const n = 50
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			read, err := r.Read(visa, virtual.Contactless)
			if err != nil {
				t.Error(err)
				return
			}
			decrypt(t, read)
			mu.Lock()
			defer mu.Unlock()
			if seen[read.KSN] {
				t.Errorf("KSN %s used twice", read.KSN)
			}
			seen[read.KSN] = true
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d distinct KSNs for %d reads", len(seen), n)
	}
}

func TestReadNeverCarriesTheFullPAN(t *testing.T) {
	r := newReader(t, iksnHex)
	for _, c := range virtual.Catalogue() {
		if c.Unreadable {
			continue
		}
		for _, mode := range []virtual.EntryMode{virtual.Chip, virtual.Contactless, virtual.Swipe, virtual.FallbackSwipe} {
			read, err := r.Read(c, mode)
			if err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			// The clear digits are exactly the BIN and the last four.
			if read.PANFirstDigits != c.PAN[:6] || read.PANLastDigits != c.PAN[len(c.PAN)-4:] {
				t.Errorf("%s: clear digits %q…%q", c.ID, read.PANFirstDigits, read.PANLastDigits)
			}
			// Elsewhere neither the number (as digits or as hex of its ASCII) nor its hidden middle
			// digits may appear. The reads are deterministic, so a chance match would fail always.
			leaks := []string{c.PAN, strings.ToUpper(hex.EncodeToString([]byte(c.PAN))), c.PAN[6 : len(c.PAN)-4]}
			v := reflect.ValueOf(read)
			for i := range v.NumField() {
				name := v.Type().Field(i).Name
				if name == "PANFirstDigits" || name == "PANLastDigits" {
					continue
				}
				s := strings.ToUpper(v.Field(i).String())
				for _, leak := range leaks {
					if strings.Contains(s, leak) {
						t.Errorf("%s %s: field %s carries %q", c.ID, mode, name, leak)
					}
				}
			}
			if s := fmt.Sprintf("%v %+v %#v", read, read, read); strings.Contains(s, c.PAN) {
				t.Errorf("%s: printing the read shows the card number", c.ID)
			}
		}
	}
}

func TestPrintingACardMasksItsNumber(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	for _, c := range virtual.Catalogue() {
		log.Info("card", "card", c)
		err := fmt.Errorf("reading %v", c)
		for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), err.Error(), logged.String()} {
			if strings.Contains(s, c.PAN) {
				t.Errorf("%s: %q shows the card number", c.ID, s)
			}
		}
		if want := c.PAN[:6]; !strings.Contains(fmt.Sprint(c), want) {
			t.Errorf("%s: %q lacks the BIN %s", c.ID, fmt.Sprint(c), want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	visa := card(t, "visa")
	short := visa
	short.PAN = "41111111"
	letters := visa
	letters.PAN = "4111111111111a11"
	badExpiry := visa
	badExpiry.Expiry = "12/28"
	badService := visa
	badService.ServiceCode = "2O1"
	tests := []struct {
		name     string
		card     virtual.Card
		mode     virtual.EntryMode
		drains   bool // a real read attempt costs battery; refused input changes nothing
		wantErr  error
		wantText string
	}{
		{"unreadable card", card(t, "unreadable"), virtual.Chip, true, virtual.ErrUnreadable, "could not be read"},
		{"unknown entry mode", visa, virtual.EntryMode("magic"), false, nil, `unknown entry mode "magic"`},
		{"empty entry mode", visa, "", false, nil, "unknown entry mode"},
		{"short card number", short, virtual.Chip, false, nil, "12-19 digits"},
		{"non-digit card number", letters, virtual.Chip, false, nil, "12-19 digits"},
		{"expiry not YYMM", badExpiry, virtual.Chip, false, nil, "not YYMM"},
		{"service code not digits", badService, virtual.Chip, false, nil, "service code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReader(t, iksnHex)
			_, err := r.Read(tt.card, tt.mode)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("Read: %v, want %v containing %q", err, tt.wantErr, tt.wantText)
			}
			if strings.Contains(err.Error(), tt.card.PAN) {
				t.Errorf("error %q quotes the card number", err)
			}
			if got, want := r.Battery() < 100, tt.drains; got != want {
				t.Errorf("battery %d after the refused read", r.Battery())
			}
			// No KSN was used up: the next good read still gets counter 1.
			read, err := r.Read(visa, virtual.Chip)
			if err != nil || read.KSN != "FFFF9876543210E00001" {
				t.Errorf("next read: KSN %s, %v; want counter 1", read.KSN, err)
			}
		})
	}
}

func TestBatteryDrainStopsAtFivePercent(t *testing.T) {
	r := newReader(t, iksnHex)
	r.SetBattery(7)
	for range 4 {
		if _, err := r.Read(card(t, "visa"), virtual.Chip); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := r.Battery(), 5; got != want {
		t.Errorf("battery %d, want %d", got, want)
	}
	for _, tt := range []struct{ set, want int }{{150, 100}, {-3, 0}, {42, 42}} {
		r.SetBattery(tt.set)
		if got := r.Battery(); got != tt.want {
			t.Errorf("SetBattery(%d) → %d, want %d", tt.set, got, tt.want)
		}
	}
}

func TestCatalogue(t *testing.T) {
	ids := map[string]bool{}
	for _, c := range virtual.Catalogue() {
		if ids[c.ID] {
			t.Errorf("duplicate id %s", c.ID)
		}
		ids[c.ID] = true
		// Every card passes the check digit except the one whose point is not to.
		if got, want := virtual.Luhn(c.PAN), !c.Garbled; got != want {
			t.Errorf("%s: Luhn(%s) = %v, want %v", c.ID, c.PAN, got, want)
		}
		if len(c.Expiry) != 4 || len(c.ServiceCode) != 3 || c.Holder == "" || c.Brand == "" || c.Label == "" {
			t.Errorf("%s: incomplete card %+v", c.ID, c)
		}
		if got, ok := virtual.CardByID(strings.ToUpper(c.ID)); !ok || got.ID != c.ID {
			t.Errorf("CardByID(%q) = %v, %v", strings.ToUpper(c.ID), got.ID, ok)
		}
	}
	for _, id := range []string{"visa", "mastercard", "amex", "maestro", "mir", "visa-expired", "unreadable", "garbled"} {
		if !ids[id] {
			t.Errorf("catalogue lacks %s", id)
		}
	}
	if virtual.Catalogue()[0].ID != "visa" {
		t.Error("the default card is not first")
	}
	if _, ok := virtual.CardByID("discover"); ok {
		t.Error("CardByID found a card that is not in the catalogue")
	}
	cat := virtual.Catalogue()
	cat[0].PAN = "0"
	if virtual.Catalogue()[0].PAN == "0" {
		t.Error("Catalogue hands out the package's own slice")
	}
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		pan  string
		want bool
	}{
		{"4111111111111111", true},
		{"378282246310005", true},
		{"4111111111111112", false},
		{"41111111111a1111", false},
		{"0000000000", false},           // too short to be a card number
		{"00000000000000000000", false}, // too long
		{"", false},
	}
	for _, tt := range tests {
		if got := virtual.Luhn(tt.pan); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.pan, got, tt.want)
		}
	}
}
