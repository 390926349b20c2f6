package models_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

func init() { models.PasswordCost = bcrypt.MinCost } // the policy is tested, not bcrypt's cost

// openDB opens a fresh migrated SQLite file through the production Open and Migrate.
func openDB(t *testing.T) *gorm.DB {
	t.Helper()
	db, err := models.Open(filepath.Join(t.TempDir(), "portal.db"), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}
