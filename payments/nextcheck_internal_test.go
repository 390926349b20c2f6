package payments

import (
	"testing"
	"time"
)

// The poller's cadence is kept from when each check was due, within the protocol's "every
// 3–5 s": a late poller does not stretch the period, and never asks sooner than 3 s later.
func TestNextCheckKeepsTheCadence(t *testing.T) {
	due := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		due, now time.Time
		want     time.Time
	}{
		{"on time", due, due.Add(40 * time.Millisecond), due.Add(CheckEvery)},
		{"a little late", due, due.Add(900 * time.Millisecond), due.Add(CheckEvery)},
		{"very late: not sooner than 3 s", due, due.Add(4 * time.Second), due.Add(4*time.Second + FirstCheckAfter)},
		{"not on the schedule (a recheck)", time.Time{}, due, due.Add(CheckEvery)},
		{"run before it was due", due.Add(time.Minute), due, due.Add(CheckEvery)},
	} {
		if got := nextCheck(c.due, c.now); !got.Equal(c.want) {
			t.Errorf("%s: next %v, want %v", c.name, got, c.want)
		}
		if gap := nextCheck(c.due, c.now).Sub(c.now); gap < FirstCheckAfter || gap > CheckEvery {
			t.Errorf("%s: asked again after %v, outside 3–5 s", c.name, gap)
		}
	}
}
