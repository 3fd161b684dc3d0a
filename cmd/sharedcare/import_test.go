package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/embedded"
	"github.com/sharedcare/sharedcare/internal/store/postgres"
)

// importEnv is the configuration an import and the server share in a
// test: a fresh store (see storeURL) and a data directory.
type importEnv map[string]string

func newImportEnv(t *testing.T) importEnv {
	return importEnv{
		"SHAREDCARE_DATABASE_URL": storeURL(t),
		"SHAREDCARE_DATA_DIR":     t.TempDir(),
		"SHAREDCARE_LOG_LEVEL":    "warn",
	}
}

// runImport runs `sharedcare import args...` as a user would and returns
// its standard output (the summary).
func (env importEnv) runImport(ctx context.Context, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(ctx, append([]string{"import"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String() + errOut.String(), err
}

// openStore opens the test's store directly, to read back everything in it.
func (env importEnv) openStore(t *testing.T) store.Store {
	t.Helper()
	var st store.Store
	var err error
	if u := env["SHAREDCARE_DATABASE_URL"]; u != "" {
		st, err = postgres.Open(context.Background(), u)
	} else {
		st, err = embedded.Open(context.Background(), env["SHAREDCARE_DATA_DIR"])
	}
	require.NoError(t, err)
	return st
}

// stored is everything a store holds: every version of every resource.
type stored struct {
	versions map[string][]fhir.Resource // Type/id -> versions, newest first
}

func (env importEnv) stored(t *testing.T) stored {
	t.Helper()
	st := env.openStore(t)
	defer st.Close()
	s := stored{versions: map[string][]fhir.Resource{}}
	q := store.HistoryQuery{Count: 1000}
	for {
		page, err := st.History(context.Background(), q)
		require.NoError(t, err)
		for _, r := range page.Entries {
			s.versions[r.Ref()] = append(s.versions[r.Ref()], r)
		}
		if page.Next == 0 {
			return s
		}
		q.Before, q.Snapshot = page.Next, page.Snapshot
	}
}

// requireOneVersionEach asserts that no resource was written twice.
func (s stored) requireOneVersionEach(t *testing.T) {
	t.Helper()
	for ref, vs := range s.versions {
		require.Len(t, vs, 1, "%s has %d versions", ref, len(vs))
		require.EqualValues(t, 1, vs[0].VersionID, ref)
	}
}

// requireReferencesResolve asserts that every reference in every current
// resource names a stored resource.
func (s stored) requireReferencesResolve(t *testing.T) int {
	t.Helper()
	n := 0
	for ref, vs := range s.versions {
		if vs[0].Deleted {
			continue
		}
		var doc any
		require.NoError(t, json.Unmarshal(vs[0].Raw, &doc))
		for _, to := range references(doc) {
			if strings.HasPrefix(to, "#") {
				continue
			}
			_, ok := s.versions[to]
			require.True(t, ok, "%s refers to %s, which is not stored", ref, to)
			n++
		}
	}
	return n
}

// references returns every reference element's value in doc.
func references(doc any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "reference" {
					out = append(out, s)
				} else {
					walk(x)
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

// syntheaResources returns the resources of the Synthea samples as
// stored (Type/id of each distinct urn:uuid fullUrl) and their number of
// entries.
func syntheaResources(t *testing.T) (map[string]bool, int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaSample, "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 5)
	want, entries := map[string]bool{}, 0
	for _, f := range files {
		var b struct {
			Entry []struct {
				FullURL  string `json:"fullUrl"`
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal(readFixture(t, f), &b))
		for _, e := range b.Entry {
			want[e.Resource.ResourceType+"/"+strings.TrimPrefix(e.FullURL, "urn:uuid:")] = true
		}
		entries += len(b.Entry)
	}
	return want, entries
}

// summaryCounts reads the counts of the import's summary line.
func summaryCounts(t *testing.T, out string) (loaded, updated, skipped, failed int) {
	t.Helper()
	i := strings.Index(out, "import: ")
	require.GreaterOrEqual(t, i, 0, out)
	var done, total int
	var took, rate string
	_, err := fmt.Sscanf(out[i:], "import: %d of %d resources in %s %s resources/s): %d loaded, %d updated, %d skipped",
		&done, &total, &took, &rate, &loaded, &updated, &skipped)
	require.NoError(t, err, out)
	j := strings.Index(out, "(already present), ")
	require.GreaterOrEqual(t, j, 0, out)
	_, err = fmt.Sscanf(out[j:], "(already present), %d failed", &failed)
	require.NoError(t, err, out)
	require.Equal(t, total, done, out)
	return loaded, updated, skipped, failed
}

// All five Synthea samples import as transactions, every reference
// resolves, and importing them again adds nothing.
func TestImportSynthea(t *testing.T) { forStores(t, testImportSynthea) }

func testImportSynthea(t *testing.T) {
	env := newImportEnv(t)
	want, entries := syntheaResources(t)
	args := []string{"--source", "gp", "--org", "A81001", "--report", filepath.Join(t.TempDir(), "report.ndjson"), syntheaSample}

	out, err := env.runImport(context.Background(), args...)
	require.NoError(t, err, out)
	loaded, updated, skipped, failed := summaryCounts(t, out)
	require.Equal(t, len(want), loaded, out)
	require.Zero(t, updated+failed, out)
	// Each bundle carries its own Organization and Practitioner: the
	// samples share some, which load once.
	require.Equal(t, entries-len(want), skipped, out)

	s := env.stored(t)
	require.Len(t, s.versions, len(want))
	for ref := range want {
		require.Contains(t, s.versions, ref, "each resource keeps its source's id")
	}
	s.requireOneVersionEach(t)
	require.Greater(t, s.requireReferencesResolve(t), 2000)
	for ref, vs := range s.versions {
		require.Contains(t, string(vs[0].Raw), `"code":"A81001"`, "%s is labelled with its owner", ref)
		require.Equal(t, "A81001", vs[0].Owner, ref)
	}

	out, err = env.runImport(context.Background(), args...)
	require.NoError(t, err, out)
	loaded, updated, skipped, failed = summaryCounts(t, out)
	require.Equal(t, []int{0, 0, entries, 0}, []int{loaded, updated, skipped, failed}, out)
	again := env.stored(t)
	require.Len(t, again.versions, len(want))
	again.requireOneVersionEach(t)

	// Each bundle's transaction is on the audit trail, chained, naming
	// every version it wrote; the second run wrote nothing.
	var verify bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"audit", "verify"}, func(k string) string { return env[k] }, &verify, &verify), verify.String())
	require.Contains(t, verify.String(), "valid: 5 links verified")
	st := env.openStore(t)
	audited := map[string]bool{}
	require.NoError(t, st.AuditChain(context.Background(), func(l store.AuditLink) error {
		require.Equal(t, "sharedcare-import", l.Agent)
		require.Equal(t, "A81001", l.Org)
		for _, e := range l.Entities {
			audited[e] = true
		}
		return nil
	}))
	st.Close()
	for ref := range want {
		require.True(t, audited[ref+"/_history/1"], "the trail names %s", ref)
	}

	// The server serves what was imported.
	ts := startServer(t, env)
	for ref := range want {
		if strings.HasPrefix(ref, "Patient/") {
			require.Equal(t, http.StatusOK, ts.do("GET", ref, nil).StatusCode)
		}
	}
}

// ndjsonOf turns a Synthea bundle into NDJSON lines: one resource a line,
// urn:uuid references rewritten to Type/id.
func ndjsonOf(t *testing.T, path string) []string {
	t.Helper()
	raw := string(readFixture(t, path))
	var b struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &b))
	var pairs []string
	for _, e := range b.Entry {
		typ, _, err := fhir.Peek(e.Resource)
		require.NoError(t, err)
		pairs = append(pairs, `"`+e.FullURL+`"`, `"`+typ+"/"+strings.TrimPrefix(e.FullURL, "urn:uuid:")+`"`)
	}
	rw := strings.NewReplacer(pairs...)
	var lines []string
	for _, e := range b.Entry {
		var c bytes.Buffer
		require.NoError(t, json.Compact(&c, []byte(rw.Replace(string(e.Resource)))))
		lines = append(lines, c.String())
	}
	return lines
}

// readReport reads an import's report file.
func readReport(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	return out
}

// Bad lines of an NDJSON file are reported with their file and line, and
// every other line loads, in the bad lines' batches too: lines that do not
// parse or validate, and a line the store refuses (a second Patient with
// an NHS number another line holds).
func TestImportNDJSONBadLines(t *testing.T) { forStores(t, testImportNDJSONBadLines) }

func testImportNDJSONBadLines(t *testing.T) {
	env := newImportEnv(t)
	lines := ndjsonOf(t, filepath.Join(syntheaSample, "Barney_Abbott_3f228315-d2de-4292-a56a-b7c120c2875d.json"))
	good := len(lines)
	// Line 41: not JSON; line 62: an Observation with an unknown element;
	// line 80: a blank line (skipped, but counted in line numbers).
	bad := append([]string{}, lines[:40]...)
	bad = append(bad, `{"resourceType":"Observation","status":"final",`)
	bad = append(bad, lines[40:60]...)
	bad = append(bad, `{"resourceType":"Observation","id":"bogus","status":"final","code":{"text":"x"},"bogus":1}`)
	bad = append(bad, lines[60:77]...)
	bad = append(bad, "")
	bad = append(bad, lines[77:]...)
	nhs := nhsNumberFor(t, 991200402)
	holder := `{"resourceType":"Patient","id":"holder","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + nhs + `"}]}`
	bad = append(bad, holder, strings.Replace(holder, `"holder"`, `"second"`, 1))
	dir := t.TempDir()
	file := filepath.Join(dir, "barney.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(bad, "\n")+"\n"), 0o600))
	report := filepath.Join(dir, "report.ndjson")

	out, err := env.runImport(context.Background(), "--source", "gp", "--org", "A81001", "--batch", "25", "--report", report, file)
	require.Error(t, err, "an import with failures exits non-zero")
	loaded, _, _, failed := summaryCounts(t, out)
	require.Equal(t, good+1, loaded, out)
	require.Equal(t, 3, failed, out)
	require.Contains(t, out, report)

	rep := readReport(t, report)
	require.Len(t, rep, 3)
	require.Equal(t, file, rep[0]["file"])
	require.EqualValues(t, 41, rep[0]["line"])
	require.Contains(t, rep[0]["reason"], "line 41")
	require.Equal(t, "OperationOutcome", rep[0]["outcome"].(map[string]any)["resourceType"])
	require.EqualValues(t, 62, rep[1]["line"])
	require.Contains(t, rep[1]["reason"], "bogus")
	require.EqualValues(t, len(bad), rep[2]["line"])
	require.Contains(t, rep[2]["reason"], "Patient/holder")

	s := env.stored(t)
	require.Len(t, s.versions, good+1)
	s.requireOneVersionEach(t)
	s.requireReferencesResolve(t)
	_, ok := s.versions["Observation/bogus"]
	require.False(t, ok)

	// Fixed and run again, the file loads its two missing lines only.
	bad[40] = `{"resourceType":"Observation","id":"fixed","status":"final","code":{"text":"x"}}`
	bad[61] = `{"resourceType":"Observation","id":"bogus","status":"final","code":{"text":"x"}}`
	bad = bad[:len(bad)-1]
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(bad, "\n")+"\n"), 0o600))
	out, err = env.runImport(context.Background(), "--source", "gp", "--org", "A81001", "--batch", "25", "--report", report, file)
	require.NoError(t, err, out)
	loaded, updated, skipped, failed := summaryCounts(t, out)
	require.Equal(t, []int{2, 0, good + 1, 0}, []int{loaded, updated, skipped, failed}, out)
	require.Empty(t, readReport(t, report), "the report is rewritten on every run")
}

