package virtual

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/example/mposportal/dukpt"
)

// EntryMode is how the card was presented; the values are the protocol's entry_mode values.
type EntryMode string

const (
	Chip          EntryMode = "chip"
	Contactless   EntryMode = "contactless"
	Swipe         EntryMode = "swipe"
	FallbackSwipe EntryMode = "fallback_swipe"
)

// Valid reports whether m is one of the protocol's entry modes.
func (m EntryMode) Valid() bool {
	switch m {
	case Chip, Contactless, Swipe, FallbackSwipe:
		return true
	}
	return false
}

// CardRead is what the reader hands the app after a read: exactly the fields the app sends to
// the gateway (encrypted-data, ksn, encrypted-type, entry_mode, pan_first_digits,
// pan_last_digits, card_printed_name). It never holds the full card number.
type CardRead struct {
	EncryptedData  string // upper-case hex of the encrypted card block
	KSN            string // upper-case hex, 20 characters
	EncryptedType  string // always "dukpt-tdes"
	EntryMode      EntryMode
	PANFirstDigits string // 6
	PANLastDigits  string // 4
	CardholderName string
}

// ErrUnreadable is returned when the card could not be read.
var ErrUnreadable = errors.New("virtual reader: the card could not be read")

// Reader is one virtual mPOS reader with its injected key. It is safe for concurrent use.
type Reader struct {
	Serial   string
	Firmware string
	Model    string

	mu      sync.Mutex
	battery int
	ipek    []byte
	orig    *dukpt.Originator
}

// New returns a reader holding the initial key ipek for the initial KSN iksn, as injected by
// the gateway. Its first read uses the counter after the one in iksn.
func New(serial, firmware string, ipek []byte, iksn dukpt.KSN) *Reader {
	return &Reader{Serial: serial, Firmware: firmware, Model: "Virtual VR-1", battery: 100,
		ipek: append([]byte(nil), ipek...), orig: dukpt.NewOriginator(ipek, iksn)}
}

// Battery is the battery level in percent.
func (r *Reader) Battery() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.battery
}

// SetBattery sets the battery level, clamped to 0-100 (demo and test control).
func (r *Reader) SetBattery(p int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.battery = max(0, min(100, p))
}

// minDrainedBattery is where reads stop draining: a demo reader left running all day should
// still be usable, and a low (not empty) level is what the portal's health view shows.
const minDrainedBattery = 5

// Read reads card presented in mode under the next KSN and returns the encrypted read. Each
// read attempt drains the battery by one percent. A card or mode the reader cannot use is
// refused before anything changes.
func (r *Reader) Read(card Card, mode EntryMode) (CardRead, error) {
	if !mode.Valid() {
		return CardRead{}, fmt.Errorf("virtual reader %s: unknown entry mode %q", r.Serial, mode)
	}
	if err := card.validate(); err != nil {
		return CardRead{}, fmt.Errorf("virtual reader %s: %w", r.Serial, err)
	}
	r.mu.Lock()
	if r.battery > minDrainedBattery {
		r.battery--
	}
	r.mu.Unlock()
	if card.Unreadable {
		return CardRead{}, ErrUnreadable
	}
	block := []byte(card.track2())
	if pad := len(block) % 8; pad != 0 {
		block = append(block, make([]byte, 8-pad)...)
	}
	defer clear(block)
	ksn, _, err := r.orig.Next()
	if err != nil {
		return CardRead{}, fmt.Errorf("virtual reader %s: %w", r.Serial, err)
	}
	ct, err := dukpt.EncryptData(r.ipek, ksn, block)
	if err != nil {
		return CardRead{}, fmt.Errorf("virtual reader %s: KSN %s: %w", r.Serial, ksn, err)
	}
	return CardRead{
		EncryptedData:  strings.ToUpper(hex.EncodeToString(ct)),
		KSN:            ksn.String(),
		EncryptedType:  "dukpt-tdes",
		EntryMode:      mode,
		PANFirstDigits: card.PAN[:6],
		PANLastDigits:  card.PAN[len(card.PAN)-4:],
		CardholderName: card.Holder,
	}, nil
}
