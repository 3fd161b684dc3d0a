// Package store defines how the server keeps resources: the Store interface
// that the Postgres and embedded implementations satisfy, and the types that
// cross it. No driver type appears here.
package store

import (
	"context"
	"strings"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/search"
	"github.com/sharedcare/sharedcare/internal/searchparam"
)

// Store keeps every version of every resource and the ordered log of changes.
type Store interface {
	// Read returns the current version of typ/id. A deleted resource is
	// returned with Deleted set; an unknown one is a fhir.KindNotFound error.
	Read(ctx context.Context, typ, id string) (fhir.Resource, error)
	// VRead returns one version of typ/id, or a fhir.KindNotFound error.
	VRead(ctx context.Context, typ, id string, version int64) (fhir.Resource, error)
	// History returns entries of the change log, newest first.
	History(ctx context.Context, q HistoryQuery) (HistoryPage, error)
	// Search returns one page of the current resources that match q, the
	// resources its _include and _revinclude ask for, and, as q.Total
	// asks, how many match in all. Deleted resources never match.
	Search(ctx context.Context, q *search.Query) (SearchPage, error)
	// Match returns up to limit current resources that match q, in the
	// order of q.Sort, without their bodies (Raw is nil): what a
	// conditional interaction needs to decide.
	Match(ctx context.Context, q *search.Query, limit int) ([]fhir.Resource, error)
	// Write runs fn in one database transaction and commits it when fn
	// returns nil. It may run fn again when the database reports a
	// conflict between concurrent transactions, so fn must do nothing but
	// call tx.
	Write(ctx context.Context, fn func(tx Tx) error) error
	// Owners returns the organisations (ODS codes) that own a record of
	// the patient, deleted ones included: ownership is a care relationship.
	Owners(ctx context.Context, patientID string) ([]string, error)
	// ConsentedPatients returns the ids of up to limit patients, in id
	// order, who have a Consent resource and with whom org has a care
	// relationship that search.SharedVisibility counts: the patients a
	// search across patients judges one by one.
	ConsentedPatients(ctx context.Context, org string, limit int) ([]string, error)
	// Reindex rewrites, in one transaction, the derived data of up to
	// limit current, not deleted resources of type typ (every type when
	// empty) that follow after in (type, id) order: their search index
	// rows, patient, access labels and care relations become what derive
	// returns for them. It creates no version and changes neither the
	// history, lastUpdated nor the audit trail. The resources are locked
	// against concurrent writers until it commits, so that a resource
	// updated meanwhile keeps the index of its newest version. It returns
	// the key of the last resource it rewrote (after when none) and how
	// many it rewrote; fewer than limit means there are no more.
	Reindex(ctx context.Context, typ string, after ResourceKey, limit int, derive func(fhir.Resource) (Version, error)) (next ResourceKey, n int, err error)
	// Auditor keeps the audit trail beside the records.
	Auditor
	// Ready reports an error when the database is unreachable or its schema
	// is not at the version this build expects.
	Ready(ctx context.Context) error
	// Close releases the store's connections.
	Close()
}

// Tx is the write side of one database transaction.
type Tx interface {
	// Current returns the current version of typ/id and locks it until the
	// transaction ends, so that concurrent writers of one resource queue up.
	// ok is false when the resource has never existed.
	Current(ctx context.Context, typ, id string) (r fhir.Resource, ok bool, err error)
	// Put records a new version of a resource: it appends it to the history
	// and makes it current. v.VersionID must be one more than the current
	// version (1 for a new resource); a concurrent insert of the same new
	// resource makes Write retry.
	Put(ctx context.Context, v Version) error
	// AppendAudit stores the audit record of the write in its own
	// transaction: both commit or neither does.
	AppendAudit(ctx context.Context, rec AuditRecord) error
	// Lock takes a lock on key that is held until the transaction ends,
	// so that transactions deciding on the same thing (conditional creates
	// with the same criteria) run one after the other.
	Lock(ctx context.Context, key string) error
	// Match is Store.Match inside the transaction: it sees the
	// transaction's own writes and, once Lock has returned, every write
	// committed before the lock was granted.
	Match(ctx context.Context, q *search.Query, limit int) ([]fhir.Resource, error)
}

// ResourceKey names a resource: the position of a resource in the (type,
// id) order that Reindex walks. The zero key comes before every resource.
type ResourceKey struct {
	Type, ID string
}

// String returns the key as Type/id, as `sharedcare reindex --after` takes it.
func (k ResourceKey) String() string { return k.Type + "/" + k.ID }

// Version is a new version of a resource as written by Tx.Put.
type Version struct {
	fhir.Resource
	// Index holds the version's search parameter values; they replace the
	// resource's previous index rows. A deletion has none.
	Index []searchparam.Value
	// Labels are the version's access labels, kept with the current
	// version so that searches can apply the access model in SQL.
	Labels AccessLabels
	// Relations are the organisations the version states a care
	// relationship with for its patient (access.Relations: ODS codes or
	// Organization/<id> references); they replace the resource's previous
	// relations when StatesRelations is set.
	Relations []string
	// StatesRelations is set for the resource types that can state a care
	// relationship (access.StatesRelations), so that a version stating
	// none, or a deletion, clears what an earlier version stated.
	StatesRelations bool
}

