// Package storetest is the conformance suite of store.Store. Every store
// runs Run against fresh databases, so that the Postgres and the embedded
// store keep one contract. Where the comments of package store leave a
// choice open, the assertions here are the contract:
//
//   - Read, VRead and the history return Raw byte for byte as it was put,
//     nil for a deletion, Owner as put (deletions included), and
//     LastUpdated in UTC, exact to the millisecond.
//   - Put of a version other than current+1 (1 for a new resource) fails
//     with fhir.KindConflict, once Write has given up retrying; a deletion
//     with a body, or another version without one, fails too.
//   - A Put that failed fails the Write, even when fn ignores the error.
//   - Write returns fn's error as it is, runs fn once when it fails, rolls
//     back and re-panics when fn panics, and returns an error that is
//     context.Canceled for a cancelled context.
//   - The history is in commit order, newest first, whatever the entries'
//     LastUpdated. Since and At are inclusive; At gives each resource's last
//     change at or before it, deletions included. Total counts every entry
//     the query matches, ignoring Before, up to Snapshot when one is given;
//     a given Snapshot comes back unchanged and hides every later change.
//     Count 0 returns only Total. Next is 0 on the page that holds the last
//     entry. An unknown resource has an empty history, not an error.
//   - Close may be called more than once; Ready fails after it.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Run runs the suite. open must return a fresh, empty, migrated store on
// every call; the suite closes it when the subtest ends, after which open's
// own cleanups (dropping the database, say) run.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"PutThenRead", testPutThenRead},
		{"UnknownIsNotFound", testUnknownIsNotFound},
		{"UpdatesKeepEveryVersion", testUpdatesKeepEveryVersion},
		{"DeletionMarker", testDeletionMarker},
		{"RawBytesExact", testRawBytesExact},
		{"LastUpdatedUTC", testLastUpdatedUTC},
		{"PutRejectsVersionOutOfSequence", testPutRejectsVersionOutOfSequence},
		{"PutRejectsBodyNotMatchingDeleted", testPutRejectsBodyNotMatchingDeleted},
		{"FailedWriteWritesNothing", testFailedWriteWritesNothing},
		{"IgnoredPutFailureFailsWrite", testIgnoredPutFailureFailsWrite},
		{"PanicRollsBack", testPanicRollsBack},
		{"CancelledWriteWritesNothing", testCancelledWriteWritesNothing},
		{"TransactionSeesOwnWrites", testTransactionSeesOwnWrites},
		{"ConcurrentUpdatesLoseNothing", testConcurrentUpdatesLoseNothing},
		{"ConcurrentCreateOfOneResource", testConcurrentCreateOfOneResource},
		{"ConcurrentWritesOfManyResources", testConcurrentWritesOfManyResources},
		{"History", testHistory},
		{"HistoryIsCommitOrdered", testHistoryIsCommitOrdered},
		{"HistoryPagingWhileWriting", testHistoryPagingWhileWriting},
		{"LockThenMatch", testLockThenMatch},
		{"ConsentedPatients", testConsentedPatients},
		{"Reindex", testReindex},
		{"AuditTrail", testAuditTrail},
		{"AuditInWriteTransaction", testAuditInWriteTransaction},
		{"Ready", testReady},
		{"CloseTwiceThenNotReady", testCloseTwiceThenNotReady},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(s.Close)
			tc.test(t, s)
		})
	}
}

// base is the first lastUpdated the suite writes.
var base = time.Date(2024, time.March, 1, 9, 30, 0, 0, time.UTC)

// at returns distinct, increasing instants after base, each with a
// millisecond part, so that a store keeping whole seconds fails.
func at(i int) time.Time {
	return base.Add(time.Duration(i)*time.Second + time.Duration(i+1)*time.Millisecond)
}

