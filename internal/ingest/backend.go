package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/audit"
	bundles "github.com/sharedcare/sharedcare/internal/bundle"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Subject is the sub the audit trail names for what the importer writes.
const Subject = "sharedcare-import"

// caller is the source system the import writes as: exactly what a system
// token with requesting_organization and record_source would be.
func (im *Importer) caller() *access.Caller {
	return &access.Caller{Subject: Subject, CareRole: access.CareRoleSystem, Organization: im.Owner, RecordSource: im.Source}
}

// options are the record options of every write of the import: the
// labels and owner a system caller's writes get (access model, section 2),
// and no new version for a resource loaded again unchanged. The audit
// record is the transaction's (see auditedStore), not each write's.
func (im *Importer) options(ifMatch string) record.Options {
	c := im.caller()
	return record.Options{
		IfMatch: ifMatch,
		Owner:   c.Organization,
		Tags: []fhir.Coding{
			{System: access.RecordSourceSystem, Code: c.SourceTag()},
			{System: access.ODSOrganizationSystem, Code: c.Organization},
		},
		SkipUnchanged: true,
	}
}

// auditedStore is the store as the importer writes to it: every
// transaction that writes anything also stores one audit record, naming
// each version it wrote, so that the trail says which source loaded what,
// and commits or rolls back with it. One record a transaction rather than
// one a write (as the REST API makes) keeps the trail from outweighing
// the records in a bulk load.
type auditedStore struct {
	store.Store
	im *Importer
}

// Write runs fn in a transaction that ends with the audit record.
func (s auditedStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Write(ctx, func(tx store.Tx) error {
		at := &auditedTx{Tx: tx}
		if err := fn(at); err != nil {
			return err
		}
		if len(at.written) == 0 {
			return nil
		}
		return tx.AppendAudit(ctx, audit.Record(audit.Event{
			Time: time.Now(), Interaction: "transaction", Caller: s.im.caller(), Status: http.StatusOK,
			Entities: at.written, PatientID: at.patient, RequestID: s.im.runID,
		}))
	})
}

// auditedTx notes what a transaction writes.
type auditedTx struct {
	store.Tx
	written  []string // Type/id/_history/n of each version
	patient  string   // the one patient of every version written, or ""
	patients int
}

// Put writes v and notes it.
func (t *auditedTx) Put(ctx context.Context, v store.Version) error {
	t.written = append(t.written, v.Ref()+"/_history/"+strconv.FormatInt(v.VersionID, 10))
	switch {
	case v.PatientID == "" || v.PatientID == t.patient:
	case t.patients == 0:
		t.patient, t.patients = v.PatientID, 1
	default:
		t.patient, t.patients = "", 2
	}
	return t.Tx.Put(ctx, v)
}

// criteria parses the criteria of a conditional entry or reference as the
// REST API does for a system caller: it sees what its organisation owns and
// the non-patient resources. A search by NHS number alone is the exception:
// one Patient holds each number (the unique index), whoever pushed it, and
// a source's records of that person must attach to it.
func (im *Importer) criteria(typ, raw string) (record.Criteria, error) {
	c, params, err := record.ParseCriteria(typ, raw, im.Base)
	if err != nil {
		return c, err
	}
	if !record.NHSNumberCriteria(typ, params) {
		c.Query.Visibility = &search.Visibility{Organization: im.Owner, NonPatient: true}
	}
	return c, nil
}

// nhsNumber returns the NHS number a Patient carries, or "".
func nhsNumber(resource []byte) string {
	var p struct {
		Identifier []struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	}
	if json.Unmarshal(resource, &p) != nil {
		return ""
	}
	for _, id := range p.Identifier {
		if id.System == store.NHSNumberSystem && id.Value != "" {
			return id.Value
		}
	}
	return ""
}

// idNamespace is the UUID namespace of the ids the importer derives for
// resources whose source named none (see contentID).
var idNamespace = uuid.MustParse("5d0c4f0e-3b0a-4c8e-9a57-6b1f3f0f2a41")

// contentID is the id of a resource the source gave no identity: a
// name-based UUID of its type and bytes, so that loading the same line
// again finds the resource it created the first time.
func contentID(typ string, raw []byte) string {
	return uuid.NewSHA1(idNamespace, append([]byte(typ+"\x00"), raw...)).String()
}

// backend is the bundle.Backend and bundle.Loader of one bundle file.
type backend struct {
	im   *Importer
	file string
	// results are the committed results by entry index.
	results map[int]record.Result
}

var (
	_ bundles.Backend = (*backend)(nil)
	_ bundles.Loader  = (*backend)(nil)
)

// Authorize allows every write: the importer runs with the database's
// credentials, as its operator. AuditEvents are refused by the processor.
func (b *backend) Authorize(string, access.Interaction) error { return nil }

// Options are the import's write options with the entry's If-Match.
func (b *backend) Options(ifMatch string) record.Options { return b.im.options(ifMatch) }

// Criteria parses conditional criteria (see Importer.criteria).
func (b *backend) Criteria(typ, query string) (record.Criteria, error) {
	return b.im.criteria(typ, query)
}

// Read refuses GET entries: an import writes, and what it read would go nowhere.
func (b *backend) Read(_ context.Context, _ string, req bundles.Request) bundles.Answer {
	return b.Failed(fhir.Errorf(fhir.KindInvalid, "not-supported", "%s %s: an import only writes; read entries are not run", req.Method, req.URL))
}

// Failed renders the failure of a batch entry; the reason goes to the report.
func (b *backend) Failed(err error) bundles.Answer {
	return bundles.Answer{Response: bundles.Response{Status: "failed", Outcome: outcomeOf(err)}}
}

// SourceID keeps the uuid of a urn:uuid: fullUrl as the resource's id.
func (b *backend) SourceID(_, fullURL string) string {
	id, ok := strings.CutPrefix(fullURL, "urn:uuid:")
	if !ok || !fhir.ValidID(id) {
		return ""
	}
	return strings.ToLower(id)
}

// IfNoneExist makes a Patient with an NHS number a conditional create on
// that number.
func (b *backend) IfNoneExist(typ string, resource json.RawMessage) string {
	if typ != "Patient" {
		return ""
	}
	if n := nhsNumber(resource); n != "" {
		return "identifier=" + url.QueryEscape(store.NHSNumberSystem+"|"+n)
	}
	return ""
}

// Committed records an entry's result.
func (b *backend) Committed(index int, res record.Result) { b.results[index] = res }

// outcomeOf renders err as an OperationOutcome.
func outcomeOf(err error) json.RawMessage {
	var fe *fhir.Error
	if !errors.As(err, &fe) || len(fe.Issues) == 0 {
		return fhir.OperationOutcome(fhir.Issue{Severity: "error", Code: "exception", Diagnostics: err.Error()})
	}
	return fhir.OperationOutcome(fe.Issues...)
}
