package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sharedcare/sharedcare/internal/access"
)

// The population scenarios search a realistic population: many patients,
// each registered at one of a handful of GP practices, whose records were
// pushed by their practice's GP system or by a hospital's system, as
// transaction bundles copied from the Synthea samples.

// populationTypes are the kinds of record a population patient gets from
// its template, besides the Patient: what a shared care record is mostly
// read for.
var populationTypes = map[string]bool{
	"Encounter": true, "Observation": true, "Condition": true, "MedicationRequest": true, "Immunization": true,
}

// benchHospitals are the hospital systems that push some patients' records:
// made-up ODS codes in the shape of an NHS trust site's.
var benchHospitals = []string{"RZZ01", "RZZ02"}

const (
	// patientsPerBundle keeps a population transaction near 200 entries:
	// about 20 resources per patient.
	patientsPerBundle = 10
	// hospitalShare is the fraction of patients whose records a hospital
	// pushed rather than their practice.
	hospitalShare = 0.2
	// populationConcurrency is how many transactions the load keeps in
	// flight: as many as the ingest target is stated at.
	populationConcurrency = 4
	// practitionersPerSource is how many clinicians each source's records
	// name.
	practitionersPerSource = 4
)

// source is a system that pushes records: a GP practice's or a hospital's.
type source struct {
	ODS           string   `json:"ods"`
	Kind          string   `json:"kind"` // record source: gp or hospital
	Org           string   `json:"org"`  // the Organization on the server, "Organization/<id>"
	Practitioners []string `json:"practitioners"`
	token         string   // a system token of that organisation
}

// popPatient is what the search scenarios need to know about one patient.
type popPatient struct {
	ID       string `json:"id"` // server id
	NHS      string `json:"nhs"`
	Practice string `json:"practice"`           // ODS code of the GP practice
	Source   int    `json:"source"`             // index into population.sources
	ObsCode  string `json:"obsCode,omitempty"`  // system|code of one of its Observations
	ObsSince string `json:"obsSince,omitempty"` // a date (YYYY-MM-DD) a year before that Observation
}

// population is the loaded population.
type population struct {
	sources        []*source
	gpTokens       map[string]string // practice ODS code -> token of a GP there (directcare)
	patients       []popPatient
	conditionCodes []string // SNOMED CT codes of the templates' Conditions
	resources      int      // resources loaded, Patients included
}

// tokenMinter mints the population's callers from the server's dev signing key.
type tokenMinter struct {
	key      *access.DevKey
	audience string
}

// newTokenMinter reads the dev signing key from the server's data
// directory. It never creates one: a key the server does not have would
// only mint tokens it refuses.
func newTokenMinter(dataDir, audience string) (*tokenMinter, error) {
	if _, err := os.Stat(filepath.Join(dataDir, access.DevKeyFile)); err != nil {
		return nil, fmt.Errorf("-dev-data: the server's dev signing key: %w", err)
	}
	k, err := access.LoadOrCreateDevKey(dataDir)
	if err != nil {
		return nil, err
	}
	return &tokenMinter{key: k, audience: audience}, nil
}

// mint returns a day-long token, long enough for a whole population load.
func (m *tokenMinter) mint(o access.MintOptions) (string, error) {
	o.Audience, o.TTL = m.audience, 24*time.Hour
	return m.key.Mint(o)
}

