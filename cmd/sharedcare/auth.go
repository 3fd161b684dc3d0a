package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
)

// authSetup is what the server needs to check tokens.
type authSetup struct {
	verifier *access.Verifier
	smart    []byte
	devJWKS  []byte         // set in dev auth mode only
	devKey   *access.DevKey // set in dev auth mode only
}

// loopback reports whether addr listens on loopback interfaces only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setupAuth builds the token verifier: from the dev key in dev auth mode,
// otherwise from the configured JWKS URL, issuer and audience.
func setupAuth(ctx context.Context, c *config, log *slog.Logger) (*authSetup, error) {
	if c.DevAuth {
		if !loopback(c.Addr) && !c.Insecure {
			return nil, fmt.Errorf("dev auth lets anyone with the data directory mint any token; "+
				"it is refused on the non-loopback address %q (listen on 127.0.0.1, or pass --i-know-this-is-insecure)", c.Addr)
		}
		key, err := access.LoadOrCreateDevKey(c.DataDir)
		if err != nil {
			return nil, err
		}
		v, err := key.Verifier(access.DevIssuer, c.BaseURL)
		if err != nil {
			return nil, err
		}
		log.Warn("DEV AUTH IS ON: tokens are signed with a local key in the data directory; " +
			"never run this way with real patient data (mint tokens with `sharedcare token`)")
		root := strings.TrimSuffix(strings.TrimSuffix(c.BaseURL, "/"), "/fhir")
		return &authSetup{
			verifier: v,
			devKey:   key,
			devJWKS:  key.JWKS(),
			smart:    access.SmartConfiguration(access.SmartEndpoints{Issuer: access.DevIssuer, JWKSURL: root + "/dev/jwks.json"}),
		}, nil
	}
	if c.JWKSURL == "" || c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("no token verification configured: set SHAREDCARE_JWKS_URL, SHAREDCARE_ISSUER and " +
			"SHAREDCARE_AUDIENCE, or SHAREDCARE_DEV_AUTH=1 for local development")
	}
	v, err := access.NewVerifier(ctx, access.VerifierConfig{JWKSURL: c.JWKSURL, Issuer: c.Issuer, Audience: c.Audience})
	if err != nil {
		return nil, err
	}
	return &authSetup{
		verifier: v,
		smart:    access.SmartConfiguration(access.SmartEndpoints{Issuer: c.Issuer, JWKSURL: c.JWKSURL}),
	}, nil
}

// tokenCmd mints a dev auth token with the key in the data directory.
func tokenCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr(getenv, "SHAREDCARE_DATA_DIR", "./data"), "data directory holding the dev key (SHAREDCARE_DATA_DIR)")
	base := fs.String("base-url", envOr(getenv, "SHAREDCARE_BASE_URL", "http://localhost:8080/fhir"), "FHIR base URL: the token's audience (SHAREDCARE_BASE_URL)")
	role := fs.String("role", "care-staff", "care_role: gp, clinician, care-clinical, care-staff, auditor or system")
	org := fs.String("org", "A81001", "requesting_organization (ODS code)")
	reason := fs.String("reason", "", "reason_for_request: directcare or emergency (default directcare for staff)")
	bg := fs.String("break-glass-reason", "", "break_glass_reason, with --reason emergency")
	scope := fs.String("scope", "", "space-separated SMART scopes (default: all for the role)")
	source := fs.String("source", "", "record_source for --role system: gp, hospital or social-care")
	sub := fs.String("sub", "", "sub (default dev-<role>)")
	practitioner := fs.String("practitioner", "", "requesting_practitioner")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := access.LoadOrCreateDevKey(*dataDir)
	if err != nil {
		return err
	}
	var scopes []string
	if *scope != "" {
		scopes = strings.Fields(*scope)
	}
	tok, err := key.Mint(access.MintOptions{
		Role: access.CareRole(*role), Org: *org, Audience: *base, Subject: *sub, Practitioner: *practitioner,
		Reason: *reason, BreakGlassReason: *bg, Scopes: scopes, Source: *source, TTL: *ttl,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// printDevHint shows a newcomer how to make a first request: a fresh token
// for a GP of practice A81001 (the practice `make demo-data` loads as) and a
// curl line that uses it.
func printDevHint(w io.Writer, key *access.DevKey, c *config) {
	tok, err := key.Mint(access.MintOptions{Role: access.CareRoleGP, Org: "A81001", Audience: c.BaseURL})
	if err != nil {
		return
	}
	fmt.Fprintf(w, `
Dev auth is on. A token for a GP of practice A81001, valid for an hour:

  export TOKEN=%s

Try:

  curl -s -H "Authorization: Bearer $TOKEN" %s/Patient/UKCore-Patient-RichardSmith-Example

(load the examples first with 'make demo-data'; mint other roles with
'bin/sharedcare token --role care-staff --org A81001')

`, tok, c.BaseURL)
}
