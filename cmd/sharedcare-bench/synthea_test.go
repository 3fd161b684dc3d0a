package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/validate"
)

// syntheaDir is the Synthea sample, relative to this package.
const syntheaDir = "../../../shared/fhir/synthea-sample"

func testTemplates(t *testing.T) []*syntheaTemplate {
	t.Helper()
	ts, err := loadSyntheaTemplates(syntheaDir)
	require.NoError(t, err)
	require.Len(t, ts, 5)
	return ts
}

// sentBundle is a transaction as the bench sends it, read back.
type sentBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

func decodeBundle(t *testing.T, body []byte) sentBundle {
	t.Helper()
	var b sentBundle
	require.NoError(t, json.Unmarshal(body, &b))
	require.Equal(t, "Bundle", b.ResourceType)
	require.Equal(t, "transaction", b.Type)
	return b
}

// references returns every "reference" string in a JSON value.
func references(t *testing.T, raw []byte) []string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "reference" {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

// patientOf returns the one Patient of a bundle.
func patientOf(t *testing.T, b sentBundle) (fullURL string, p struct {
	Identifier []struct{ System, Value string }
	Name       []struct {
		Family string
		Given  []string
	}
	BirthDate           string
	GeneralPractitioner []reference
}) {
	t.Helper()
	n := 0
	for _, e := range b.Entry {
		if e.Request.URL == "Patient" {
			require.NoError(t, json.Unmarshal(e.Resource, &p))
			fullURL = e.FullURL
			n++
		}
	}
	require.Equal(t, 1, n, "one Patient per bundle")
	return fullURL, p
}

func nhsOf(t *testing.T, ids []struct{ System, Value string }) string {
	t.Helper()
	for _, id := range ids {
		if id.System == nhsNumberSystem {
			return id.Value
		}
	}
	t.Fatal("no NHS number")
	return ""
}

// A whole copy keeps every entry of its template, gives each a fresh
// urn:uuid, rewrites every reference to match (none left pointing at the
// template's uuids or outside the bundle), makes the Patient a new person
// with a valid NHS number never used before, and every resource still
// passes the server's validator.
func TestWholeCopy(t *testing.T) {
	ts := testTemplates(t)
	rng := rand.New(rand.NewPCG(1, 2))
	nhs := map[string]bool{}
	for _, tmpl := range ts {
		t.Run(tmpl.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(syntheaDir, tmpl.name))
			require.NoError(t, err)
			orig := decodeBundle(t, raw)
			origURLs := map[string]bool{}
			origRefs := 0
			for _, e := range orig.Entry {
				origURLs[e.FullURL] = true
				origRefs += len(references(t, e.Resource))
			}
			_, origPatient := patientOf(t, orig)

			seen := map[string]bool{}
			for range 3 {
				b := decodeBundle(t, tmpl.wholeCopy(rng, "Y90001"))
				require.Len(t, b.Entry, len(orig.Entry))
				assert.True(t, len(b.Entry) >= 130 && len(b.Entry) <= 300, "%d entries", len(b.Entry))
				urls := map[string]bool{}
				for _, e := range b.Entry {
					require.True(t, strings.HasPrefix(e.FullURL, "urn:uuid:"), e.FullURL)
					require.False(t, origURLs[e.FullURL], "the template's uuid %s", e.FullURL)
					require.False(t, seen[e.FullURL], "a uuid of an earlier copy: %s", e.FullURL)
					urls[e.FullURL], seen[e.FullURL] = true, true
				}
				refs := 0
				for i, e := range b.Entry {
					for _, r := range references(t, e.Resource) {
						refs++
						if strings.HasPrefix(r, "urn:uuid:") {
							require.True(t, urls[r], "entry %d references %s, no entry of the copy", i, r)
						}
					}
					typ, err := validate.Resource(e.Resource)
					require.NoError(t, err, "entry %d: %s", i, e.Resource)
					require.Equal(t, e.Request.URL, typ)
				}
				assert.Equal(t, origRefs, refs, "every reference is kept")

				_, p := patientOf(t, b)
				n := nhsOf(t, p.Identifier)
				require.True(t, validNHSNumber(n), n)
				require.False(t, nhs[n], "NHS number %s repeated", n)
				nhs[n] = true
				assert.NotEqual(t, origPatient.Name[0].Family, p.Name[0].Family)
				assert.Contains(t, familyNames, p.Name[0].Family)
				for _, id := range p.Identifier {
					assert.NotContains(t, id.System, "synthea", "Synthea's own identifiers would repeat across copies")
				}
				require.Len(t, p.GeneralPractitioner, 1)
				assert.Equal(t, "Y90001", p.GeneralPractitioner[0].Identifier.Value)
			}
		})
	}
}

