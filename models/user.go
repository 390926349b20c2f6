package models

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Role is what a user may do.
type Role string

const (
	RoleAdmin   Role = "admin"   // manages users, readers, endpoints, close day
	RoleManager Role = "manager" // also captures, releases and refunds
	RoleStaff   Role = "staff"   // takes payments, views transactions
)

// User is a person who signs in to the portal.
type User struct {
	ID           uint `gorm:"primaryKey"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Username     string `gorm:"size:32;uniqueIndex;not null"` // lower-case
	Name         string `gorm:"size:64;not null"`
	PasswordHash string `gorm:"size:100;not null"`
	Role         Role   `gorm:"size:16;not null"`
	Disabled     bool   `gorm:"not null;default:false"`
	LastLoginAt  *time.Time
	LastReaderID uint // the reader this user last took a payment on: the counter offers it first
	// SessionEpoch is stamped into each session at sign-in; raising it ends every session of
	// the user (a password reset).
	SessionEpoch int `gorm:"not null;default:0"`
	// The second factor (secondfactor.go): the authenticator app's secret, when it was set up,
	// and the last time step whose code was accepted (a code works once).
	TOTPSecret    string     `gorm:"column:totp_secret;size:64;not null;default:''"`
	TOTPEnabledAt *time.Time `gorm:"column:totp_enabled_at"`
	TOTPLastStep  int64      `gorm:"column:totp_last_step;not null;default:0"`
	// TimeZone is the zone this user reads times in (an IANA name); "" = the store's.
	TimeZone string `gorm:"size:64;not null;default:''"`
}

// SetTimeZone records the zone the user reads times in ("" for the store's), and only that.
func (s *Users) SetTimeZone(ctx context.Context, u *User, zone string) error {
	if zone != "" {
		if _, err := time.LoadLocation(zone); err != nil || zone == "Local" {
			v := &ValidationError{}
			v.Add("time_zone", "Choose a time zone from the list.")
			return v
		}
	}
	if err := s.DB.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Update("time_zone", zone).Error; err != nil {
		return fmt.Errorf("models: time zone of %q: %w", u.Username, err)
	}
	u.TimeZone = zone
	return nil
}

// Name is the role as the portal's pages say it.
func (r Role) Name() string {
	switch r {
	case RoleAdmin:
		return "Administrator"
	case RoleManager:
		return "Manager"
	}
	return "Staff"
}

// AtLeast reports whether the role may do what min may: staff < manager < admin.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() }

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 2
	case RoleManager:
		return 1
	}
	return 0
}

// PasswordCost is the bcrypt cost for new hashes. Tests lower it to keep the suite fast.
var PasswordCost = 12

// dummyHash is compared against when a username does not exist, so that the answer takes as
// long as for a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not-a-real-password-Aa1!")
	return h
})

// CheckDummyPassword spends the time of a password check and always fails.
func CheckDummyPassword(pw string) bool {
	User{PasswordHash: dummyHash()}.CheckPassword(pw)
	return false
}

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("models: hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw is the user's password.
func (u User) CheckPassword(pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw)) == nil
}

var reUsername = regexp.MustCompile(`^[a-z0-9._-]{3,32}$`)

// ValidateUsername returns a message for a bad username, "" for a good one.
func ValidateUsername(u string) string {
	if !reUsername.MatchString(u) {
		return "Use 3 to 32 lower-case letters, digits, dots, dashes or underscores."
	}
	return ""
}

// ValidatePassword applies the gateway back office's password policy (§11): at least 8
// characters with a digit, an upper-case and a lower-case letter and a special character.
// bcrypt reads only 72 bytes, so longer passwords are refused rather than silently cut.
func ValidatePassword(pw string) string {
	var digit, upper, lower, special bool
	for _, r := range pw {
		switch {
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' ':
			special = true
		}
	}
	switch {
	case len([]rune(pw)) < 8:
		return "Use at least 8 characters."
	case len(pw) > 72:
		return "Use at most 72 bytes."
	case !digit || !upper || !lower || !special:
		return "Use an upper-case letter, a lower-case letter, a digit and a special character."
	}
	return ""
}

// Users holds the user queries.
type Users struct{ DB *gorm.DB }

// Count returns how many users exist.
func (s *Users) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&User{}).Count(&n).Error
	return n, err
}

// Create stores a new user; ErrConflict when the username is taken.
func (s *Users) Create(ctx context.Context, u *User) error {
	u.Username = strings.ToLower(u.Username)
	if err := s.DB.WithContext(ctx).Create(u).Error; err != nil {
		return fmt.Errorf("models: create user %q: %w", u.Username, translate(err))
	}
	return nil
}

// ByID loads a user.
func (s *Users) ByID(ctx context.Context, id uint) (User, error) {
	var u User
	if err := s.DB.WithContext(ctx).First(&u, id).Error; err != nil {
		return u, fmt.Errorf("models: user %d: %w", id, translate(err))
	}
	return u, nil
}

// ByUsername loads a user by name, case-insensitively.
func (s *Users) ByUsername(ctx context.Context, name string) (User, error) {
	var u User
	if err := s.DB.WithContext(ctx).Where("username = ?", strings.ToLower(name)).First(&u).Error; err != nil {
		return u, fmt.Errorf("models: user %q: %w", name, translate(err))
	}
	return u, nil
}

// List returns every user by username.
func (s *Users) List(ctx context.Context) ([]User, error) {
	var us []User
	err := s.DB.WithContext(ctx).Order("username").Find(&us).Error
	return us, err
}

// ListPage returns page p of the users, the most recently created first.
func (s *Users) ListPage(ctx context.Context, p Page) ([]User, Paged, error) {
	us, pg, err := paginate(s.DB.WithContext(ctx), p, func(u User) uint { return u.ID })
	if err != nil {
		return nil, pg, fmt.Errorf("models: page of users: %w", err)
	}
	return us, pg, nil
}

// Update saves what administrators and the user change: name, role, access, password and
// session epoch. The second factor and the sign-in bookkeeping have their own writes, which a
// copy loaded earlier must not undo.
func (s *Users) Update(ctx context.Context, u *User) error {
	return s.update(s.DB.WithContext(ctx), u)
}

func (s *Users) update(db *gorm.DB, u *User) error {
	if err := db.Select("name", "role", "disabled", "password_hash", "session_epoch", "updated_at").Save(u).Error; err != nil {
		return fmt.Errorf("models: update user %q: %w", u.Username, translate(err))
	}
	return nil
}

// An administrator's changes to users are audited by the methods below, each in the
// transaction of the change: Add, Edit, SetDisabled, ResetPassword (and SecondFactors.Reset).

// Add stores a user an administrator creates (user.create); ErrConflict when the username is
// taken. Create stores one without an audit entry (the portal's setup, seeding).
func (s *Users) Add(ctx context.Context, u *User, by Actor) error {
	u.Username = strings.ToLower(u.Username)
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			return fmt.Errorf("models: create user %q: %w", u.Username, translate(err))
		}
		return recordIn(tx, by.Event("user.create", u.Username, "role "+string(u.Role)), time.Now())
	})
}

// Edit changes a user's name and role (user.update).
func (s *Users) Edit(ctx context.Context, u *User, name string, role Role, by Actor) error {
	before := u.Role
	u.Name, u.Role = name, role
	return s.audited(ctx, u, by.Event("user.update", u.Username, fmt.Sprintf("role %s → %s", before, role)))
}

// SetDisabled takes a user's access away, or gives it back (user.disable, user.enable).
func (s *Users) SetDisabled(ctx context.Context, u *User, disabled bool, by Actor) error {
	u.Disabled = disabled
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	return s.audited(ctx, u, by.Event(action, u.Username, ""))
}

// ResetPassword gives a user a new password (its hash) and ends every session of theirs
// (user.password_reset).
func (s *Users) ResetPassword(ctx context.Context, u *User, hash string, by Actor) error {
	u.PasswordHash = hash
	u.SessionEpoch++ // the old password's sessions end
	return s.audited(ctx, u, by.Event("user.password_reset", u.Username, "every session of the user was ended"))
}

// audited saves u as Update does and records e with it.
func (s *Users) audited(ctx context.Context, u *User, e AuditEvent) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.update(tx, u); err != nil {
			return err
		}
		return recordIn(tx, e, time.Now())
	})
}

// SignedIn records a sign-in's time, and only that: a whole-row save from a copy loaded
// before the second factor was checked would undo what the check wrote.
func (s *Users) SignedIn(ctx context.Context, u *User, at time.Time) error {
	u.LastLoginAt = &at
	if err := s.DB.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Update("last_login_at", at).Error; err != nil {
		return fmt.Errorf("models: sign-in of %q: %w", u.Username, err)
	}
	return nil
}

// ActiveAdmins counts administrators who can sign in.
func (s *Users) ActiveAdmins(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&User{}).Where("role = ? AND disabled = ?", RoleAdmin, false).Count(&n).Error
	return n, err
}

// SetLastReader remembers the reader a user last took a payment on.
func (s *Users) SetLastReader(ctx context.Context, userID, readerID uint) error {
	return s.DB.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Update("last_reader_id", readerID).Error
}
