// Package bundle processes batch and transaction Bundles (FHIR R4
// http.html#transaction): it orders a transaction's entries, gives new
// resources their ids, resolves urn:uuid: and urn:oid: fullUrls and
// conditional references and rewrites every reference to them, and runs the
// whole transaction as one store write, so that it commits entirely or not
// at all. A batch runs each entry on its own.
package bundle

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/patch"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store"
)

// The bundle types this package processes.
const (
	Batch       = "batch"
	Transaction = "transaction"
)

// Request is the request of an entry.
type Request struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	IfNoneMatch     string `json:"ifNoneMatch,omitempty"`
	IfModifiedSince string `json:"ifModifiedSince,omitempty"`
	IfMatch         string `json:"ifMatch,omitempty"`
	IfNoneExist     string `json:"ifNoneExist,omitempty"`
}

// Response is the response of an entry.
type Response struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

// Answer is what one entry of the response bundle holds.
type Answer struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Response Response        `json:"response"`
}

// Backend is what processing needs from the request that carried the
// bundle: its caller's permissions, write options and reads, applied to
// each entry exactly as to the REST interaction the entry stands for.
type Backend interface {
	// Authorize refuses an interaction on typ that the caller's scopes
	// do not allow.
	Authorize(typ string, in access.Interaction) error
	// Options are the caller's write options, with an entry's If-Match.
	Options(ifMatch string) record.Options
	// Criteria parses the search criteria of a conditional interaction
	// or reference on typ, limited to what the caller may see.
	Criteria(typ, query string) (record.Criteria, error)
	// Read answers a GET or HEAD entry; path is the entry's URL relative
	// to the base.
	Read(ctx context.Context, path string, req Request) Answer
	// Failed renders the failure of a batch entry.
	Failed(err error) Answer
}

// Processor processes bundles against a store.
type Processor struct {
	Records *record.Service
	Store   store.Store
	// Base is the server's FHIR base URL: absolute entry URLs under it
	// name local resources.
	Base string
	// Loader, when set, processes bundles for the bulk importer rather
	// than for a client (see Loader). The REST API leaves it nil.
	Loader Loader
}

// Loader adapts processing to bulk loading (internal/ingest), where a
// bundle may be loaded again after an interruption and must then change
// nothing. A POST entry creates its resource under the id its source gave
// it; when that id is stored already, the entry is written as an update,
// which the Backend's options make a no-op for unchanged content
// (record.Options.SkipUnchanged). A transaction is first tried as plain
// creates, which on Postgres cost one round trip, and only after a
// conflict (something is stored already) again with a read of each
// resource.
type Loader interface {
	// SourceID returns the id that a POST entry of type typ with fullURL
	// creates (a urn:uuid: names its resource for good), or "" for a new
	// server id.
	SourceID(typ, fullURL string) string
	// IfNoneExist returns the criteria that make a POST entry without
	// ifNoneExist a conditional create, or "".
	IfNoneExist(typ string, resource json.RawMessage) string
	// Committed is told the result of each write entry (by its index in
	// the bundle) once its transaction has committed.
	Committed(index int, res record.Result)
}

type rawBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  *Request        `json:"request"`
	} `json:"entry"`
}

// entry is one entry of the bundle while it is processed.
type entry struct {
	index    int
	fullURL  string
	resource json.RawMessage
	req      Request
	path     string // the URL relative to the base, without the query
	query    string
	typ, id  string

	// Set while the transaction runs (and reset when it is retried).
	body     json.RawMessage // resource with references rewritten
	target   string          // the id the entry writes
	sourceID bool            // target is the id the Loader gave a POST entry
	stored   bool            // ... and a resource with that id is stored already
	matched  bool            // a conditional create found its resource: nothing to write
	result   record.Result
	response Answer
}

// Type returns the type of a Bundle body, for the caller to name the
// interaction before processing it.
func Type(raw []byte) (string, error) {
	// The top level only: Process reads the rest.
	resourceType, typ := "", ""
	err := fhir.TopLevel(raw, func(key string, value []byte) error {
		var err error
		switch key {
		case "resourceType":
			err = json.Unmarshal(value, &resourceType)
		case "type":
			err = json.Unmarshal(value, &typ)
		}
		return err
	})
	if err != nil {
		return "", fhir.Errorf(fhir.KindInvalid, "structure", "the body is not a JSON Bundle: %v", err)
	}
	if resourceType != "Bundle" {
		return "", fhir.Errorf(fhir.KindInvalid, "invalid", "POST to the base takes a Bundle, not %q", resourceType)
	}
	if typ != Batch && typ != Transaction {
		return "", fhir.AtPath(fhir.KindInvalid, "invalid", "Bundle.type",
			"only batch and transaction Bundles can be processed, not %q", typ)
	}
	return typ, nil
}

