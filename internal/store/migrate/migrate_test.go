package migrate_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/audit"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
	"github.com/sharedcare/sharedcare/internal/store/migrate"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// clock hands out distinct, increasing instants with a millisecond part.
type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	c.t = c.t.Add(1234 * time.Millisecond)
	return c.t
}

// writer writes the fixture the way the server does: through the record
// service, each write with its audit record in its own transaction.
type writer struct {
	t       *testing.T
	records *record.Service
	clock   *clock
}

func newWriter(t *testing.T, s store.Store) *writer {
	c := &clock{t: time.Date(2024, time.May, 2, 8, 0, 0, 0, time.UTC)}
	return &writer{t: t, records: &record.Service{Store: s, Now: c.now}, clock: c}
}

func (w *writer) options(owner, interaction, patient string) record.Options {
	tags := []fhir.Coding{{System: access.RecordSourceSystem, Code: access.RecordSourceGP}}
	return record.Options{Owner: owner, Tags: tags, Audit: func(res record.Result) store.AuditRecord {
		return audit.Record(audit.Event{Time: w.clock.t, Interaction: interaction, Status: 200, PatientID: patient,
			Entities: []string{res.Ref()}, Caller: &access.Caller{Subject: "system-" + owner, Organization: owner,
				CareRole: access.CareRoleSystem, Reason: access.ReasonDirectCare}})
	}}
}

func (w *writer) update(typ, id, owner, patient, body string) {
	w.t.Helper()
	_, err := w.records.Update(w.t.Context(), typ, id, []byte(body), w.options(owner, "update", patient))
	require.NoError(w.t, err)
}

func (w *writer) delete(typ, id, owner, patient string) {
	w.t.Helper()
	_, err := w.records.Delete(w.t.Context(), typ, id, w.options(owner, "delete", patient))
	require.NoError(w.t, err)
}

// read audits a read as the server's group commit does, outside any write.
func (w *writer) read(ref, patient string, caller *access.Caller) {
	w.t.Helper()
	rec := audit.Record(audit.Event{Time: w.clock.now(), Interaction: "read", Status: 200, PatientID: patient,
		Entities: []string{ref}, Caller: caller})
	require.NoError(w.t, w.records.Store.AppendAudit(w.t.Context(), []store.AuditRecord{rec}))
}

func patient(id, family string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":%q,"given":["Ann"]}],"gender":"female","birthDate":"1950-04-01"}`, id, family)
}