// Dates move together: a copy shifts every date of the template by the
// same number of days, so that intervals (age at an encounter, an
// encounter's length) stay as Synthea made them.
func TestWholeCopyShiftsDatesTogether(t *testing.T) {
	ts := testTemplates(t)
	tmpl := ts[0]
	raw, err := os.ReadFile(filepath.Join(syntheaDir, tmpl.name))
	require.NoError(t, err)
	orig := decodeBundle(t, raw)
	b := decodeBundle(t, tmpl.wholeCopy(rand.New(rand.NewPCG(5, 6)), "Y90002"))
	_, op := patientOf(t, orig)
	_, cp := patientOf(t, b)
	ob, err := time.Parse(time.DateOnly, op.BirthDate)
	require.NoError(t, err)
	cb, err := time.Parse(time.DateOnly, cp.BirthDate)
	require.NoError(t, err)
	shift := cb.Sub(ob)
	for i, e := range orig.Entry {
		var o, c struct {
			EffectiveDateTime string `json:"effectiveDateTime"`
		}
		require.NoError(t, json.Unmarshal(e.Resource, &o))
		require.NoError(t, json.Unmarshal(b.Entry[i].Resource, &c))
		if o.EffectiveDateTime == "" {
			continue
		}
		ot, err := time.Parse(time.RFC3339, o.EffectiveDateTime)
		require.NoError(t, err)
		ct, err := time.Parse(time.RFC3339, c.EffectiveDateTime)
		require.NoError(t, err)
		require.Equal(t, shift, ct.Sub(ot), "entry %d", i)
	}
}

// A population transaction holds ten new patients of about twenty
// resources each, only of the kinds the population is made of; each
// patient's records reference its own Patient, entries of the bundle or the
// source's Organization and clinicians on the server, and nothing else.
func TestPopulationBundle(t *testing.T) {
	ts := testTemplates(t)
	rng := rand.New(rand.NewPCG(7, 8))
	src := &source{ODS: "RZZ01", Kind: "hospital", Org: "Organization/org1", Practitioners: []string{"Practitioner/p1", "Practitioner/p2"}}
	nhs := map[string]bool{}
	for range 20 {
		pb := newPopulationBundle(rng, ts, src, 3)
		b := decodeBundle(t, pb.body)
		require.Len(t, b.Entry, pb.entries)
		assert.True(t, pb.entries >= 150 && pb.entries <= 270, "%d entries", pb.entries)
		require.Len(t, pb.patients, patientsPerBundle)

		urls := map[string]string{} // fullUrl -> the Patient fullUrl it belongs to
		owner := ""
		for _, e := range b.Entry {
			if e.Request.URL == "Patient" {
				owner = e.FullURL
			}
			urls[e.FullURL] = owner
		}
		for i, e := range b.Entry {
			require.True(t, e.Request.URL == "Patient" || populationTypes[e.Request.URL], e.Request.URL)
			for _, r := range references(t, e.Resource) {
				switch {
				case strings.HasPrefix(r, "urn:uuid:"):
					require.Contains(t, urls, r, "entry %d", i)
					require.Equal(t, urls[e.FullURL], urls[r], "entry %d references another patient's entry", i)
				case strings.HasPrefix(r, "Organization/"):
					require.Equal(t, src.Org, r)
				case strings.HasPrefix(r, "Practitioner/"):
					require.Contains(t, src.Practitioners, r)
				default:
					t.Fatalf("entry %d: reference %q", i, r)
				}
			}
			_, err := validate.Resource(e.Resource)
			require.NoError(t, err, "entry %d", i)
		}
		for k, at := range pb.at {
			require.Equal(t, "Patient", b.Entry[at].Request.URL)
			var p struct {
				Identifier          []struct{ System, Value string }
				GeneralPractitioner []reference
			}
			require.NoError(t, json.Unmarshal(b.Entry[at].Resource, &p))
			n := nhsOf(t, p.Identifier)
			require.Equal(t, pb.patients[k].NHS, n)
			require.True(t, validNHSNumber(n), n)
			require.False(t, nhs[n], "NHS number %s repeated", n)
			nhs[n] = true
			require.Equal(t, pb.patients[k].Practice, p.GeneralPractitioner[0].Identifier.Value)
			require.Contains(t, benchPractices, pb.patients[k].Practice, "a hospital's patients are registered at a bench practice")
			require.Equal(t, 3, pb.patients[k].Source)
		}
	}
}

// Every template has Encounters with records, so that a sample is never
// just a Patient.
func TestSampleSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tmpl := range testTemplates(t) {
		for range 50 {
			target := 15 + rng.IntN(11)
			got := tmpl.sample(rng, target)
			require.GreaterOrEqual(t, len(got), target/2, tmpl.name)
			require.LessOrEqual(t, len(got), target, tmpl.name)
			require.NotContains(t, got, tmpl.patient)
		}
	}
}

func TestParseSyntheaTemplateRejects(t *testing.T) {
	tests := []struct{ name, body, err string }{
		{"batch", `{"resourceType":"Bundle","type":"batch","entry":[]}`, `bundle type "batch"`},
		{"no patient", `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000000","resource":{"resourceType":"Organization"},"request":{"method":"POST","url":"Organization"}}]}`, "no Patient"},
		{"not a urn", `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"Patient/1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}`, "is not a urn:uuid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSyntheaTemplate(tt.name, []byte(tt.body))
			require.ErrorContains(t, err, tt.err)
		})
	}
}
