package models

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/example/mposportal/money"
	"gorm.io/gorm"
)

// Endpoint is one gateway endpoint (ENDPOINTID) with the merchant's credentials for it. The
// control key signs requests and verifies callbacks; the portal shows it only masked.
type Endpoint struct {
	ID         uint `gorm:"primaryKey"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Name       string `gorm:"size:64;not null"`
	EndpointID string `gorm:"size:16;uniqueIndex;not null"`
	Login      string `gorm:"size:64;not null"`
	ControlKey string `gorm:"size:128;not null"`
	Currency   string `gorm:"size:3;not null"`
	BaseURL    string `gorm:"size:255;not null"`
	Enabled    bool   `gorm:"not null"`
	Address1   string `gorm:"size:50"`
	City       string `gorm:"size:50"`
	ZipCode    string `gorm:"size:10"`
	Country    string `gorm:"size:2"`
	Email      string `gorm:"size:50"`
	// Automatic Close Day: local time "HH:MM" in TimeZone (an IANA name); empty = off.
	CloseTime string `gorm:"size:5"`
	TimeZone  string `gorm:"size:64"`
	// Locale is how the store writes numbers (BCP 47, e.g. "lv-LV"; "" = English): amounts on
	// every page and what the counter types are read that way.
	Locale string `gorm:"size:35"`
	// ScheduleSince is when the automatic close was set or last changed: a close time that had
	// already passed that day starts the next day.
	ScheduleSince *time.Time
	// Money after the sale: refunds above RefundApprovalMinor need a second person's approval
	// (0: never); preauths older than PreauthWarnDays are flagged on the start page, and
	// released automatically after PreauthReleaseDays (0: never).
	RefundApprovalMinor int64 `gorm:"not null;default:0"`
	PreauthWarnDays     int   `gorm:"not null;default:7"`
	PreauthReleaseDays  int   `gorm:"not null;default:0"`
	// ConfirmAboveMinor: a sale or preauth above it asks the cashier to type the amount again
	// (0: never).
	ConfirmAboveMinor int64 `gorm:"not null;default:0"`
	// What receipts say about the merchant: the trading name (the endpoint's Name when empty),
	// a second address line after Address1, the VAT or company registration number, and a
	// closing line ("Thank you", the returns policy).
	MerchantName  string `gorm:"size:64"`
	Address2      string `gorm:"size:50"`
	VATNumber     string `gorm:"size:32"`
	ReceiptFooter string `gorm:"size:200"`
}

// TradingName is the name receipts carry.
func (e Endpoint) TradingName() string {
	if e.MerchantName != "" {
		return e.MerchantName
	}
	return e.Name
}

// DefaultPreauthWarnDays is the warning age of an endpoint that sets none.
const DefaultPreauthWarnDays = 7

// WarnDays is the age in days after which an open preauth is flagged.
func (e Endpoint) WarnDays() int {
	if e.PreauthWarnDays <= 0 {
		return DefaultPreauthWarnDays
	}
	return e.PreauthWarnDays
}

// Money is how the store writes amounts.
func (e Endpoint) Money() money.Locale { return money.MustLocale(e.Locale) }

// Location is the store's time zone (UTC when none is set).
func (e Endpoint) Location() *time.Location {
	if loc, err := time.LoadLocation(e.TimeZone); err == nil && e.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// MaskSecret shows at most a quarter of a secret: its first and last characters, up to four
// each (a 10-character key shows one at each end).
func MaskSecret(k string) string {
	show := min(4, len(k)/8)
	if show == 0 || len(k) <= 8 {
		return "••••••••"
	}
	return k[:show] + "••••••••" + k[len(k)-show:]
}

// MaskedKey is the control key as the UI may show it.
func (e Endpoint) MaskedKey() string { return MaskSecret(e.ControlKey) }

var (
	reDigits   = regexp.MustCompile(`^[0-9]{1,16}$`)
	reCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
	reCountry  = regexp.MustCompile(`^[A-Z]{2}$`)
	// A VAT or registration number as tax offices print them: "LV40003000000", "GB 123 4567 89",
	// "HRB 12345/B".
	reVATNumber = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ./-]*$`)
)

// receiptText reports whether s fits on a receipt line: at most max characters and no control
// characters (the trading name also becomes an e-mail's sender name and subject).
func receiptText(s string, max int) bool {
	return utf8.RuneCountInString(s) <= max && !strings.ContainsFunc(s, unicode.IsControl)
}