// loadPopulation loads n patients and their records through transactions
// and returns what the search scenarios need. progress gets a line every
// tenth of the way.
//
// With a state file the load is resumable: the file records the sources
// and every committed transaction's patients, and a later run with the same
// server database loads only what is missing.
func loadPopulation(ctx context.Context, e *env, m *tokenMinter, n int, statePath string, progress io.Writer) (_ *population, err error) {
	ts, err := e.templates()
	if err != nil {
		return nil, err
	}
	pop := &population{gpTokens: map[string]string{}}
	seen := map[string]bool{}
	for _, t := range ts {
		for _, te := range t.entries {
			if te.typ == "Condition" && te.code != "" && !seen[te.code] {
				seen[te.code] = true
				_, code, _ := strings.Cut(te.code, "|")
				pop.conditionCodes = append(pop.conditionCodes, code)
			}
		}
	}
	for _, ods := range benchPractices {
		tok, err := m.mint(access.MintOptions{Role: access.CareRoleGP, Org: ods, Subject: "bench-gp-" + ods})
		if err != nil {
			return nil, err
		}
		pop.gpTokens[ods] = tok
	}
	state, err := openPopulationState(statePath, pop)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, state.close()) }()
	registered := len(pop.sources) > 0
	if !registered {
		for _, ods := range benchPractices {
			pop.sources = append(pop.sources, &source{ODS: ods, Kind: "gp"})
		}
		for _, ods := range benchHospitals {
			pop.sources = append(pop.sources, &source{ODS: ods, Kind: "hospital"})
		}
	}
	for _, s := range pop.sources {
		if s.token, err = m.mint(access.MintOptions{Role: access.CareRoleSystem, Org: s.ODS, Source: s.Kind, Subject: "bench-system-" + s.ODS}); err != nil {
			return nil, err
		}
	}
	if !registered {
		for _, s := range pop.sources {
			if err := s.register(ctx, e.fhir); err != nil {
				return nil, err
			}
		}
		if err := state.append(populationRecord{Sources: pop.sources}); err != nil {
			return nil, err
		}
	}
	if len(pop.patients) > 0 {
		fmt.Fprintf(progress, "population: %d patients already loaded (%s)\n", len(pop.patients), statePath)
		continueNHSNumbersAfter(pop.patients)
	}

	bundles := (n - len(pop.patients) + patientsPerBundle - 1) / patientsPerBundle
	if bundles <= 0 {
		return pop, nil
	}
	var mu sync.Mutex
	var done, resources atomic.Int64
	start := time.Now()
	st := runPhase(ctx, func(ctx context.Context, rng *rand.Rand) error {
		src := rng.IntN(len(benchPractices))
		if rng.Float64() < hospitalShare {
			src = len(benchPractices) + rng.IntN(len(benchHospitals))
		}
		b := newPopulationBundle(rng, ts, pop.sources[src], src)
		out, err := e.fhir.send(ctx, pop.sources[src].token, http.MethodPost, "", b.body, minimalReturn)
		if err != nil {
			return err
		}
		if err := b.assignIDs(out); err != nil {
			return err
		}
		mu.Lock()
		pop.patients = append(pop.patients, b.patients...)
		err = state.append(populationRecord{Patients: b.patients})
		mu.Unlock()
		if err != nil {
			return err
		}
		resources.Add(int64(b.entries))
		if d := done.Add(1); d%max(int64(bundles/10), 1) == 0 {
			secs := time.Since(start).Seconds()
			fmt.Fprintf(progress, "population: %d/%d transactions, %d resources, %.0f resources/s\n", d, bundles, resources.Load(), float64(resources.Load())/secs)
		}
		return nil
	}, populationConcurrency, 0, bundles)
	pop.resources = int(resources.Load())
	if st.firstErr != nil {
		return nil, fmt.Errorf("population: %d of %d transactions failed, first: %w", st.errors, bundles, st.firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "population: %d patients, %d resources in %s (%.0f resources/s at concurrency %d)\n",
		len(pop.patients), pop.resources, st.elapsed.Round(time.Second), float64(pop.resources)/st.elapsed.Seconds(), populationConcurrency)
	return pop, nil
}