// Process runs a batch or transaction Bundle and returns the response
// Bundle. ret is the client's Prefer return= (minimal, OperationOutcome,
// or the resource otherwise). A transaction that fails returns an error
// naming the entry; a batch reports each entry's failure in its response.
func (p *Processor) Process(ctx context.Context, raw []byte, b Backend, ret string) ([]byte, error) {
	typ, err := Type(raw)
	if err != nil {
		return nil, err
	}
	var rb rawBundle
	if err := json.Unmarshal(raw, &rb); err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "the Bundle cannot be read: %v", err)
	}
	es := make([]*entry, len(rb.Entry))
	for i, re := range rb.Entry {
		e := &entry{index: i, fullURL: re.FullURL, resource: re.Resource}
		if re.Request == nil {
			return nil, atEntry(e, fhir.Errorf(fhir.KindInvalid, "required", "the entry has no request"))
		}
		e.req = *re.Request
		if err := p.parse(e); err != nil {
			if typ == Transaction {
				return nil, atEntry(e, err)
			}
			e.response = b.Failed(atEntry(e, err))
		}
		es[i] = e
	}
	if typ == Transaction {
		if err := p.transaction(ctx, es, b, ret); err != nil {
			return nil, err
		}
	} else {
		p.batch(ctx, es, b, ret)
	}
	out := struct {
		ResourceType string   `json:"resourceType"`
		ID           string   `json:"id"`
		Type         string   `json:"type"`
		Entry        []Answer `json:"entry,omitempty"`
	}{ResourceType: "Bundle", ID: record.NewID(), Type: typ + "-response"}
	for _, e := range es {
		out.Entry = append(out.Entry, e.response)
	}
	return json.Marshal(out)
}

// parse checks an entry's request and splits its URL.
func (p *Processor) parse(e *entry) error {
	e.req.Method = strings.ToUpper(e.req.Method)
	u := e.req.URL
	if strings.HasPrefix(u, p.Base+"/") {
		u = strings.TrimPrefix(u, p.Base+"/")
	} else if strings.Contains(u, "://") {
		// Another server's base (as in published examples): the path from
		// the resource type on is what names the resource.
		pu, err := url.Parse(u)
		if err != nil {
			return fhir.Errorf(fhir.KindInvalid, "invalid", "request.url %q is not a URL", e.req.URL)
		}
		segs := strings.Split(strings.Trim(pu.Path, "/"), "/")
		start := len(segs)
		for i, s := range segs {
			if r4.IsResourceType(s) {
				start = i
				break
			}
		}
		u = strings.Join(segs[start:], "/")
		if pu.RawQuery != "" {
			u += "?" + pu.RawQuery
		}
	}
	u = strings.TrimPrefix(u, "/")
	e.path, e.query, _ = strings.Cut(u, "?")
	segs := strings.Split(e.path, "/")
	e.typ = segs[0]
	if len(segs) > 1 {
		e.id = segs[1]
	}
	switch e.req.Method {
	case http.MethodGet, http.MethodHead:
		return nil
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return fhir.Errorf(fhir.KindInvalid, "invalid", "request.method %q is not a FHIR interaction", e.req.Method)
	}
	if !r4.IsResourceType(e.typ) {
		return fhir.Errorf(fhir.KindInvalid, "invalid", "request.url %q does not name a resource type", e.req.URL)
	}
	if e.typ == "AuditEvent" {
		return fhir.Errorf(fhir.KindNotAllowed, "not-supported",
			"AuditEvents are written by the server only and cannot be created, changed or deleted through the API")
	}
	conditional := e.query != "" && e.id == ""
	switch {
	case e.req.Method == http.MethodPost && (len(segs) != 1 || e.query != ""):
		return fhir.Errorf(fhir.KindInvalid, "invalid", "a POST entry's request.url is the resource type, not %q", e.req.URL)
	case e.req.Method != http.MethodPost && !conditional && (len(segs) != 2 || e.query != "" || !fhir.ValidID(e.id)):
		return fhir.Errorf(fhir.KindInvalid, "invalid",
			"a %s entry's request.url is [type]/[id] or [type]?[criteria], not %q", e.req.Method, e.req.URL)
	}
	if e.req.Method == http.MethodPost && e.req.IfNoneExist == "" && p.Loader != nil {
		e.req.IfNoneExist = p.Loader.IfNoneExist(e.typ, e.resource)
	}
	if e.req.Method == http.MethodPost || e.req.Method == http.MethodPut {
		if len(e.resource) == 0 {
			return fhir.Errorf(fhir.KindInvalid, "required", "a %s entry needs a resource", e.req.Method)
		}
		if err := p.Records.Validate(e.typ, e.resource); err != nil {
			return err
		}
	}
	if e.req.Method == http.MethodPut && !conditional {
		if _, bodyID, _ := fhir.Peek(e.resource); bodyID != e.id {
			return fhir.AtPath(fhir.KindInvalid, "invalid", e.typ+".id", "body id %q does not match the id %q in request.url", bodyID, e.id)
		}
	}
	return nil
}

