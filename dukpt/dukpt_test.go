package dukpt_test

import (
	"bytes"
	"crypto/des"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/example/mposportal/dukpt"
)

// The public ANSI X9.24-1 test set: BDK, initial KSN and the device's initial key.
const (
	testBDK  = "0123456789ABCDEFFEDCBA9876543210"
	testIKSN = "FFFF9876543210E00000"
	testIPEK = "6AC292FAA1315B4D858AB3A3D7D5933A"
	// ISO 9564 format 0 block of PIN 1234 with PAN 4012345678909, the PIN the test set encrypts.
	testPINBlock = "041274EDCBA9876F"
)

// annexA is the X9.24-1 Annex A sequence for a double-length key: per KSN the PIN variant of
// the transaction key and the PIN block above encrypted under it. It is the table the standard
// publishes and public DUKPT libraries verify against (e.g. the dukpt2000 verify table of the
// Python DUKPT implementations on GitHub). The originator jumps over counters with more than
// ten one-bits, hence EFFC00 → F00000.
var annexA = []struct{ ksn, pinKey, epb string }{
	{"FFFF9876543210E00001", "042666B49184CF5C68DE9628D0397B36", "1B9C1845EB993A7A"},
	{"FFFF9876543210E00002", "C46551CEF9FD244FAA9AD834130D3B38", "10A01C8D02C69107"},
	{"FFFF9876543210E00003", "0DF3D9422ACA561A47676D07AD6BAD05", "18DC07B94797B466"},
	{"FFFF9876543210E00004", "279C0F6AEED0BE9A2B2C733E1383AE6E", "0BC79509D5645DF7"},
	{"FFFF9876543210E00005", "5F8DC6D2C845C1DA508DDC048093B8C0", "5BC0AF22AD87B327"},
	{"FFFF9876543210E00006", "5E415CB0BAF9F0C3D0C14B63FB62FFBC", "A16DF70AE36158D8"},
	{"FFFF9876543210E00007", "0C8F780B7C8B492FAE84A9EB2A6CE69F", "27711C16CB257F8E"},
	{"FFFF9876543210E00008", "27F66D5244FF621EAA6F6120EDEB427F", "50E55547A5027551"},
	{"FFFF9876543210E00009", "27E31064FDC565968900E2057F658E81", "536CF7F678ACFC8D"},
	{"FFFF9876543210E0000A", "6CF2500A22507C83C776CEADC1E330EB", "EDABBA23221833FE"},
	{"FFFF9876543210E0000B", "3E8260BA04B2D6DFC01482B3819A1848", "2328981C57B4BDBA"},
	{"FFFF9876543210E0000C", "B716E1E11CF53D7F726CAEE75C3A62B0", "038D03CC926CF286"},
	{"FFFF9876543210E0000D", "E072EDF9534053A0B6C581C58FBF25CC", "6C8AA97088B62C68"},
	{"FFFF9876543210E0000E", "A80046087F5B8FDB5AAD95E1842908B0", "F17C9E1D72CD4950"},
	{"FFFF9876543210E0000F", "93DD5B956C4878B82E453AAEFD32A555", "B170F6E7F7F2F64A"},
	{"FFFF9876543210E00010", "59598DCBD9BD943F94165CE453585FA8", "D5D9638559EF53D6"},
	{"FFFF9876543210E00011", "2B5F01F4F0CC0515639D523231BF1B5D", "D544F8CDD292C863"},
	{"FFFF9876543210E00012", "9CF640F279C2AE1915F725EEEAC2CB50", "7A21BD10F36DC41D"},
	{"FFFF9876543210E00013", "C3DF489FDF11534BF03DE97C27DC4CD0", "78649BD17D0DFA60"},
	{"FFFF9876543210E00014", "658488507721B30E4737FA93F923CB2D", "7E7E16EA0C31AD56"},
	{"FFFF9876543210E00015", "E161D1956A61F62DF37AFD7F9CC36965", "72105C22EBC791E6"},
	{"FFFF9876543210E10000", "2F9A0C0B46ECCBA1F8287A7A071AF54B", "19776D96D73AF1E2"},
	{"FFFF9876543210E20000", "DEFDE0EA1043B58D2FA013DE6C4B8F04", "83F14581B8946B2D"},
	{"FFFF9876543210E40000", "9F59E8536BDB056513C856FCCF9A0981", "96B3ADCBF9F5219C"},
	{"FFFF9876543210E80000", "87B9983D9D23047A8D199F5CA0C3DEEC", "1E0F453FD55FCE45"},
	{"FFFF9876543210EFF800", "F9CDFEBF4F5B1D61B3EC12454527E189", "33365F5CC6F23C35"},
	{"FFFF9876543210EFF801", "5BEE92627E9782A3911BF619DF72CAC4", "3A86BF003F835C9D"},
	{"FFFF9876543210EFF802", "64CA2F8AB93F614F1620B00BF77C73FE", "3DB977D05C36DF3F"},
	{"FFFF9876543210EFF804", "35A168695B3BA8CC07E871C42021DDC8", "BA83243305712099"},
	{"FFFF9876543210EFF808", "12C380FCB72ED33D6FC6079AF63F4778", "B0DA04AC90A36D85"},
	{"FFFF9876543210EFF810", "D8007C833A1E3CB6C6889B97A68C5400", "2CF02BD9C309EEDA"},
	{"FFFF9876543210EFF820", "A9C9FF9B735FDDB6591F296B0BF0FD8F", "9D1E2F77AEEE81C6"},
	{"FFFF9876543210EFF840", "0E3E221062CB5EFCA384602783A00405", "40870B0F8BA2011C"},
	{"FFFF9876543210EFF880", "CA8225C587124D04B87F279C0BE297D8", "22E340D6ABB40981"},
	{"FFFF9876543210EFF900", "906AAC1751D497E5144D52C76C6E1F68", "1A4C10AFBA03A430"},
	{"FFFF9876543210EFFA00", "2B9E2CE7C27503C8E10B54D2989EA650", "849763B43E5F9CFF"},
	{"FFFF9876543210EFFC00", "F9430DF97508246EC77BE4EF4FDB9111", "DEFC6F09F8927B71"},
	{"FFFF9876543210F00000", "AA4D58DB653EC7B548C75F2F047DD24A", "73EC88AD0AC5830E"},
}

