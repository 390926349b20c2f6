// Package virtual provides virtual mPOS readers: they "read" a test card and hand out exactly
// what a real reader's SDK hands the app — the card data encrypted with TDES DUKPT under the
// reader's injected key, the KSN, and the few clear fields a receipt may show.
//
// The encrypted card block is the ASCII track-2 equivalent data "PAN=YYMMSSS" followed by
// discretionary digits, right-padded with 0x00 bytes to a multiple of 8, for example
// "4111111111111111=2812101000000" + "\x00\x00\x00". The gateway decrypts it with the BDK and
// the KSN and parses it on its own.
package virtual

import "strings"

// Card is a test card from the catalogue. PANs are the card schemes' public test numbers.
type Card struct {
	ID          string
	Label       string
	PAN         string
	Expiry      string // YYMM
	ServiceCode string
	Holder      string
	Brand       string
	// Unreadable makes the reader fail to read the card (a damaged chip).
	Unreadable bool
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
}

// Catalogue returns the test cards, the default (Visa) first.
func Catalogue() []Card { return append([]Card(nil), catalogue...) }

// CardByID finds a catalogue card.
func CardByID(id string) (Card, bool) {
	for _, c := range catalogue {
		if c.ID == strings.ToLower(id) {
			return c, true
		}
	}
	return Card{}, false
}

// track2 is the clear card block before padding.
func (c Card) track2() string { return c.PAN + "=" + c.Expiry + c.ServiceCode + "1000000" }

// Luhn reports whether pan passes the Luhn check.
func Luhn(pan string) bool {
	if len(pan) < 12 {
		return false
	}
	sum, double := 0, false
	for i := len(pan) - 1; i >= 0; i-- {
		d := int(pan[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
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
