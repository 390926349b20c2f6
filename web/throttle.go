package web

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// throttle slows down password guessing without letting anyone lock a user out from elsewhere.
// Keys are kinds of "who is trying": an address and username together ("ipuser:") may fail
// five times, an address on any usernames ("ip:") twenty, a username from all addresses
// together ("user:") fifty, and a user's second-factor codes ("mfa:") five; after that one more attempt per key is allowed every 30 seconds.
// One address alone never exhausts a username's budget (its own key refills no faster), so
// the right password from another address still signs in. A successful sign-in resets its
// address-and-username key. State is per instance and in memory: enough to make guessing slow,
// and it forgets keys idle for an hour.
type throttle struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]*throttleEntry
}

type throttleEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

const throttleEvery = 30 * time.Second

// burstFor is how many failures a key may have in a row.
func burstFor(key string) int {
	switch {
	case strings.HasPrefix(key, "ipuser:"), strings.HasPrefix(key, "pair:"), // pairing codes: per address
		strings.HasPrefix(key, "mfa:"): // second-factor codes: per user, after the right password
		return 5
	case strings.HasPrefix(key, "ip:"):
		return 20
	case strings.HasPrefix(key, "mail:"): // receipts e-mailed, per user: not a failure, a budget
		return 10
	case strings.HasPrefix(key, "callback:"): // callbacks that fail verification, per address
		return 30
	}
	return 50
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, keys: map[string]*throttleEntry{}}
}

// blocked returns how long the caller must wait before another attempt (0: go ahead).
func (t *throttle) blocked(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		e, ok := t.keys[k]
		if !ok {
			continue
		}
		if tokens := e.lim.TokensAt(now); tokens < 1 {
			w := time.Duration((1 - tokens) * float64(throttleEvery))
			wait = max(wait, w)
		}
	}
	return wait
}

// failed spends one attempt on every key.
func (t *throttle) failed(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, e := range t.keys {
		if now.Sub(e.seen) > time.Hour {
			delete(t.keys, k)
		}
	}
	for _, k := range keys {
		e, ok := t.keys[k]
		if !ok {
			e = &throttleEntry{lim: rate.NewLimiter(rate.Every(throttleEvery), burstFor(k))}
			t.keys[k] = e
		}
		e.seen = now
		e.lim.AllowN(now, 1)
	}
}

// reset forgets a key's failures.
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}
