// Package money is how the portal writes and reads amounts: the ISO 4217 minor units of each
// currency (JPY has none, KWD three), amounts shown the way the store's locale writes them
// ("1 100 045,66 EUR" in Latvian, "1,100,045.66 EUR" in English), what people type at the
// counter read back the same way, and the largest single payment. It depends on nothing in the
// portal, so the gateway client, the models and the pages all share it.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MinorUnits is currency's ISO 4217 minor unit: how many decimals its amounts have. Codes the
// table does not list have two, as most currencies do.
func MinorUnits(currency string) int {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	case "CLF", "UYW":
		return 4
	}
	return 2
}

// MaxPayment is the largest single card-present payment in minor units of any currency: it
// keeps a mistyped amount (an extra zero or two) from reaching the bank, and its wire form
// fits the gateway's 10-character field in every currency.
const MaxPayment = 99_999_999

// Plain writes minor units as a major-unit decimal with a "." and the currency's decimals and
// no grouping: 110004566 EUR → "1100045.66", 1042 JPY → "1042", 1042 KWD → "1.042". It is
// the form for machines: the gateway, CSV files, form values.
func Plain(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	places := MinorUnits(currency)
	s := strconv.FormatInt(minor, 10)
	if places == 0 {
		return sign + s
	}
	if len(s) <= places {
		s = strings.Repeat("0", places-len(s)+1) + s
	}
	return sign + s[:len(s)-places] + "." + s[len(s)-places:]
}

// ErrSyntax is wrapped by ParsePlain errors.
var ErrSyntax = errors.New("money: not an amount")

// ParsePlain reads Plain's form back: digits, then optionally "." and at most the currency's
// decimals. No sign, no grouping, no exponent.
func ParsePlain(s, currency string) (int64, error) {
	places := MinorUnits(currency)
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || hasDot && (frac == "" || len(frac) > places || !allDigits(frac)) {
		if places == 0 {
			return 0, fmt.Errorf("%w: %q is not a whole number (%s has no decimals)", ErrSyntax, s, currency)
		}
		return 0, fmt.Errorf("%w: %q is not a decimal with at most %d places", ErrSyntax, s, places)
	}
	if len(whole) > 15 {
		return 0, fmt.Errorf("%w: %q is too large", ErrSyntax, s)
	}
	n, err := strconv.ParseInt(whole+frac+strings.Repeat("0", places-len(frac)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrSyntax, s, err)
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
