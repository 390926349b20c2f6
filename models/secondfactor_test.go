package models_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/pquerna/otp/totp"
)

// RFC 6238 appendix B: the SHA-1 secret "12345678901234567890" at 59 s is 94287082, whose last
// six digits an authenticator shows.
func TestTOTPStepRFC6238Vector(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32 of "12345678901234567890"
	at := time.Unix(59, 0)
	if step, ok := models.TOTPStep(secret, "287082", at); !ok || step != 1 {
		t.Errorf("RFC 6238 vector: step %d, %v; want step 1", step, ok)
	}
	// One step either side is allowed for a phone's clock; two are not.
	if _, ok := models.TOTPStep(secret, "287082", at.Add(30*time.Second)); !ok {
		t.Error("the previous step's code refused")
	}
	if _, ok := models.TOTPStep(secret, "287082", at.Add(90*time.Second)); ok {
		t.Error("a code three steps old accepted")
	}
	for _, bad := range []string{"", "28708", "2870821", "28708a", "287 082"} {
		if _, ok := models.TOTPStep(secret, bad, at); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSecondFactorsEnrolVerifyReset(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	users := &models.Users{DB: db}
	f := &models.SecondFactors{DB: db}
	u := models.User{Username: "ada", Name: "Ada", Role: models.RoleAdmin, PasswordHash: "x"}
	if err := users.Create(ctx, &u); err != nil {
		t.Fatal(err)
	}
	key, err := models.NewTOTPKey("mPOS portal", "ada")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 10, 0, time.UTC)
	code, _ := totp.GenerateCode(key.Secret(), now)
	step, ok := models.TOTPStep(key.Secret(), code, now)
	if !ok {
		t.Fatal("the app's code does not match its key")
	}
	if _, _, err := f.Verify(ctx, u, code, now); !errors.Is(err, models.ErrBadCode) {
		t.Errorf("verify before enrolment: %v", err)
	}
	codes, err := f.Enrol(ctx, u.ID, key.Secret(), step, now)
	if err != nil || len(codes) != models.RecoveryCodeCount {
		t.Fatalf("enrol: %d codes, %v", len(codes), err)
	}
	u, _ = users.ByID(ctx, u.ID)
	if !u.HasSecondFactor() {
		t.Fatal("no second factor after enrolment")
	}
	// The enrolment's own code is spent; the next step's code works once, even when two
	// instances check it at the same moment.
	if _, _, err := f.Verify(ctx, u, code, now); !errors.Is(err, models.ErrBadCode) {
		t.Errorf("the enrolment's code again: %v", err)
	}
	later := now.Add(models.TOTPPeriod)
	next, _ := totp.GenerateCode(key.Secret(), later)
	var wg sync.WaitGroup
	results := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, _, err := f.Verify(ctx, u, next, later)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	var accepted int
	for err := range results {
		if err == nil {
			accepted++
		} else if !errors.Is(err, models.ErrBadCode) {
			t.Errorf("verify: %v", err)
		}
	}
	if accepted != 1 {
		t.Errorf("one code accepted %d times", accepted)
	}
	// A recovery code: any case and spacing, once.
	recovery, left, err := f.Verify(ctx, u, " "+strings.ToUpper(codes[3])+" ", later)
	if err != nil || !recovery || left != models.RecoveryCodeCount-1 {
		t.Errorf("recovery code: %v, %d left, %v", recovery, left, err)
	}
	if _, _, err := f.Verify(ctx, u, codes[3], later); !errors.Is(err, models.ErrBadCode) {
		t.Errorf("a spent recovery code: %v", err)
	}
	// Another user's codes do not work for this one.
	other := models.User{Username: "bob", Name: "Bob", Role: models.RoleManager, PasswordHash: "x"}
	users.Create(ctx, &other)
	otherCodes, _ := f.Enrol(ctx, other.ID, key.Secret(), step, now)
	if _, _, err := f.Verify(ctx, u, otherCodes[0], later); !errors.Is(err, models.ErrBadCode) {
		t.Errorf("another user's recovery code: %v", err)
	}
	// A whole-row update from an old copy does not undo the second factor.
	stale := u
	stale.Name = "Ada L."
	if err := users.Update(ctx, &stale); err != nil {
		t.Fatal(err)
	}
	if got, _ := users.ByID(ctx, u.ID); !got.HasSecondFactor() || got.TOTPLastStep <= step {
		t.Errorf("an update undid the second factor: %+v", got)
	}
	// Reset removes the factor and the codes and ends the sessions.
	epoch := u.SessionEpoch
	if err := f.Reset(ctx, u, models.Actor{ID: 9, Name: "root"}); err != nil {
		t.Fatal(err)
	}
	got, _ := users.ByID(ctx, u.ID)
	if got.HasSecondFactor() || got.SessionEpoch != epoch+1 {
		t.Errorf("after reset: factor %v, epoch %d", got.HasSecondFactor(), got.SessionEpoch)
	}
	if n, _ := f.RecoveryLeft(ctx, u.ID); n != 0 {
		t.Errorf("%d recovery codes after reset", n)
	}
	if n, _ := f.RecoveryLeft(ctx, other.ID); n != models.RecoveryCodeCount {
		t.Errorf("the other user's codes: %d", n)
	}
	if err := f.Reset(ctx, models.User{ID: 999}, models.Actor{ID: 9, Name: "root"}); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("reset of no one: %v", err)
	}
}