// An import interrupted after its first batch, run again, completes with
// nothing twice; a changed resource then gets one new version.
func TestImportResume(t *testing.T) { forStores(t, testImportResume) }

func testImportResume(t *testing.T) {
	env := newImportEnv(t)
	dir := t.TempDir()
	lines := ndjsonOf(t, filepath.Join(syntheaSample, "Alberto_Armstrong_dc9335d0-bbdd-4120-8ae9-baa6604343b6.json"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.ndjson"), []byte(strings.Join(lines, "\n")), 0o600))
	for _, f := range []string{"Barney_Abbott_3f228315-d2de-4292-a56a-b7c120c2875d.json", "Berneice_Little_5ad50081-cf54-49bc-b8ea-045497418383.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "b-"+f), readFixture(t, filepath.Join(syntheaSample, f)), 0o600))
	}
	args := []string{"--source", "gp", "--org", "A81001", "--batch", "20", "--workers", "1", "--report", filepath.Join(t.TempDir(), "r.ndjson"), dir}

	ctx, cancel := context.WithCancel(context.Background())
	importCommitted = cancel
	out, err := env.runImport(ctx, args...)
	importCommitted = nil
	cancel()
	require.ErrorContains(t, err, "interrupted", out)
	first := env.stored(t)
	require.NotEmpty(t, first.versions)
	require.Less(t, len(first.versions), 100, "the import stopped early")

	out, err = env.runImport(context.Background(), args...)
	require.NoError(t, err, out)
	loaded, updated, skipped, failed := summaryCounts(t, out)
	require.Zero(t, updated+failed, out)
	require.Equal(t, len(first.versions), skipped-countSharedEntries(t, dir), out)
	s := env.stored(t)
	require.Len(t, s.versions, len(first.versions)+loaded)
	s.requireOneVersionEach(t)
	s.requireReferencesResolve(t)

	// A line that changed is a new version; the rest stay as they are.
	i := 0
	for !strings.Contains(lines[i], `"resourceType":"Observation"`) {
		i++
	}
	var obs map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[i]), &obs))
	obs["status"] = "amended"
	changed, err := json.Marshal(obs)
	require.NoError(t, err)
	lines[i] = string(changed)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.ndjson"), []byte(strings.Join(lines, "\n")), 0o600))
	out, err = env.runImport(context.Background(), args...)
	require.NoError(t, err, out)
	loaded, updated, _, failed = summaryCounts(t, out)
	require.Equal(t, []int{0, 1, 0}, []int{loaded, updated, failed}, out)
	ref := obs["resourceType"].(string) + "/" + obs["id"].(string)
	vs := env.stored(t).versions[ref]
	require.Len(t, vs, 2)
	require.Contains(t, string(vs[0].Raw), `"status":"amended"`)
}

