package models

import (
	"crypto/sha1"
	"encoding/hex"
	"regexp"

	"github.com/jackc/pgx/v5/pgconn"
)

var plainSchema = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,30}$`)

// NotifyChannelName is the NOTIFY channel called base of the portal whose database dsn names.
// NOTIFY channels belong to the whole PostgreSQL database, not to a schema: portals kept apart
// by schema in one database (a search_path in the URL, as the tests do) get channels of their
// own, so one never hears the other's changes or reader commands.
func NotifyChannelName(dsn, base string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return base
	}
	schema := cfg.RuntimeParams["search_path"]
	switch {
	case schema == "" || schema == "public":
		return base
	case plainSchema.MatchString(schema):
		return base + "_" + schema
	}
	sum := sha1.Sum([]byte(schema))
	return base + "_" + hex.EncodeToString(sum[:8])
}