// register creates the source's Organization and clinicians, which its
// patients' records then reference. s.token must be set.
func (s *source) register(ctx context.Context, c *fhirClient) error {
	var err error
	org, _ := json.Marshal(map[string]any{
		"resourceType": "Organization",
		"identifier":   []identifier{{System: odsOrganizationSystem, Value: s.ODS}},
		"active":       true,
		"name":         "Bench " + s.Kind + " " + s.ODS,
	})
	if s.Org, err = createOne(ctx, c, s.token, "Organization", org); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for i := range practitionersPerSource {
		p, _ := json.Marshal(map[string]any{
			"resourceType": "Practitioner",
			"identifier":   []identifier{{System: "https://fhir.hl7.org.uk/Id/gmc-number", Value: fmt.Sprintf("C%s%d", s.ODS, i)}},
			"active":       true,
			"name":         []humanName{{Use: "official", Family: pick(rng, familyNames), Given: []string{pick(rng, femaleGiven)}, Prefix: []string{"Dr"}}},
		})
		ref, err := createOne(ctx, c, s.token, "Practitioner", p)
		if err != nil {
			return err
		}
		s.Practitioners = append(s.Practitioners, ref)
	}
	return nil
}

// createOne POSTs a resource as token and returns "Type/id".
func createOne(ctx context.Context, c *fhirClient, token, typ string, body []byte) (string, error) {
	out, err := c.send(ctx, token, http.MethodPost, "/"+typ, body, nil)
	if err != nil {
		return "", err
	}
	var r struct{ ID string }
	if err := json.Unmarshal(out, &r); err != nil || r.ID == "" {
		return "", fmt.Errorf("create %s: no id in the response (%v)", typ, err)
	}
	return typ + "/" + r.ID, nil
}

// populationBundle is one transaction of the population load.
type populationBundle struct {
	body     []byte
	entries  int
	patients []popPatient
	at       []int // entry index of each patient's Patient
}

// newPopulationBundle returns a transaction of patientsPerBundle new
// patients pushed by src (index srcIndex), each a copy of a sample of a
// random template (see sample).
func newPopulationBundle(rng *rand.Rand, ts []*syntheaTemplate, src *source, srcIndex int) populationBundle {
	b := populationBundle{body: make([]byte, 0, 256<<10)}
	b.body = append(b.body, bundleStart...)
	for range patientsPerBundle {
		t := pick(rng, ts)
		p := newCopyPlan(rng, t, rng.IntN(5*365))
		for i, te := range t.entries {
			switch te.typ {
			case "Organization":
				p.url[i] = src.Org
			case "Practitioner":
				p.url[i] = pick(rng, src.Practitioners)
			}
		}
		practice := src.ODS
		if src.Kind != "gp" {
			practice = pick(rng, benchPractices)
		}
		gender, _ := t.patientRes["gender"].(string)
		who := newIdentity(rng, gender, practice)
		keep := t.sample(rng, 15+rng.IntN(11))
		pp := popPatient{NHS: who.nhs, Practice: practice, Source: srcIndex}
		var obs []int
		for _, i := range keep {
			if t.entries[i].typ == "Observation" && t.entries[i].code != "" && t.entries[i].day >= 0 {
				obs = append(obs, i)
			}
		}
		if len(obs) > 0 {
			o := t.entries[pick(rng, obs)]
			pp.ObsCode = o.code
			pp.ObsSince = time.Unix(int64(o.day+p.shift-365)*86400, 0).UTC().Format(time.DateOnly)
		}
		if b.entries > 0 {
			b.body = append(b.body, ',')
		}
		b.at = append(b.at, b.entries)
		b.patients = append(b.patients, pp)
		b.body = t.appendPatientEntry(b.body, rng, p, who)
		b.entries++
		for _, i := range keep {
			b.body = append(b.body, ',')
			b.body = t.appendEntry(b.body, i, p)
			b.entries++
		}
	}
	b.body = append(b.body, bundleEnd...)
	return b
}

