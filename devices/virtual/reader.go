package virtual

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/example/mposportal/dukpt"
)

// EntryMode is how the card was presented.
type EntryMode string

const (
	Chip          EntryMode = "chip"
	Contactless   EntryMode = "contactless"
	Swipe         EntryMode = "swipe"
	FallbackSwipe EntryMode = "fallback_swipe"
)

// CardRead is what the reader hands the app after a read: exactly the fields the app sends to
// the gateway (encrypted-data, ksn, encrypted-type, entry_mode, pan_first_digits,
// pan_last_digits, card_printed_name). It never holds the full card number.
type CardRead struct {
	EncryptedData  string // upper-case hex
	KSN            string
	EncryptedType  string
	EntryMode      EntryMode
	PANFirstDigits string
	PANLastDigits  string
	CardholderName string
}

// ErrUnreadable is returned when the card could not be read.
var ErrUnreadable = errors.New("virtual reader: the card could not be read")

// Reader is one virtual mPOS reader with its injected key.
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
// the gateway.
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

// SetBattery sets the battery level (demo and test control).
func (r *Reader) SetBattery(p int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.battery = max(0, min(100, p))
}

// Read reads card under a fresh KSN and returns the encrypted read. Each read drains the
// battery a little.
func (r *Reader) Read(card Card, mode EntryMode) (CardRead, error) {
	r.mu.Lock()
	if r.battery > 5 {
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
	ksn, _, err := r.orig.Next()
	if err != nil {
		return CardRead{}, fmt.Errorf("virtual reader %s: %w", r.Serial, err)
	}
	ct, err := dukpt.EncryptData(r.ipek, ksn, block)
	if err != nil {
		return CardRead{}, fmt.Errorf("virtual reader %s: %w", r.Serial, err)
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
