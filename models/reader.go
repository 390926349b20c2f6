package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Reader is one mPOS card reader of the merchant's fleet. Its device credential and pairing
// code are stored only as SHA-256 hashes.
type Reader struct {
	ID               uint `gorm:"primaryKey"`
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Serial           string `gorm:"size:32;uniqueIndex;not null"`
	Label            string `gorm:"size:64;not null"`
	Location         string `gorm:"size:64;index"`
	EndpointID       uint   `gorm:"index;not null"`
	Enabled          bool   `gorm:"not null"`
	Retired          bool   `gorm:"not null;default:false"` // replaced by another reader; kept for history
	ReplacedByID     *uint
	Firmware         string `gorm:"size:64"`
	Model            string `gorm:"size:64"`
	Battery          int    // percent; -1 unknown
	Online           bool   `gorm:"index"`
	LastSeenAt       *time.Time
	LastTxAt         *time.Time
	PairedAt         *time.Time
	CredentialHash   string `gorm:"size:64;index"`
	PairingCodeHash  string `gorm:"size:64"`
	PairingExpiresAt *time.Time
}

// Paired reports whether the reader holds a valid device credential.
func (r Reader) Paired() bool { return r.CredentialHash != "" }

// ReaderEvent is one line of a reader's history.
type ReaderEvent struct {
	ID       uint      `gorm:"primaryKey"`
	ReaderID uint      `gorm:"index;not null"`
	At       time.Time `gorm:"not null"`
	Kind     string    `gorm:"size:32;not null"` // registered, paired, online, offline, disabled, enabled, unpaired, replaced, …
	Detail   string    `gorm:"size:255"`
	Actor    string    `gorm:"size:64"`
}

// Readers holds the reader queries.
type Readers struct {
	DB  *gorm.DB
	Now func() time.Time
}

func (s *Readers) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Create stores a new reader and its first event; ErrConflict when the serial exists.
func (s *Readers) Create(ctx context.Context, r *Reader, actor string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(r).Error; err != nil {
			return fmt.Errorf("models: create reader %s: %w", r.Serial, translate(err))
		}
		return tx.Create(&ReaderEvent{ReaderID: r.ID, At: s.now(), Kind: "registered", Actor: actor,
			Detail: fmt.Sprintf("%s at %s", r.Label, r.Location)}).Error
	})
}

// ByID loads a reader.
func (s *Readers) ByID(ctx context.Context, id uint) (Reader, error) {
	var r Reader
	if err := s.DB.WithContext(ctx).First(&r, id).Error; err != nil {
		return r, fmt.Errorf("models: reader %d: %w", id, translate(err))
	}
	return r, nil
}

// BySerial loads a reader by its canonical serial.
func (s *Readers) BySerial(ctx context.Context, serial string) (Reader, error) {
	var r Reader
	if err := s.DB.WithContext(ctx).Where("serial = ?", serial).First(&r).Error; err != nil {
		return r, fmt.Errorf("models: reader %q: %w", serial, translate(err))
	}
	return r, nil
}

// ByCredentialHash finds the reader a device credential belongs to.
func (s *Readers) ByCredentialHash(ctx context.Context, hash string) (Reader, error) {
	var r Reader
	if hash == "" {
		return r, ErrNotFound
	}
	if err := s.DB.WithContext(ctx).Where("credential_hash = ?", hash).First(&r).Error; err != nil {
		return r, fmt.Errorf("models: reader credential: %w", translate(err))
	}
	return r, nil
}

// ReaderFilter narrows the readers list. Nil pointers do not filter.
type ReaderFilter struct {
	Location       string
	Online         *bool
	Enabled        *bool
	IncludeRetired bool
}

// List returns readers by location and label.
func (s *Readers) List(ctx context.Context, f ReaderFilter) ([]Reader, error) {
	var rs []Reader
	if err := s.filtered(ctx, f).Order("location, label, id").Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("models: list readers: %w", err)
	}
	return rs, nil
}

// ListPage returns page p of the readers f keeps, the most recently registered first.
func (s *Readers) ListPage(ctx context.Context, f ReaderFilter, p Page) ([]Reader, Paged, error) {
	rs, pg, err := paginate(s.filtered(ctx, f), p, func(r Reader) uint { return r.ID })
	if err != nil {
		return nil, pg, fmt.Errorf("models: page of readers: %w", err)
	}
	return rs, pg, nil
}

