package web

import (
	"testing"
	"time"
)

// One address guessing a user's password slows itself down, never the user signing in from
// elsewhere; many addresses on one user slow that user down only after far more failures.
func TestThrottleCannotLockAUserOutFromOneAddress(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	th := newThrottle(func() time.Time { return now })
	keys := func(ip, user string) []string {
		return []string{"ipuser:" + ip + "|" + user, "ip:" + ip, "user:" + user}
	}
	// The attacker tries every 5 seconds for an hour; it gets about one guess per 30 s.
	guesses := 0
	for range 720 {
		if th.blocked(keys("203.0.113.9", "admin")...) == 0 {
			th.failed(keys("203.0.113.9", "admin")...)
			guesses++
		}
		now = now.Add(5 * time.Second)
	}
	if guesses > 5+3600/30+1 {
		t.Errorf("the attacker's address made %d guesses in an hour", guesses)
	}
	if wait := th.blocked(keys("198.51.100.7", "admin")...); wait != 0 {
		t.Errorf("the admin from another address must wait %s", wait)
	}
	// Five failures in a row from one address on one user: that pair waits.
	for range 5 {
		th.failed(keys("192.0.2.1", "staff")...)
	}
	if th.blocked(keys("192.0.2.1", "staff")...) == 0 {
		t.Error("five failures in a row are not slowed down")
	}
	// Many addresses on one user: after fifty failures the user's key slows everyone down.
	for i := range 60 {
		th.failed(keys("10.0.0."+string(rune('0'+i%10))+string(rune('0'+i/10)), "kim")...)
	}
	if th.blocked(keys("198.51.100.8", "kim")...) == 0 {
		t.Error("a distributed guess on one user is not slowed down")
	}
}