// interaction is the interaction an entry's scopes are checked for.
func (e *entry) interaction() access.Interaction {
	switch e.req.Method {
	case http.MethodPost:
		return access.InteractionCreate
	case http.MethodPut:
		return access.InteractionUpdate
	case http.MethodPatch:
		return access.InteractionPatch
	case http.MethodDelete:
		return access.InteractionDelete
	}
	return access.InteractionRead
}

// phase is an entry's place in the processing order of a transaction:
// deletes, creates, updates and patches, then reads.
func (e *entry) phase() int {
	switch e.req.Method {
	case http.MethodDelete:
		return 0
	case http.MethodPost:
		return 1
	case http.MethodPut, http.MethodPatch:
		return 2
	}
	return 3
}

// atEntry names the entry in err's issues, so that the client can tell
// which entry failed the bundle.
func atEntry(e *entry, err error) error {
	var fe *fhir.Error
	if !errors.As(err, &fe) || fe.Kind == fhir.KindInternal {
		return err
	}
	out := &fhir.Error{Kind: fe.Kind, Err: err}
	where := fmt.Sprintf("Bundle.entry[%d]", e.index)
	for _, is := range fe.Issues {
		is.Diagnostics = fmt.Sprintf("%s (%s %s): %s", where, e.req.Method, e.req.URL, is.Diagnostics)
		is.Expression = append([]string{where}, is.Expression...)
		out.Issues = append(out.Issues, is)
	}
	return out
}

// batch runs each entry on its own, in the order given: one entry's
// failure is its own response and touches no other.
func (p *Processor) batch(ctx context.Context, es []*entry, b Backend, ret string) {
	for _, e := range es {
		if e.response.Response.Status != "" {
			continue
		}
		if e.phase() == 3 {
			e.response = p.read(ctx, e, b)
			continue
		}
		if err := p.transaction(ctx, []*entry{e}, b, ret); err != nil {
			e.response = b.Failed(err)
		}
	}
}

func (p *Processor) read(ctx context.Context, e *entry, b Backend) Answer {
	in := access.InteractionRead
	if e.id == "" {
		in = access.InteractionSearchType
	}
	if e.typ != "" && r4.IsResourceType(e.typ) {
		if err := b.Authorize(e.typ, in); err != nil {
			return b.Failed(atEntry(e, err))
		}
	}
	path := e.path
	if e.query != "" {
		path += "?" + e.query
	}
	return b.Read(ctx, path, e.req)
}

// transaction runs the write entries of es in one store write, then the
// reads, each after the writes have committed.
func (p *Processor) transaction(ctx context.Context, es []*entry, b Backend, ret string) error {
	var writes []*entry
	for phase := 0; phase < 3; phase++ {
		for _, e := range es {
			if e.phase() == phase {
				writes = append(writes, e)
			}
		}
	}
	for _, e := range writes {
		if err := b.Authorize(e.typ, e.interaction()); err != nil {
			return atEntry(e, err)
		}
	}
	if len(writes) > 0 {
		// With a Loader, any attempt after the first (the store's retry
		// after a conflict, or ours below) reads what is stored.
		attempts := 0
		write := func(tx store.Tx) error {
			attempts++
			return p.write(ctx, tx, writes, b, p.Loader != nil && attempts > 1)
		}
		err := p.Store.Write(ctx, write)
		if err != nil && p.Loader != nil && attempts == 1 && fhir.KindOf(err) == fhir.KindConflict {
			err = p.Store.Write(ctx, write)
		}
		if err != nil {
			return err
		}
		for _, e := range writes {
			if err := p.answer(ctx, e, ret); err != nil {
				return atEntry(e, err)
			}
			if p.Loader != nil {
				p.Loader.Committed(e.index, e.result)
			}
		}
	}
	for _, e := range es {
		if e.phase() == 3 {
			e.response = p.read(ctx, e, b)
		}
	}
	return nil
}

