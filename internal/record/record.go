// Package record is the write path of the shared care record: it turns a
// client's create, update, patch or delete into a new version of a resource,
// with the server's id, meta and labels stamped on it, inside a store
// transaction. Batch and transaction bundles call the same functions inside
// one transaction.
package record

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/validate"
)

// Service writes resources to a store.
type Service struct {
	Store store.Store
	// Codes is the sensitive SNOMED CT set used to label writes; the
	// default set when nil.
	Codes *access.SensitiveCodes
	// Now returns the time stamped as meta.lastUpdated; time.Now when nil.
	Now func() time.Time
}

// Options are the parts of a write that are not the body.
type Options struct {
	// IfMatch is the client's If-Match header (W/"n"); empty for none.
	IfMatch string
	// Tags are server labels stamped on the resource, replacing any client
	// tag of the same system.
	Tags []fhir.Coding
	// Owner is the ODS code of the writing organisation. Only the owner of
	// an existing resource may change or delete it.
	Owner string
	// Audit, when set, makes the audit record of a successful write, which
	// is stored in the write's own transaction.
	Audit func(Result) store.AuditRecord
	// SkipUnchanged makes an update whose body matches the current version
	// (all but the server's stamps) write nothing and return the current
	// version as Unchanged, so that loading the same data again adds no
	// versions. The bulk importer sets it; REST updates always version.
	SkipUnchanged bool
}

// audited appends the audit record of res to tx when o asks for one.
func (o Options) audited(ctx context.Context, tx store.Tx, res Result) (Result, error) {
	if o.Audit == nil {
		return res, nil
	}
	return res, tx.AppendAudit(ctx, o.Audit(res))
}

// checkOwner refuses a change to a resource that another organisation owns.
func checkOwner(o Options, cur fhir.Resource, exists bool) error {
	if !exists || cur.Owner == o.Owner {
		return nil
	}
	return fhir.Errorf(fhir.KindForbidden, "forbidden",
		"%s/%s is owned by another organisation; only its owner may change or delete it", cur.Type, cur.ID)
}

// Result is the outcome of a write.
type Result struct {
	fhir.Resource
	// Created is true when the write made a resource that did not exist
	// (or existed only as deleted) before.
	Created bool
	// Unchanged is true when nothing was written (a delete of a deleted resource).
	Unchanged bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// NewID returns a fresh server-assigned logical id: a version 7 UUID,
// whose leading bits are the time of its making. Ids made one after the
// other sort together, so a new resource's rows land at the right edge of
// the B-trees keyed on its id (resources, resource_history, the index
// tables) where a random (version 4) id touched a random page of each: at
// millions of resources those pages no longer stay in memory.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// checkBody validates body as a resource of type typ.
func (s *Service) checkBody(typ string, body []byte) error {
	got, err := validate.Resource(body)
	if err != nil {
		return err
	}
	if got != typ {
		return fhir.AtPath(fhir.KindInvalid, "invalid", "resourceType",
			"resourceType %q does not match the resource type %q in the URL", got, typ)
	}
	return nil
}

// ParseETag returns the version of a W/"n" (or "n") entity tag.
func ParseETag(tag string) (int64, bool) {
	tag = strings.TrimSpace(tag)
	tag = strings.TrimPrefix(tag, "W/")
	tag = strings.Trim(tag, `"`)
	v, err := strconv.ParseInt(tag, 10, 64)
	return v, err == nil && v > 0
}

func checkIfMatch(ifMatch string, cur fhir.Resource, exists bool) error {
	if ifMatch == "" {
		return nil
	}
	want, ok := ParseETag(ifMatch)
	if !ok {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "If-Match %q is not a version entity tag such as W/\"3\"", ifMatch)
	}
	if !exists || cur.Deleted || cur.VersionID != want {
		have := "none"
		if exists && !cur.Deleted {
			have = cur.ETag()
		}
		return fhir.Errorf(fhir.KindPrecondition, "conflict",
			"If-Match %s does not match the current version (%s) of %s/%s", ifMatch, have, cur.Type, cur.ID)
	}
	return nil
}

// put writes body as the next version of typ/id after prev (version 0: new).
func (s *Service) put(ctx context.Context, tx store.Tx, typ, id string, body []byte, prev int64, o Options) (fhir.Resource, error) {
	now := s.now()
	raw, err := fhir.Stamp(body, id, prev+1, now, o.Tags)
	if err != nil {
		return fhir.Resource{}, fhir.Errorf(fhir.KindInvalid, "structure", "body is not a JSON object: %v", err)
	}
	r := fhir.Resource{Type: typ, ID: id, VersionID: prev + 1, LastUpdated: now, Raw: raw, Owner: o.Owner}
	d, err := Derive(typ, raw, s.Codes)
	if err != nil {
		return r, err
	}
	v := d.Version(r)
	return v.Resource, tx.Put(ctx, v)
}

// Create stores body as a new resource of type typ with a server-assigned id.
// Any id in the body is ignored, as the specification requires.
func (s *Service) Create(ctx context.Context, typ string, body []byte, o Options) (Result, error) {
	if err := s.checkBody(typ, body); err != nil {
		return Result{}, err
	}
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.CreateTx(ctx, tx, typ, NewID(), body, o)
		return err
	})
	return res, err
}

// CreateTx stores an already validated body as typ/id, version 1, in tx.
func (s *Service) CreateTx(ctx context.Context, tx store.Tx, typ, id string, body []byte, o Options) (Result, error) {
	r, err := s.put(ctx, tx, typ, id, body, 0, o)
	if err != nil {
		return Result{}, err
	}
	return o.audited(ctx, tx, Result{Resource: r, Created: true})
}

