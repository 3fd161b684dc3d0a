package main

import (
	"flag"
	"io"
	"strconv"
)

// config is the server's configuration, from flags with defaults taken from
// the SHAREDCARE_* environment variables.
type config struct {
	Addr         string
	BaseURL      string
	DatabaseURL  string
	DataDir      string
	JWKSURL      string
	Issuer       string
	Audience     string
	DevAuth      bool
	Insecure     bool
	NoMigrate    bool
	LogLevel     string
	MaxBodyBytes int64
	DebugAddr    string
	// SensitiveCodes is a file replacing the default sensitive SNOMED CT set.
	SensitiveCodes string
}

func envInt(getenv func(string) string, key string, def int64) int64 {
	if n, err := strconv.ParseInt(getenv(key), 10, 64); err == nil && n > 0 {
		return n
	}
	return def
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// configFlags registers the flags shared by the commands that open the
// store, and returns the config they fill.
func configFlags(fs *flag.FlagSet, getenv func(string) string) *config {
	c := &config{}
	fs.StringVar(&c.Addr, "addr", envOr(getenv, "SHAREDCARE_ADDR", ":8080"), "listen address (SHAREDCARE_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", envOr(getenv, "SHAREDCARE_BASE_URL", "http://localhost:8080/fhir"), "public FHIR base URL (SHAREDCARE_BASE_URL)")
	fs.StringVar(&c.DatabaseURL, "database-url", getenv("SHAREDCARE_DATABASE_URL"), "postgres:// URL; empty for the embedded store (SHAREDCARE_DATABASE_URL)")
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "SHAREDCARE_DATA_DIR", "./data"), "directory of the embedded store and dev key (SHAREDCARE_DATA_DIR)")
	fs.StringVar(&c.JWKSURL, "jwks-url", getenv("SHAREDCARE_JWKS_URL"), "JWKS of the token issuer (SHAREDCARE_JWKS_URL)")
	fs.StringVar(&c.Issuer, "issuer", getenv("SHAREDCARE_ISSUER"), "expected token issuer (SHAREDCARE_ISSUER)")
	fs.StringVar(&c.Audience, "audience", getenv("SHAREDCARE_AUDIENCE"), "expected token audience (SHAREDCARE_AUDIENCE)")
	fs.BoolVar(&c.DevAuth, "dev-auth", getenv("SHAREDCARE_DEV_AUTH") == "1", "local signing key for development (SHAREDCARE_DEV_AUTH=1)")
	fs.BoolVar(&c.Insecure, "i-know-this-is-insecure", false, "allow dev auth on a non-loopback address")
	fs.BoolVar(&c.NoMigrate, "no-migrate", false, "do not migrate the database at start")
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "SHAREDCARE_LOG_LEVEL", "info"), "debug, info, warn or error (SHAREDCARE_LOG_LEVEL)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", envInt(getenv, "SHAREDCARE_MAX_BODY_BYTES", 16<<20), "largest request body accepted (SHAREDCARE_MAX_BODY_BYTES)")
	fs.StringVar(&c.SensitiveCodes, "sensitive-codes", getenv("SHAREDCARE_SENSITIVE_CODES"), "file of sensitive SNOMED CT codes replacing the default set (SHAREDCARE_SENSITIVE_CODES)")
	fs.StringVar(&c.DebugAddr, "debug-addr", getenv("SHAREDCARE_DEBUG_ADDR"), "if set, serve pprof on this (loopback) address (SHAREDCARE_DEBUG_ADDR)")
	return c
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