// write is the body of a transaction's store write. The store may run it
// again after a conflict, so it starts from the entries as parsed. careful
// makes a POST entry with a source id an update (see Loader).
func (p *Processor) write(ctx context.Context, tx store.Tx, writes []*entry, b Backend, careful bool) error {
	ids := map[string]string{}     // placeholder or absolute fullUrl -> Type/id
	written := map[string]*entry{} // Type/id -> the entry that writes it
	for _, e := range writes {
		e.body, e.target, e.sourceID, e.stored, e.matched, e.result = e.resource, "", false, false, false, record.Result{}
	}
	// Deletes come first, so that what follows sees their effect.
	for _, e := range writes {
		if e.req.Method != http.MethodDelete {
			continue
		}
		if err := p.delete(ctx, tx, e, b); err != nil {
			return atEntry(e, err)
		}
	}
	// Every entry's id is settled before any body is written, so that a
	// reference to any entry can be rewritten.
	for _, e := range writes {
		if e.req.Method == http.MethodDelete {
			continue
		}
		if err := p.target(ctx, tx, e, b); err != nil {
			return atEntry(e, err)
		}
		if other, dup := written[e.typ+"/"+e.target]; dup {
			return atEntry(e, fhir.Errorf(fhir.KindInvalid, "invalid",
				"%s/%s is also written by entry %d; a transaction writes each resource at most once", e.typ, e.target, other.index))
		}
		written[e.typ+"/"+e.target] = e
		if _, _, abs := absolute(e.fullURL); placeholder(e.fullURL) || abs {
			if _, dup := ids[e.fullURL]; dup {
				return atEntry(e, fhir.Errorf(fhir.KindInvalid, "invalid", "fullUrl %s names more than one entry", e.fullURL))
			}
			ids[e.fullURL] = e.typ + "/" + e.target
		}
	}
	// A conditional reference to what another entry creates or updates
	// resolves to that entry, when its criteria are the entry's; otherwise
	// by search, so entries holding one are written after the others,
	// whose resources the search then sees.
	conditional := map[string]string{} // criteria key -> Type/id
	for _, e := range writes {
		criteria := e.query
		if e.req.Method == http.MethodPost {
			criteria = e.req.IfNoneExist
		}
		if criteria != "" && e.req.Method != http.MethodDelete {
			if key, ok := criteriaKey(e.typ, criteria); ok {
				conditional[key] = e.typ + "/" + e.target
			}
		}
	}
	ordered := make([]*entry, 0, len(writes))
	var later []*entry
	for _, e := range writes {
		if hasConditionalRef(e.resource) {
			later = append(later, e)
		} else {
			ordered = append(ordered, e)
		}
	}
	for _, e := range append(ordered, later...) {
		if e.req.Method == http.MethodDelete || e.matched {
			continue
		}
		if err := p.rewrite(ctx, tx, e, ids, conditional, b); err != nil {
			return atEntry(e, err)
		}
		if err := p.put(ctx, tx, e, b, careful); err != nil {
			return atEntry(e, err)
		}
	}
	return nil
}

func (p *Processor) delete(ctx context.Context, tx store.Tx, e *entry, b Backend) error {
	o := b.Options(e.req.IfMatch)
	var err error
	if e.id == "" {
		c, cerr := b.Criteria(e.typ, e.query)
		if cerr != nil {
			return cerr
		}
		e.result, err = p.Records.ConditionalDeleteTx(ctx, tx, e.typ, c, o)
	} else {
		e.result, err = p.Records.DeleteTx(ctx, tx, e.typ, e.id, o)
	}
	return err
}

