package virtual_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/dukpt"
)

var bdk, _ = hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")

func newReader(t *testing.T) *virtual.Reader {
	t.Helper()
	iksn, _ := dukpt.ParseKSN("FFFF9876543210E00000")
	ipek, err := dukpt.DeriveIPEK(bdk, iksn)
	if err != nil {
		t.Fatal(err)
	}
	return virtual.New("SBX-0001", "2.1.0", ipek, iksn)
}

func TestReadDecryptsToTheCardBlock(t *testing.T) {
	r := newReader(t)
	card, _ := virtual.CardByID("visa")
	read, err := r.Read(card, virtual.Contactless)
	if err != nil {
		t.Fatal(err)
	}
	ksn, err := dukpt.ParseKSN(read.KSN)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := hex.DecodeString(read.EncryptedData)
	plain, err := dukpt.DecryptData(bdk, ksn, ct)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("4111111111111111=28122011000000\x00")
	if !bytes.Equal(plain, want) {
		t.Errorf("decrypted block %q, want %q", plain, want)
	}
	if read.EncryptedType != "dukpt-tdes" || read.EntryMode != virtual.Contactless || read.PANFirstDigits != "411111" ||
		read.PANLastDigits != "1111" || read.CardholderName != "TEST HOLDER" || ksn.Counter() != 1 {
		t.Errorf("read = %+v", read)
	}
}

func TestSuccessiveReadsUseFreshKeys(t *testing.T) {
	r := newReader(t)
	card, _ := virtual.CardByID("mastercard")
	seen := map[string]bool{}
	var last uint32
	for i := 0; i < 5; i++ {
		read, err := r.Read(card, virtual.Chip)
		if err != nil {
			t.Fatal(err)
		}
		ksn, _ := dukpt.ParseKSN(read.KSN)
		if ksn.Counter() <= last {
			t.Errorf("read %d: counter %d did not advance past %d", i, ksn.Counter(), last)
		}
		last = ksn.Counter()
		if seen[read.EncryptedData] {
			t.Errorf("read %d repeated a ciphertext", i)
		}
		seen[read.EncryptedData] = true
	}
	if r.Battery() >= 100 {
		t.Errorf("battery %d did not drain", r.Battery())
	}
}

func TestReadNeverCarriesTheFullPAN(t *testing.T) {
	r := newReader(t)
	for _, card := range virtual.Catalogue() {
		read, err := r.Read(card, virtual.Chip)
		if card.Unreadable {
			if !errors.Is(err, virtual.ErrUnreadable) {
				t.Errorf("%s: %v, want ErrUnreadable", card.ID, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", card.ID, err)
		}
		v := reflect.ValueOf(read)
		for i := 0; i < v.NumField(); i++ {
			s := v.Field(i).String()
			if strings.Contains(s, card.PAN) || strings.Contains(strings.ToUpper(s), strings.ToUpper(hex.EncodeToString([]byte(card.PAN)))) {
				t.Errorf("%s: field %s carries the card number", card.ID, v.Type().Field(i).Name)
			}
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
		if !virtual.Luhn(c.PAN) {
			t.Errorf("%s: %s fails the Luhn check", c.ID, c.PAN)
		}
		if len(c.Expiry) != 4 || len(c.ServiceCode) != 3 {
			t.Errorf("%s: expiry %q service code %q", c.ID, c.Expiry, c.ServiceCode)
		}
	}
	for _, id := range []string{"visa", "mastercard", "amex", "visa-expired", "unreadable"} {
		if !ids[id] {
			t.Errorf("catalogue lacks %s", id)
		}
	}
	if virtual.Luhn("4111111111111112") || virtual.Luhn("41111111111a1111") {
		t.Error("Luhn accepts a bad number")
	}
}