// Validate checks the settings a sale request needs.
func (e *Endpoint) Validate() *ValidationError {
	v := &ValidationError{}
	if e.Name == "" || len(e.Name) > 64 {
		v.Add("name", "Enter a name of at most 64 characters.")
	}
	if !reDigits.MatchString(e.EndpointID) {
		v.Add("endpoint_id", "The ENDPOINTID is a number of up to 16 digits.")
	}
	if e.Login == "" || len(e.Login) > 64 {
		v.Add("login", "Enter the merchant login (at most 64 characters).")
	}
	if len(e.ControlKey) < 8 || len(e.ControlKey) > 128 {
		v.Add("control_key", "Enter the control key issued by the gateway (8 to 128 characters).")
	}
	if !reCurrency.MatchString(e.Currency) {
		v.Add("currency", "Use a three-letter ISO 4217 code such as EUR.")
	}
	if u, err := url.Parse(e.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		v.Add("base_url", "Enter the gateway's http(s) address, e.g. https://gate.example.com.")
	}
	if e.Address1 == "" || len(e.Address1) > 50 {
		v.Add("address1", "Enter an address of at most 50 characters.")
	}
	if e.City == "" || len(e.City) > 50 {
		v.Add("city", "Enter a city of at most 50 characters.")
	}
	if e.ZipCode == "" || len(e.ZipCode) > 10 {
		v.Add("zip_code", "Enter a postal code of at most 10 characters.")
	}
	if !reCountry.MatchString(e.Country) {
		v.Add("country", "Use a two-letter country code such as LV.")
	}
	if len(e.Email) > 50 || !strings.Contains(e.Email, "@") {
		v.Add("email", "Enter an e-mail address of at most 50 characters.")
	}
	if e.CloseTime != "" {
		if _, err := time.Parse("15:04", e.CloseTime); err != nil {
			v.Add("close_time", "Use a 24-hour time such as 23:30, or leave empty for no automatic close.")
		}
	}
	if _, err := time.LoadLocation(e.TimeZone); err != nil || e.TimeZone == "Local" || (e.TimeZone == "" && e.CloseTime != "") {
		v.Add("time_zone", "Use a time zone name such as Europe/Riga.")
	}
	if _, err := money.ParseLocale(e.Locale); err != nil {
		v.Add("locale", "Use a language tag such as lv-LV, de-DE or en-GB (digits 0–9, grouped by thousands).")
	}
	if e.ConfirmAboveMinor < 0 {
		v.Add("confirm_above", "Enter an amount, or leave empty to never ask.")
	}
	if e.RefundApprovalMinor < 0 {
		v.Add("refund_approval", "Enter an amount, or leave empty for no second approval.")
	}
	if e.PreauthWarnDays < 0 || e.PreauthWarnDays > 60 {
		v.Add("preauth_warn_days", "Use 1 to 60 days.")
	}
	if e.PreauthReleaseDays < 0 || e.PreauthReleaseDays > 60 || (e.PreauthReleaseDays > 0 && e.PreauthReleaseDays <= e.WarnDays()) {
		v.Add("preauth_release_days", "Use more days than the warning (at most 60), or leave empty for never.")
	}
	if !receiptText(e.MerchantName, 64) {
		v.Add("merchant_name", "Enter the name customers know the shop by, at most 64 characters, or leave empty to use the endpoint's name.")
	}
	if !receiptText(e.Address2, 50) {
		v.Add("address2", "Enter a second address line of at most 50 characters, or leave it empty.")
	}
	if e.VATNumber != "" && (len(e.VATNumber) > 32 || !reVATNumber.MatchString(e.VATNumber)) {
		v.Add("vat_number", "Enter the VAT or registration number as issued (letters, digits, spaces, . / -; at most 32), or leave it empty.")
	}
	if !receiptText(e.ReceiptFooter, 200) {
		v.Add("receipt_footer", "Enter one line of at most 200 characters, or leave it empty.")
	}
	return v.OrNil()
}

// Endpoints holds the gateway settings.
type Endpoints struct {
	DB   *gorm.DB
	keys sync.Map // endpoint id → cachedKey, for ControlKey
}

// keyReuse is how long ControlKey answers from a control key it read: every callback needs
// its endpoint's key, and at thousands a second a read each costs the database a round trip.
// A key changed on another instance is therefore seen there up to this much later; a callback
// signed with the new key meanwhile is verified again with a key read afresh
// (FreshControlKey), so none is refused for it.
const keyReuse = 2 * time.Second