// dataVectors is the 2009 edition's initial sequence with its data-encryption (request)
// column: the transaction key and "4012345678909D987", zero-padded to 24 bytes, encrypted
// TDES-CBC with a zero IV under the data key (as published in moov-io/dukpt's tests).
var dataVectors = []struct{ ksn, txKey, data string }{
	{"FFFF9876543210E00001", "042666B49184CFA368DE9628D0397BC9", "FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F"},
	{"FFFF9876543210E00002", "C46551CEF9FD24B0AA9AD834130D3BC7", "A2B4E70F846E63D68775B7215EB4563DFD3037244C61CC13"},
	{"FFFF9876543210E00003", "0DF3D9422ACA56E547676D07AD6BADFA", "BD751E65F10E75B6C1D5B1D283496A36C2DE21D993C387A7"},
	{"FFFF9876543210E00004", "279C0F6AEED0BE652B2C733E1383AE91", "1118F50947441BBDA3C8C70220021A12EC31CC473F7215F4"},
	{"FFFF9876543210E00005", "5F8DC6D2C845C125508DDC048093B83F", "9FD7BD1EC28845ACA93367A9DA9317BD555C6B33AE22D365"},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func upper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func mustKSN(t testing.TB, s string) dukpt.KSN {
	t.Helper()
	k, err := dukpt.ParseKSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDeriveIPEK(t *testing.T) {
	bdk := unhex(t, testBDK)
	// Any counter value names the same device key.
	for _, ksn := range []string{testIKSN, "FFFF9876543210E00001", "FFFF9876543210EFFC00", "FFFF9876543210FFFFFF"} {
		ipek, err := dukpt.DeriveIPEK(bdk, mustKSN(t, ksn))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := upper(ipek), testIPEK; got != want {
			t.Errorf("DeriveIPEK(%s) = %s, want %s", ksn, got, want)
		}
	}
	other, err := dukpt.DeriveIPEK(bdk, mustKSN(t, "FFFF9876543211E00000"))
	if err != nil || upper(other) == testIPEK {
		t.Errorf("another device got the same IPEK (%v)", err)
	}
}

func TestAnnexASequence(t *testing.T) {
	ipek := unhex(t, testIPEK)
	for _, v := range annexA {
		t.Run(v.ksn, func(t *testing.T) {
			key, err := dukpt.DeriveKey(ipek, mustKSN(t, v.ksn))
			if err != nil {
				t.Fatal(err)
			}
			pk := dukpt.PINKey(key)
			if got, want := upper(pk), v.pinKey; got != want {
				t.Errorf("PIN key %s, want %s", got, want)
			}
			c, err := des.NewTripleDESCipher(append(append([]byte(nil), pk...), pk[:8]...))
			if err != nil {
				t.Fatal(err)
			}
			epb := make([]byte, 8)
			c.Encrypt(epb, unhex(t, testPINBlock))
			if got, want := upper(epb), v.epb; got != want {
				t.Errorf("encrypted PIN block %s, want %s", got, want)
			}
		})
	}
}

func TestDataEncryptionVectors(t *testing.T) {
	bdk, ipek := unhex(t, testBDK), unhex(t, testIPEK)
	plain := make([]byte, 24)
	copy(plain, "4012345678909D987")
	for _, v := range dataVectors {
		t.Run(v.ksn, func(t *testing.T) {
			ksn := mustKSN(t, v.ksn)
			key, err := dukpt.DeriveKey(ipek, ksn)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := upper(key), v.txKey; got != want {
				t.Errorf("transaction key %s, want %s", got, want)
			}
			ct, err := dukpt.EncryptData(ipek, ksn, plain)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := upper(ct), v.data; got != want {
				t.Errorf("EncryptData = %s, want %s", got, want)
			}
			got, err := dukpt.DecryptData(bdk, ksn, unhex(t, v.data))
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("DecryptData = %q, %v; want %q", got, err, plain)
			}
		})
	}
}

// The data key after the self-encryption step, for a counter past the data vectors above
// (java-dukpt's testToDataKey, which derives it the way ID TECH documents for its readers).
func TestDataKeyVector(t *testing.T) {
	key, err := dukpt.DeriveKey(unhex(t, testIPEK), mustKSN(t, "FFFF9876543210E00008"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := upper(dukpt.DataKey(key)), "C39B2778B058AC376FB18DC906F75CBA"; got != want {
		t.Errorf("DataKey = %s, want %s", got, want)
	}
}

func TestKeyVariantsRefuseShortKeys(t *testing.T) {
	for name, fn := range map[string]func([]byte) []byte{"PINKey": dukpt.PINKey, "DataKey": dukpt.DataKey} {
		for _, n := range []int{0, 8, 24} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s of a %d-byte key did not panic", name, n)
					}
				}()
				fn(make([]byte, n))
			}()
		}
	}
}

