package devices

// The device channel: the messages a reader and the portal exchange over the reader's websocket.
// One JSON object per text frame, with a "type" field naming it; docs/device-channel.md shows
// every message with an example. Reader messages are outside input: ParseReaderMessage is strict
// (unknown fields and types refused, sizes bounded, formats checked) so nothing malformed reaches
// the payment logic.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// MaxMessageSize bounds one frame from a reader; encrypted card blocks are at most 8 KiB of hex.
const MaxMessageSize = 16 << 10

// Message types, reader → portal.
const (
	TypeHello     = "hello"
	TypeHeartbeat = "heartbeat"
	TypeCardRead  = "card_read"
	TypeCardError = "card_error"
)

// Message types, portal → reader.
const (
	TypeWelcome     = "welcome"
	TypePresentCard = "present_card"
	TypeCancel      = "cancel"
	TypeResult      = "result"
	TypeError       = "error"
)

// Hello is the first message of every connection.
type Hello struct {
	Type     string `json:"type"`
	Serial   string `json:"serial"`
	Firmware string `json:"firmware"`
	Model    string `json:"model,omitempty"`
	Battery  int    `json:"battery"` // percent
}

// Heartbeat keeps a reader's presence alive and refreshes its battery level.
type Heartbeat struct {
	Type    string `json:"type"`
	Battery int    `json:"battery"`
}

// CardRead is what the reader's SDK hands the app after a card was read: the card data only in
// encrypted form, plus the non-sensitive parts a receipt may show.
type CardRead struct {
	Type           string `json:"type"`
	Tx             string `json:"tx"`             // the payment this read answers (PresentCard.Tx)
	EncryptedData  string `json:"encrypted_data"` // hex
	KSN            string `json:"ksn"`            // DUKPT key serial number, 20 hex
	EncryptedType  string `json:"encrypted_type"` // e.g. dukpt-tdes
	EntryMode      string `json:"entry_mode"`     // chip, contactless, swipe, fallback_swipe
	PANFirstDigits string `json:"pan_first_digits,omitempty"`
	PANLastDigits  string `json:"pan_last_digits,omitempty"`
	CardholderName string `json:"cardholder_name,omitempty"`
}

// CardError tells the portal that no card read will come for a payment.
type CardError struct {
	Type    string `json:"type"`
	Tx      string `json:"tx"`
	Reason  string `json:"reason"` // one of the CardError* reasons
	Message string `json:"message,omitempty"`
}

// Card error reasons.
const (
	CardErrorTimeout   = "timeout"     // no card presented in time
	CardErrorCancelled = "cancelled"   // cancelled on the reader
	CardErrorReadFail  = "read_failed" // the card could not be read
	CardErrorBusy      = "busy"        // the reader is already waiting for another card
)

// Welcome answers a valid hello.
type Welcome struct {
	Type             string `json:"type"`
	Serial           string `json:"serial"`
	Label            string `json:"label"`
	HeartbeatSeconds int    `json:"heartbeat_seconds"`
}

// PresentCard asks the reader to collect a card for a payment.
type PresentCard struct {
	Type           string `json:"type"`
	Tx             string `json:"tx"`
	Kind           string `json:"kind"`   // sale or preauth
	Amount         string `json:"amount"` // major units, e.g. 10.42
	Currency       string `json:"currency"`
	TimeoutSeconds int    `json:"timeout_seconds"`
}

// Cancel withdraws a PresentCard.
type Cancel struct {
	Type string `json:"type"`
	Tx   string `json:"tx"`
}