// AccessLabels are what the access model reads from a resource, classified
// once when it is written.
type AccessLabels struct {
	Source    string   // record-source tag: gp, hospital or social-care
	Sensitive bool     // a sensitive security label or clinical code
	Security  []string // meta.security labels as system|code
}

// Joined returns the security labels as stored: newline-delimited with a
// newline at each end, so that one label matches as LIKE '%\nS|C\n%'.
func (l AccessLabels) Joined() string {
	if len(l.Security) == 0 {
		return ""
	}
	return "\n" + strings.Join(l.Security, "\n") + "\n"
}

// HistoryQuery selects part of the change log. Type and ID narrow it to a
// resource type or one resource; empty means all.
type HistoryQuery struct {
	Type  string
	ID    string
	Since time.Time // only changes at or after Since (zero: no bound)
	At    time.Time // only versions current at At: the last change before it per resource (zero: no bound)
	Count int       // page size
	// Before continues a previous page: only log entries older than this
	// cursor (0: start from the newest).
	Before int64
	// Snapshot pins the log at the state it had when the first page was
	// read, so that later pages and the total ignore newer changes (0: now).
	Snapshot int64
}

// HistoryPage is one page of the change log.
type HistoryPage struct {
	Entries []fhir.Resource
	// Next is the cursor for the following page, 0 when this is the last.
	Next int64
	// Total is the number of log entries matched by the query (all pages)
	// up to Snapshot.
	Total int
	// Snapshot is the newest log position the query saw; pass it back with
	// the next page's query.
	Snapshot int64
}

// SearchPage is one page of search results.
type SearchPage struct {
	// Matches are the resources that match, in order.
	Matches []fhir.Resource
	// Included are the resources _include and _revinclude brought in,
	// none of them a match.
	Included []fhir.Resource
	// Total is the number of matches on every page, nil when it was not
	// counted (see search.Total).
	Total *int
	// Next and Previous are the _page tokens of the pages after and before
	// this one; empty when there is none.
	Next, Previous string
	// Withheld, when not nil, says whether the query's visibility left out
	// any match, as counted with Total in one pass; nil when the search
	// did not find out.
	Withheld *bool
}

// PoolStats describes a store's connection pool, for the metrics endpoint.
type PoolStats struct {
	Total, Idle, InUse, Max int
	WaitCount               int64         // acquisitions that had to wait for a connection
	WaitDuration            time.Duration // total time spent acquiring connections
}

// AuditRecord is one AuditEvent as the store keeps it: the searchable facts
// beside the AuditEvent JSON.
type AuditRecord struct {
	ID         string
	Recorded   time.Time
	PatientID  string
	Agent      string // the caller's sub
	Org        string // the caller's organisation (ODS code)
	Purpose    string // v3 ActReason: TREAT, BTG, or empty
	BreakGlass bool
	Action     string   // C R U D E
	Outcome    string   // 0, 4, 8 or 12
	Entities   []string // references of the resources involved
	Raw        []byte   // the AuditEvent resource
}

// AuditLink is an audit record in its place in the hash chain.
type AuditLink struct {
	AuditRecord
	Pos      int64  // position in the chain, from 1
	PrevHash []byte // the hash of the record at Pos-1 (empty at Pos 1)
	Hash     []byte
}

// AuditQuery selects audit records, newest first.
type AuditQuery struct {
	Patient  string
	Agent    string // sub or ODS code
	Entity   string // a resource reference
	Purpose  string
	From, To time.Time // recorded in [From, To); zero: unbounded
	Count    int
	Before   int64 // continue after this cursor (0: from the newest)
}

// Auditor keeps the audit trail: append-only, and chained by hash.
type Auditor interface {
	// AppendAudit stores records durably in one transaction.
	AppendAudit(ctx context.Context, recs []AuditRecord) error
	// SealAudit links up to limit committed, unchained records into the
	// chain, in the order it finds them, with hash(previous hash, record).
	// Concurrent sealers take turns. It returns how many it linked.
	SealAudit(ctx context.Context, limit int, hash func(prev []byte, r AuditRecord) []byte) (int, error)
	// AuditChain calls fn for every chained record in chain order.
	AuditChain(ctx context.Context, fn func(AuditLink) error) error
	// UnsealedAudit counts committed records recorded before t that are not
	// yet in the chain.
	UnsealedAudit(ctx context.Context, before time.Time) (int, error)
	// SearchAudit returns a page of records matching q, the cursor of the
	// next page (0 at the end) and the number of matches.
	SearchAudit(ctx context.Context, q AuditQuery) (recs []AuditRecord, next int64, total int, err error)
	// ReadAudit returns one record by id, or a fhir.KindNotFound error.
	ReadAudit(ctx context.Context, id string) (AuditRecord, error)
}
