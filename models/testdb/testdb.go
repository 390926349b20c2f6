// Package testdb opens a fresh, migrated portal database for tests, through the production
// Open and Migrate, on a temporary SQLite file.
package testdb

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Open returns a migrated database in t.TempDir() (or at path, to reopen one), closed when the
// test ends. It also lowers the bcrypt cost: tests check the password policy, not bcrypt.
func Open(t testing.TB, path ...string) *gorm.DB {
	t.Helper()
	models.PasswordCost = bcrypt.MinCost
	p := filepath.Join(t.TempDir(), "portal.db")
	if len(path) > 0 && path[0] != "" {
		p = path[0]
	}
	db, err := models.Open(p, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { models.Close(db) })
	return db
}
