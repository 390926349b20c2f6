package sandbox

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/example/mposportal/dukpt"
)

// card is what the gateway learns from a decrypted card block. The clear PAN lives only in
// this value during one request: it is never stored and never logged.
type card struct {
	pan         string
	bin, last4  string
	brand       string
	expMonth    string
	expYear     string // four digits
	serviceCode string
}

var errCardData = errors.New("card data cannot be decrypted or read")

// decryptCard decrypts encrypted-data with the reader's BDK and the sent KSN and parses it.
// A KSN that does not belong to the reader, garbage, or a block that is not track-2 data all
// give errCardData (error code 6).
func decryptCard(r reader, ksnHex, dataHex string) (card, error) {
	ksn, err := dukpt.ParseKSN(ksnHex)
	if err != nil {
		return card{}, fmt.Errorf("%w: %v", errCardData, err)
	}
	if !strings.EqualFold(ksn.Initial().String(), r.IKSN) {
		return card{}, fmt.Errorf("%w: KSN %s does not belong to reader %s", errCardData, ksn, r.Serial)
	}
	ct, err := hex.DecodeString(dataHex)
	if err != nil {
		return card{}, fmt.Errorf("%w: encrypted-data is not hex", errCardData)
	}
	bdk, err := hex.DecodeString(r.BDK)
	if err != nil {
		return card{}, fmt.Errorf("sandbox: reader %s key: %w", r.Serial, err)
	}
	plain, err := dukpt.DecryptData(bdk, ksn, ct)
	if err != nil {
		return card{}, fmt.Errorf("%w: %v", errCardData, err)
	}
	c, err := parseCardBlock(plain)
	clear(plain)
	return c, err
}

// parseCardBlock reads the track-2 equivalent block "PAN=YYMMSSS…" padded with NUL bytes.
func parseCardBlock(b []byte) (card, error) {
	b = bytes.TrimRight(b, "\x00")
	s := string(b)
	pan, rest, ok := strings.Cut(s, "=")
	switch {
	case !ok:
		return card{}, fmt.Errorf("%w: no field separator", errCardData)
	case len(pan) < 12 || len(pan) > 19 || !digits(pan):
		return card{}, fmt.Errorf("%w: card number is not 12-19 digits", errCardData)
	case !luhn(pan):
		return card{}, fmt.Errorf("%w: card number fails the check digit", errCardData)
	case len(rest) < 7 || len(rest) > 30 || !digits(rest):
		return card{}, fmt.Errorf("%w: expiry and service code missing", errCardData)
	}
	mm, _ := strconv.Atoi(rest[2:4])
	if mm < 1 || mm > 12 {
		return card{}, fmt.Errorf("%w: expiry month %s", errCardData, rest[2:4])
	}
	return card{pan: pan, bin: pan[:6], last4: pan[len(pan)-4:], brand: brand(pan),
		expMonth: rest[2:4], expYear: "20" + rest[0:2], serviceCode: rest[4:7]}, nil
}

// expired reports whether the card's expiry month has passed at now.
func (c card) expired(now time.Time) bool {
	y, _ := strconv.Atoi(c.expYear)
	m, _ := strconv.Atoi(c.expMonth)
	// A card is valid through the last day of its expiry month.
	return !now.Before(time.Date(y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC))
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func luhn(pan string) bool {
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

// brand names the card scheme from the BIN ranges.
func brand(pan string) string {
	p := func(n int) int { v, _ := strconv.Atoi(pan[:n]); return v }
	switch {
	case p(4) >= 2200 && p(4) <= 2204:
		return "MIR"
	case p(4) >= 2221 && p(4) <= 2720, p(2) >= 51 && p(2) <= 55:
		return "MASTERCARD"
	case pan[0] == '4':
		return "VISA"
	case p(2) == 34 || p(2) == 37:
		return "AMEX"
	case p(4) == 6011 || p(2) == 65:
		return "DISCOVER"
	case p(4) >= 3528 && p(4) <= 3589:
		return "JCB"
	case p(2) == 50 || p(2) >= 56 && p(2) <= 58 || p(4) == 6304 || p(2) == 67:
		return "MAESTRO"
	}
	return "UNKNOWN"
}