type cachedKey struct {
	key   string
	until time.Time
}

// List returns all endpoints by name.
func (s *Endpoints) List(ctx context.Context) ([]Endpoint, error) {
	var es []Endpoint
	err := s.DB.WithContext(ctx).Order("name, id").Find(&es).Error
	return es, err
}

// ByID loads an endpoint.
func (s *Endpoints) ByID(ctx context.Context, id uint) (Endpoint, error) {
	var e Endpoint
	if err := s.DB.WithContext(ctx).First(&e, id).Error; err != nil {
		return e, fmt.Errorf("models: endpoint %d: %w", id, translate(err))
	}
	return e, nil
}

// ControlKey returns the key endpoint id's gateway callbacks are signed with: the one column a
// callback needs, read with a prepared statement (a callback's hot path, hotsql.go).
// A key read in the last keyReuse is used again.
func (s *Endpoints) ControlKey(ctx context.Context, id uint) (string, error) {
	if c, ok := s.keys.Load(id); ok && time.Now().Before(c.(cachedKey).until) {
		return c.(cachedKey).key, nil
	}
	return s.FreshControlKey(ctx, id)
}

// FreshControlKey is ControlKey read from the database now.
func (s *Endpoints) FreshControlKey(ctx context.Context, id uint) (string, error) {
	var key string
	rows, err := hotQuery(ctx, s.DB, "SELECT control_key FROM endpoints WHERE id = ?", int64(id))
	if err := scanOne(rows, err, func(r *sql.Rows) error { return r.Scan(strCol{&key}) }); err != nil {
		s.keys.Delete(id)
		return "", fmt.Errorf("models: endpoint %d: %w", id, err)
	}
	s.keys.Store(id, cachedKey{key: key, until: time.Now().Add(keyReuse)})
	return key, nil
}

// Create stores a new endpoint; ErrConflict when its ENDPOINTID is configured already.
func (s *Endpoints) Create(ctx context.Context, e *Endpoint) error {
	if err := s.DB.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("models: create endpoint %s: %w", e.EndpointID, translate(err))
	}
	return nil
}

// Update saves an endpoint.
func (s *Endpoints) Update(ctx context.Context, e *Endpoint) error {
	var old Endpoint
	if err := s.DB.WithContext(ctx).First(&old, e.ID).Error; err == nil && (old.CloseTime != e.CloseTime || old.TimeZone != e.TimeZone) {
		now := time.Now().UTC()
		e.ScheduleSince = &now
	}
	if err := s.DB.WithContext(ctx).Save(e).Error; err != nil {
		return fmt.Errorf("models: update endpoint %s: %w", e.EndpointID, translate(err))
	}
	s.keys.Delete(e.ID)
	return nil
}

// Save stores the endpoint an administrator created or edited (a new one when e.ID is 0) and
// audits it in the same transaction: endpoint.create or endpoint.update, with what identifies
// the endpoint and, never the key itself, whether its control key changed. ErrConflict when
// its ENDPOINTID is configured already.
func (s *Endpoints) Save(ctx context.Context, e *Endpoint, by Actor) error {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		action, keyChanged := "endpoint.create", e.ControlKey != ""
		if e.ID == 0 {
			if err := (&Endpoints{DB: tx}).Create(ctx, e); err != nil {
				return err
			}
		} else {
			old, err := (&Endpoints{DB: tx}).ByID(ctx, e.ID)
			if err != nil {
				return err
			}
			action, keyChanged = "endpoint.update", old.ControlKey != e.ControlKey
			if err := (&Endpoints{DB: tx}).Update(ctx, e); err != nil {
				return err
			}
		}
		detail := fmt.Sprintf("endpoint %s login %s currency %s url %s enabled %v", e.EndpointID, e.Login, e.Currency, e.BaseURL, e.Enabled)
		if keyChanged {
			detail += "; control key changed"
		}
		return recordIn(tx, by.Event(action, e.Name, detail), time.Now())
	})
	s.keys.Delete(e.ID)
	return err
}

// EnsureDefault stores e when no endpoint exists yet (the embedded sandbox on first run).
func (s *Endpoints) EnsureDefault(ctx context.Context, e Endpoint) (bool, error) {
	created := false
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Endpoint{}).Count(&n).Error; err != nil || n > 0 {
			return err
		}
		created = true
		return tx.Create(&e).Error
	})
	if err != nil {
		return false, fmt.Errorf("models: default endpoint: %w", translate(err))
	}
	return created, nil
}
