package record

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Criteria are the search of a conditional interaction.
type Criteria struct {
	// Query is the parsed search, with the caller's visibility set, so
	// that a conditional interaction never sees or touches a resource
	// withheld from the caller.
	Query *search.Query
	// Key names the criteria for store.Tx.Lock (see CriteriaKey).
	Key string
}

// CriteriaKey returns the lock key of a conditional interaction on typ with
// params: the type and the parameters in a canonical order, so that the same
// criteria written in another order take the same lock.
func CriteriaKey(typ string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("conditional:" + typ + "?")
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v) + "&")
		}
	}
	return b.String()
}

// ParseCriteria parses the search criteria of a conditional interaction or
// reference on typ (a query string, or an If-None-Exist header) against a
// server whose FHIR base is base. Parsing is strict: an ignored parameter
// would widen the match, and a conditional write must not touch what the
// client did not mean. The caller sets the query's Visibility.
func ParseCriteria(typ, raw, base string) (Criteria, url.Values, error) {
	params, err := url.ParseQuery(raw)
	if err != nil {
		return Criteria{}, nil, fhir.Errorf(fhir.KindInvalid, "invalid", "the conditional criteria %q cannot be parsed: %v", raw, err)
	}
	if len(params) == 0 {
		return Criteria{}, nil, fhir.Errorf(fhir.KindInvalid, "required", "a conditional %s needs search criteria", typ)
	}
	q, _, err := search.Parse(typ, params, true)
	if err != nil {
		return Criteria{}, nil, err
	}
	q.Base = base
	return Criteria{Query: q, Key: CriteriaKey(typ, params)}, params, nil
}

// NHSNumberCriteria reports whether params search Patients by one NHS
// number and nothing else: the identity lookup through which a source's
// records of a person attach to the one Patient that holds the number
// (the unique index), whoever pushed it. Such a lookup sees every Patient,
// not only those its caller may see (access model, section 5: sources find
// patients through conditional references).
func NHSNumberCriteria(typ string, params url.Values) bool {
	return typ == "Patient" && len(params) == 1 && len(params["identifier"]) == 1 &&
		strings.HasPrefix(params["identifier"][0], store.NHSNumberSystem+"|") && !strings.Contains(params["identifier"][0], ",")
}

// Validate checks body as a resource of type typ, as every write does
// before the *Tx functions, which take validated bodies.
func (s *Service) Validate(typ string, body []byte) error { return s.checkBody(typ, body) }

// MatchTx returns the resources that match c in tx, after taking the lock
// of c's key so that writers deciding on the same criteria queue up and each
// sees what the previous one committed. Two are enough to tell one match
// from many.
func MatchTx(ctx context.Context, tx store.Tx, c Criteria) ([]fhir.Resource, error) {
	if err := tx.Lock(ctx, c.Key); err != nil {
		return nil, err
	}
	return tx.Match(ctx, c.Query, 2)
}

func multipleMatches(verb, typ string) error {
	return fhir.Errorf(fhir.KindPrecondition, "multiple-matches",
		"the criteria of the conditional %s match more than one %s; make them more selective", verb, typ)
}

// ConditionalCreate creates body as a new typ unless a resource matches c
// (FHIR conditional create, If-None-Exist). With one match it writes nothing
// and returns the match, without its body, as an Unchanged result; with more
// than one it fails with a fhir.KindPrecondition error.
func (s *Service) ConditionalCreate(ctx context.Context, typ string, body []byte, c Criteria, o Options) (Result, error) {
	if err := s.checkBody(typ, body); err != nil {
		return Result{}, err
	}
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.ConditionalCreateTx(ctx, tx, typ, NewID(), body, c, o)
		return err
	})
	return res, err
}

// ConditionalCreateTx is ConditionalCreate of a validated body inside tx,
// creating it as typ/id.
func (s *Service) ConditionalCreateTx(ctx context.Context, tx store.Tx, typ, id string, body []byte, c Criteria, o Options) (Result, error) {
	m, err := MatchTx(ctx, tx, c)
	if err != nil {
		return Result{}, err
	}
	switch len(m) {
	case 0:
		return s.CreateTx(ctx, tx, typ, id, body, o)
	case 1:
		return Result{Resource: m[0], Unchanged: true}, nil
	}
	return Result{}, multipleMatches("create", typ)
}