// target settles the id an entry writes: a new one for a create, the match
// of a conditional create, update or patch, or the id of its URL.
func (p *Processor) target(ctx context.Context, tx store.Tx, e *entry, b Backend) error {
	criteria := e.query
	if e.req.Method == http.MethodPost {
		criteria = e.req.IfNoneExist
	}
	if e.id != "" || criteria == "" {
		e.target = e.id
		if e.target == "" {
			e.target = p.newID(e)
		}
		return nil
	}
	c, err := b.Criteria(e.typ, criteria)
	if err != nil {
		return err
	}
	m, err := record.MatchTx(ctx, tx, c)
	if err != nil {
		return err
	}
	switch e.req.Method {
	case http.MethodPost:
		switch len(m) {
		case 0:
			e.target = p.newID(e)
		case 1:
			if p.Loader != nil && m[0].ID == p.Loader.SourceID(e.typ, e.fullURL) {
				// The entry's own earlier load: written again as an
				// update, so that a changed resource gets its change.
				e.target, e.sourceID, e.stored = m[0].ID, true, true
				break
			}
			e.target, e.matched = m[0].ID, true
			e.result = record.Result{Resource: m[0], Unchanged: true}
		default:
			return fhir.Errorf(fhir.KindPrecondition, "multiple-matches", "ifNoneExist %q matches more than one %s", criteria, e.typ)
		}
	case http.MethodPut:
		e.target, err = record.UpdateTarget(ctx, tx, e.typ, e.resource, m)
	case http.MethodPatch:
		switch len(m) {
		case 0:
			return fhir.Errorf(fhir.KindNotFound, "not-found", "no %s matches the criteria of the conditional patch", e.typ)
		case 1:
			e.target = m[0].ID
		default:
			return fhir.Errorf(fhir.KindPrecondition, "multiple-matches", "the criteria of the conditional patch match more than one %s", e.typ)
		}
	}
	return err
}

// newID returns the id a POST entry creates: its source's (Loader), or a
// new one.
func (p *Processor) newID(e *entry) string {
	if p.Loader != nil {
		if id := p.Loader.SourceID(e.typ, e.fullURL); id != "" {
			e.sourceID = true
			return id
		}
	}
	return record.NewID()
}

// rewrite replaces, in the entry's resource, every reference to a
// placeholder fullUrl by the entry's Type/id, and every conditional
// reference by its one visible match.
func (p *Processor) rewrite(ctx context.Context, tx store.Tx, e *entry, ids, conditional map[string]string, b Backend) error {
	if e.req.Method == http.MethodPatch {
		return nil
	}
	// A relative reference in an entry whose fullUrl is absolute is
	// relative to that fullUrl's base (Bundle, "Resolving references in
	// Bundles"): it names the entry with that absolute fullUrl, if any.
	base, _, _ := absolute(e.fullURL)
	body, _, err := rewriteRefs(e.resource, func(ref string) (string, bool, error) {
		switch {
		case placeholder(ref):
			to, ok := ids[ref]
			if !ok {
				return "", false, fhir.Errorf(fhir.KindInvalid, "not-found",
					"reference %s names no entry of the transaction", ref)
			}
			return to, true, nil
		case conditionalRef(ref):
			typ, query, _ := strings.Cut(ref, "?")
			if !r4.IsResourceType(typ) {
				return "", false, fhir.Errorf(fhir.KindInvalid, "invalid", "conditional reference %q does not name a resource type", ref)
			}
			if key, ok := criteriaKey(typ, query); ok {
				if to, ok := conditional[key]; ok {
					return to, true, nil
				}
			}
			c, err := b.Criteria(typ, query)
			if err != nil {
				return "", false, err
			}
			if params, err := url.ParseQuery(query); err == nil && record.NHSNumberCriteria(typ, params) {
				// Sources find the person by NHS number whoever holds
				// the Patient; the reference reveals its id, no more.
				c.Query.Visibility = nil
			}
			m, err := tx.Match(ctx, c.Query, 2)
			if err != nil {
				return "", false, err
			}
			if len(m) != 1 {
				return "", false, fhir.Errorf(fhir.KindPrecondition, "not-found",
					"conditional reference %s matches %s resources, not exactly one", ref, countWord(len(m)))
			}
			return typ + "/" + m[0].ID, true, nil
		case strings.Contains(ref, "://"):
			to, ok := ids[ref]
			return to, ok, nil
		case base != "" && !strings.HasPrefix(ref, "#"):
			to, ok := ids[base+"/"+ref]
			return to, ok, nil
		}
		return "", false, nil
	})
	if err != nil {
		return err
	}
	e.body = body
	return nil
}

