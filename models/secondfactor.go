package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"
)

// The second factor is a time-based one-time password (RFC 6238: 6 digits, 30-second steps,
// SHA-1, as every authenticator app reads it), or one of ten recovery codes for a lost phone.

// TOTPPeriod is the length of one code's step.
const TOTPPeriod = 30 * time.Second

// RecoveryCodeCount is how many recovery codes a user gets at enrolment.
const RecoveryCodeCount = 10

// ErrBadCode means a second-factor code is wrong, already used, or the user has none.
var ErrBadCode = errors.New("models: wrong or already used code")

// RecoveryCode is one single-use recovery code, stored as a SHA-256 hash: the codes carry 50
// random bits, so a fast hash is enough and checking ten of them stays cheap.
type RecoveryCode struct {
	ID     uint   `gorm:"primaryKey"`
	UserID uint   `gorm:"index;not null"`
	Hash   string `gorm:"size:64;not null"`
	UsedAt *time.Time
}

// NeedsSecondFactor reports whether the role must sign in with a second factor (PCI DSS 8.4:
// administrative access to the payment environment).
func (r Role) NeedsSecondFactor() bool { return r == RoleAdmin || r == RoleManager }

// HasSecondFactor reports whether the user has set up an authenticator app.
func (u User) HasSecondFactor() bool { return u.TOTPSecret != "" && u.TOTPEnabledAt != nil }

// NewTOTPKey makes a fresh secret for username, for the enrolment page's QR code.
func NewTOTPKey(issuer, username string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: username, Period: uint(TOTPPeriod / time.Second)})
	if err != nil {
		return nil, fmt.Errorf("models: totp key: %w", err)
	}
	return k, nil
}

// TOTPStep returns the time step whose code is code, looking one step either side of now for
// a phone clock a little off; ok is false when no step matches.
func TOTPStep(secret, code string, now time.Time) (step int64, ok bool) {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	opts := totp.ValidateOpts{Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for _, d := range []int64{0, -1, 1} {
		at := now.Add(time.Duration(d) * TOTPPeriod)
		want, err := totp.GenerateCodeCustom(secret, at, opts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return at.Unix() / int64(TOTPPeriod/time.Second), true
		}
	}
	return 0, false
}

// NormalizeCode strips what people type around a code: spaces, dashes, upper case.
func NormalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// recoveryAlphabet has no look-alikes (no 0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newRecoveryCode is ten characters shown as "xxxxx-xxxxx".
func newRecoveryCode() string {
	out := make([]byte, 0, 11)
	b := make([]byte, 1)
	for len(out) < 11 {
		if len(out) == 5 {
			out = append(out, '-')
		}
		rand.Read(b)
		if int(b[0]) >= 256/len(recoveryAlphabet)*len(recoveryAlphabet) {
			continue // rejected, so every character is equally likely
		}
		out = append(out, recoveryAlphabet[int(b[0])%len(recoveryAlphabet)])
	}
	return string(out)
}

func hashRecoveryCode(normalized string) string {
	h := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(h[:])
}

// SecondFactors keeps users' authenticator secrets and recovery codes.
type SecondFactors struct{ DB *gorm.DB }

// Enrol stores a confirmed secret for the user (the code at step proved the phone has it),
// replaces any recovery codes with new ones and returns them, to be shown once.
func (s *SecondFactors) Enrol(ctx context.Context, userID uint, secret string, step int64, now time.Time) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	rows := make([]RecoveryCode, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		rows[i] = RecoveryCode{UserID: userID, Hash: hashRecoveryCode(NormalizeCode(codes[i]))}
	}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", userID).Updates(map[string]any{
			"totp_secret": secret, "totp_enabled_at": now.UTC(), "totp_last_step": step})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		if err := tx.Where("user_id = ?", userID).Delete(&RecoveryCode{}).Error; err != nil {
			return err
		}
		return tx.Create(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("models: enrol second factor for user %d: %w", userID, err)
	}
	return codes, nil
}

// Verify checks a code from the sign-in form: an authenticator code, accepted once (a code seen
// before, even on another instance, is refused: RFC 6238 §5.2), or an unused recovery code,
// which is then spent. It says which it was and how many recovery codes are left.
func (s *SecondFactors) Verify(ctx context.Context, u User, input string, now time.Time) (recovery bool, left int64, err error) {
	if !u.HasSecondFactor() {
		return false, 0, ErrBadCode
	}
	code := NormalizeCode(input)
	if len(code) > 32 {
		return false, 0, ErrBadCode
	}
	db := s.DB.WithContext(ctx)
	if step, ok := TOTPStep(u.TOTPSecret, code, now); ok {
		// One statement, so two instances cannot both accept the same code.
		res := db.Model(&User{}).Where("id = ? AND totp_last_step < ?", u.ID, step).Update("totp_last_step", step)
		if res.Error != nil {
			return false, 0, fmt.Errorf("models: second factor for user %d: %w", u.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return false, 0, ErrBadCode
		}
		return false, 0, nil
	}
	if len(code) != 10 {
		return false, 0, ErrBadCode
	}
	res := db.Model(&RecoveryCode{}).Where("user_id = ? AND hash = ? AND used_at IS NULL", u.ID, hashRecoveryCode(code)).Update("used_at", now.UTC())
	if res.Error != nil {
		return false, 0, fmt.Errorf("models: recovery code for user %d: %w", u.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return false, 0, ErrBadCode
	}
	left, err = s.RecoveryLeft(ctx, u.ID)
	return true, left, err
}

// RecoveryLeft counts the user's unused recovery codes.
func (s *SecondFactors) RecoveryLeft(ctx context.Context, userID uint) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&RecoveryCode{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	return n, err
}

// Reset removes the user's second factor and recovery codes and ends every session of the
// user; with a role that needs one, the next sign-in sets a new one up. It is audited
// (user.second_factor_reset) with by, in the same transaction.
func (s *SecondFactors) Reset(ctx context.Context, u User, by Actor) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
			"totp_secret": "", "totp_enabled_at": nil, "totp_last_step": 0,
			"session_epoch": gorm.Expr("session_epoch + 1")})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&RecoveryCode{}).Error; err != nil {
			return err
		}
		return recordIn(tx, by.Event("user.second_factor_reset", u.Username, "authenticator and recovery codes removed, sessions ended"), time.Now())
	})
}

// TOTPKeyFor rebuilds the key of a secret being set up, to draw its QR code again.
func TOTPKeyFor(issuer, username, secret string) (*otp.Key, error) {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("period", strconv.Itoa(int(TOTPPeriod/time.Second)))
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + username, RawQuery: v.Encode()}
	k, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("models: totp key: %w", err)
	}
	return k, nil
}
