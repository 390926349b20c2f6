// Package virtual provides virtual mPOS readers: they "read" a test card and hand out exactly
// what a real reader's SDK hands the app — the card data encrypted with TDES DUKPT (package
// dukpt) under the reader's injected initial key, the KSN, and the few clear fields a receipt
// may show. The clear card number never leaves a Reader.
//
// # The encrypted card block
//
// The plaintext a reader encrypts is the ASCII track-2 equivalent data, without start and end
// sentinels or LRC:
//
//	PAN "=" YYMM SSS DDDDDDD
//
// PAN is 12 to 19 digits, YYMM the expiry, SSS the service code, and DDDDDDD the discretionary
// digits, always "1000000" here. The block is right-padded with 0x00 bytes to a multiple of 8
// (no padding when it already is one). For the catalogue Visa that is the 31 characters
// "4111111111111111=28122011000000" followed by one 0x00. It is encrypted with
// dukpt.EncryptData under the KSN the read reports; the gateway decrypts it with the BDK and
// the KSN (dukpt.DecryptData) and parses it with its own parser.
package virtual

import (
	"fmt"
	"log/slog"
	"strings"
)

// Card is a test card from the catalogue. PANs are the card schemes' public test numbers.
// Printing or logging a Card shows only its id and masked number.
type Card struct {
	ID          string
	Label       string
	PAN         string
	Expiry      string // YYMM
	ServiceCode string
	Holder      string
	Brand       string
	// Unreadable makes the reader fail to read the card (a damaged chip): Read returns
	// ErrUnreadable and the app has nothing to send.
	Unreadable bool
	// Garbled marks a card whose read succeeds with corrupt track data (a misread digit): its PAN
	// fails the check digit, so the gateway cannot use the decrypted block.
	Garbled bool
}

var catalogue = []Card{
	{ID: "visa", Label: "Visa", PAN: "4111111111111111", Expiry: "2812", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "VISA"},
	{ID: "mastercard", Label: "Mastercard", PAN: "5555555555554444", Expiry: "2911", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "MASTERCARD"},
	{ID: "mastercard-2", Label: "Mastercard (2-series)", PAN: "2223000048400011", Expiry: "2905", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "MASTERCARD"},
	{ID: "amex", Label: "American Express", PAN: "378282246310005", Expiry: "2810", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "AMEX"},
	{ID: "maestro", Label: "Maestro", PAN: "6759649826438453", Expiry: "2807", ServiceCode: "221", Holder: "TEST HOLDER", Brand: "MAESTRO"},
	{ID: "mir", Label: "Mir", PAN: "2200000000000004", Expiry: "2809", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "MIR"},
	{ID: "visa-expired", Label: "Visa (expired)", PAN: "4000000000000002", Expiry: "2201", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "VISA"},
	{ID: "unreadable", Label: "Damaged chip (unreadable)", PAN: "4111111111111111", Expiry: "2812", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "VISA", Unreadable: true},
	{ID: "garbled", Label: "Bad swipe (garbled track data)", PAN: "4111111111111121", Expiry: "2812", ServiceCode: "201", Holder: "TEST HOLDER", Brand: "VISA", Garbled: true},
}

// Catalogue returns the test cards, the default (Visa) first.
func Catalogue() []Card { return append([]Card(nil), catalogue...) }

// CardByID finds a catalogue card; the id is case-insensitive.
func CardByID(id string) (Card, bool) {
	for _, c := range catalogue {
		if strings.EqualFold(c.ID, id) {
			return c, true
		}
	}
	return Card{}, false
}

// String shows the card without its full number, so a Card that ends up in a log line or an
// error message does not leak it.
func (c Card) String() string { return c.ID + " " + maskPAN(c.PAN) }

// GoString covers %#v, which does not use String.
func (c Card) GoString() string { return "virtual.Card{" + c.String() + "}" }

// LogValue covers slog, which would otherwise print every field.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("pan", maskPAN(c.PAN)))
}

func maskPAN(pan string) string {
	if len(pan) < 10 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// validate checks what the reader needs to build a block, without quoting the number.
func (c Card) validate() error {
	switch {
	case len(c.PAN) < 12 || len(c.PAN) > 19 || !allDigits(c.PAN):
		return fmt.Errorf("card %q: card number must be 12-19 digits", c.ID)
	case len(c.Expiry) != 4 || !allDigits(c.Expiry):
		return fmt.Errorf("card %q: expiry %q is not YYMM", c.ID, c.Expiry)
	case len(c.ServiceCode) != 3 || !allDigits(c.ServiceCode):
		return fmt.Errorf("card %q: service code %q is not 3 digits", c.ID, c.ServiceCode)
	}
	return nil
}

// track2 is the clear card block before padding (see the package doc).
func (c Card) track2() string { return c.PAN + "=" + c.Expiry + c.ServiceCode + "1000000" }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Luhn reports whether pan is 12-19 digits and passes the Luhn check.
func Luhn(pan string) bool {
	if len(pan) < 12 || len(pan) > 19 || !allDigits(pan) {
		return false
	}
	sum, double := 0, false
	for i := len(pan) - 1; i >= 0; i-- {
		d := int(pan[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
