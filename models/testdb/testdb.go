// Package testdb opens a fresh, migrated portal database for tests, through the production
// Open and Migrate: a temporary SQLite file, or, when TEST_DATABASE_URL names a PostgreSQL
// database, a schema of its own in that database (so the whole suite runs on both).
package testdb

import (
	"crypto/sha1"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Open returns a migrated database in t.TempDir() (or at path, to reopen one), closed when the
// test ends. It also lowers the bcrypt cost: tests check the password policy, not bcrypt.
//
// On PostgreSQL the path names the schema, so reopening the same path reopens the same data;
// the schema is dropped when the test ends.
func Open(t testing.TB, path ...string) *gorm.DB {
	t.Helper()
	models.PasswordCost = bcrypt.MinCost
	p := filepath.Join(t.TempDir(), "portal.db")
	if len(path) > 0 && path[0] != "" {
		p = path[0]
	}
	dsn := p
	if base := os.Getenv("TEST_DATABASE_URL"); base != "" {
		dsn = schemaDSN(t, base, p)
	}
	db, err := models.Open(dsn, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { models.Close(db) })
	return db
}

// URL is the database URL (or SQLite path) a test process of the portal would be given for
// the same database as Open(t, path).
func URL(t testing.TB, path string) string {
	if base := os.Getenv("TEST_DATABASE_URL"); base != "" {
		return schemaDSN(t, base, path)
	}
	return path
}

// schemaDSN creates the schema for path (once) and returns base with its search_path.
func schemaDSN(t testing.TB, base, path string) string {
	t.Helper()
	sum := sha1.Sum([]byte(path))
	schema := "t_" + hex.EncodeToString(sum[:8])
	admin, err := models.Open(base, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(admin)
	if err := admin.Exec("CREATE SCHEMA IF NOT EXISTS " + schema).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if admin, err := models.Open(base, time.Now, nil); err == nil {
			admin.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE")
			models.Close(admin)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