// body returns a compact resource of type typ with the given extra members.
func body(typ, id string, members ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"resourceType":%q,"id":%q`, typ, id)
	for _, m := range members {
		b.WriteString(",")
		b.WriteString(m)
	}
	b.WriteString("}")
	return []byte(b.String())
}

// ownerOf is the Owner the suite stores with the versions of typ.
func ownerOf(typ string) string { return "ODS-" + typ }

// patientOf is the PatientID the suite stores with typ/id.
func patientOf(typ, id string) string {
	if typ == "Patient" {
		return id
	}
	return "p1"
}

// save writes the version after the current one of typ/id, the way the
// server's handlers do (nil raw writes a deletion), and returns it.
func save(t *testing.T, s store.Store, typ, id string, raw []byte, lastUpdated time.Time) fhir.Resource {
	t.Helper()
	ctx := t.Context()
	var out fhir.Resource
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		cur, ok, err := tx.Current(ctx, typ, id)
		if err != nil {
			return err
		}
		version := int64(1)
		if ok {
			version = cur.VersionID + 1
		}
		out = fhir.Resource{Type: typ, ID: id, VersionID: version, LastUpdated: lastUpdated, Deleted: raw == nil, Raw: raw, Owner: ownerOf(typ)}
		return tx.Put(ctx, withPatient(out, patientOf(typ, id)))
	}))
	return out
}

// put writes v as it is in a Write of its own, bypassing Current.
func put(ctx context.Context, s store.Store, v fhir.Resource) error {
	return s.Write(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, withPatient(v, patientOf(v.Type, v.ID)))
	})
}

// requireSame fails unless got is want as the store must return it.
func requireSame(t *testing.T, want, got fhir.Resource, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want.Ref(), got.Ref(), msgAndArgs...)
	require.Equal(t, want.VersionID, got.VersionID, msgAndArgs...)
	require.Equal(t, want.Deleted, got.Deleted, msgAndArgs...)
	require.Equal(t, want.Owner, got.Owner, msgAndArgs...)
	if want.Raw == nil {
		require.Nil(t, got.Raw, msgAndArgs...)
	} else {
		require.Equal(t, string(want.Raw), string(got.Raw), msgAndArgs...)
	}
	require.Equal(t, time.UTC, got.LastUpdated.Location(), msgAndArgs...)
	require.True(t, want.LastUpdated.Equal(got.LastUpdated),
		"lastUpdated %s, want %s %v", got.LastUpdated.Format(time.RFC3339Nano), want.LastUpdated.Format(time.RFC3339Nano), msgAndArgs)
}

// requireRead fails unless Read, VRead and Current all return want.
func requireRead(t *testing.T, s store.Store, want fhir.Resource) {
	t.Helper()
	ctx := t.Context()
	got, err := s.Read(ctx, want.Type, want.ID)
	require.NoError(t, err)
	requireSame(t, want, got, "read")
	got, err = s.VRead(ctx, want.Type, want.ID, want.VersionID)
	require.NoError(t, err)
	requireSame(t, want, got, "vread")
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		got, ok, err := tx.Current(ctx, want.Type, want.ID)
		require.NoError(t, err)
		require.True(t, ok)
		requireSame(t, want, got, "current")
		return nil
	}))
}

func requireNotFound(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, fhir.KindNotFound, fhir.KindOf(err), "error %v", err)
}

func requireUnknown(t *testing.T, s store.Store, typ, id string) {
	t.Helper()
	_, err := s.Read(t.Context(), typ, id)
	requireNotFound(t, err)
	page, err := s.History(t.Context(), store.HistoryQuery{Type: typ, ID: id, Count: 10})
	require.NoError(t, err)
	require.Zero(t, page.Total)
	require.Empty(t, page.Entries)
}

// history returns the whole history matching q in one page.
func history(t *testing.T, s store.Store, q store.HistoryQuery) []fhir.Resource {
	t.Helper()
	q.Count = 1000
	page, err := s.History(t.Context(), q)
	require.NoError(t, err)
	require.Zero(t, page.Next)
	require.Len(t, page.Entries, page.Total)
	return page.Entries
}

func key(r fhir.Resource) string { return fmt.Sprintf("%s/_history/%d", r.Ref(), r.VersionID) }

func keys(rs []fhir.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = key(r)
	}
	return out
}

func testPutThenRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		r, ok, err := tx.Current(ctx, "Patient", "a")
		require.NoError(t, err)
		require.False(t, ok)
		require.Zero(t, r.VersionID)
		return nil
	}))
	v1 := save(t, s, "Patient", "a", body("Patient", "a", `"active":true`), at(0))
	require.EqualValues(t, 1, v1.VersionID)
	requireRead(t, s, v1)
	requireSame(t, v1, history(t, s, store.HistoryQuery{Type: "Patient", ID: "a"})[0])
}

func testUnknownIsNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	save(t, s, "Patient", "a", body("Patient", "a"), at(0))
	for _, tc := range []struct {
		name string
		read func() error
	}{
		{"unknown id", func() error { _, err := s.Read(ctx, "Patient", "b"); return err }},
		{"same id of another type", func() error { _, err := s.Read(ctx, "Observation", "a"); return err }},
		{"id differing in case", func() error { _, err := s.Read(ctx, "Patient", "A"); return err }},
		{"vread of an unknown id", func() error { _, err := s.VRead(ctx, "Patient", "b", 1); return err }},
		{"vread of another type", func() error { _, err := s.VRead(ctx, "Observation", "a", 1); return err }},
		{"vread of version 0", func() error { _, err := s.VRead(ctx, "Patient", "a", 0); return err }},
		{"vread of a version after the current", func() error { _, err := s.VRead(ctx, "Patient", "a", 2); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) { requireNotFound(t, tc.read()) })
	}
}

func testUpdatesKeepEveryVersion(t *testing.T, s store.Store) {
	var versions []fhir.Resource
	for i := range 5 {
		v := save(t, s, "Patient", "a", body("Patient", "a", fmt.Sprintf(`"n":%d`, i)), at(i))
		require.EqualValues(t, i+1, v.VersionID)
		versions = append(versions, v)
	}
	requireRead(t, s, versions[4])
	for _, v := range versions {
		got, err := s.VRead(t.Context(), "Patient", "a", v.VersionID)
		require.NoError(t, err)
		requireSame(t, v, got)
	}
}

func testDeletionMarker(t *testing.T, s store.Store) {
	ctx := t.Context()
	v1 := save(t, s, "Patient", "a", body("Patient", "a"), at(0))
	v2 := save(t, s, "Patient", "a", nil, at(1))
	require.True(t, v2.Deleted)
	require.EqualValues(t, 2, v2.VersionID)
	requireRead(t, s, v2)
	got, err := s.VRead(ctx, "Patient", "a", 1)
	require.NoError(t, err)
	requireSame(t, v1, got)

	// A deleted resource can be written again; its versions go on.
	v3 := save(t, s, "Patient", "a", body("Patient", "a", `"active":false`), at(2))
	require.EqualValues(t, 3, v3.VersionID)
	requireRead(t, s, v3)
	got, err = s.VRead(ctx, "Patient", "a", 2)
	require.NoError(t, err)
	requireSame(t, v2, got)
}

func testRawBytesExact(t *testing.T, s store.Store) {
	ctx := t.Context()
	large := body("Binary", "large", `"data":"`+strings.Repeat("QUJDREVGR0hJSktM", 1<<16)+`"`)
	for i, raw := range []string{
		"{\n  \"resourceType\": \"Patient\",\n  \"id\": \"p0\"\n}\n",
		`{"resourceType":"Patient","id":"p1","name":[{"family":"Ó Briain","given":["Zoë","\u00e9\"\\\/"]}]}`,
		`{"id":"p2","resourceType":"Patient","multipleBirthInteger":2,"x":1.50,"y":1e2,"z":-0.0}`,
		`{"resourceType":"Patient","id":"p3","_birthDate":{"extension":[{"url":"u","valueString":"  spaced  "}]}}`,
		string(large),
	} {
		typ, id := "Patient", fmt.Sprintf("p%d", i)
		if i == 4 {
			typ, id = "Binary", "large"
		}
		in := []byte(raw)
		v := save(t, s, typ, id, in, at(i))
		// What the caller does with its slices afterwards changes nothing stored.
		v.Raw = []byte(raw)
		in[0] = 'X'
		requireRead(t, s, v)
		got, err := s.Read(ctx, typ, id)
		require.NoError(t, err)
		got.Raw[0] = 'Y'
		requireRead(t, s, v)
		requireSame(t, v, history(t, s, store.HistoryQuery{Type: typ, ID: id})[0])
	}
}

func testLastUpdatedUTC(t *testing.T, s store.Store) {
	for i, tc := range []struct {
		name string
		in   time.Time
	}{
		{"UTC milliseconds", time.Date(2024, 1, 2, 3, 4, 5, 678_000_000, time.UTC)},
		{"another zone", time.Date(2024, 6, 30, 23, 59, 59, 999_000_000, time.FixedZone("IST", 5*3600+1800))},
		{"local zone", time.Date(2025, 3, 30, 1, 30, 0, 1_000_000, time.Local)},
		{"sub-millisecond", time.Date(2024, 2, 29, 12, 0, 0, 123_456_789, time.UTC)},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 500_000_000, time.UTC)},
		{"far future", time.Date(2400, 2, 29, 0, 0, 0, 1_000_000, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("t%d", i)
			v := save(t, s, "Patient", id, body("Patient", id), tc.in)
			v.LastUpdated = tc.in.Truncate(time.Millisecond).UTC()
			check := func(got fhir.Resource, what string) {
				t.Helper()
				got.LastUpdated = got.LastUpdated.Truncate(time.Millisecond)
				requireSame(t, v, got, what)
			}
			got, err := s.Read(t.Context(), "Patient", id)
			require.NoError(t, err)
			check(got, "read")
			got, err = s.VRead(t.Context(), "Patient", id, 1)
			require.NoError(t, err)
			check(got, "vread")
			check(history(t, s, store.HistoryQuery{Type: "Patient", ID: id})[0], "history")
		})
	}
}

func testPutRejectsVersionOutOfSequence(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, tc := range []struct {
		name    string
		exists  bool
		version int64
	}{
		{"new resource at version 2", false, 2},
		{"new resource at version 0", false, 0},
		{"existing resource at its current version", true, 1},
		{"existing resource skipping a version", true, 3},
		{"existing resource at version 0", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("r%d", i)
			var v1 fhir.Resource
			if tc.exists {
				v1 = save(t, s, "Patient", id, body("Patient", id), at(0))
			}
			err := put(ctx, s, fhir.Resource{Type: "Patient", ID: id, VersionID: tc.version, LastUpdated: at(1), Raw: body("Patient", id, `"n":2`)})
			require.Error(t, err)
			require.Equal(t, fhir.KindConflict, fhir.KindOf(err), "error %v", err)
			if !tc.exists {
				requireUnknown(t, s, "Patient", id)
				return
			}
			requireRead(t, s, v1)
			require.Len(t, history(t, s, store.HistoryQuery{Type: "Patient", ID: id}), 1)
		})
	}
}

func testPutRejectsBodyNotMatchingDeleted(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name    string
		deleted bool
		raw     []byte
	}{
		{"deletion with a body", true, body("Patient", "a")},
		{"version without a body", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := put(t.Context(), s, fhir.Resource{Type: "Patient", ID: "a", VersionID: 1, LastUpdated: at(0), Deleted: tc.deleted, Raw: tc.raw})
			require.Error(t, err)
			requireUnknown(t, s, "Patient", "a")
		})
	}
}

func testFailedWriteWritesNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"plain error", errors.New("handler gave up")},
		{"fhir error", fhir.Errorf(fhir.KindPrecondition, "conflict", "If-Match does not match")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := s.Write(ctx, func(tx store.Tx) error {
				calls++
				for _, ref := range [][2]string{{"Patient", "a"}, {"Observation", "b"}} {
					v := fhir.Resource{Type: ref[0], ID: ref[1], VersionID: 1, LastUpdated: at(0), Raw: body(ref[0], ref[1])}
					if err := tx.Put(ctx, withPatient(v, "a")); err != nil {
						return err
					}
				}
				return tc.err
			})
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, fhir.KindOf(tc.err), fhir.KindOf(err))
			require.Equal(t, 1, calls, "a write that failed in fn is not retried")
			requireUnknown(t, s, "Patient", "a")
			requireUnknown(t, s, "Observation", "b")
			require.Empty(t, history(t, s, store.HistoryQuery{}))
		})
	}
	save(t, s, "Patient", "a", body("Patient", "a"), at(1))
	require.Len(t, history(t, s, store.HistoryQuery{}), 1)
}

func testIgnoredPutFailureFailsWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	save(t, s, "Patient", "existing", body("Patient", "existing"), at(0))
	for i, tc := range []struct {
		name string
		bad  fhir.Resource
	}{
		{"version gap", fhir.Resource{Type: "Patient", ID: "new", VersionID: 2, LastUpdated: at(1), Raw: body("Patient", "new")}},
		{"duplicate version", fhir.Resource{Type: "Patient", ID: "existing", VersionID: 1, LastUpdated: at(1), Raw: body("Patient", "existing")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			badBefore := len(history(t, s, store.HistoryQuery{Type: tc.bad.Type, ID: tc.bad.ID}))
			goodID := fmt.Sprintf("o%d", i)
			err := s.Write(ctx, func(tx store.Tx) error {
				good := fhir.Resource{Type: "Observation", ID: goodID, VersionID: 1, LastUpdated: at(1), Raw: body("Observation", goodID)}
				if err := tx.Put(ctx, withPatient(good, "existing")); err != nil {
					return err
				}
				_ = tx.Put(ctx, withPatient(tc.bad, tc.bad.ID))
				return nil
			})
			require.Error(t, err)
			requireUnknown(t, s, "Observation", goodID)
			require.Len(t, history(t, s, store.HistoryQuery{Type: tc.bad.Type, ID: tc.bad.ID}), badBefore)
		})
	}
}

func testPanicRollsBack(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := fhir.Resource{Type: "Patient", ID: "a", VersionID: 1, LastUpdated: at(0), Raw: body("Patient", "a")}
	require.PanicsWithValue(t, "handler bug", func() {
		_ = s.Write(ctx, func(tx store.Tx) error {
			if err := tx.Put(ctx, withPatient(v, "a")); err != nil {
				return err
			}
			panic("handler bug")
		})
	})
	requireUnknown(t, s, "Patient", "a")
	// A transaction left open by the panic would hold its locks (and, in a
	// store with one writer, the writer) until its context ended: the same
	// write must go through at once.
	soon, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, put(soon, s, v))
	requireRead(t, s, v)
}

func testCancelledWriteWritesNothing(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := put(ctx, s, fhir.Resource{Type: "Patient", ID: "a", VersionID: 1, LastUpdated: at(0), Raw: body("Patient", "a")})
	require.ErrorIs(t, err, context.Canceled)
	requireUnknown(t, s, "Patient", "a")
}

func testTransactionSeesOwnWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := fhir.Resource{Type: "Patient", ID: "a", VersionID: 1, LastUpdated: at(0), Raw: body("Patient", "a")}
	b := fhir.Resource{Type: "Observation", ID: "b", VersionID: 1, LastUpdated: at(0), Raw: body("Observation", "b")}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, withPatient(a, "a")); err != nil {
			return err
		}
		got, ok, err := tx.Current(ctx, "Patient", "a")
		require.NoError(t, err)
		require.True(t, ok)
		requireSame(t, a, got)
		return tx.Put(ctx, withPatient(b, "a"))
	}))
	requireRead(t, s, a)
	requireRead(t, s, b)
	require.Equal(t, []string{key(b), key(a)}, keys(history(t, s, store.HistoryQuery{})))
}

// payload is what the concurrency tests write in each version.
type payload struct {
	V      int64 `json:"v"`
	Writer int   `json:"writer"`
}

func payloadOf(t *testing.T, r fhir.Resource) payload {
	var p payload
	assert.NoError(t, json.Unmarshal(r.Raw, &p))
	return p
}

// update writes the version after the current one of typ/id with a payload
// naming writer, with the Current/Put pattern that Write may retry.
func update(ctx context.Context, s store.Store, typ, id string, writer int) error {
	return s.Write(ctx, func(tx store.Tx) error {
		cur, ok, err := tx.Current(ctx, typ, id)
		if err != nil {
			return err
		}
		version := int64(1)
		if ok {
			version = cur.VersionID + 1
		}
		raw := body(typ, id, fmt.Sprintf(`"v":%d`, version), fmt.Sprintf(`"writer":%d`, writer))
		v := fhir.Resource{Type: typ, ID: id, VersionID: version, LastUpdated: time.Now().UTC().Truncate(time.Millisecond), Raw: raw}
		return tx.Put(ctx, withPatient(v, patientOf(typ, id)))
	})
}

const writers = 20

// requireVersionsByWriters fails unless typ/id has versions first..last,
// each with its own number in its payload, and writers 0..writers-1 each
// wrote exactly one of the versions from first on.
func requireVersionsByWriters(t *testing.T, s store.Store, typ, id string, first, last int64) {
	t.Helper()
	cur, err := s.Read(t.Context(), typ, id)
	require.NoError(t, err)
	require.Equal(t, last, cur.VersionID)
	byWriter := map[int]int64{}
	for v := first; v <= last; v++ {
		r, err := s.VRead(t.Context(), typ, id, v)
		require.NoError(t, err)
		p := payloadOf(t, r)
		require.Equal(t, v, p.V, "version %d holds the body written for %d", v, p.V)
		prev, dup := byWriter[p.Writer]
		require.False(t, dup, "writer %d wrote versions %d and %d", p.Writer, prev, v)
		byWriter[p.Writer] = v
	}
	require.Len(t, byWriter, writers)
	var want []string
	for v := last; v >= 1; v-- {
		want = append(want, fmt.Sprintf("%s/%s/_history/%d", typ, id, v))
	}
	require.Equal(t, want, keys(history(t, s, store.HistoryQuery{Type: typ, ID: id})))
}

func testConcurrentUpdatesLoseNothing(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	save(t, s, "Patient", "a", body("Patient", "a", `"v":1`, `"writer":-1`), at(0))

	// A reader alongside the writers only ever sees whole, committed
	// versions, and never an older one after a newer.
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		var last int64
		for {
			select {
			case <-done:
				return
			default:
			}
			r, err := s.Read(ctx, "Patient", "a")
			if !assert.NoError(t, err) {
				return
			}
			assert.GreaterOrEqual(t, r.VersionID, last)
			assert.Equal(t, r.VersionID, payloadOf(t, r).V)
			last = r.VersionID
		}
	})

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { assert.NoError(t, update(ctx, s, "Patient", "a", w)) })
	}
	wg.Wait()
	close(done)
	readers.Wait()
	requireVersionsByWriters(t, s, "Patient", "a", 2, writers+1)
}

func testConcurrentCreateOfOneResource(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { assert.NoError(t, update(ctx, s, "Patient", "new", w)) })
	}
	wg.Wait()
	requireVersionsByWriters(t, s, "Patient", "new", 1, writers)
}

func testConcurrentWritesOfManyResources(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const perWriter = 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range perWriter {
				if !assert.NoError(t, update(ctx, s, "Observation", fmt.Sprintf("o%d", w), w)) {
					return
				}
			}
		})
	}
	wg.Wait()
	for w := range writers {
		r, err := s.Read(ctx, "Observation", fmt.Sprintf("o%d", w))
		require.NoError(t, err)
		require.EqualValues(t, perWriter, r.VersionID)
	}
	require.Len(t, history(t, s, store.HistoryQuery{Type: "Observation"}), writers*perWriter)
}

func testHistory(t *testing.T, s store.Store) {
	// The fixture, in commit order; the cases name entries by index.
	fixture := []fhir.Resource{
		save(t, s, "Patient", "a", body("Patient", "a", `"n":0`), at(0)),
		save(t, s, "Patient", "b", body("Patient", "b", `"n":1`), at(1)),
		save(t, s, "Observation", "a", body("Observation", "a", `"n":2`), at(2)),
		save(t, s, "Patient", "a", body("Patient", "a", `"n":3`), at(3)),
		save(t, s, "Observation", "o1", body("Observation", "o1", `"n":4`), at(4)),
		save(t, s, "Patient", "b", nil, at(5)),
		save(t, s, "Patient", "a", body("Patient", "a", `"n":6`), at(6)),
		save(t, s, "Patient", "ab", body("Patient", "ab", `"n":7`), at(7)),
		save(t, s, "Observation", "a", body("Observation", "a", `"n":8`), at(8)),
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		q    store.HistoryQuery
		want []int
	}{
		{"system", store.HistoryQuery{}, []int{8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"type", store.HistoryQuery{Type: "Patient"}, []int{7, 6, 5, 3, 1, 0}},
		{"other type", store.HistoryQuery{Type: "Observation"}, []int{8, 4, 2}},
		{"instance", store.HistoryQuery{Type: "Patient", ID: "a"}, []int{6, 3, 0}},
		{"instance with a deletion", store.HistoryQuery{Type: "Patient", ID: "b"}, []int{5, 1}},
		{"unknown instance", store.HistoryQuery{Type: "Patient", ID: "zz"}, nil},
		{"unknown type", store.HistoryQuery{Type: "Encounter"}, nil},
		{"since is inclusive", store.HistoryQuery{Since: at(3)}, []int{8, 7, 6, 5, 4, 3}},
		{"since on a type", store.HistoryQuery{Type: "Patient", Since: at(3)}, []int{7, 6, 5, 3}},
		{"since on an instance", store.HistoryQuery{Type: "Patient", ID: "a", Since: at(3).Add(ms)}, []int{6}},
		{"since after the last change", store.HistoryQuery{Since: at(8).Add(ms)}, nil},
		{"at is inclusive", store.HistoryQuery{At: at(3)}, []int{3, 2, 1}},
		{"at between changes", store.HistoryQuery{At: at(4).Add(ms)}, []int{4, 3, 2, 1}},
		{"at a deletion", store.HistoryQuery{At: at(5)}, []int{5, 4, 3, 2}},
		{"at after the last change", store.HistoryQuery{At: at(9)}, []int{8, 7, 6, 5, 4}},
		{"at before the first change", store.HistoryQuery{At: at(0).Add(-ms)}, nil},
		{"at on a type", store.HistoryQuery{Type: "Patient", At: at(6)}, []int{6, 5}},
		{"at on an instance", store.HistoryQuery{Type: "Patient", ID: "a", At: at(5)}, []int{3}},
		{"since and at", store.HistoryQuery{Since: at(4), At: at(5)}, []int{5, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []fhir.Resource
			for _, i := range tc.want {
				want = append(want, fixture[i])
			}
			got := history(t, s, tc.q)
			require.Equal(t, keys(want), keys(got))
			for i := range want {
				requireSame(t, want[i], got[i])
			}

			q := tc.q
			q.Count = 0
			page, err := s.History(t.Context(), q)
			require.NoError(t, err)
			require.Equal(t, len(want), page.Total, "count 0 gives the total")
			require.Empty(t, page.Entries, "count 0 gives no entries")
			require.Zero(t, page.Next)

			for _, count := range []int{1, 2, 3, len(want)} {
				if count > 0 {
					require.Equal(t, keys(want), keys(pages(t, s, tc.q, count, len(want), false, nil)), "count %d", count)
				}
			}
		})
	}
}

// pages reads the history matching q count entries at a time, checking
// each page, and returns the entries of all pages. total is the number of
// matching entries when the first page is read. between, when not nil,
// runs after every page but the last and returns how many matching entries
// it wrote. With pin, every page after the first passes back the first
// page's Snapshot, and Total stays as it was; without, each page counts the
// log as it is then.
func pages(t *testing.T, s store.Store, q store.HistoryQuery, count, total int, pin bool, between func() int) []fhir.Resource {
	t.Helper()
	var all []fhir.Resource
	q.Count = count
	for range 1000 {
		page, err := s.History(t.Context(), q)
		require.NoError(t, err)
		require.Equal(t, total, page.Total, "total on every page")
		require.LessOrEqual(t, len(page.Entries), count)
		if total > 0 {
			require.NotZero(t, page.Snapshot, "a log with entries has a position")
		}
		if q.Snapshot != 0 {
			require.Equal(t, q.Snapshot, page.Snapshot, "a pinned snapshot stays")
		}
		all = append(all, page.Entries...)
		if page.Next == 0 {
			return all
		}
		require.Len(t, page.Entries, count, "only the last page is short")
		q.Before = page.Next
		if pin {
			q.Snapshot = page.Snapshot
		}
		if between != nil {
			if added := between(); !pin {
				total += added
			}
		}
	}
	require.FailNow(t, "history pages never end")
	return nil
}

func testHistoryIsCommitOrdered(t *testing.T, s store.Store) {
	// A later commit can carry an earlier lastUpdated (clocks of several
	// servers, an import): the log is in commit order all the same.
	x := save(t, s, "Patient", "x", body("Patient", "x"), at(5))
	y := save(t, s, "Patient", "y", body("Patient", "y"), at(1))
	require.Equal(t, []string{key(y), key(x)}, keys(history(t, s, store.HistoryQuery{})))
	require.Equal(t, []string{key(y), key(x)}, keys(history(t, s, store.HistoryQuery{Type: "Patient"})))
}

func testHistoryPagingWhileWriting(t *testing.T, s store.Store) {
	// Every change, in commit order.
	var written []fhir.Resource
	saved := func(r fhir.Resource) fhir.Resource { written = append(written, r); return r }
	// 25 changes to start with: updates of seven Patients and, every fifth,
	// a new Observation.
	for i := range 25 {
		if i%5 == 4 {
			id := fmt.Sprintf("o%d", i)
			saved(save(t, s, "Observation", id, body("Observation", id), at(i)))
			continue
		}
		id := fmt.Sprintf("p%d", i%7)
		saved(save(t, s, "Patient", id, body("Patient", id, fmt.Sprintf(`"n":%d`, i)), at(i)))
	}
	matches := func(q store.HistoryQuery, r fhir.Resource) bool {
		return (q.Type == "" || r.Type == q.Type) && (q.ID == "" || r.ID == q.ID)
	}

	for _, tc := range []struct {
		name string
		q    store.HistoryQuery
		pin  bool
	}{
		{"system", store.HistoryQuery{}, false},
		{"type", store.HistoryQuery{Type: "Patient"}, false},
		{"instance", store.HistoryQuery{Type: "Patient", ID: "p1"}, false},
		{"system pinned", store.HistoryQuery{}, true},
		{"type pinned", store.HistoryQuery{Type: "Patient"}, true},
		{"instance pinned", store.HistoryQuery{Type: "Patient", ID: "p1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []fhir.Resource
			for i := len(written) - 1; i >= 0; i-- {
				if matches(tc.q, written[i]) {
					want = append(want, written[i])
				}
			}
			// Between pages: another version of p1, a new Patient and a new
			// Observation, all newer than every entry paged so far.
			between := func() int {
				n := len(written)
				added := []fhir.Resource{
					saved(save(t, s, "Patient", "p1", body("Patient", "p1", fmt.Sprintf(`"n":%d`, n)), at(n))),
					saved(save(t, s, "Patient", fmt.Sprintf("late%d", n), body("Patient", "late"), at(n+1))),
					saved(save(t, s, "Observation", fmt.Sprintf("late%d", n), body("Observation", "late"), at(n+2))),
				}
				matched := 0
				for _, r := range added {
					if matches(tc.q, r) {
						matched++
					}
				}
				return matched
			}
			got := pages(t, s, tc.q, 2, len(want), tc.pin, between)
			require.Equal(t, keys(want), keys(got))
			for i := range want {
				requireSame(t, want[i], got[i])
			}
		})
	}

	t.Run("pinned first page again", func(t *testing.T) {
		q := store.HistoryQuery{Type: "Patient", Count: 3}
		first, err := s.History(t.Context(), q)
		require.NoError(t, err)
		save(t, s, "Patient", "p1", body("Patient", "p1", `"n":"again"`), at(len(written)))
		q.Snapshot = first.Snapshot
		again, err := s.History(t.Context(), q)
		require.NoError(t, err)
		require.Equal(t, keys(first.Entries), keys(again.Entries))
		require.Equal(t, first.Total, again.Total)
		require.Equal(t, first.Next, again.Next)
	})
}

func testReady(t *testing.T, s store.Store) {
	require.NoError(t, s.Ready(t.Context()))
}

func testCloseTwiceThenNotReady(t *testing.T, s store.Store) {
	s.Close()
	s.Close()
	require.Error(t, s.Ready(t.Context()))
}

// withPatient is the version of r in the record of patient.
func withPatient(r fhir.Resource, patient string) store.Version {
	r.PatientID = patient
	return store.Version{Resource: r}
}
