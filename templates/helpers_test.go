package templates

import (
	"context"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// Times are shown in the store's zone with the zone's name, on both sides of the 2026
// daylight-saving changes in Riga (29 March 03:00 EET → 04:00 EEST; 25 October 04:00 EEST
// → 03:00 EET).
func TestTimesInTheStoreZoneAcrossDaylightSaving(t *testing.T) {
	riga, err := time.LoadLocation("Europe/Riga")
	if err != nil {
		t.Skip("no time zone database")
	}
	ctx := WithChrome(context.Background(), Chrome{Zone: riga})
	for utc, want := range map[string]string{
		"2026-03-29T00:59:59Z": "2026-03-29 02:59:59 EET",
		"2026-03-29T01:00:00Z": "2026-03-29 04:00:00 EEST",
		"2026-10-25T00:59:59Z": "2026-10-25 03:59:59 EEST",
		"2026-10-25T01:00:00Z": "2026-10-25 03:00:00 EET",
		"2026-11-27T02:00:00Z": "2026-11-27 04:00:00 EET",
	} {
		at, _ := time.Parse(time.RFC3339, utc)
		if got := when(ctx, at); got != want {
			t.Errorf("when(%s) = %q, want %q", utc, got, want)
		}
	}
	if got := when(ctx, time.Time{}); got != "—" {
		t.Errorf("zero time: %q", got)
	}
	at, _ := time.Parse(time.RFC3339Nano, "2026-03-29T01:00:00.123Z")
	if got := whenMillis(ctx, at); got != "2026-03-29 04:00:00.123 EEST" {
		t.Errorf("whenMillis = %q", got)
	}
}

func TestReconciliationWords(t *testing.T) {
	for _, c := range []struct {
		close models.CloseDay
		want  string
	}{
		{models.CloseDay{}, "—"},
		{models.CloseDay{Code39: "00"}, "Reconciled"},
		{models.CloseDay{Code39: "95", Mismatch: true}, "Totals differ (bank code 95)"},
		{models.CloseDay{Code39: "95", Mismatch: true, Explained: true}, "Totals differed (bank code 95), explained"},
		{models.CloseDay{Code39: "00", Mismatch: true}, "Totals differ (bank code 00)"},
		{models.CloseDay{Code39: "12"}, "Bank code 12"},
	} {
		if got := reconciliation(c.close); got != c.want {
			t.Errorf("%+v: %q, want %q", c.close, got, c.want)
		}
	}
}