// bloodPressure has components, which Postgres indexes as composites.
func bloodPressure(id, patient string, systolic, diastolic int) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002","display":"Blood pressure"}]},
		"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-05-01T10:15:00Z",
		"component":[
			{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},"valueQuantity":{"value":%d,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
			{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271650006"}]},"valueQuantity":{"value":%d.5,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
		id, patient, systolic, diastolic)
}

// fill writes a record with updates, deletions, a re-creation, several
// owners and types, and an audit trail partly sealed.
func fill(t *testing.T, s *embedded.Store) {
	w := newWriter(t, s)
	for i := range 7 {
		id := fmt.Sprintf("p%d", i)
		w.update("Patient", id, "A81001", id, patient(id, fmt.Sprintf("Family%d", i)))
		w.update("Observation", "bp"+id, "RX1", id, bloodPressure("bp"+id, id, 120+i, 80+i))
	}
	w.update("Patient", "p1", "A81001", "p1", patient("p1", "Renamed"))
	w.update("Patient", "p1", "A81001", "p1", patient("p1", "RenamedAgain"))
	w.delete("Observation", "bpp2", "RX1", "p2")
	w.delete("Patient", "p3", "A81001", "p3")
	w.update("Patient", "p3", "A81001", "p3", patient("p3", "Back"))
	w.update("Organization", "org1", "A81001", "", `{"resourceType":"Organization","id":"org1","name":"Practice"}`)
	bg := &access.Caller{Subject: "dr-who", Organization: "RX1", CareRole: access.CareRoleClinician,
		Reason: access.ReasonEmergency, BreakGlassReason: "unconscious in A&E"}
	w.read("Patient/p4", "p4", bg)
	w.read("Patient/p4", "p4", nil)

	n, err := audit.Seal(t.Context(), s, 0)
	require.NoError(t, err)
	require.Positive(t, n)

	// Written after the last seal: these stay unsealed in the copy.
	w.delete("Observation", "bpp5", "RX1", "p5")
	w.update("Observation", "bpp6", "RX1", "p6", bloodPressure("bpp6", "p6", 140, 95))
	w.read("Observation/bpp6", "p6", bg)
}

func openEmbedded(t *testing.T) *embedded.Store {
	s, err := embedded.Open(t.Context(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func copyStore(t *testing.T, src *embedded.Store, dst *postgres.Store, batch int) (migrate.Stats, string, error) {
	stats, out, _, err := copyRecording(t, src, dst, batch)
	return stats, out, err
}

// copyRecording is copyStore that also returns the current versions as
// Copy passed them to the destination.
func copyRecording(t *testing.T, src *embedded.Store, dst *postgres.Store, batch int) (migrate.Stats, string, []store.Version, error) {
	var out bytes.Buffer
	var stats migrate.Stats
	var rec recording
	err := src.Export(t.Context(), func(x *embedded.Export) error {
		return dst.Import(t.Context(), func(im *postgres.Import) error {
			rec.Destination = im
			var err error
			stats, err = migrate.Copy(t.Context(), x, &rec, migrate.Options{Batch: batch, Progress: &out})
			return err
		})
	})
	return stats, out.String(), rec.versions, err
}

// recording is a destination that remembers the current versions it stored.
type recording struct {
	migrate.Destination
	versions []store.Version
}

func (r *recording) Resources(ctx context.Context, v []store.Version) (int, error) {
	r.versions = append(r.versions, v...)
	return r.Destination.Resources(ctx, v)
}

// everything returns the whole change log, newest first, and its snapshot.
func everything(t *testing.T, s store.Store) ([]fhir.Resource, int64) {
	t.Helper()
	page, err := s.History(t.Context(), store.HistoryQuery{Count: 10000})
	require.NoError(t, err)
	require.Zero(t, page.Next)
	return page.Entries, page.Snapshot
}

// chain returns the audit chain.
func chain(t *testing.T, s store.Auditor) []store.AuditLink {
	t.Helper()
	var links []store.AuditLink
	require.NoError(t, s.AuditChain(t.Context(), func(l store.AuditLink) error {
		links = append(links, l)
		return nil
	}))
	return links
}

// trail returns every audit record, newest first, and the cursors of its pages of three.
func trail(t *testing.T, s store.Auditor) ([]store.AuditRecord, []int64) {
	t.Helper()
	var recs []store.AuditRecord
	var cursors []int64
	q := store.AuditQuery{Count: 3}
	for {
		page, next, _, err := s.SearchAudit(t.Context(), q)
		require.NoError(t, err)
		recs = append(recs, page...)
		if next == 0 {
			return recs, cursors
		}
		cursors = append(cursors, next)
		q.Before = next
	}
}

func TestCopy(t *testing.T) {
	ctx := t.Context()
	src := openEmbedded(t)
	fill(t, src)
	dst := pgtest.Open(t)

	stats, out, versions, err := copyRecording(t, src, dst, 4)
	require.NoError(t, err)
	for _, v := range versions {
		if v.Deleted {
			require.Empty(t, v.Index, v.Ref())
			require.Zero(t, v.Labels, v.Ref())
			continue
		}
		require.NotEmpty(t, v.Index, v.Ref())
		require.Equal(t, access.RecordSourceGP, v.Labels.Source, "the labels a write would store: %s", v.Ref())
	}

	wantLog, wantSnapshot := everything(t, src)
	gotLog, gotSnapshot := everything(t, dst)
	require.Equal(t, wantLog, gotLog, "every version, in log order")
	require.Equal(t, wantSnapshot, gotSnapshot, "the same log positions")
	require.Equal(t, len(wantLog), stats.Versions)
	require.Equal(t, 15, stats.Resources, "7 patients, 7 observations and an organisation")
	require.Equal(t, 2, stats.Deleted)
	require.Positive(t, stats.IndexRows)

	for _, r := range wantLog {
		want, err := src.Read(ctx, r.Type, r.ID)
		require.NoError(t, err)
		got, err := dst.Read(ctx, r.Type, r.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "current %s", r.Ref())
		wantV, err := src.VRead(ctx, r.Type, r.ID, r.VersionID)
		require.NoError(t, err)
		gotV, err := dst.VRead(ctx, r.Type, r.ID, r.VersionID)
		require.NoError(t, err)
		require.Equal(t, wantV, gotV)
	}

	wantChain := chain(t, src)
	require.Equal(t, wantChain, chain(t, dst), "the chain link for link")
	require.Equal(t, len(wantChain), stats.Sealed)
	wantTrail, wantCursors := trail(t, src)
	gotTrail, gotCursors := trail(t, dst)
	require.Equal(t, wantTrail, gotTrail, "every record, sealed or not")
	require.Equal(t, wantCursors, gotCursors, "the same paging cursors")
	require.Equal(t, len(wantTrail), stats.Audit)
	unsealed, err := dst.UnsealedAudit(ctx, time.Now())
	require.NoError(t, err)
	require.Equal(t, 3, unsealed, "two writes and a read after the last seal")
	require.Equal(t, stats.Audit-stats.Sealed, unsealed)

	rep, err := audit.Verify(ctx, dst, time.Hour)
	require.NoError(t, err)
	require.Nil(t, rep.Broken, "%s", rep)
	require.Equal(t, stats.Sealed, rep.Checked)

	require.Contains(t, out, fmt.Sprintf("history: %d versions in", stats.Versions))
	require.Contains(t, out, "resources: 15 resources in")
	require.Contains(t, out, fmt.Sprintf("audit: %d records in", stats.Audit))

	// The copy carries on where the embedded store left off: the next
	// version, the next log position, and the chain sealed onwards.
	w := newWriter(t, dst)
	w.clock.t = time.Now()
	w.update("Patient", "p1", "A81001", "p1", patient("p1", "AfterTheMove"))
	cur, err := dst.Read(ctx, "Patient", "p1")
	require.NoError(t, err)
	require.EqualValues(t, 4, cur.VersionID)
	log, snapshot := everything(t, dst)
	require.Equal(t, wantSnapshot+1, snapshot)
	require.Equal(t, cur, log[0])
	_, err = audit.Seal(ctx, dst, 0)
	require.NoError(t, err)
	rep, err = audit.Verify(ctx, dst, 0)
	require.NoError(t, err)
	require.Nil(t, rep.Broken, "%s", rep)
	require.Equal(t, stats.Audit+1, rep.Checked)
	require.Zero(t, rep.Unsealed)
	_, cursors := trail(t, dst)
	require.Greater(t, cursors[0], wantCursors[0], "audit positions continue after the copied ones")
}

func TestCopyIntoNonEmptyDatabase(t *testing.T) {
	src := openEmbedded(t)
	fill(t, src)
	dst := pgtest.Open(t)
	newWriter(t, dst).update("Patient", "other", "B82001", "other", patient("other", "Other"))
	before, snapshot := everything(t, dst)

	_, _, err := copyStore(t, src, dst, 1000)
	require.ErrorIs(t, err, postgres.ErrNotEmpty)
	require.ErrorContains(t, err, "it has rows in resource_history, resources, audit_inbox, care_relations, idx_string")

	after, snapshotAfter := everything(t, dst)
	require.Equal(t, before, after)
	require.Equal(t, snapshot, snapshotAfter)
}

func TestCopyFailureLeavesNothing(t *testing.T) {
	src := openEmbedded(t)
	fill(t, src)
	dst := pgtest.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	err := src.Export(ctx, func(x *embedded.Export) error {
		return dst.Import(ctx, func(im *postgres.Import) error {
			_, err := migrate.Copy(ctx, x, cancelAfterHistory{Destination: im, cancel: cancel}, migrate.Options{Batch: 5})
			return err
		})
	})
	require.ErrorIs(t, err, context.Canceled)

	log, _ := everything(t, dst)
	require.Empty(t, log)
	recs, _ := trail(t, dst)
	require.Empty(t, recs)
	// And the database takes the copy when it is run again.
	_, _, err = copyStore(t, src, dst, 1000)
	require.NoError(t, err)
}

// cancelAfterHistory cancels the copy once the change log is written.
type cancelAfterHistory struct {
	migrate.Destination
	cancel func()
}

func (c cancelAfterHistory) Resources(ctx context.Context, v []store.Version) (int, error) {
	c.cancel()
	return c.Destination.Resources(ctx, v)
}

func TestCopyEmptyStore(t *testing.T) {
	src := openEmbedded(t)
	dst := pgtest.Open(t)
	stats, _, err := copyStore(t, src, dst, 1000)
	require.NoError(t, err)
	require.Zero(t, stats.Versions+stats.Resources+stats.Audit)
	w := newWriter(t, dst)
	w.update("Patient", "first", "A81001", "first", patient("first", "First"))
	_, snapshot := everything(t, dst)
	require.EqualValues(t, 1, snapshot, "the sequences are untouched by an empty copy")
}
