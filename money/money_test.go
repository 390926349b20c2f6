package money_test

import (
	"errors"
	"testing"

	"github.com/example/mposportal/money"
)

func TestMinorUnitsFollowISO4217(t *testing.T) {
	for cur, want := range map[string]int{"EUR": 2, "USD": 2, "JPY": 0, "KRW": 0, "ISK": 0, "KWD": 3, "BHD": 3, "TND": 3, "CLF": 4, "XYZ": 2} {
		if got := money.MinorUnits(cur); got != want {
			t.Errorf("MinorUnits(%s) = %d, want %d", cur, got, want)
		}
	}
}

func TestPlainRoundTrips(t *testing.T) {
	for _, tt := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{110004566, "EUR", "1100045.66"}, {5, "EUR", "0.05"}, {-500, "EUR", "-5.00"}, {0, "EUR", "0.00"},
		{1042, "JPY", "1042"}, {0, "JPY", "0"}, {-7, "JPY", "-7"},
		{1042, "KWD", "1.042"}, {5, "KWD", "0.005"}, {110004566, "KWD", "110004.566"},
	} {
		if got := money.Plain(tt.minor, tt.currency); got != tt.want {
			t.Errorf("Plain(%d, %s) = %q, want %q", tt.minor, tt.currency, got, tt.want)
		}
		if tt.minor < 0 {
			continue
		}
		if back, err := money.ParsePlain(tt.want, tt.currency); err != nil || back != tt.minor {
			t.Errorf("ParsePlain(%q, %s) = %d, %v", tt.want, tt.currency, back, err)
		}
	}
	for _, tt := range []struct{ in, currency string }{{"10.5", "JPY"}, {"1.0000", "KWD"}, {"10.421", "EUR"}, {"1,00", "EUR"}, {"-1", "EUR"}, {"", "EUR"}, {"1234567890123456", "JPY"}} {
		if _, err := money.ParsePlain(tt.in, tt.currency); !errors.Is(err, money.ErrSyntax) {
			t.Errorf("ParsePlain(%q, %s) = %v, want ErrSyntax", tt.in, tt.currency, err)
		}
	}
}

func TestFormatPerCurrencyAndLocale(t *testing.T) {
	const nb = "\u00a0"
	for _, tt := range []struct {
		locale, currency string
		minor            int64
		want             string
	}{
		{"", "EUR", 110004566, "1,100,045.66" + nb + "EUR"},
		{"en-GB", "EUR", 5, "0.05" + nb + "EUR"},
		{"en", "EUR", -123456, "−1,234.56" + nb + "EUR"},
		{"lv-LV", "EUR", 110004566, "1" + nb + "100" + nb + "045,66" + nb + "EUR"},
		{"de-DE", "EUR", 110004566, "1.100.045,66" + nb + "EUR"},
		{"de-CH", "EUR", 110004566, "1’100’045.66" + nb + "EUR"},
		{"en", "JPY", 1234567, "1,234,567" + nb + "JPY"},
		{"ja-JP", "JPY", 500, "500" + nb + "JPY"},
		{"lv-LV", "JPY", 1234567, "1" + nb + "234" + nb + "567" + nb + "JPY"},
		{"en", "KWD", 1234567, "1,234.567" + nb + "KWD"},
		{"ar-KW", "KWD", 5, "0.005" + nb + "KWD"},
		{"de-DE", "KWD", 1234567, "1.234,567" + nb + "KWD"},
	} {
		l, err := money.ParseLocale(tt.locale)
		if err != nil {
			t.Fatalf("ParseLocale(%q): %v", tt.locale, err)
		}
		if got := l.Format(tt.minor, tt.currency); got != tt.want {
			t.Errorf("%s Format(%d, %s) = %q, want %q", tt.locale, tt.minor, tt.currency, got, tt.want)
		}
	}
}

