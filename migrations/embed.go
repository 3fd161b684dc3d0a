// Package migrations embeds the SQL schema migrations of both stores, applied
// with golang-migrate by `sharedcare migrate up` and at server start.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres returns the migrations of the PostgreSQL store.
func Postgres() fs.FS { s, _ := fs.Sub(files, "postgres"); return s }

// SQLite returns the migrations of the embedded (SQLite) store.
func SQLite() fs.FS { s, _ := fs.Sub(files, "sqlite"); return s }