// Update stores body as the next version of typ/id, creating the resource
// with that id when it does not exist (update as create).
func (s *Service) Update(ctx context.Context, typ, id string, body []byte, o Options) (Result, error) {
	if err := s.checkBody(typ, body); err != nil {
		return Result{}, err
	}
	_, bodyID, _ := fhir.Peek(body)
	if bodyID == "" {
		return Result{}, fhir.AtPath(fhir.KindInvalid, "required", typ+".id", "the body of an update must carry the resource's id")
	}
	if bodyID != id {
		return Result{}, fhir.AtPath(fhir.KindInvalid, "invalid", typ+".id", "body id %q does not match the id %q in the URL", bodyID, id)
	}
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.UpdateTx(ctx, tx, typ, id, body, o)
		return err
	})
	return res, err
}

// UpdateTx is Update of an already validated body inside tx.
func (s *Service) UpdateTx(ctx context.Context, tx store.Tx, typ, id string, body []byte, o Options) (Result, error) {
	cur, ok, err := tx.Current(ctx, typ, id)
	if err != nil {
		return Result{}, err
	}
	if err := checkOwner(o, cur, ok); err != nil {
		return Result{}, err
	}
	if err := checkIfMatch(o.IfMatch, cur, ok); err != nil {
		return Result{}, err
	}
	if o.SkipUnchanged && ok && !cur.Deleted && sameContent(cur, body, o) {
		return Result{Resource: cur, Unchanged: true}, nil
	}
	r, err := s.put(ctx, tx, typ, id, body, cur.VersionID, o)
	if err != nil {
		return Result{}, err
	}
	return o.audited(ctx, tx, Result{Resource: r, Created: !ok || cur.Deleted})
}

// sameContent reports whether body, stamped as cur was (same id, version,
// lastUpdated and server tags), is cur's stored JSON: the same resource
// apart from what the server writes. Stamp's output is compact, so a body
// that differs only in whitespace is the same.
func sameContent(cur fhir.Resource, body []byte, o Options) bool {
	raw, err := fhir.Stamp(body, cur.ID, cur.VersionID, cur.LastUpdated, o.Tags)
	return err == nil && bytes.Equal(raw, cur.Raw)
}

// Delete marks typ/id deleted with a new version. Deleting a resource that is
// already deleted, or never existed, changes nothing and succeeds: delete is
// idempotent.
func (s *Service) Delete(ctx context.Context, typ, id string, o Options) (Result, error) {
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.DeleteTx(ctx, tx, typ, id, o)
		return err
	})
	return res, err
}

// DeleteTx is Delete inside tx.
func (s *Service) DeleteTx(ctx context.Context, tx store.Tx, typ, id string, o Options) (Result, error) {
	cur, ok, err := tx.Current(ctx, typ, id)
	if err != nil {
		return Result{}, err
	}
	if !ok || cur.Deleted {
		if !ok {
			cur = fhir.Resource{Type: typ, ID: id}
		}
		return o.audited(ctx, tx, Result{Resource: cur, Unchanged: true})
	}
	if err := checkOwner(o, cur, ok); err != nil {
		return Result{}, err
	}
	if err := checkIfMatch(o.IfMatch, cur, ok); err != nil {
		return Result{}, err
	}
	r := fhir.Resource{Type: typ, ID: id, VersionID: cur.VersionID + 1, LastUpdated: s.now(), Deleted: true, Owner: cur.Owner, PatientID: cur.PatientID}
	if err := tx.Put(ctx, store.Version{Resource: r, StatesRelations: access.StatesRelations(typ)}); err != nil {
		return Result{}, err
	}
	return o.audited(ctx, tx, Result{Resource: r})
}

// Patch applies patch to the current version of typ/id and stores the
// result as the next version. The patched resource is validated like any
// other body and may not change its type or id.
func (s *Service) Patch(ctx context.Context, typ, id string, patch func(raw []byte) ([]byte, error), o Options) (Result, error) {
	var res Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = s.PatchTx(ctx, tx, typ, id, patch, o)
		return err
	})
	return res, err
}

// PatchTx is Patch inside tx.
func (s *Service) PatchTx(ctx context.Context, tx store.Tx, typ, id string, patch func(raw []byte) ([]byte, error), o Options) (Result, error) {
	cur, ok, err := tx.Current(ctx, typ, id)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fhir.NotFound(typ, id)
	}
	if cur.Deleted {
		return Result{}, fhir.Errorf(fhir.KindGone, "deleted", "Resource %s/%s was deleted", typ, id)
	}
	if err := checkOwner(o, cur, ok); err != nil {
		return Result{}, err
	}
	if err := checkIfMatch(o.IfMatch, cur, ok); err != nil {
		return Result{}, err
	}
	body, err := patch(cur.Raw)
	if err != nil {
		return Result{}, err
	}
	if err := s.checkBody(typ, body); err != nil {
		return Result{}, err
	}
	if _, bodyID, _ := fhir.Peek(body); bodyID != id {
		return Result{}, fhir.AtPath(fhir.KindUnprocessable, "processing", typ+".id", "a patch may not change the resource's id")
	}
	if bytes.Equal(body, cur.Raw) {
		return o.audited(ctx, tx, Result{Resource: cur, Unchanged: true})
	}
	r, err := s.put(ctx, tx, typ, id, body, cur.VersionID, o)
	if err != nil {
		return Result{}, err
	}
	return o.audited(ctx, tx, Result{Resource: r})
}