// assignIDs reads the Patients' ids from the transaction-response.
func (b *populationBundle) assignIDs(resp []byte) error {
	var r struct {
		Entry []struct {
			Response struct {
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return fmt.Errorf("transaction-response: %w", err)
	}
	if len(r.Entry) != b.entries {
		return fmt.Errorf("transaction-response has %d entries for %d sent", len(r.Entry), b.entries)
	}
	for k, at := range b.at {
		// A transaction-response's location is relative: Patient/<id>/_history/1.
		loc := r.Entry[at].Response.Location
		rest, ok := strings.CutPrefix(loc, "Patient/")
		id, _, _ := strings.Cut(rest, "/")
		if !ok || id == "" {
			return fmt.Errorf("transaction-response: entry %d location %q is not a Patient's", at, loc)
		}
		b.patients[k].ID = id
	}
	return nil
}

// sample returns the entries of one patient's copy besides its Patient, in
// bundle order: whole Encounters taken in random order, each with the
// records made at it (of populationTypes), until about target resources. A
// record is kept only if everything it references is kept too (or is the
// Patient, an Organization or a Practitioner, which the copy points at the
// server's own), so every reference in the copy resolves.
func (t *syntheaTemplate) sample(rng *rand.Rand, target int) []int {
	kept := make([]bool, len(t.entries))
	kept[t.patient] = true
	for i, e := range t.entries {
		if e.typ == "Organization" || e.typ == "Practitioner" {
			kept[i] = true
		}
	}
	resolves := func(i int) bool {
		for _, r := range t.entries[i].refs {
			if !kept[r] {
				return false
			}
		}
		return true
	}
	var out []int
	for _, enc := range rng.Perm(len(t.encounters)) {
		if len(out) >= target {
			break
		}
		e := t.encounters[enc]
		if !resolves(e) {
			continue
		}
		kept[e] = true
		out = append(out, e)
		for _, c := range t.children[e] {
			if len(out) >= target {
				break
			}
			if populationTypes[t.entries[c].typ] && resolves(c) {
				kept[c] = true
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

// The search-scale scenarios, each one query a clinician or a source
// system makes against the population.
var scaleScenarios = []scenario{
	{name: "scale-clinician", server: scaleServer(clinicianQuery)},
	{name: "scale-identifier", server: scaleServer(identifierQuery)},
	{name: "scale-revinclude", server: scaleServer(revincludeQuery)},
	{name: "scale-count", server: scaleServer(countQuery)},
	{name: "scale-name", server: scaleServer(nameQuery)},
}

// A scaleQuery returns one random query of its kind: the caller's token
// and the path.
type scaleQuery func(rng *rand.Rand, pop *population) (token, path string)

// clinicianQuery is a GP looking at one registered patient's recent
// results of one test, newest first.
func clinicianQuery(rng *rand.Rand, pop *population) (string, string) {
	p := pickWith(rng, pop.patients, func(p popPatient) bool { return p.ObsCode != "" })
	return pop.gpTokens[p.Practice], "/Observation?patient=" + p.ID + "&code=" + url.QueryEscape(p.ObsCode) +
		"&date=ge" + p.ObsSince + "&_sort=-date"
}

// identifierQuery is a source system matching a person by NHS number.
func identifierQuery(rng *rand.Rand, pop *population) (string, string) {
	p := pick(rng, pop.patients)
	return pop.sources[p.Source].token, "/Patient?identifier=" + url.QueryEscape(nhsNumberSystem+"|"+p.NHS)
}

// revincludeQuery is a source system reading a patient with their
// encounters.
func revincludeQuery(rng *rand.Rand, pop *population) (string, string) {
	p := pick(rng, pop.patients)
	return pop.sources[p.Source].token, "/Patient?_id=" + p.ID + "&_revinclude=Encounter:patient"
}

// countQuery is a practice counting its patients' diagnoses of one kind.
func countQuery(rng *rand.Rand, pop *population) (string, string) {
	return pop.gpTokens[pick(rng, benchPractices)], "/Condition?code=" + pick(rng, pop.conditionCodes) + "&_summary=count"
}

// nameQuery is a practice looking a patient up by the start of a surname.
func nameQuery(rng *rand.Rand, pop *population) (string, string) {
	f := pick(rng, familyNames)
	return pop.gpTokens[pick(rng, benchPractices)], "/Patient?name=" + url.QueryEscape(f[:min(3, len(f))])
}

// pickWith picks a random element satisfying ok, trying a few times
// before settling for any.
func pickWith[T any](rng *rand.Rand, xs []T, ok func(T) bool) T {
	for range 20 {
		if x := pick(rng, xs); ok(x) {
			return x
		}
	}
	return pick(rng, xs)
}

// errNoPopulation is the setup error of a scale scenario run without a
// population.
var errNoPopulation = errors.New("needs a population: give -population N and -dev-data")

// scaleServer makes the setup of a scale scenario: it checks once that
// the query finds something, so that a run cannot measure empty answers
// without saying so, and returns the op that repeats it.
func scaleServer(q scaleQuery) func(ctx context.Context, e *env) (op, error) {
	return func(ctx context.Context, e *env) (op, error) {
		if e.pop == nil || len(e.pop.patients) == 0 {
			return nil, errNoPopulation
		}
		if err := checkFinds(ctx, e, q); err != nil {
			return nil, err
		}
		return func(ctx context.Context, rng *rand.Rand) error {
			tok, path := q(rng, e.pop)
			_, err := e.fhir.send(ctx, tok, http.MethodGet, path, nil, nil)
			return err
		}, nil
	}
}

// checkFinds runs random queries of q until one finds something, and fails
// if ten in a row find nothing: a query that matches nothing measures only
// the empty path through the server.
func checkFinds(ctx context.Context, e *env, q scaleQuery) error {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	var last string
	for range 10 {
		tok, path := q(rng, e.pop)
		out, err := e.fhir.send(ctx, tok, http.MethodGet, path, nil, nil)
		if te, ok := errors.AsType[interface {
			error
			Timeout() bool
		}](err); ok && te.Timeout() {
			// Slower than -timeout: the measured run reports it as
			// errors, which is the finding.
			return nil
		}
		if err != nil {
			return err
		}
		var b struct {
			Total *int              `json:"total"`
			Entry []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(out, &b); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(b.Entry) > 0 || b.Total != nil && *b.Total > 0 {
			return nil
		}
		last = fmt.Sprintf("%s: %.300s", path, out)
	}
	return fmt.Errorf("ten queries found nothing; the last, %s", last)
}

// populationRecord is one line of a population state file: the sources
// (the first line), or the patients of one committed transaction.
type populationRecord struct {
	Sources  []*source    `json:"sources,omitempty"`
	Patients []popPatient `json:"patients,omitempty"`
}

// populationState is the append-only record of a population load; the
// zero value (no file) records nothing.
type populationState struct {
	f *os.File
}

// openPopulationState reads what path records into pop and opens it for
// appending. A last line cut short by an interrupted run is dropped.
func openPopulationState(path string, pop *population) (*populationState, error) {
	if path == "" {
		return &populationState{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	good := 0
	for len(data[good:]) > 0 {
		line, _, ok := strings.Cut(string(data[good:]), "\n")
		if !ok {
			break
		}
		var r populationRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(r.Sources) > 0 {
			pop.sources = r.Sources
		}
		pop.patients = append(pop.patients, r.Patients...)
		good += len(line) + 1
	}
	if len(pop.patients) > 0 && len(pop.sources) == 0 {
		return nil, fmt.Errorf("%s: patients but no sources", path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err == nil {
		err = f.Truncate(int64(good))
	}
	if err == nil {
		_, err = f.Seek(int64(good), io.SeekStart)
	}
	if err != nil {
		return nil, err
	}
	return &populationState{f: f}, nil
}

// append writes one record as a line.
func (s *populationState) append(r populationRecord) error {
	if s.f == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.f.Write(append(b, '\n'))
	return err
}

func (s *populationState) close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// continueNHSNumbersAfter makes this run's NHS numbers follow the highest
// one already loaded: the server holds one Patient per number, and a
// random start could walk into the numbers of the run being resumed.
func continueNHSNumbersAfter(ps []popPatient) {
	var top uint64
	for _, p := range ps {
		if n, err := strconv.ParseUint(p.NHS, 10, 64); err == nil {
			top = max(top, n/10%1_000_000)
		}
	}
	nhsSerial.Store(top)
}