func TestOriginator(t *testing.T) {
	ipek := unhex(t, testIPEK)
	iksn := mustKSN(t, testIKSN)
	tests := []struct {
		name  string
		start uint32
		want  []uint32
	}{
		{"new device starts at 1", 0, []uint32{1, 2, 3}},
		{"0x7FF has 11 one-bits", 0x7FD, []uint32{0x7FE, 0x800, 0x801}},
		// Annex A: every counter from 0xFFC01 to 0xFFFFF has more than ten one-bits.
		{"EFFC00 jumps to F00000", 0xFFA00, []uint32{0xFFC00, 0x100000, 0x100001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := dukpt.NewOriginator(ipek, iksn.WithCounter(tt.start))
			for _, want := range tt.want {
				ksn, key, err := o.Next()
				if err != nil {
					t.Fatal(err)
				}
				if got := ksn.Counter(); got != want {
					t.Fatalf("Next counter = %#x, want %#x", got, want)
				}
				if ksn.Initial() != iksn {
					t.Errorf("Next changed the device part: %s", ksn)
				}
				host, err := dukpt.DeriveKey(ipek, ksn)
				if err != nil || !bytes.Equal(host, key) {
					t.Errorf("counter %#x: originator key %X, host derives %X (%v)", want, key, host, err)
				}
			}
		})
	}
	// The key handed out after the skip is the published one.
	o := dukpt.NewOriginator(ipek, mustKSN(t, "FFFF9876543210EFFC00"))
	ksn, key, err := o.Next()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ksn.String()+" "+upper(dukpt.PINKey(key)), "FFFF9876543210F00000 AA4D58DB653EC7B548C75F2F047DD24A"; got != want {
		t.Errorf("after EFFC00: %s, want %s", got, want)
	}
	// 0x1FF800 (ten one-bits) is the last usable counter: every later one has more.
	end := dukpt.NewOriginator(ipek, iksn.WithCounter(0x1FF800))
	if _, _, err := end.Next(); !errors.Is(err, dukpt.ErrExhausted) {
		t.Errorf("Next after the last counter: %v, want ErrExhausted", err)
	}
	if _, _, err := end.Next(); !errors.Is(err, dukpt.ErrExhausted) {
		t.Errorf("Next stays exhausted: %v", err)
	}
}

