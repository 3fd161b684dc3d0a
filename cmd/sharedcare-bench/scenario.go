package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// env is what scenario setups may use.
type env struct {
	fhir     *fhirClient
	db       *pgxpool.Pool // the scratch database; nil without -db
	patients int           // how many patients scenarios that read seed first

	syntheaDir string             // where the Synthea transaction bundles are
	synthea    []*syntheaTemplate // read from syntheaDir on first use
	pop        *population        // loaded by -population; what the scale scenarios search
}

// scenario is one kind of request the bench measures. Adding a scenario is
// one entry in scenarios and its two setup functions.
type scenario struct {
	name string
	// server prepares what the scenario needs on the server, such as
	// patients to read, and returns the request the workers repeat.
	server func(ctx context.Context, e *env) (op, error)
	// floor does the same on the scratch database with the nearest plain
	// SQL, no HTTP and no FHIR: the cost the server cannot go below. nil
	// when the scenario has no floor.
	floor func(ctx context.Context, e *env) (op, error)
	// units returns how many resources one request carries; nil is one.
	units func(e *env) (float64, error)
}

var scenarios = []scenario{
	{name: "create", server: createServer, floor: createFloor},
	{name: "read", server: readServer, floor: readFloor},
	{name: "search", server: searchServer, floor: searchFloor},
	{name: "transaction", server: transactionServer, floor: transactionFloor, units: transactionUnits},
	{name: "summary", server: summaryServer},
	{name: "everything", server: everythingServer},
}

// lookupScenarios returns the named scenarios in the order given.
func lookupScenarios(names []string) ([]scenario, error) {
	var out []scenario
	for _, n := range names {
		i := -1
		all := append(slices.Clip(scenarios), scaleScenarios...)
		for j, s := range all {
			if s.name == n {
				i = j
			}
		}
		if i < 0 {
			known := make([]string, len(all))
			for j, s := range all {
				known[j] = s.name
			}
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// seedConcurrency is how many requests seeding keeps in flight: enough to
// make seeding quick without being a benchmark of its own.
const seedConcurrency = 8

// createServer POSTs a new random Patient per request.
func createServer(_ context.Context, e *env) (op, error) {
	return func(ctx context.Context, rng *rand.Rand) error {
		_, err := e.fhir.createPatient(ctx, patientJSON(rng))
		return err
	}, nil
}

// createFloor inserts a Patient-sized row per request, each in its own
// transaction as the server commits each create.
func createFloor(_ context.Context, e *env) (op, error) {
	return func(ctx context.Context, rng *rand.Rand) error {
		id, raw := floorID(rng), patientJSON(rng)
		return pgx.BeginFunc(ctx, e.db, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO floor_resources (id, raw) VALUES ($1, $2)`, id, raw)
			return err
		})
	}, nil
}

// readServer creates e.patients Patients, then GETs a random one of them
// per request.
func readServer(ctx context.Context, e *env) (op, error) {
	var mu sync.Mutex
	ids := make([]string, 0, e.patients)
	s := runPhase(ctx, func(ctx context.Context, rng *rand.Rand) error {
		id, err := e.fhir.createPatient(ctx, patientJSON(rng))
		if err != nil {
			return err
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return nil
	}, min(seedConcurrency, e.patients), 0, e.patients)
	if s.firstErr != nil {
		return nil, fmt.Errorf("seed %d patients: %d failed, first: %w", e.patients, s.errors, s.firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, rng *rand.Rand) error {
		return e.fhir.readPatient(ctx, pick(rng, ids))
	}, nil
}

// readFloor loads e.patients Patient rows, then selects a random one by
// primary key per request.
func readFloor(ctx context.Context, e *env) (op, error) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	ids := make([]string, e.patients)
	rows := make([][]any, e.patients)
	for i := range rows {
		ids[i] = floorID(rng)
		rows[i] = []any{ids[i], patientJSON(rng)}
	}
	if _, err := e.db.CopyFrom(ctx, pgx.Identifier{"floor_resources"}, []string{"id", "raw"}, pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("seed floor rows: %w", err)
	}
	return func(ctx context.Context, rng *rand.Rand) error {
		var raw []byte
		return e.db.QueryRow(ctx, `SELECT raw FROM floor_resources WHERE id = $1`, pick(rng, ids)).Scan(&raw)
	}, nil
}

// floorID returns a random 32-hex-digit id, the size of a UUID.
func floorID(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
}

// nhsNumberOf returns the NHS number in a generated Patient.
func nhsNumberOf(raw []byte) string {
	var p struct {
		Identifier []struct{ System, Value string } `json:"identifier"`
	}
	_ = json.Unmarshal(raw, &p)
	for _, id := range p.Identifier {
		if id.System == nhsNumberSystem {
			return id.Value
		}
	}
	return ""
}

// searchServer creates e.patients Patients, then searches for a random one
// by NHS number per request: Patient?identifier=nhs-number|N, the query
// every source system makes to match a person.
func searchServer(ctx context.Context, e *env) (op, error) {
	var mu sync.Mutex
	numbers := make([]string, 0, e.patients)
	s := runPhase(ctx, func(ctx context.Context, rng *rand.Rand) error {
		body := patientJSON(rng)
		if _, err := e.fhir.createPatient(ctx, body); err != nil {
			return err
		}
		mu.Lock()
		numbers = append(numbers, nhsNumberOf(body))
		mu.Unlock()
		return nil
	}, min(seedConcurrency, e.patients), 0, e.patients)
	if s.firstErr != nil {
		return nil, fmt.Errorf("seed %d patients: %d failed, first: %w", e.patients, s.errors, s.firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, rng *rand.Rand) error {
		_, err := e.fhir.do(ctx, "GET", "/Patient?identifier="+url.QueryEscape(nhsNumberSystem+"|"+pick(rng, numbers)), nil)
		return err
	}, nil
}

// searchFloor loads e.patients Patient rows with their NHS numbers in an
// indexed side table, then finds a random one by number per request.
func searchFloor(ctx context.Context, e *env) (op, error) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	numbers := make([]string, e.patients)
	res, idents := make([][]any, e.patients), make([][]any, e.patients)
	for i := range res {
		id, raw := floorID(rng), patientJSON(rng)
		numbers[i] = nhsNumberOf(raw)
		res[i] = []any{id, raw}
		idents[i] = []any{nhsNumberSystem, numbers[i], id}
	}
	if _, err := e.db.CopyFrom(ctx, pgx.Identifier{"floor_resources"}, []string{"id", "raw"}, pgx.CopyFromRows(res)); err != nil {
		return nil, fmt.Errorf("seed floor rows: %w", err)
	}
	if _, err := e.db.CopyFrom(ctx, pgx.Identifier{"floor_identifiers"}, []string{"system", "value", "id"}, pgx.CopyFromRows(idents)); err != nil {
		return nil, fmt.Errorf("seed floor identifiers: %w", err)
	}
	return func(ctx context.Context, rng *rand.Rand) error {
		rows, err := e.db.Query(ctx, `SELECT r.raw FROM floor_identifiers i JOIN floor_resources r ON r.id = i.id
			WHERE i.value = $1 AND i.system = $2`, pick(rng, numbers), nhsNumberSystem)
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}, nil
}
