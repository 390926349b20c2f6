// Package dukpt implements TDES DUKPT, Derived Unique Key Per Transaction (ANSI X9.24-1:2009),
// the scheme mPOS readers use to encrypt card data: every read is encrypted under a key used
// once, derivable by the host from the base derivation key (BDK) and the key serial number
// (KSN) the reader sends along, but not by anyone holding an earlier or later key.
//
// Readers hold only their initial key (IPEK), injected by the gateway; the gateway holds the
// BDK. It uses crypto/des (triple DES with a double-length key) and nothing else.
package dukpt

import (
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// KSN is a 10-byte key serial number: key set id and device id in the left 59 bits, the
// transaction counter in the right 21 bits.
type KSN [10]byte

const counterMask = 0x1FFFFF

// ErrBadKSN is wrapped by ParseKSN errors.
var ErrBadKSN = errors.New("dukpt: bad KSN")

// ParseKSN reads 20 hex characters, in either case.
func ParseKSN(s string) (KSN, error) {
	var k KSN
	if len(s) != 20 {
		return k, fmt.Errorf("%w: want 20 hex characters, got %d", ErrBadKSN, len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("%w: %v", ErrBadKSN, err)
	}
	return k, nil
}

// String is the upper-case hex form readers and gateways print.
func (k KSN) String() string { return strings.ToUpper(hex.EncodeToString(k[:])) }

// Counter is the transaction counter.
func (k KSN) Counter() uint32 {
	return (uint32(k[7])<<16 | uint32(k[8])<<8 | uint32(k[9])) & counterMask
}

// WithCounter returns k with its counter set to c (masked to 21 bits).
func (k KSN) WithCounter(c uint32) KSN {
	c &= counterMask
	k[7] = k[7]&^0x1F | byte(c>>16)
	k[8] = byte(c >> 8)
	k[9] = byte(c)
	return k
}

// Initial returns the initial KSN (counter zero): it names the device and its key.
func (k KSN) Initial() KSN { return k.WithCounter(0) }

func tdes(key []byte) (cipher.Block, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("dukpt: key must be 16 bytes, got %d", len(key))
	}
	// Double-length TDES: K1 K2 K1.
	k := make([]byte, 24)
	copy(k, key)
	copy(k[16:], key[:8])
	return des.NewTripleDESCipher(k)
}

func xor(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

var keyMask = []byte{0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0, 0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0}

// DeriveIPEK derives a device's initial key from the BDK and its KSN (any counter value).
func DeriveIPEK(bdk []byte, ksn KSN) ([]byte, error) {
	if len(bdk) != 16 {
		return nil, fmt.Errorf("dukpt: BDK must be 16 bytes, got %d", len(bdk))
	}
	init := ksn.Initial()
	reg := make([]byte, 8)
	copy(reg, init[:8]) // the leftmost 64 bits, counter bits cleared
	ipek := make([]byte, 16)
	for i, key := range [][]byte{bdk, xor(bdk, keyMask)} {
		c, err := tdes(key)
		if err != nil {
			return nil, err
		}
		c.Encrypt(ipek[i*8:], reg)
	}
	return ipek, nil
}

// nonReversible is the non-reversible key generation process: a new key from the current key
// and the KSN register, such that the old key cannot be recovered from the new one.
func nonReversible(key, reg []byte) ([]byte, error) {
	half := func(k []byte) ([]byte, error) {
		c, err := des.NewCipher(k[:8])
		if err != nil {
			return nil, err
		}
		msg := xor(reg, k[8:])
		out := make([]byte, 8)
		c.Encrypt(out, msg)
		return xor(out, k[8:]), nil
	}
	right, err := half(key)
	if err != nil {
		return nil, err
	}
	left, err := half(xor(key, keyMask))
	if err != nil {
		return nil, err
	}
	return append(left, right...), nil
}

// DeriveKey derives the transaction key for ksn from the device's initial key by the
// non-reversible key generation process, walking the counter's one-bits from the highest down
// (at most ten steps). Counters an originator never uses (zero, or more than ten one-bits) are
// refused with ErrBadKSN.
func DeriveKey(ipek []byte, ksn KSN) ([]byte, error) {
	if len(ipek) != 16 {
		return nil, fmt.Errorf("dukpt: IPEK must be 16 bytes, got %d", len(ipek))
	}
	counter := ksn.Counter()
	switch {
	case counter == 0:
		// Counter zero names the initial key itself; an originator never encrypts under it, so
		// a KSN carrying it is not a transaction KSN.
		return nil, fmt.Errorf("%w: %s has counter 0 (the initial KSN, never a transaction)", ErrBadKSN, ksn)
	case bits.OnesCount32(counter) > 10:
		return nil, fmt.Errorf("%w: counter %d has more than 10 one-bits and is never used", ErrBadKSN, counter)
	}
	reg := make([]byte, 8)
	base := ksn.Initial()
	copy(reg, base[2:]) // the rightmost 64 bits, counter cleared
	key := append([]byte(nil), ipek...)
	for shift := uint32(1 << 20); shift > 0; shift >>= 1 {
		if counter&shift == 0 {
			continue
		}
		reg[5] |= byte(shift >> 16)
		reg[6] |= byte(shift >> 8)
		reg[7] |= byte(shift)
		var err error
		if key, err = nonReversible(key, reg); err != nil {
			return nil, err
		}
	}
	return key, nil
}

// Key variants (X9.24-1:2009 table A-1): the transaction key XORed with these masks.
var (
	pinVariant  = []byte{0, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF}
	dataVariant = []byte{0, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0} // request (or both ways)
)

func mustTxKey(fn string, txKey []byte) {
	// DeriveKey always returns 16 bytes: anything else is a programming error, and returning a
	// short key would only move the failure somewhere harder to read.
	if len(txKey) != 16 {
		panic(fmt.Sprintf("dukpt: %s: transaction key must be 16 bytes, got %d", fn, len(txKey)))
	}
}

// PINKey is the PIN-encryption variant of a transaction key (it encrypts ISO PIN blocks,
// TDES-ECB). txKey must be 16 bytes, as DeriveKey returns; anything else panics.
func PINKey(txKey []byte) []byte {
	mustTxKey("PINKey", txKey)
	return xor(txKey, pinVariant)
}

// DataKey is the key EncryptData and DecryptData use: the X9.24-1:2009 data-encryption
// (request) variant of the transaction key, XOR 0000000000FF0000 0000000000FF0000, then each
// half of that variant TDES-encrypted (ECB) under the variant itself. The second step is the
// one-way form used by the 2009 edition's data-encryption test values and by common reader
// vendors (ID TECH and others): whoever learns a data key cannot XOR it back into the
// transaction key and from there into its PIN key. The plain variant (without the encryption
// step) is not what readers send and is not offered.
// txKey must be 16 bytes, as DeriveKey returns; anything else panics.
func DataKey(txKey []byte) []byte {
	mustTxKey("DataKey", txKey)
	variant := xor(txKey, dataVariant)
	c, err := tdes(variant)
	if err != nil {
		panic(err) // unreachable: the variant is 16 bytes and crypto/des refuses only lengths
	}
	out := make([]byte, 16)
	c.Encrypt(out[:8], variant[:8])
	c.Encrypt(out[8:], variant[8:])
	return out
}

// ErrBadLength is returned for data that is not whole 8-byte blocks.
var ErrBadLength = errors.New("dukpt: data must be a non-empty multiple of 8 bytes")

func cbc(key []byte, data []byte, encrypt bool) ([]byte, error) {
	if len(data) == 0 || len(data)%8 != 0 {
		return nil, fmt.Errorf("%w, got %d", ErrBadLength, len(data))
	}
	c, err := tdes(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data))
	iv := make([]byte, 8) // the zero IV: each key is used for one message only
	if encrypt {
		cipher.NewCBCEncrypter(c, iv).CryptBlocks(out, data)
	} else {
		cipher.NewCBCDecrypter(c, iv).CryptBlocks(out, data)
	}
	return out, nil
}

// EncryptData encrypts plaintext (whole 8-byte blocks; the caller pads) on the reader side
// with the data key for ksn.
func EncryptData(ipek []byte, ksn KSN, plaintext []byte) ([]byte, error) {
	key, err := DeriveKey(ipek, ksn)
	if err != nil {
		return nil, err
	}
	return cbc(DataKey(key), plaintext, true)
}

// DecryptData decrypts on the host side: BDK → the device's IPEK → the transaction key for
// ksn → its data key.
func DecryptData(bdk []byte, ksn KSN, ciphertext []byte) ([]byte, error) {
	ipek, err := DeriveIPEK(bdk, ksn)
	if err != nil {
		return nil, err
	}
	key, err := DeriveKey(ipek, ksn)
	if err != nil {
		return nil, err
	}
	return cbc(DataKey(key), ciphertext, false)
}
