package dukpt_test

import (
	"bytes"
	"crypto/des"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/example/mposportal/dukpt"
)

// The public ANSI X9.24-1 test sequence: BDK, initial KSN, and per counter the transaction
// key, the ISO-0 PIN block of PIN 1234 / PAN 4012345678909 encrypted under its PIN variant, and
// the data "4012345678909D987" (zero-padded) encrypted for the request direction.
const testBDK = "0123456789ABCDEFFEDCBA9876543210"

var sequence = []struct {
	ksn, key, pinBlock, data string
}{
	{"FFFF9876543210E00001", "042666B49184CFA368DE9628D0397BC9", "1B9C1845EB993A7A", "FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F"},
	{"FFFF9876543210E00002", "C46551CEF9FD24B0AA9AD834130D3BC7", "10A01C8D02C69107", "A2B4E70F846E63D68775B7215EB4563DFD3037244C61CC13"},
	{"FFFF9876543210E00003", "0DF3D9422ACA56E547676D07AD6BADFA", "18DC07B94797B466", "BD751E65F10E75B6C1D5B1D283496A36C2DE21D993C387A7"},
	{"FFFF9876543210E00004", "279C0F6AEED0BE652B2C733E1383AE91", "0BC79509D5645DF7", "1118F50947441BBDA3C8C70220021A12EC31CC473F7215F4"},
	{"FFFF9876543210E00005", "5F8DC6D2C845C125508DDC048093B83F", "5BC0AF22AD87B327", "9FD7BD1EC28845ACA93367A9DA9317BD555C6B33AE22D365"},
	{"FFFF9876543210E00006", "", "A16DF70AE36158D8", ""},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustKSN(t testing.TB, s string) dukpt.KSN {
	t.Helper()
	k, err := dukpt.ParseKSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIPEK(t *testing.T) {
	ipek, err := dukpt.DeriveIPEK(unhex(t, testBDK), mustKSN(t, "FFFF9876543210E00000"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.ToUpper(hex.EncodeToString(ipek)), "6AC292FAA1315B4D858AB3A3D7D5933A"; got != want {
		t.Errorf("IPEK = %s, want %s", got, want)
	}
	// Any counter value names the same device key.
	again, _ := dukpt.DeriveIPEK(unhex(t, testBDK), mustKSN(t, "FFFF9876543210E00007"))
	if !bytes.Equal(ipek, again) {
		t.Error("IPEK depends on the counter")
	}
}

func TestSequence(t *testing.T) {
	ipek := unhex(t, "6AC292FAA1315B4D858AB3A3D7D5933A")
	pinBlock := unhex(t, "041274EDCBA9876F") // ISO-0: PIN 1234, PAN 4012345678909
	data := make([]byte, 24)
	copy(data, "4012345678909D987")
	for _, v := range sequence {
		ksn := mustKSN(t, v.ksn)
		key, err := dukpt.DeriveKey(ipek, ksn)
		if err != nil {
			t.Fatal(err)
		}
		if v.key != "" {
			if got := strings.ToUpper(hex.EncodeToString(key)); got != v.key {
				t.Errorf("%s: transaction key %s, want %s", v.ksn, got, v.key)
			}
		}
		pk := dukpt.PINKey(key)
		c, _ := des.NewTripleDESCipher(append(append([]byte(nil), pk...), pk[:8]...))
		enc := make([]byte, 8)
		c.Encrypt(enc, pinBlock)
		if got := strings.ToUpper(hex.EncodeToString(enc)); got != v.pinBlock {
			t.Errorf("%s: encrypted PIN block %s, want %s", v.ksn, got, v.pinBlock)
		}
		if v.data == "" {
			continue
		}
		ct, err := dukpt.EncryptData(ipek, ksn, data)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ToUpper(hex.EncodeToString(ct)); got != v.data {
			t.Errorf("%s: encrypted data %s, want %s", v.ksn, got, v.data)
		}
		pt, err := dukpt.DecryptData(unhex(t, testBDK), ksn, ct)
		if err != nil || !bytes.Equal(pt, data) {
			t.Errorf("%s: DecryptData = %q, %v", v.ksn, pt, err)
		}
	}
}

func TestOriginatorSkipsCountersWithMoreThanTenOneBits(t *testing.T) {
	ipek := unhex(t, "6AC292FAA1315B4D858AB3A3D7D5933A")
	start := mustKSN(t, "FFFF9876543210E00000").WithCounter(0x7FD) // 0x7FD has 10 one-bits
	o := dukpt.NewOriginator(ipek, start)
	want := []uint32{0x7FE, 0x800, 0x801} // 0x7FF has 11 one-bits: skipped
	for _, w := range want {
		ksn, key, err := o.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ksn.Counter() != w {
			t.Errorf("Next counter = %#x, want %#x", ksn.Counter(), w)
		}
		host, err := dukpt.DeriveKey(ipek, ksn)
		if err != nil || !bytes.Equal(host, key) {
			t.Errorf("counter %#x: originator key differs from the host's derivation", w)
		}
	}
	if _, err := dukpt.DeriveKey(ipek, start.WithCounter(0x7FF)); !errors.Is(err, dukpt.ErrBadKSN) {
		t.Errorf("DeriveKey for a counter with 11 one-bits: %v, want ErrBadKSN", err)
	}
	end := dukpt.NewOriginator(ipek, start.WithCounter(0x1FF800)) // 10 one-bits, the last usable
	if _, _, err := end.Next(); !errors.Is(err, dukpt.ErrExhausted) {
		t.Errorf("Next after the last counter: %v, want ErrExhausted", err)
	}
}

func TestWrongKeysDoNotDecrypt(t *testing.T) {
	bdk := unhex(t, testBDK)
	ksn := mustKSN(t, "FFFF9876543210E00003")
	ipek, _ := dukpt.DeriveIPEK(bdk, ksn)
	plain := []byte("4111111111111111=2812101000000\x00\x00")
	ct, err := dukpt.EncryptData(ipek, ksn, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("4111")) {
		t.Fatal("ciphertext carries clear digits")
	}
	for name, k := range map[string]dukpt.KSN{
		"other counter": ksn.WithCounter(4),
		"other device":  mustKSN(t, "FFFF9876543211E00003"),
	} {
		got, err := dukpt.DecryptData(bdk, k, ct)
		if err == nil && bytes.Equal(got, plain) {
			t.Errorf("%s decrypted the data", name)
		}
	}
	otherBDK := unhex(t, "FEDCBA98765432100123456789ABCDEF")
	if got, _ := dukpt.DecryptData(otherBDK, ksn, ct); bytes.Equal(got, plain) {
		t.Error("another BDK decrypted the data")
	}
}

func TestBadInput(t *testing.T) {
	bdk := unhex(t, testBDK)
	ksn := mustKSN(t, "FFFF9876543210E00001")
	for _, n := range []int{0, 7, 9} {
		if _, err := dukpt.DecryptData(bdk, ksn, make([]byte, n)); !errors.Is(err, dukpt.ErrBadLength) {
			t.Errorf("DecryptData of %d bytes: %v, want ErrBadLength", n, err)
		}
	}
	if _, err := dukpt.DecryptData(bdk[:8], ksn, make([]byte, 8)); err == nil {
		t.Error("DecryptData accepted an 8-byte BDK")
	}
	for _, s := range []string{"", "FFFF9876543210E0000", "FFFF9876543210E000011", "GGGG9876543210E00001"} {
		if _, err := dukpt.ParseKSN(s); !errors.Is(err, dukpt.ErrBadKSN) {
			t.Errorf("ParseKSN(%q): %v, want ErrBadKSN", s, err)
		}
	}
	k := mustKSN(t, "ffff9876543210e00001")
	if k.String() != "FFFF9876543210E00001" || k.Counter() != 1 || k.Initial().String() != "FFFF9876543210E00000" {
		t.Errorf("KSN %s counter %d initial %s", k, k.Counter(), k.Initial())
	}
}

func FuzzDecryptData(f *testing.F) {
	f.Add([]byte("FFFF9876543210E00001"), []byte("4111111111111111=2812101000000\x00\x00"))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, []byte{1, 2, 3})
	bdk := unhex(f, testBDK)
	f.Fuzz(func(t *testing.T, ksnBytes, data []byte) {
		var ksn dukpt.KSN
		copy(ksn[:], ksnBytes)
		dukpt.DecryptData(bdk, ksn, data) // any input: an error or bytes, never a panic
		if len(data) == 0 || len(data)%8 != 0 {
			return
		}
		ipek, err := dukpt.DeriveIPEK(bdk, ksn)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := dukpt.EncryptData(ipek, ksn, data)
		if err != nil {
			return // counter with too many one-bits
		}
		pt, err := dukpt.DecryptData(bdk, ksn, ct)
		if err != nil || !bytes.Equal(pt, data) {
			t.Fatalf("round trip failed: %x → %x → %x, %v", data, ct, pt, err)
		}
	})
}
