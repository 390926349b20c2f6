package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Session is one signed-in browser session (the scs session data). Keeping sessions in the
// database lets several portal instances share them.
type Session struct {
	Token  string    `gorm:"primaryKey;size:64"`
	Data   []byte    `gorm:"not null"`
	Expiry time.Time `gorm:"index;not null"`
}

// SessionStore is an scs.Store over GORM, for SQLite and PostgreSQL alike.
type SessionStore struct {
	DB  *gorm.DB
	Now func() time.Time
}

func (s *SessionStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Find returns a live session's data.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	var sess Session
	err := s.DB.Where("token = ? AND expiry > ?", token, s.now().UTC()).Limit(1).Find(&sess).Error
	if err != nil || sess.Token == "" {
		return nil, false, err
	}
	return sess.Data, true, nil
}

// Commit stores (or replaces) a session.
func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.DB.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "token"}},
		DoUpdates: clause.AssignmentColumns([]string{"data", "expiry"})}).
		Create(&Session{Token: token, Data: b, Expiry: expiry.UTC()}).Error
}

// Delete removes a session.
func (s *SessionStore) Delete(token string) error {
	return s.DB.Where("token = ?", token).Delete(&Session{}).Error
}

// Cleanup deletes expired sessions every interval until ctx ends.
func (s *SessionStore) Cleanup(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.DB.WithContext(ctx).Where("expiry <= ?", s.now().UTC()).Delete(&Session{})
		}
	}
}

// Live returns the sessions that have not expired.
func (s *SessionStore) Live(ctx context.Context) ([]Session, error) {
	var ss []Session
	err := s.DB.WithContext(ctx).Where("expiry > ?", s.now().UTC()).Order("expiry DESC").Limit(10000).Find(&ss).Error
	return ss, err
}
