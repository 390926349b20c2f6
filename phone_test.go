package main

import (
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/pquerna/otp/totp"
)

// phone is the authenticator app of the tests' administrators: it knows their secrets and, like
// a person waiting for the next code, never offers a code the portal has already accepted.
type phone struct {
	mu      sync.Mutex
	secrets map[string]string
	last    map[string]int64 // the last step whose code was used, per user
}

func newPhone() *phone { return &phone{secrets: map[string]string{}, last: map[string]int64{}} }

// add remembers a user's secret; step is the step of the code that set it up (0: none used).
func (p *phone) add(user, secret string, step int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secrets[user], p.last[user] = secret, step
}

// has reports whether the user signs in with a code.
func (p *phone) has(user string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.secrets[user]
	return ok
}

// code is the user's next unused code. The portal accepts the step before and after the current
// one; when those are spent, it waits for the clock to reach the next (at most one step).
func (p *phone) code(t testing.TB, user string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	secret, ok := p.secrets[user]
	if !ok {
		t.Fatalf("the phone has no authenticator for %s", user)
	}
	period := int64(models.TOTPPeriod / time.Second)
	step := max(time.Now().Unix()/period, p.last[user]+1)
	if ahead := time.Unix((step-1)*period, 0); time.Now().Before(ahead) {
		time.Sleep(time.Until(ahead)) // a deadline: the portal accepts this step from then on
	}
	code, err := totp.GenerateCode(secret, time.Unix(step*period, 0))
	if err != nil {
		t.Fatal(err)
	}
	p.last[user] = step
	return code
}
