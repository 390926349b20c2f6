package money

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// Locale is how a store writes numbers: its digit-group and decimal separators, taken from
// CLDR through golang.org/x/text. The zero Locale writes English ("1,234.56").
type Locale struct {
	Tag            string // BCP 47, as configured ("lv-LV"); "" for the default
	group, decimal string
}

// English is the default locale.
var English = Locale{group: ",", decimal: "."}

var locales sync.Map // tag string → Locale

// ParseLocale returns the locale named by a BCP 47 tag ("lv-LV", "de", "en-GB"); "" is English.
// Locales whose digits are not 0–9 are refused: amounts must be readable at every counter and
// in exports.
func ParseLocale(tag string) (Locale, error) {
	if tag == "" {
		return English, nil
	}
	if l, ok := locales.Load(tag); ok {
		return l.(Locale), nil
	}
	t, err := language.Parse(tag)
	if err != nil {
		return English, fmt.Errorf("money: locale %q: %w", tag, err)
	}
	// 1234567.5 written by the locale shows both separators: "1 234 567,5", "1.234.567,5".
	s := message.NewPrinter(t).Sprint(number.Decimal(1234567.5, number.Scale(1)))
	rest, ok1 := strings.CutPrefix(s, "1")
	group, rest, ok2 := strings.Cut(rest, "234")
	_, rest, ok3 := strings.Cut(rest, "567")
	decimal, ok4 := strings.CutSuffix(rest, "5")
	if !(ok1 && ok2 && ok3 && ok4) || decimal == "" || utf8.RuneCountInString(group) > 1 || utf8.RuneCountInString(decimal) != 1 {
		return English, fmt.Errorf("money: locale %q writes numbers as %q, which the portal does not support", tag, s)
	}
	l := Locale{Tag: tag, group: group, decimal: decimal}
	locales.Store(tag, l)
	return l, nil
}

// MustLocale is ParseLocale for tags known to be good; a bad one gives English.
func MustLocale(tag string) Locale {
	l, _ := ParseLocale(tag)
	return l
}

func (l Locale) separators() (group, decimal string) {
	if l.decimal == "" {
		return English.group, English.decimal
	}
	return l.group, l.decimal
}

// Number writes minor units of currency for people, grouped as the locale does, without the
// currency: 110004566 EUR → "1,100,045.66" (en), "1 100 045,66" (lv); -500 JPY → "-500".
func (l Locale) Number(minor int64, currency string) string {
	group, decimal := l.separators()
	plain := Plain(minor, currency)
	sign := ""
	if plain[0] == '-' {
		sign, plain = "−", plain[1:] // U+2212, the minus sign
	}
	whole, frac, _ := strings.Cut(plain, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteByte(whole[i])
	}
	if frac != "" {
		b.WriteString(decimal)
		b.WriteString(frac)
	}
	return b.String()
}

// Format writes an amount with its currency code: "1,100,045.66 EUR", "1 042 JPY".
func (l Locale) Format(minor int64, currency string) string {
	if currency == "" {
		return l.Number(minor, currency)
	}
	return l.Number(minor, currency) + "\u00a0" + currency
}

// DecimalSeparator is the locale's decimal separator: "." or ",".
func (l Locale) DecimalSeparator() string {
	_, decimal := l.separators()
	return decimal
}

// Input writes minor units the way Parse reads them back in a form field: the locale's
// decimal separator, no grouping ("10,42" in Latvian, "10.42" in English).
func (l Locale) Input(minor int64, currency string) string {
	_, decimal := l.separators()
	return strings.Replace(Plain(minor, currency), ".", decimal, 1)
}

// ParseError says why typed text is not an amount of the currency, in words for the person
// who typed it.
type ParseError struct{ Message string }

func (e *ParseError) Error() string { return e.Message }

// Parse reads an amount a person typed ("10.42", "10,42", "1 234,50", "1,234.50", "¥1,000"
// is not: no symbols) into minor units of currency, reading separators the way the locale
// writes them:
//   - spaces (and the locale's own group separator) between digit groups are ignored;
//   - with both "." and "," present, the last one is the decimal separator;
//   - a single kind of separator is grouping when it is the locale's group separator and every
//     group after it has three digits ("1,234" in English is 1234; "1.234" in German is 1234),
//     and the decimal separator otherwise ("10,42" is 10.42 everywhere);
//
// then the currency's decimals are enforced (none for JPY, three for KWD). Zero and negative
// amounts are refused here too: nobody pays nothing.
func (l Locale) Parse(s, currency string) (int64, error) {
	group, _ := l.separators()
	s = strings.TrimSpace(s)
	for _, sp := range []string{"\u00a0", "\u202f", "'", "’"} {
		s = strings.ReplaceAll(s, sp, " ")
	}
	places := MinorUnits(currency)
	bad := func() (int64, error) {
		if places == 0 {
			return 0, &ParseError{fmt.Sprintf("Enter a whole amount such as %s (%s has no decimals).", l.Input(1042, currency), currency)}
		}
		return 0, &ParseError{fmt.Sprintf("Enter an amount such as %s (at most %d decimals).", l.Input(1042*pow10(places-2), currency), places)}
	}
	groupSep, decSep := "", ""
	dot, comma := strings.LastIndex(s, "."), strings.LastIndex(s, ",")
	switch {
	case dot >= 0 && comma >= 0 && dot > comma:
		groupSep, decSep = ",", "."
	case dot >= 0 && comma >= 0:
		groupSep, decSep = ".", ","
	case dot >= 0 || comma >= 0:
		sep := "."
		if comma >= 0 {
			sep = ","
		}
		if sep == group && groupedByThree(strings.ReplaceAll(s, " ", sep), sep) {
			groupSep = sep
		} else {
			decSep = sep
		}
	}
	whole, frac, hasDec := s, "", false
	if decSep != "" {
		whole, frac, hasDec = strings.Cut(s, decSep)
	}
	if groupSep != "" || strings.Contains(whole, " ") {
		whole = strings.ReplaceAll(whole, " ", "|")
		if groupSep != "" {
			whole = strings.ReplaceAll(whole, groupSep, "|")
		}
		if !groupedByThree(whole, "|") {
			return bad()
		}
		whole = strings.ReplaceAll(whole, "|", "")
	}
	plain := whole
	if hasDec {
		plain += "." + frac
	}
	n, err := ParsePlain(plain, currency)
	switch {
	case err != nil:
		return bad()
	case n <= 0:
		return 0, &ParseError{"Enter an amount above zero."}
	case n > MaxPayment:
		return 0, &ParseError{fmt.Sprintf("A single payment is at most %s.", l.Format(MaxPayment, currency))}
	}
	return n, nil
}

// groupedByThree reports whether sep separates s into a first group of 1–3 digits followed by
// groups of exactly three: "1,234,567" but not "10,42" or "1,2345".
func groupedByThree(s, sep string) bool {
	parts := strings.Split(s, sep)
	if len(parts) < 2 || len(parts[0]) == 0 || len(parts[0]) > 3 || !allDigits(parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) != 3 || !allDigits(p) {
			return false
		}
	}
	return true
}

func pow10(n int) int64 {
	p := int64(1)
	for range max(n, 0) {
		p *= 10
	}
	return p
}