// filtered is the readers f keeps, in no order.
func (s *Readers) filtered(ctx context.Context, f ReaderFilter) *gorm.DB {
	q := s.DB.WithContext(ctx)
	if f.Location != "" {
		q = q.Where("location = ?", f.Location)
	}
	if f.Online != nil {
		q = q.Where("online = ?", *f.Online)
	}
	if f.Enabled != nil {
		q = q.Where("enabled = ?", *f.Enabled)
	}
	if !f.IncludeRetired {
		q = q.Where("retired = ?", false)
	}
	return q
}

// Locations lists the distinct locations, for filters.
func (s *Readers) Locations(ctx context.Context) ([]string, error) {
	var out []string
	err := s.DB.WithContext(ctx).Model(&Reader{}).Where("retired = ?", false).Distinct("location").Order("location").Pluck("location", &out).Error
	return out, err
}

// presenceColumns are written only by Seen and SetOffline: an admin action saving a reader it
// loaded a moment ago must not roll back a heartbeat that came in meanwhile.
var presenceColumns = []string{"online", "last_seen_at", "battery", "firmware", "model"}

// Update saves a reader's settings (not its presence) and, when kind is set, records an event
// with it atomically.
func (s *Readers) Update(ctx context.Context, r *Reader, kind, detail, actor string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit(presenceColumns...).Save(r).Error; err != nil {
			return fmt.Errorf("models: update reader %s: %w", r.Serial, translate(err))
		}
		if kind == "" {
			return nil
		}
		return tx.Create(&ReaderEvent{ReaderID: r.ID, At: s.now(), Kind: kind, Detail: detail, Actor: actor}).Error
	})
}

// Replace retires old and registers its successor in one transaction.
func (s *Readers) Replace(ctx context.Context, old *Reader, successor *Reader, actor string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(successor).Error; err != nil {
			return fmt.Errorf("models: replace reader %s with %s: %w", old.Serial, successor.Serial, translate(err))
		}
		old.Retired, old.Enabled, old.ReplacedByID, old.CredentialHash, old.PairingCodeHash, old.Online =
			true, false, &successor.ID, "", "", false
		if err := tx.Save(old).Error; err != nil {
			return err
		}
		now := s.now()
		return tx.Create([]ReaderEvent{
			{ReaderID: old.ID, At: now, Kind: "replaced", Actor: actor, Detail: "replaced by " + successor.Serial},
			{ReaderID: successor.ID, At: now, Kind: "registered", Actor: actor, Detail: "replaces " + old.Serial},
		}).Error
	})
}

// Events returns a reader's history, newest first.
func (s *Readers) Events(ctx context.Context, id uint, limit int) ([]ReaderEvent, error) {
	var evs []ReaderEvent
	err := s.DB.WithContext(ctx).Where("reader_id = ?", id).Order("id DESC").Limit(limit).Find(&evs).Error
	return evs, err
}

// Seen records presence: online, last seen, and what the reader said about itself. Only the
// presence columns are written, so a heartbeat never overwrites an admin's concurrent change.
func (s *Readers) Seen(ctx context.Context, id uint, firmware, model string, battery int) error {
	updates := map[string]any{"online": true, "last_seen_at": s.now(), "battery": battery}
	if firmware != "" {
		updates["firmware"] = firmware
	}
	if model != "" {
		updates["model"] = model
	}
	return s.DB.WithContext(ctx).Model(&Reader{}).Where("id = ?", id).Updates(updates).Error
}

// SetOffline marks a reader offline and records why.
func (s *Readers) SetOffline(ctx context.Context, id uint, detail string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Reader{}).Where("id = ? AND online = ?", id, true).Update("online", false)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Create(&ReaderEvent{ReaderID: id, At: s.now(), Kind: "offline", Detail: detail}).Error
	})
}

// CountOnline counts the readers whose presence is online (on every instance).
func (s *Readers) CountOnline(ctx context.Context) (int64, error) {
	var n int64
	if err := s.DB.WithContext(ctx).Model(&Reader{}).Where("online = ?", true).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("models: count online readers: %w", err)
	}
	return n, nil
}

// StaleOnline returns online readers not seen since before cutoff.
func (s *Readers) StaleOnline(ctx context.Context, cutoff time.Time) ([]Reader, error) {
	var rs []Reader
	err := s.DB.WithContext(ctx).Where("online = ? AND (last_seen_at IS NULL OR last_seen_at < ?)", true, cutoff.UTC()).Find(&rs).Error
	return rs, err
}

// Event records a line of a reader's history without touching the reader row.
func (s *Readers) Event(ctx context.Context, id uint, kind, detail, actor string) error {
	return s.DB.WithContext(ctx).Create(&ReaderEvent{ReaderID: id, At: s.now(), Kind: kind, Detail: detail, Actor: actor}).Error
}