// Result tells the reader the outcome, for its display.
type Result struct {
	Type    string `json:"type"`
	Tx      string `json:"tx"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// ErrorMessage reports a refused message or a closing reason to the reader.
type ErrorMessage struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ErrBadMessage is wrapped by every ParseReaderMessage error.
var ErrBadMessage = errors.New("bad device message")

var (
	reHex       = regexp.MustCompile(`^[0-9A-Fa-f]+$`)
	reKSN       = regexp.MustCompile(`^[0-9A-Fa-f]{20}$`)
	reTx        = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	reFirst     = regexp.MustCompile(`^[0-9]{6,8}$`)
	reLast4     = regexp.MustCompile(`^[0-9]{4}$`)
	reShortText = regexp.MustCompile(`^[\p{L}\p{N} .,'/()+_-]{0,64}$`)
	entryModes  = map[string]bool{"chip": true, "contactless": true, "swipe": true, "fallback_swipe": true}
	cardErrors  = map[string]bool{CardErrorTimeout: true, CardErrorCancelled: true, CardErrorReadFail: true, CardErrorBusy: true}
)

// ParseReaderMessage decodes and validates one frame from a reader. It returns *Hello,
// *Heartbeat, *CardRead or *CardError.
func ParseReaderMessage(data []byte) (any, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes is larger than %d", ErrBadMessage, len(data), MaxMessageSize)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrBadMessage, err)
	}
	var msg interface{ validate() error }
	switch head.Type {
	case TypeHello:
		msg = &Hello{}
	case TypeHeartbeat:
		msg = &Heartbeat{}
	case TypeCardRead:
		msg = &CardRead{}
	case TypeCardError:
		msg = &CardError{}
	default:
		return nil, fmt.Errorf("%w: unknown type %q", ErrBadMessage, head.Type)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(msg); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadMessage, head.Type, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the object", ErrBadMessage)
	}
	if err := msg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadMessage, head.Type, err)
	}
	return msg, nil
}

func validBattery(b int) error {
	if b < 0 || b > 100 {
		return fmt.Errorf("battery %d is not a percentage", b)
	}
	return nil
}

func (m *Hello) validate() error {
	if _, err := NormalizeSerial(m.Serial); err != nil {
		return err
	}
	if !reShortText.MatchString(m.Firmware) || m.Firmware == "" {
		return errors.New("firmware must be 1-64 plain characters")
	}
	if !reShortText.MatchString(m.Model) {
		return errors.New("model must be at most 64 plain characters")
	}
	return validBattery(m.Battery)
}

func (m *Heartbeat) validate() error { return validBattery(m.Battery) }

func (m *CardRead) validate() error {
	switch {
	case !reTx.MatchString(m.Tx):
		return errors.New("tx is missing or malformed")
	case m.EncryptedData == "" || len(m.EncryptedData) > 8192 || len(m.EncryptedData)%16 != 0 || !reHex.MatchString(m.EncryptedData):
		return errors.New("encrypted_data must be hex of whole 8-byte blocks, at most 8192 characters")
	case !reKSN.MatchString(m.KSN):
		return errors.New("ksn must be 20 hex characters")
	case m.EncryptedType != "dukpt-tdes":
		return fmt.Errorf("encrypted_type %q is not supported", m.EncryptedType)
	case !entryModes[m.EntryMode]:
		return fmt.Errorf("entry_mode %q is not one of chip, contactless, swipe, fallback_swipe", m.EntryMode)
	case m.PANFirstDigits != "" && !reFirst.MatchString(m.PANFirstDigits):
		return errors.New("pan_first_digits must be 6 to 8 digits")
	case m.PANLastDigits != "" && !reLast4.MatchString(m.PANLastDigits):
		return errors.New("pan_last_digits must be 4 digits")
	case !reShortText.MatchString(m.CardholderName):
		return errors.New("cardholder_name must be at most 64 plain characters")
	}
	return nil
}

func (m *CardError) validate() error {
	if !reTx.MatchString(m.Tx) {
		return errors.New("tx is missing or malformed")
	}
	if !cardErrors[m.Reason] {
		return fmt.Errorf("reason %q is not a known card error", m.Reason)
	}
	if len(m.Message) > 200 {
		return errors.New("message is longer than 200 characters")
	}
	return nil
}