func TestParseReadsWhatPeopleType(t *testing.T) {
	for _, tt := range []struct {
		locale, currency, in string
		want                 int64
	}{
		{"en", "EUR", "10.42", 1042}, {"en", "EUR", "10,42", 1042}, {"en", "EUR", "10", 1000}, {"en", "EUR", " 7.5 ", 750},
		{"en", "EUR", "1,234.50", 123450}, {"en", "EUR", "1,234", 123400}, {"en", "EUR", "1 234.50", 123450},
		{"lv-LV", "EUR", "1 234,50", 123450}, {"lv-LV", "EUR", "1\u00a0234,50", 123450}, {"lv-LV", "EUR", "10.42", 1042},
		{"de-DE", "EUR", "1.234,50", 123450}, {"de-DE", "EUR", "1.234", 123400}, {"de-DE", "EUR", "10.42", 1042}, {"de-DE", "EUR", "10,42", 1042},
		{"de-CH", "EUR", "1’234.50", 123450},
		{"en", "JPY", "1042", 1042}, {"en", "JPY", "1,000", 1000}, {"de-DE", "JPY", "1.000", 1000}, {"lv-LV", "JPY", "12 345", 12345},
		{"en", "KWD", "1.042", 1042}, {"en", "KWD", "10.5", 10500}, {"en", "KWD", "1,234.567", 1234567}, {"de-DE", "KWD", "1,042", 1042},
		{"lv-LV", "KWD", "0,001", 1},
	} {
		l := money.MustLocale(tt.locale)
		got, err := l.Parse(tt.in, tt.currency)
		if err != nil || got != tt.want {
			t.Errorf("%s Parse(%q, %s) = %d, %v; want %d", tt.locale, tt.in, tt.currency, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ locale, currency, in string }{
		{"en", "EUR", ""}, {"en", "EUR", "ten"}, {"en", "EUR", "-5"}, {"en", "EUR", "0"}, {"en", "EUR", "0.00"},
		{"en", "EUR", "10.421"}, {"en", "EUR", "1,2,3"}, {"en", "EUR", "1.234,5.6"}, {"en", "EUR", "12 34"}, {"en", "EUR", "1e3"},
		{"en", "EUR", "€10"}, {"en", "EUR", "1000000.00"}, {"en", "EUR", "10..42"},
		{"en", "JPY", "10.5"}, {"lv-LV", "JPY", "1,000"}, {"en", "KWD", "1.0425"}, {"lv-LV", "EUR", "1,234"},
	} {
		got, err := money.MustLocale(tt.locale).Parse(tt.in, tt.currency)
		var pe *money.ParseError
		if !errors.As(err, &pe) || pe.Message == "" {
			t.Errorf("%s Parse(%q, %s) = %d, %v; want a ParseError", tt.locale, tt.in, tt.currency, got, err)
		}
	}
	if _, err := money.MustLocale("en").Parse("10.5", "JPY"); err == nil || err.Error() != "Enter a whole amount such as 1042 (JPY has no decimals)." {
		t.Errorf("JPY message = %v", err)
	}
	if _, err := money.MustLocale("lv-LV").Parse("1,2345", "KWD"); err == nil || err.Error() != "Enter an amount such as 10,420 (at most 3 decimals)." {
		t.Errorf("KWD message = %v", err)
	}
}

func TestInputReadsBack(t *testing.T) {
	for _, tag := range []string{"en", "lv-LV", "de-DE", "de-CH"} {
		l := money.MustLocale(tag)
		for _, cur := range []string{"EUR", "JPY", "KWD"} {
			for _, minor := range []int64{1, 1042, 99_999_999} {
				if back, err := l.Parse(l.Input(minor, cur), cur); err != nil || back != minor {
					t.Errorf("%s %s: Input(%d) = %q reads back as %d, %v", tag, cur, minor, l.Input(minor, cur), back, err)
				}
				if back, err := l.Parse(l.Number(minor, cur), cur); err != nil || back != minor {
					t.Errorf("%s %s: Number(%d) = %q reads back as %d, %v", tag, cur, minor, l.Number(minor, cur), back, err)
				}
			}
		}
	}
}

func TestParseLocaleRefusesWhatItCannotRead(t *testing.T) {
	for _, tag := range []string{"not a tag", "ar", "en-IN"} {
		if _, err := money.ParseLocale(tag); err == nil {
			t.Errorf("ParseLocale(%q) accepted", tag)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.42", "1 234,50", "1.234", "1,000", "0,001", "-1", "1e3"} {
		f.Add(s, "en", "EUR")
		f.Add(s, "lv-LV", "JPY")
		f.Add(s, "de-DE", "KWD")
	}
	f.Fuzz(func(t *testing.T, s, tag, cur string) {
		l, err := money.ParseLocale(tag)
		if err != nil {
			return
		}
		n, err := l.Parse(s, cur)
		if err != nil {
			return
		}
		if n <= 0 || n > money.MaxPayment {
			t.Fatalf("Parse(%q) = %d: out of range", s, n)
		}
		if back, err := l.Parse(l.Number(n, cur), cur); err != nil || back != n {
			t.Fatalf("Parse(%q) = %d, but %q reads back as %d, %v", s, n, l.Number(n, cur), back, err)
		}
	})
}
