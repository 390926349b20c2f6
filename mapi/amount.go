package mapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Amount is money in minor units (cents). The wire carries major units with a "." and at most
// two decimals ("10.42"); signing strings carry minor units ("1042", §2.1).
type Amount int64

// maxAmountLen is the gateway's field length for amount (§3.2).
const maxAmountLen = 10

// MaxAmount is the largest amount whose wire form ("9999999.99") fits that field.
const MaxAmount Amount = 999_999_999

// ErrBadAmount is wrapped by every ParseAmount error.
var ErrBadAmount = errors.New("bad amount")

// ParseAmount reads a major-unit decimal such as "10.42", "10.4" or "10". It refuses
// negatives, signs, exponents, more than two decimals, separators other than "." and values
// longer than the gateway accepts.
func ParseAmount(s string) (Amount, error) {
	if s == "" || len(s) > maxAmountLen {
		return 0, fmt.Errorf("%w: %q must be 1 to %d characters", ErrBadAmount, s, maxAmountLen)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || hasDot && (frac == "" || len(frac) > 2 || !allDigits(frac)) {
		return 0, fmt.Errorf("%w: %q is not a decimal with at most two places", ErrBadAmount, s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || Amount(n) > MaxAmount {
		return 0, fmt.Errorf("%w: %q is more than %s", ErrBadAmount, s, MaxAmount)
	}
	return Amount(n), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String renders major units with two decimals: 1042 → "10.42".
func (a Amount) String() string {
	sign := ""
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s%d.%02d", sign, a/100, a%100)
}

// Minor renders minor units, the form used inside control checksums: 1042 → "1042".
func (a Amount) Minor() string { return strconv.FormatInt(int64(a), 10) }
