package ingest

import (
	"context"
	"fmt"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store"
)

// prepared is a line that parsed and validated, ready to write.
type prepared struct {
	line
	typ, id string
}

// prepare parses and validates a line and settles the id it writes: the
// line's own, or its content's (contentID).
func (im *Importer) prepare(l line) (prepared, error) {
	typ, id, err := fhir.Peek(l.raw)
	if err != nil {
		return prepared{}, fhir.Errorf(fhir.KindInvalid, "structure", "the line is not a JSON resource: %v", err)
	}
	if typ == "" {
		return prepared{}, fhir.AtPath(fhir.KindInvalid, "required", "resourceType", "the line has no resourceType")
	}
	if typ == "AuditEvent" {
		return prepared{}, fhir.Errorf(fhir.KindNotAllowed, "not-supported", "AuditEvents are written by the server only and cannot be imported")
	}
	if err := im.Records.Validate(typ, l.raw); err != nil {
		return prepared{}, err
	}
	if id == "" {
		id = contentID(typ, l.raw)
	} else if !fhir.ValidID(id) {
		return prepared{}, fhir.AtPath(fhir.KindInvalid, "invalid", typ+".id", "%q is not a valid id", id)
	}
	return prepared{line: l, typ: typ, id: id}, nil
}

// loadLines writes a batch of lines in one transaction. A line that fails
// (it does not parse, breaks a rule, or the store refuses it) is reported
// with its file and line number and the batch is written without it.
func (im *Importer) loadLines(ctx context.Context, file string, ls []line) error {
	ps := make([]prepared, 0, len(ls))
	seen := map[string]int{}
	for _, l := range ls {
		p, err := im.prepare(l)
		if err == nil {
			if prev, dup := seen[p.typ+"/"+p.id]; dup {
				err = fhir.AtPath(fhir.KindInvalid, "duplicate", p.typ+".id",
					"%s/%s is also on line %d; a file holds each resource once", p.typ, p.id, prev)
			}
		}
		if err != nil {
			im.fail(lineFailure(file, l.no, err), 1)
			continue
		}
		seen[p.typ+"/"+p.id] = l.no
		ps = append(ps, p)
	}
	for len(ps) > 0 {
		results, bad, err := im.writeLines(ctx, ps)
		if err == nil {
			for _, res := range results {
				im.tally(res)
			}
			return nil
		}
		if stop := im.fatal(ctx, err); stop != nil {
			return stop
		}
		if bad < 0 {
			// The store refused the batch without naming a line (a
			// constraint checked at commit): write the lines one by one.
			return im.loadEach(ctx, file, ps)
		}
		im.fail(lineFailure(file, ps[bad].no, err), 1)
		ps = append(ps[:bad:bad], ps[bad+1:]...)
	}
	return nil
}

// loadEach writes each line in a transaction of its own.
func (im *Importer) loadEach(ctx context.Context, file string, ps []prepared) error {
	for _, p := range ps {
		results, _, err := im.writeLines(ctx, []prepared{p})
		if err != nil {
			if stop := im.fatal(ctx, err); stop != nil {
				return stop
			}
			im.fail(lineFailure(file, p.no, err), 1)
			continue
		}
		im.tally(results[0])
	}
	return nil
}

// writeLines writes ps in one transaction and returns each line's result,
// or the error and the index of the line it came from (-1 when the store
// reported it for the whole transaction). As with bundles
// (bundle.Loader), the first attempt creates every resource, which on
// Postgres is one round trip; after a conflict (something is stored
// already) each line is written as an update that skips unchanged
// content.
func (im *Importer) writeLines(ctx context.Context, ps []prepared) ([]record.Result, int, error) {
	o := im.options("")
	results := make([]record.Result, 0, len(ps))
	bad, attempts := -1, 0
	write := func(tx store.Tx) error {
		attempts++
		results, bad = results[:0], -1
		for i, p := range ps {
			var res record.Result
			var err error
			if attempts > 1 {
				res, err = im.Records.UpdateTx(ctx, tx, p.typ, p.id, p.raw, o)
			} else {
				res, err = im.Records.CreateTx(ctx, tx, p.typ, p.id, p.raw, o)
			}
			if err != nil {
				bad = i
				return err
			}
			results = append(results, res)
		}
		return nil
	}
	err := im.audited.Write(ctx, write)
	if err != nil && attempts == 1 && fhir.KindOf(err) == fhir.KindConflict {
		err = im.audited.Write(ctx, write)
	}
	if err != nil {
		return nil, bad, err
	}
	return results, -1, nil
}

func lineFailure(file string, no int, err error) Failure {
	return Failure{File: file, Line: no, Reason: fmt.Sprintf("line %d: %s", no, reason(err)), Outcome: outcomeOf(err)}
}