func TestOriginatorConcurrentKSNsAreUnique(t *testing.T) {
	o := dukpt.NewOriginator(unhex(t, testIPEK), mustKSN(t, testIKSN))
	const n = 200
	out := make(chan dukpt.KSN, n)
	for range n {
		go func() {
			ksn, _, err := o.Next()
			if err != nil {
				t.Error(err)
			}
			out <- ksn
		}()
	}
	seen := map[dukpt.KSN]bool{}
	for range n {
		k := <-out
		if seen[k] {
			t.Fatalf("KSN %s handed out twice", k)
		}
		seen[k] = true
	}
}

func TestDeriveKeyRefusesCountersNeverUsed(t *testing.T) {
	ipek := unhex(t, testIPEK)
	for _, c := range []uint32{0, 0x7FF, 0x1FFFFF, 0xFFC01} {
		if _, err := dukpt.DeriveKey(ipek, mustKSN(t, testIKSN).WithCounter(c)); !errors.Is(err, dukpt.ErrBadKSN) {
			t.Errorf("DeriveKey counter %#x: %v, want ErrBadKSN", c, err)
		}
	}
	for _, n := range []int{0, 8, 24} {
		if _, err := dukpt.DeriveKey(make([]byte, n), mustKSN(t, "FFFF9876543210E00001")); err == nil {
			t.Errorf("DeriveKey accepted a %d-byte IPEK", n)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	bdk := unhex(t, testBDK)
	for _, dev := range []string{testIKSN, "FFFF0123456789A00000", "0000000000000FE00000"} {
		iksn := mustKSN(t, dev)
		ipek, err := dukpt.DeriveIPEK(bdk, iksn)
		if err != nil {
			t.Fatal(err)
		}
		o := dukpt.NewOriginator(ipek, iksn.WithCounter(0x7F0))
		for _, n := range []int{8, 16, 24, 40, 128} {
			ksn, _, err := o.Next()
			if err != nil {
				t.Fatal(err)
			}
			plain := make([]byte, n)
			for i := range plain {
				plain[i] = byte('0' + i%10)
			}
			ct, err := dukpt.EncryptData(ipek, ksn, plain)
			if err != nil {
				t.Fatal(err)
			}
			if len(ct) != n || bytes.Equal(ct, plain) {
				t.Fatalf("%s: ciphertext of %d bytes is %d bytes or equals the plaintext", ksn, n, len(ct))
			}
			got, err := dukpt.DecryptData(bdk, ksn, ct)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s: DecryptData = %q, %v; want %q", ksn, got, err, plain)
			}
		}
	}
}

func TestWrongKeysGiveOtherPlaintext(t *testing.T) {
	bdk := unhex(t, testBDK)
	ksn := mustKSN(t, "FFFF9876543210E00003")
	ipek, _ := dukpt.DeriveIPEK(bdk, ksn)
	plain := []byte("4111111111111111=28122011000000\x00")
	ct, err := dukpt.EncryptData(ipek, ksn, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("4111")) {
		t.Fatal("ciphertext carries clear digits")
	}
	tests := []struct {
		name string
		bdk  string
		ksn  dukpt.KSN
	}{
		{"other counter", testBDK, ksn.WithCounter(4)},
		{"other device", testBDK, mustKSN(t, "FFFF9876543211E00003")},
		{"other key set", testBDK, mustKSN(t, "FFFE9876543210E00003")},
		{"other BDK", "FEDCBA98765432100123456789ABCDEF", ksn},
	}
	for _, tt := range tests {
		got, err := dukpt.DecryptData(unhex(t, tt.bdk), tt.ksn, ct)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if bytes.Equal(got, plain) || bytes.Contains(got, []byte("4111111111111111")) {
			t.Errorf("%s decrypted the card data: %q", tt.name, got)
		}
	}
}

func TestBadInput(t *testing.T) {
	bdk, ipek := unhex(t, testBDK), unhex(t, testIPEK)
	ksn := mustKSN(t, "FFFF9876543210E00001")
	for _, n := range []int{0, 7, 9, 15, 23} {
		if _, err := dukpt.DecryptData(bdk, ksn, make([]byte, n)); !errors.Is(err, dukpt.ErrBadLength) {
			t.Errorf("DecryptData of %d bytes: %v, want ErrBadLength", n, err)
		}
		if _, err := dukpt.EncryptData(ipek, ksn, make([]byte, n)); !errors.Is(err, dukpt.ErrBadLength) {
			t.Errorf("EncryptData of %d bytes: %v, want ErrBadLength", n, err)
		}
	}
	for _, n := range []int{0, 8, 24} {
		if _, err := dukpt.DecryptData(make([]byte, n), ksn, make([]byte, 8)); err == nil {
			t.Errorf("DecryptData accepted a %d-byte BDK", n)
		}
		if _, err := dukpt.DeriveIPEK(make([]byte, n), ksn); err == nil {
			t.Errorf("DeriveIPEK accepted a %d-byte BDK", n)
		}
		if _, err := dukpt.EncryptData(make([]byte, n), ksn, make([]byte, 8)); err == nil {
			t.Errorf("EncryptData accepted a %d-byte IPEK", n)
		}
	}
	if _, err := dukpt.DecryptData(bdk, ksn.Initial(), make([]byte, 8)); !errors.Is(err, dukpt.ErrBadKSN) {
		t.Errorf("DecryptData under the initial KSN: %v, want ErrBadKSN", err)
	}
}

func TestKSN(t *testing.T) {
	for _, s := range []string{"", "FFFF9876543210E0000", "FFFF9876543210E000011", "GGGG9876543210E00001", "FFFF9876543210E0000 "} {
		if _, err := dukpt.ParseKSN(s); !errors.Is(err, dukpt.ErrBadKSN) {
			t.Errorf("ParseKSN(%q): %v, want ErrBadKSN", s, err)
		}
	}
	tests := []struct {
		in      string
		counter uint32
		str     string
		initial string
	}{
		{"ffff9876543210e00001", 1, "FFFF9876543210E00001", "FFFF9876543210E00000"},
		{"FFFF9876543210EFFC00", 0xFFC00, "FFFF9876543210EFFC00", "FFFF9876543210E00000"},
		{"FFFF9876543210FFFFFF", 0x1FFFFF, "FFFF9876543210FFFFFF", "FFFF9876543210E00000"},
		{"0000000000000000000A", 10, "0000000000000000000A", "00000000000000000000"},
	}
	for _, tt := range tests {
		k := mustKSN(t, tt.in)
		if got := fmt.Sprintf("%s %#x %s", k, k.Counter(), k.Initial()); got != fmt.Sprintf("%s %#x %s", tt.str, tt.counter, tt.initial) {
			t.Errorf("ParseKSN(%q): got %s", tt.in, got)
		}
	}
	k := mustKSN(t, testIKSN)
	for _, tt := range []struct {
		c    uint32
		want string
	}{
		{1, "FFFF9876543210E00001"},
		{0x1FFFFF, "FFFF9876543210FFFFFF"},
		{0x200001, "FFFF9876543210E00001"}, // only 21 bits: the device part is untouched
	} {
		if got := k.WithCounter(tt.c).String(); got != tt.want {
			t.Errorf("WithCounter(%#x) = %s, want %s", tt.c, got, tt.want)
		}
	}
}

func FuzzDecryptData(f *testing.F) {
	f.Add([]byte("\xFF\xFF\x98\x76\x54\x32\x10\xE0\x00\x01"), []byte("4111111111111111=28122011000000\x00"))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, []byte{1, 2, 3})
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x0F, 0xFC, 0}, make([]byte, 64))
	bdk := unhex(f, testBDK)
	f.Fuzz(func(t *testing.T, ksnBytes, data []byte) {
		var ksn dukpt.KSN
		copy(ksn[:], ksnBytes)
		// Any input: an error or a plaintext of the same length, never a panic.
		if pt, err := dukpt.DecryptData(bdk, ksn, data); err == nil && len(pt) != len(data) {
			t.Fatalf("DecryptData returned %d bytes for %d", len(pt), len(data))
		}
		ipek, err := dukpt.DeriveIPEK(bdk, ksn)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := dukpt.EncryptData(ipek, ksn, data)
		if err != nil {
			return // bad length, or a counter no originator uses
		}
		pt, err := dukpt.DecryptData(bdk, ksn, ct)
		if err != nil || !bytes.Equal(pt, data) {
			t.Fatalf("round trip failed: %x → %x → %x, %v", data, ct, pt, err)
		}
	})
}
