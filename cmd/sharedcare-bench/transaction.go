package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// benchPractices are the GP practices the bench's patients are registered
// with: made-up ODS codes in the shape of a practice's (a letter and five
// digits), so that no real practice appears in a benchmark database.
var benchPractices = []string{"Y90001", "Y90002", "Y90003", "Y90004", "Y90005", "Y90006", "Y90007", "Y90008"}

// templates returns the Synthea templates, reading them on first use.
func (e *env) templates() ([]*syntheaTemplate, error) {
	if e.synthea == nil {
		ts, err := loadSyntheaTemplates(e.syntheaDir)
		if err != nil {
			return nil, err
		}
		e.synthea = ts
	}
	return e.synthea, nil
}

// meanEntries is the average size of the templates, which is the average
// transaction the transaction scenario sends: it takes them in turn.
func meanEntries(ts []*syntheaTemplate) float64 {
	n := 0
	for _, t := range ts {
		n += len(t.entries)
	}
	return float64(n) / float64(len(ts))
}

// transactionUnits is the resources per request of the transaction
// scenario and its floor.
func transactionUnits(e *env) (float64, error) {
	ts, err := e.templates()
	if err != nil {
		return 0, err
	}
	return meanEntries(ts), nil
}

// minimalReturn asks the server to leave the resources out of a
// transaction-response: a source system pushing records reads only the
// statuses and locations, and 600 KB of echoed JSON per request would be
// a benchmark of the client's reading.
var minimalReturn = http.Header{"Prefer": {"return=minimal"}}

// transactionServer POSTs one transaction per request: a fresh copy of a
// whole Synthea bundle (130 to 300 entries), taking the templates in turn
// so that the resources per request average exactly as the report says.
func transactionServer(_ context.Context, e *env) (op, error) {
	ts, err := e.templates()
	if err != nil {
		return nil, err
	}
	var next atomic.Uint64
	return func(ctx context.Context, rng *rand.Rand) error {
		t := ts[next.Add(1)%uint64(len(ts))]
		_, err := e.fhir.send(ctx, e.fhir.token, http.MethodPost, "", t.wholeCopy(rng, pick(rng, benchPractices)), minimalReturn)
		return err
	}, nil
}

// floorIndexValue turns a search value into the one text column the floor's
// index table holds: enough bytes to cost what an index row costs.
func floorIndexValue(v searchparam.Value) string {
	switch {
	case v.Token.Code != "":
		return v.Token.System + "|" + v.Token.Code
	case v.String.Normalized != "":
		return v.String.Normalized
	case v.Reference.ID != "" || v.Reference.URL != "":
		return v.Reference.Type + "/" + v.Reference.ID + v.Reference.URL
	case !v.Date.Low.IsZero():
		return v.Date.Low.Format(time.RFC3339) + "/" + v.Date.High.Format(time.RFC3339)
	case v.Quantity.Value != "":
		return v.Quantity.Value + " " + v.Quantity.Code
	case v.Number.Value != "":
		return v.Number.Value
	}
	return v.URI
}

// transactionFloor writes, per request and in one transaction, what a
// transaction of the same template writes at its plainest: one row per
// resource (its template JSON) and one index row per search value the
// server extracts from it, each table loaded by COPY.
func transactionFloor(_ context.Context, e *env) (op, error) {
	ts, err := e.templates()
	if err != nil {
		return nil, err
	}
	type floorRows struct {
		raw    [][]byte
		values [][]string // per resource: param, value pairs flattened
	}
	rows := make([]floorRows, len(ts))
	for i, t := range ts {
		for _, te := range t.entries {
			vals, err := searchparam.Extract(te.typ, te.raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			pairs := make([]string, 0, 2*len(vals))
			for _, v := range vals {
				pairs = append(pairs, v.Param, floorIndexValue(v))
			}
			rows[i].raw = append(rows[i].raw, te.raw)
			rows[i].values = append(rows[i].values, pairs)
		}
	}
	var next atomic.Uint64
	return func(ctx context.Context, rng *rand.Rand) error {
		r := rows[next.Add(1)%uint64(len(rows))]
		res := make([][]any, len(r.raw))
		var idx [][]any
		patient := floorID(rng)
		for i, raw := range r.raw {
			id := floorID(rng)
			res[i] = []any{id, raw}
			for k := 0; k < len(r.values[i]); k += 2 {
				idx = append(idx, []any{id, r.values[i][k], r.values[i][k+1], patient})
			}
		}
		return pgx.BeginFunc(ctx, e.db, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"floor_resources"}, []string{"id", "raw"}, pgx.CopyFromRows(res)); err != nil {
				return err
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"floor_index"}, []string{"res_id", "param", "value", "patient_id"}, pgx.CopyFromRows(idx))
			return err
		})
	}, nil
}