// ConditionalUpdate updates the one typ that matches c with body (FHIR
// conditional update). With no match it creates body, as the id the body
// carries when that id is free, otherwise as a server-assigned one; with
// more than one match it fails with a fhir.KindPrecondition error. A body id
// must be the match's id.
func (s *Service) ConditionalUpdate(ctx context.Context, typ string, body []byte, c Criteria, o Options) (Result, error) {
	if err := s.checkBody(typ, body); err != nil {
		return Result{}, err
	}
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.ConditionalUpdateTx(ctx, tx, typ, body, c, o)
		return err
	})
	return res, err
}

// ConditionalUpdateTx is ConditionalUpdate of a validated body inside tx.
func (s *Service) ConditionalUpdateTx(ctx context.Context, tx store.Tx, typ string, body []byte, c Criteria, o Options) (Result, error) {
	m, err := MatchTx(ctx, tx, c)
	if err != nil {
		return Result{}, err
	}
	id, err := UpdateTarget(ctx, tx, typ, body, m)
	if err != nil {
		return Result{}, err
	}
	return s.UpdateTx(ctx, tx, typ, id, body, o)
}

// UpdateTarget returns the id that a conditional update of body writes,
// given the matches of its criteria (from MatchTx): the one match; with none,
// the body's id when no other resource has it, or else a new id.
func UpdateTarget(ctx context.Context, tx store.Tx, typ string, body []byte, m []fhir.Resource) (string, error) {
	_, bodyID, _ := fhir.Peek(body)
	switch len(m) {
	case 0:
		if bodyID == "" {
			return NewID(), nil
		}
		cur, ok, err := tx.Current(ctx, typ, bodyID)
		if err != nil {
			return "", err
		}
		if ok && !cur.Deleted {
			return "", fhir.AtPath(fhir.KindConflict, "conflict", typ+".id",
				"no %s matches the criteria, and the body's id %q belongs to a resource that does not match them", typ, bodyID)
		}
		return bodyID, nil
	case 1:
		if bodyID != "" && bodyID != m[0].ID {
			return "", fhir.AtPath(fhir.KindInvalid, "invalid", typ+".id",
				"body id %q is not the id of the resource the criteria match", bodyID)
		}
		return m[0].ID, nil
	}
	return "", multipleMatches("update", typ)
}

// ConditionalDelete deletes the one typ that matches c (FHIR conditional
// delete, single mode). No match changes nothing and succeeds, as Delete of
// an unknown id does, with an Unchanged result without an id; more than one
// is a fhir.KindPrecondition error.
func (s *Service) ConditionalDelete(ctx context.Context, typ string, c Criteria, o Options) (Result, error) {
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.ConditionalDeleteTx(ctx, tx, typ, c, o)
		return err
	})
	return res, err
}

// ConditionalDeleteTx is ConditionalDelete inside tx.
func (s *Service) ConditionalDeleteTx(ctx context.Context, tx store.Tx, typ string, c Criteria, o Options) (Result, error) {
	m, err := MatchTx(ctx, tx, c)
	if err != nil {
		return Result{}, err
	}
	switch len(m) {
	case 0:
		// Nothing is written, so there is no write to audit here: the
		// request's own audit record covers it.
		return Result{Resource: fhir.Resource{Type: typ}, Unchanged: true}, nil
	case 1:
		return s.DeleteTx(ctx, tx, typ, m[0].ID, o)
	}
	return Result{}, multipleMatches("delete", typ)
}

// ConditionalPatch patches the one typ that matches c (FHIR conditional
// patch). No match is a fhir.KindNotFound error and more than one a
// fhir.KindPrecondition error.
func (s *Service) ConditionalPatch(ctx context.Context, typ string, patch func(raw []byte) ([]byte, error), c Criteria, o Options) (Result, error) {
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.ConditionalPatchTx(ctx, tx, typ, patch, c, o)
		return err
	})
	return res, err
}

// ConditionalPatchTx is ConditionalPatch inside tx.
func (s *Service) ConditionalPatchTx(ctx context.Context, tx store.Tx, typ string, patch func(raw []byte) ([]byte, error), c Criteria, o Options) (Result, error) {
	m, err := MatchTx(ctx, tx, c)
	if err != nil {
		return Result{}, err
	}
	switch len(m) {
	case 0:
		return Result{}, fhir.Errorf(fhir.KindNotFound, "not-found", "no %s matches the criteria of the conditional patch", typ)
	case 1:
		return s.PatchTx(ctx, tx, typ, m[0].ID, patch, o)
	}
	return Result{}, multipleMatches("patch", typ)
}