// countSharedEntries counts the bundle entries in dir that name a resource
// an earlier file of dir already loaded (the samples share Organizations
// and Practitioners): each is skipped on every run.
func countSharedEntries(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	seen, shared := map[string]bool{}, 0
	for _, f := range files {
		if strings.HasSuffix(f, ".ndjson") {
			for _, l := range strings.Split(string(readFixture(t, f)), "\n") {
				typ, id, err := fhir.Peek([]byte(l))
				require.NoError(t, err)
				seen[typ+"/"+id] = true
			}
			continue
		}
		var b struct {
			Entry []struct {
				FullURL  string `json:"fullUrl"`
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal(readFixture(t, f), &b))
		for _, e := range b.Entry {
			ref := e.Resource.ResourceType + "/" + strings.TrimPrefix(e.FullURL, "urn:uuid:")
			if seen[ref] {
				shared++
			}
			seen[ref] = true
		}
	}
	return shared
}

// nhsNumberFor returns a valid NHS number (Modulus 11) starting with the
// nine digits of prefix.
func nhsNumberFor(t *testing.T, prefix int) string {
	for p := prefix; ; p++ {
		digits := fmt.Sprintf("%09d", p)
		sum := 0
		for i, d := range digits {
			sum += int(d-'0') * (10 - i)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check != 10 {
			return digits + strconv.Itoa(check)
		}
	}
}

// The same NHS number pushed by a GP and then by a hospital is one
// Patient: the hospital's records point at the GP's Patient.
func TestImportSameNHSNumberFromTwoSources(t *testing.T) {
	forStores(t, testImportSameNHSNumberFromTwoSources)
}

func testImportSameNHSNumberFromTwoSources(t *testing.T) {
	env := newImportEnv(t)
	dir := t.TempDir()
	nhs := nhsNumberFor(t, 991200401)
	patient := func(family string) string {
		return fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":%q}],"name":[{"family":%q}]}`, nhs, family)
	}
	const gpPatient, hospitalPatient = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	gp := bundleJSON("transaction",
		entryJSON("urn:uuid:"+gpPatient, "POST", "Patient", patient("Jones")),
		entryJSON("urn:uuid:11111111-1111-4111-8111-000000000001", "POST", "Observation", observationJSON("urn:uuid:"+gpPatient)),
	)
	hospital := bundleJSON("transaction",
		entryJSON("urn:uuid:"+hospitalPatient, "POST", "Patient", patient("JONES")),
		entryJSON("urn:uuid:22222222-2222-4222-8222-000000000001", "POST", "Observation", observationJSON("urn:uuid:"+hospitalPatient)),
		entryJSON("urn:uuid:22222222-2222-4222-8222-000000000002", "POST", "Encounter",
			`{"resourceType":"Encounter","status":"finished","class":{"code":"IMP"},"subject":{"reference":"urn:uuid:`+hospitalPatient+`"}}`),
	)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gp.json"), []byte(gp), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hospital.json"), []byte(hospital), 0o600))
	report := filepath.Join(dir, "report.ndjson")

	out, err := env.runImport(context.Background(), "--source", "gp", "--org", "A81001", "--report", report, filepath.Join(dir, "gp.json"))
	require.NoError(t, err, out)
	for range 2 {
		out, err = env.runImport(context.Background(), "--source", "hospital", "--org", "RXX01", "--report", report, filepath.Join(dir, "hospital.json"))
		require.NoError(t, err, out)
	}
	loaded, updated, skipped, failed := summaryCounts(t, out)
	require.Equal(t, []int{0, 0, 3, 0}, []int{loaded, updated, skipped, failed}, "the second hospital run: %s", out)

	s := env.stored(t)
	require.Len(t, s.versions, 4, "one Patient, the GP's Observation, the hospital's Observation and Encounter")
	s.requireOneVersionEach(t)
	s.requireReferencesResolve(t)
	_, ok := s.versions["Patient/"+hospitalPatient]
	require.False(t, ok)

	ts := startServer(t, env)
	hospitalToken := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "RXX01", Source: access.RecordSourceHospital})
	for _, typ := range []string{"Observation", "Encounter"} {
		b := ts.search(t, "GET", typ+"?subject=Patient/"+gpPatient, nil, "Authorization", "Bearer "+hospitalToken)
		require.Len(t, b.matches, 1, "the hospital's %s points at the GP's Patient", typ)
		r := ts.do("GET", typ+"/"+b.matches[0], nil, "Authorization", "Bearer "+hospitalToken)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
		assert.Contains(t, string(r.Body), `"code":"hospital"`)
		assert.Contains(t, string(r.Body), `"code":"RXX01"`)
	}
	require.Equal(t, 1, ts.total("Patient?identifier="+url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+nhs)))
}

// The source and the organisation are required: they label every record.
func TestImportUsage(t *testing.T) {
	env := importEnv{"SHAREDCARE_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"--org", "A81001", syntheaSample},
		{"--source", "gp", syntheaSample},
		{"--source", "pharmacy", "--org", "A81001", syntheaSample},
		{"--source", "gp", "--org", "A81001"},
		{"--source", "gp", "--org", "A81001", filepath.Join(t.TempDir(), "missing.ndjson")},
	} {
		out, err := env.runImport(context.Background(), args...)
		require.Error(t, err, "%v: %s", args, out)
	}
	_, err := os.Stat(filepath.Join(env["SHAREDCARE_DATA_DIR"], embedded.FileName))
	require.True(t, os.IsNotExist(err), "a refused import opens no store")
}
