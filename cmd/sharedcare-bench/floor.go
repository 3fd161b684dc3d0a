package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// scratchDB is a database the bench creates for the raw-Postgres floors and
// drops when it is done, so that floors never touch the server's data.
type scratchDB struct {
	adminURL string // the -db database, from which the scratch one is created and dropped
	name     string
	pool     *pgxpool.Pool
}

// floorTableDDL mirrors the server's current-resource table where it costs:
// a text primary key and the raw JSON as bytea; and its search index tables
// as one text table with an index by value, by resource and by patient.
const floorTableDDL = `CREATE TABLE floor_resources (
	id  text  PRIMARY KEY,
	raw bytea NOT NULL
);
CREATE TABLE floor_identifiers (
	system text NOT NULL,
	value  text NOT NULL,
	id     text NOT NULL
);
CREATE INDEX floor_identifiers_value ON floor_identifiers (value, system);
CREATE TABLE floor_index (
	res_id     text NOT NULL,
	param      text NOT NULL,
	value      text NOT NULL,
	patient_id text NOT NULL
);
CREATE INDEX floor_index_value ON floor_index (param, value);
CREATE INDEX floor_index_res ON floor_index (res_id);
CREATE INDEX floor_index_patient ON floor_index (patient_id, param)`

// openScratchDB creates a randomly named database next to the one adminURL
// names, creates the floor table in it and opens a pool of up to maxConns
// connections, enough for every worker to hold one.
func openScratchDB(ctx context.Context, adminURL string, maxConns int) (*scratchDB, error) {
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	s := &scratchDB{adminURL: adminURL, name: "sharedcare_bench_" + hex.EncodeToString(suffix)}
	if err := s.admin(ctx, "CREATE DATABASE "+pgx.Identifier{s.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create scratch database: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err == nil {
		cfg.ConnConfig.Database = s.name
		cfg.MaxConns = int32(maxConns)
		s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	}
	if err == nil {
		_, err = s.pool.Exec(ctx, floorTableDDL)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open scratch database %s: %w", s.name, err), s.close())
	}
	return s, nil
}

// close closes the pool and drops the database. It runs on its own
// deadline, since it is most needed when the bench's context has been
// cancelled by an interrupt.
func (s *scratchDB) close() error {
	if s.pool != nil {
		s.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop scratch database %s: %w", s.name, err)
	}
	return nil
}

// analyze runs ANALYZE on the database url names, so that the planner
// knows the population it is about to search.
func analyze(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}

// admin runs one statement on a fresh connection to the -db database: a
// database cannot be dropped over a connection to itself.
func (s *scratchDB) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