// criteriaKey normalises the search criteria of a conditional interaction
// or reference on typ, so that the same criteria written differently (the
// order of parameters, escaping) compare equal.
func criteriaKey(typ, query string) (string, bool) {
	params, err := url.ParseQuery(query)
	if err != nil || len(params) == 0 {
		return "", false
	}
	return record.CriteriaKey(typ, params), true
}

// hasConditionalRef reports whether raw may hold a conditional reference:
// a "reference" whose value has a '?'. A false positive only moves the
// entry later.
func hasConditionalRef(raw json.RawMessage) bool {
	if !bytes.Contains(raw, []byte{'?'}) && !bytes.Contains(raw, []byte(`\u003f`)) && !bytes.Contains(raw, []byte(`\u003F`)) {
		// No '?' anywhere, escaped or not: no reference can hold one.
		return false
	}
	found := false
	_, _, _ = rewriteRefs(raw, func(ref string) (string, bool, error) {
		found = found || conditionalRef(ref)
		return "", false, nil
	})
	return found
}

func countWord(n int) string {
	if n == 0 {
		return "no"
	}
	return "several"
}

// put writes a create, update or patch entry.
func (p *Processor) put(ctx context.Context, tx store.Tx, e *entry, b Backend, careful bool) error {
	o := b.Options(e.req.IfMatch)
	var err error
	switch e.req.Method {
	case http.MethodPost:
		if e.sourceID && (careful || e.stored) {
			e.result, err = p.Records.UpdateTx(ctx, tx, e.typ, e.target, e.body, o)
			break
		}
		e.result, err = p.Records.CreateTx(ctx, tx, e.typ, e.target, e.body, o)
	case http.MethodPut:
		e.result, err = p.Records.UpdateTx(ctx, tx, e.typ, e.target, e.body, o)
	case http.MethodPatch:
		var apply func(raw []byte) ([]byte, error)
		if apply, err = patchOf(e.resource); err != nil {
			return err
		}
		e.result, err = p.Records.PatchTx(ctx, tx, e.typ, e.target, apply, o)
	}
	return err
}

// patchOf returns the patch a PATCH entry carries: FHIRPath Patch
// Parameters, or a JSON Patch in a Binary.
func patchOf(res json.RawMessage) (func(raw []byte) ([]byte, error), error) {
	var r struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         string `json:"data"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "structure", "the PATCH entry's resource cannot be read: %v", err)
	}
	switch {
	case r.ResourceType == "Parameters":
		return func(raw []byte) ([]byte, error) { return patch.FHIRPathPatch(raw, res) }, nil
	case r.ResourceType == "Binary" && r.ContentType == "application/json-patch+json":
		doc, err := base64.StdEncoding.DecodeString(r.Data)
		if err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "invalid", "the Binary of the PATCH entry is not base64: %v", err)
		}
		return func(raw []byte) ([]byte, error) { return patch.JSONPatch(raw, doc) }, nil
	}
	return nil, fhir.Errorf(fhir.KindInvalid, "invalid",
		"a PATCH entry carries FHIRPath Patch Parameters or a Binary of application/json-patch+json")
}

// answer fills in the response of a committed write entry.
func (p *Processor) answer(ctx context.Context, e *entry, ret string) error {
	res := e.result
	if e.req.Method == http.MethodDelete {
		e.response = Answer{Response: Response{Status: "204 No Content"}}
		if !res.Unchanged {
			e.response.Response.Etag = res.ETag()
		}
		return nil
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	if e.matched {
		// The conditional create's match was read without its body.
		cur, err := p.Store.Read(ctx, res.Type, res.ID)
		if err != nil {
			return err
		}
		res.Resource = cur
	}
	a := Answer{
		FullURL: p.Base + "/" + res.Type + "/" + res.ID,
		Response: Response{
			Status:       strconv.Itoa(status) + " " + http.StatusText(status),
			Location:     res.Type + "/" + res.ID + "/_history/" + strconv.FormatInt(res.VersionID, 10),
			Etag:         res.ETag(),
			LastModified: res.LastUpdated.UTC().Format(fhir.LastUpdatedFormat),
		},
	}
	switch ret {
	case "minimal":
	case "OperationOutcome":
		a.Response.Outcome = fhir.OperationOutcome(fhir.Issue{Severity: "information", Code: "informational",
			Diagnostics: "Successfully wrote " + res.Ref() + " version " + strconv.FormatInt(res.VersionID, 10)})
	default:
		a.Resource = res.Raw
	}
	e.response = a
	return nil
}
