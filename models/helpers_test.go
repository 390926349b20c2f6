package models_test

import (
	"testing"

	"github.com/example/mposportal/models/testdb"
	"gorm.io/gorm"
)

func openDB(t *testing.T) *gorm.DB { return testdb.Open(t) }
