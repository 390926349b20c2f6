package mapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/example/mposportal/money"
)

// Amount is money in minor units: cents for EUR, yen for JPY, fils for KWD. The wire carries
// major units with a "." and as many decimals as the currency has ("10.42" EUR, "1042" JPY,
// "10.420" KWD); signing strings carry minor units ("1042", §2.1).
type Amount int64

// maxAmountLen is the gateway's field length for amount (§3.2).
const maxAmountLen = 10

// MaxAmount is the largest amount of currency whose wire form fits the gateway's field:
// "9999999999" JPY, "9999999.99" EUR, "999999.999" KWD.
func MaxAmount(currency string) Amount {
	digits := maxAmountLen
	if money.MinorUnits(currency) > 0 {
		digits-- // the "."
	}
	n, _ := strconv.ParseInt(strings.Repeat("9", digits), 10, 64)
	return Amount(n)
}

// ErrBadAmount is wrapped by every ParseAmount error.
var ErrBadAmount = errors.New("bad amount")

// ParseAmount reads a major-unit decimal of currency such as "10.42", "10.4" or "10". It
// refuses negatives, signs, exponents, more decimals than the currency has (any for JPY),
// separators other than "." and values longer than the gateway accepts.
func ParseAmount(s, currency string) (Amount, error) {
	if s == "" || len(s) > maxAmountLen {
		return 0, fmt.Errorf("%w: %q must be 1 to %d characters", ErrBadAmount, s, maxAmountLen)
	}
	n, err := money.ParsePlain(s, currency)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadAmount, err)
	}
	if Amount(n) > MaxAmount(currency) {
		return 0, fmt.Errorf("%w: %q is more than %s", ErrBadAmount, s, MaxAmount(currency).Format(currency))
	}
	return Amount(n), nil
}

// ValidDecimal reports whether s has the shape of a wire amount in some currency: digits, at
// most one "." followed by 1 to 4 digits, no longer than the field. Messages that do not name
// their currency (callbacks, §6) are checked with it and read with ParseAmount once the
// payment, and so the currency, is known.
func ValidDecimal(s string) bool {
	whole, frac, hasDot := strings.Cut(s, ".")
	return s != "" && len(s) <= maxAmountLen && whole != "" && allDigits(whole) &&
		(!hasDot || frac != "" && len(frac) <= 4 && allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Format renders the amount in major units of currency, the wire form: 1042 → "10.42" EUR,
// "1042" JPY, "1.042" KWD.
func (a Amount) Format(currency string) string { return money.Plain(int64(a), currency) }

// Minor renders minor units, the form used inside control checksums: 1042 → "1042".
func (a Amount) Minor() string { return strconv.FormatInt(int64(a), 10) }
