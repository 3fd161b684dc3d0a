package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/access"
)

const (
	ukcoreExamples = "../../../shared/fhir/ukcore-examples/json"
	syntheaSample  = "../../../shared/fhir/synthea-sample"
)

// responseBundle is a batch-response or transaction-response Bundle, read.
type responseBundle struct {
	Type  string `json:"type"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Response struct {
			Status       string          `json:"status"`
			Location     string          `json:"location"`
			Etag         string          `json:"etag"`
			LastModified string          `json:"lastModified"`
			Outcome      json.RawMessage `json:"outcome"`
		} `json:"response"`
	} `json:"entry"`
}

// postBundle posts a Bundle to the base and requires 200 and a response Bundle.
func (ts *testServer) postBundle(t *testing.T, body any, headers ...string) responseBundle {
	t.Helper()
	r := ts.do("POST", ts.base, body, headers...)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", r.Body)
	var b responseBundle
	require.NoError(t, json.Unmarshal(r.Body, &b))
	return b
}

// resourceOf decodes the resource of a response entry.
func resourceOf(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// Synthea sample bundles the tests load.
const (
	barneyAbbott = "Barney_Abbott_3f228315-d2de-4292-a56a-b7c120c2875d.json"
	aliHarris    = "Ali_Harris_eed1d00b-7665-4da3-88b7-c37cfb2ed245.json"
)

// syntheaFixture reads one of the Synthea sample bundles.
func syntheaFixture(t *testing.T, name string) []byte {
	t.Helper()
	return readFixture(t, filepath.Join(syntheaSample, name))
}

// bundleEntry is an entry of a bundle the tests send, as they read it back.
type bundleEntry struct {
	FullURL  string         `json:"fullUrl"`
	Resource map[string]any `json:"resource"`
}

// entriesOf decodes the entries of a bundle.
func entriesOf(t *testing.T, raw []byte) []bundleEntry {
	t.Helper()
	var b struct {
		Entry []bundleEntry `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(raw, &b))
	return b.Entry
}

func TestTransactionSynthea(t *testing.T) { forStores(t, testTransactionSynthea) }

func testTransactionSynthea(t *testing.T) {
	ts := startServer(t, nil)
	raw := syntheaFixture(t, barneyAbbott)
	in := entriesOf(t, raw)

	out := ts.postBundle(t, raw)
	require.Equal(t, "transaction-response", out.Type)
	require.Len(t, out.Entry, len(in))
	ids := map[string]string{} // fullUrl -> Type/id
	for i, e := range out.Entry {
		require.Equal(t, "201 Created", e.Response.Status, "entry %d: %s", i, e.Response.Outcome)
		res := resourceOf(t, e.Resource)
		ref := res["resourceType"].(string) + "/" + res["id"].(string)
		require.Equal(t, ref+"/_history/1", e.Response.Location)
		require.Equal(t, `W/"1"`, e.Response.Etag)
		ids[in[i].FullURL] = ref
		assert.NotContains(t, string(e.Resource), `"reference":"urn:`, "entry %d keeps a placeholder reference", i)
	}

	patient := ids[in[0].FullURL]
	require.True(t, strings.HasPrefix(patient, "Patient/"), patient)
	observations := 0
	for i, e := range in {
		if e.Resource["resourceType"] == "Observation" {
			observations++
		}
		if e.Resource["resourceType"] != "Encounter" {
			continue
		}
		stored := ts.do("GET", ids[e.FullURL], nil)
		require.Equal(t, http.StatusOK, stored.StatusCode, "%s", stored.Body)
		enc := stored.JSON(t)
		require.Equal(t, patient, enc["subject"].(map[string]any)["reference"], "entry %d", i)
		provider := enc["serviceProvider"].(map[string]any)["reference"].(string)
		require.Equal(t, ids[e.Resource["serviceProvider"].(map[string]any)["reference"].(string)], provider)
		require.Equal(t, http.StatusOK, ts.do("GET", provider, nil).StatusCode, "the provider %s exists", provider)
	}
	require.Equal(t, observations, ts.total("Observation?subject="+patient))
}

func TestBatchUKCoreExamples(t *testing.T) { forStores(t, testBatchUKCoreExamples) }

func testBatchUKCoreExamples(t *testing.T) {
	ts := startServer(t, nil)
	put := ts.do("PUT", "Patient/UKCore-Patient-RichardSmith-Example",
		readFixture(t, filepath.Join(ukcoreExamples, "UKCore-Patient-RichardSmith-Example.json")))
	require.Equal(t, http.StatusCreated, put.StatusCode, "%s", put.Body)

	posted := ts.postBundle(t, readFixture(t, filepath.Join(ukcoreExamples, "UKCore-Bundle-BatchPOST-Example.json")))
	require.Equal(t, "batch-response", posted.Type)
	require.Len(t, posted.Entry, 5)
	for i, e := range posted.Entry {
		require.Equal(t, "201 Created", e.Response.Status, "entry %d: %s", i, e.Response.Outcome)
	}
	require.Equal(t, 5, ts.total("Observation?subject=Patient/UKCore-Patient-RichardSmith-Example"))

	read := ts.postBundle(t, readFixture(t, filepath.Join(ukcoreExamples, "UKCore-Bundle-Batch-Example.json")))
	require.Equal(t, "batch-response", read.Type)
	require.Len(t, read.Entry, 3)
	require.Equal(t, "200 OK", read.Entry[0].Response.Status)
	require.Equal(t, "UKCore-Patient-RichardSmith-Example", resourceOf(t, read.Entry[0].Resource)["id"])
	require.Equal(t, `W/"1"`, read.Entry[0].Response.Etag)
	for _, e := range read.Entry[1:] {
		require.Equal(t, "200 OK", e.Response.Status, "%s", e.Response.Outcome)
		require.Equal(t, "searchset", resourceOf(t, e.Resource)["type"])
	}
}

// entryJSON is one entry of a request Bundle.
func entryJSON(fullURL, method, url, resource string, request ...string) string {
	var b strings.Builder
	b.WriteString("{")
	if fullURL != "" {
		fmt.Fprintf(&b, `"fullUrl":%q,`, fullURL)
	}
	if resource != "" {
		fmt.Fprintf(&b, `"resource":%s,`, resource)
	}
	fmt.Fprintf(&b, `"request":{"method":%q,"url":%q`, method, url)
	for i := 0; i+1 < len(request); i += 2 {
		fmt.Fprintf(&b, `,%q:%q`, request[i], request[i+1])
	}
	b.WriteString("}}")
	return b.String()
}

func bundleJSON(typ string, entries ...string) string {
	return fmt.Sprintf(`{"resourceType":"Bundle","type":%q,"entry":[%s]}`, typ, strings.Join(entries, ","))
}

func observationJSON(subject string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"text":"weight"},"subject":{"reference":%q},`+
		`"extension":[{"url":"https://example.org/focus","valueReference":{"reference":%q}}]}`, subject, subject)
}

func TestTransactionOrderAndReferences(t *testing.T) {
	forStores(t, testTransactionOrderAndReferences)
}

func testTransactionOrderAndReferences(t *testing.T) {
	ts := startServer(t, nil)
	require.Equal(t, http.StatusCreated, ts.do("PUT", "Patient/old", `{"resourceType":"Patient","id":"old"}`).StatusCode)
	known := ts.do("POST", "Patient", identifiedPatient("known", "Known")).JSON(t)["id"].(string)

	out := ts.postBundle(t, bundleJSON("transaction",
		entryJSON("", "GET", "Patient/old", ""),
		entryJSON("urn:uuid:obs", "POST", "Observation", observationJSON("urn:uuid:new")),
		entryJSON("", "PUT", "Patient/fixed", `{"resourceType":"Patient","id":"fixed","link":[{"type":"seealso","other":{"reference":"urn:uuid:new"}}]}`),
		entryJSON("urn:uuid:new", "POST", "Patient", identifiedPatient("new", "New")),
		entryJSON("", "DELETE", "Patient/old", ""),
		entryJSON("urn:uuid:again", "POST", "Patient", identifiedPatient("known", "Again"), "ifNoneExist", "identifier="+mrnSystem+"|known"),
		entryJSON("", "POST", "Observation", observationJSON("urn:uuid:again")),
		entryJSON("", "POST", "Observation", observationJSON("Patient?identifier="+mrnSystem+"|known")),
	))
	require.Equal(t, "transaction-response", out.Type)
	require.Len(t, out.Entry, 8)

	t.Run("reads run after the writes", func(t *testing.T) {
		require.Equal(t, "410 Gone", out.Entry[0].Response.Status, "%s", out.Entry[0].Response.Outcome)
		require.Equal(t, "204 No Content", out.Entry[4].Response.Status)
	})
	newID := resourceOf(t, out.Entry[3].Resource)["id"].(string)
	t.Run("placeholders are rewritten everywhere", func(t *testing.T) {
		obs := resourceOf(t, out.Entry[1].Resource)
		require.Equal(t, "Patient/"+newID, obs["subject"].(map[string]any)["reference"])
		ext := obs["extension"].([]any)[0].(map[string]any)
		require.Equal(t, "Patient/"+newID, ext["valueReference"].(map[string]any)["reference"])
		fixed := ts.do("GET", "Patient/fixed", nil).JSON(t)
		require.Equal(t, "Patient/"+newID, fixed["link"].([]any)[0].(map[string]any)["other"].(map[string]any)["reference"])
	})
	t.Run("a matched ifNoneExist writes nothing and stands for its match", func(t *testing.T) {
		require.Equal(t, "200 OK", out.Entry[5].Response.Status)
		require.Equal(t, known, resourceOf(t, out.Entry[5].Resource)["id"])
		require.Equal(t, "Patient/"+known, resourceOf(t, out.Entry[6].Resource)["subject"].(map[string]any)["reference"])
		require.Equal(t, 1, ts.total("Patient?identifier="+mrnSystem+"|known"))
	})
	t.Run("conditional references resolve to the one match", func(t *testing.T) {
		require.Equal(t, "Patient/"+known, resourceOf(t, out.Entry[7].Resource)["subject"].(map[string]any)["reference"])
	})
	t.Run("Prefer return=minimal leaves the resources out", func(t *testing.T) {
		min := ts.postBundle(t, bundleJSON("transaction", entryJSON("", "POST", "Patient", patientJSON("Min"))), "Prefer", "return=minimal")
		require.Empty(t, min.Entry[0].Resource)
		require.Equal(t, "201 Created", min.Entry[0].Response.Status)
		require.NotEmpty(t, min.Entry[0].Response.LastModified)
	})
}

func TestTransactionIsAtomic(t *testing.T) { forStores(t, testTransactionIsAtomic) }

func testTransactionIsAtomic(t *testing.T) {
	ts := startServer(t, nil)
	require.Equal(t, http.StatusCreated, ts.do("PUT", "Patient/kept", `{"resourceType":"Patient","id":"kept"}`).StatusCode)

	failed := []struct {
		name   string
		status int
		bad    string
	}{
		{"an invalid resource", http.StatusUnprocessableEntity, entryJSON("", "POST", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"bogus":1}`)},
		{"a stale ifMatch", http.StatusPreconditionFailed, entryJSON("", "PUT", "Patient/kept", `{"resourceType":"Patient","id":"kept","active":true}`, "ifMatch", `W/"9"`)},
		{"a conditional reference without a match", http.StatusPreconditionFailed, entryJSON("", "POST", "Observation", observationJSON("Patient?identifier="+mrnSystem+"|nobody"))},
		{"a placeholder naming no entry", http.StatusBadRequest, entryJSON("", "POST", "Observation", observationJSON("urn:uuid:missing"))},
	}
	for _, tc := range failed {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("POST", ts.base, bundleJSON("transaction",
				entryJSON("", "DELETE", "Patient/kept", ""),
				entryJSON("urn:uuid:p", "POST", "Patient", identifiedPatient("atomic", "Atomic")),
				tc.bad,
			))
			oo := requireOutcome(t, r, tc.status)
			issue := oo["issue"].([]any)[0].(map[string]any)
			assert.Contains(t, issue["diagnostics"], "Bundle.entry[2]")
			require.Equal(t, 0, ts.total("Patient?identifier="+mrnSystem+"|atomic"), "nothing was written")
			kept := ts.do("GET", "Patient/kept", nil)
			require.Equal(t, http.StatusOK, kept.StatusCode, "the delete was rolled back")
			require.Equal(t, `W/"1"`, kept.Header.Get("ETag"))
		})
	}
	t.Run("a batch runs its entries independently", func(t *testing.T) {
		out := ts.postBundle(t, bundleJSON("batch",
			entryJSON("", "POST", "Patient", identifiedPatient("batch", "Batch")),
			failed[0].bad,
			entryJSON("", "GET", "Observation/nobody", ""),
		))
		require.Equal(t, "batch-response", out.Type)
		require.Equal(t, "201 Created", out.Entry[0].Response.Status)
		require.Equal(t, "422 Unprocessable Entity", out.Entry[1].Response.Status)
		require.Equal(t, "OperationOutcome", resourceOf(t, out.Entry[1].Response.Outcome)["resourceType"])
		require.Equal(t, "404 Not Found", out.Entry[2].Response.Status)
		require.Equal(t, 1, ts.total("Patient?identifier="+mrnSystem+"|batch"))
	})
	t.Run("each entry needs its scope", func(t *testing.T) {
		tok := ts.mint(access.MintOptions{Role: access.CareRoleSystem, Org: "A81001", Source: access.RecordSourceGP,
			Scopes: []string{"system/Patient.cruds"}})
		r := ts.do("POST", ts.base, bundleJSON("transaction",
			entryJSON("", "POST", "Patient", identifiedPatient("scoped", "Scoped")),
			entryJSON("", "POST", "Observation", observationJSON("Patient/kept")),
		), "Authorization", "Bearer "+tok)
		requireOutcome(t, r, http.StatusForbidden)
		require.Equal(t, 0, ts.total("Patient?identifier="+mrnSystem+"|scoped"))
	})
	t.Run("not a batch or transaction", func(t *testing.T) {
		requireOutcome(t, ts.do("POST", ts.base, `{"resourceType":"Bundle","type":"collection"}`), http.StatusBadRequest)
	})
}

func TestTransactionConditionalEntries(t *testing.T) { forStores(t, testTransactionConditionalEntries) }

func testTransactionConditionalEntries(t *testing.T) {
	ts := startServer(t, nil)
	upd := ts.do("POST", "Patient", identifiedPatient("upd", "Update")).JSON(t)["id"].(string)
	del := ts.do("POST", "Patient", identifiedPatient("del", "Delete")).JSON(t)["id"].(string)
	pat := ts.do("POST", "Patient", identifiedPatient("pat", "Patch")).JSON(t)["id"].(string)
	fp := ts.do("POST", "Patient", identifiedPatient("fp", "FHIRPath")).JSON(t)["id"].(string)
	jsonPatch := `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` +
		base64.StdEncoding.EncodeToString([]byte(`[{"op":"add","path":"/active","value":true}]`)) + `"}`
	fhirPathPatch := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[` +
		`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},` +
		`{"name":"name","valueString":"gender"},{"name":"value","valueCode":"female"}]}]}`

	out := ts.postBundle(t, bundleJSON("transaction",
		entryJSON("urn:uuid:u", "PUT", "Patient?identifier="+mrnSystem+"|upd", identifiedPatient("upd", "Updated")),
		entryJSON("urn:uuid:c", "PUT", "Patient?identifier="+mrnSystem+"|fresh", identifiedPatient("fresh", "Fresh")),
		entryJSON("", "DELETE", "Patient?identifier="+mrnSystem+"|del", ""),
		entryJSON("", "PATCH", "Patient?identifier="+mrnSystem+"|pat", jsonPatch),
		entryJSON("", "PATCH", "Patient/"+fp, fhirPathPatch),
		entryJSON("", "POST", "Observation", observationJSON("urn:uuid:c")),
	))
	require.Equal(t, "200 OK", out.Entry[0].Response.Status, "%s", out.Entry[0].Response.Outcome)
	require.Equal(t, upd, resourceOf(t, out.Entry[0].Resource)["id"])
	require.Equal(t, "201 Created", out.Entry[1].Response.Status)
	fresh := resourceOf(t, out.Entry[1].Resource)["id"].(string)
	require.Equal(t, "Patient/"+fresh, resourceOf(t, out.Entry[5].Resource)["subject"].(map[string]any)["reference"])
	require.Equal(t, "204 No Content", out.Entry[2].Response.Status)
	requireOutcome(t, ts.do("GET", "Patient/"+del, nil), http.StatusGone)
	require.Equal(t, true, resourceOf(t, out.Entry[3].Resource)["active"])
	require.Equal(t, pat, resourceOf(t, out.Entry[3].Resource)["id"])
	require.Equal(t, "female", resourceOf(t, out.Entry[4].Resource)["gender"])
	t.Run("a conditional update and a patch of one resource is refused", func(t *testing.T) {
		// Entry 0 updates the patient entry 4 patches: a transaction
		// writes each resource once.
		r := ts.do("POST", ts.base, bundleJSON("transaction",
			entryJSON("", "PUT", "Patient?identifier="+mrnSystem+"|upd", identifiedPatient("upd", "Again")),
			entryJSON("", "PATCH", "Patient/"+upd, fhirPathPatch),
		))
		requireOutcome(t, r, http.StatusBadRequest)
	})
}

// Every Synthea sample loads as a transaction, and afterwards every reference
// in every stored resource resolves to a stored resource.
func TestTransactionAllSynthea(t *testing.T) { forStores(t, testTransactionAllSynthea) }

func testTransactionAllSynthea(t *testing.T) {
	ts := startServer(t, nil)
	files, err := filepath.Glob(filepath.Join(syntheaSample, "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 5)
	var stored []map[string]any
	for _, f := range files {
		out := ts.postBundle(t, readFixture(t, f))
		require.Equal(t, "transaction-response", out.Type, f)
		for i, e := range out.Entry {
			require.Equal(t, "201 Created", e.Response.Status, "%s entry %d: %s", filepath.Base(f), i, e.Response.Outcome)
			stored = append(stored, resourceOf(t, e.Resource))
		}
	}
	exists := map[string]bool{}
	for _, r := range stored {
		exists[r["resourceType"].(string)+"/"+r["id"].(string)] = true
	}
	var refs []string
	for _, r := range stored {
		refs = append(refs, references(r)...)
	}
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		if strings.HasPrefix(ref, "#") {
			continue
		}
		require.True(t, exists[ref], "reference %q does not resolve", ref)
	}
}

// References between the entries of a transaction: conditional references
// to what another entry creates, whatever the order of the entries, and
// absolute fullUrls, named absolutely or relative to the referring entry's
// base (Bundle, "Resolving references in Bundles").
func TestTransactionReferencesBetweenEntries(t *testing.T) {
	forStores(t, testTransactionReferencesBetweenEntries)
}

func testTransactionReferencesBetweenEntries(t *testing.T) {
	ts := startServer(t, nil)
	subject := func(raw json.RawMessage) string {
		return resourceOf(t, raw)["subject"].(map[string]any)["reference"].(string)
	}
	t.Run("a conditional reference to an entry's conditional create, which comes later", func(t *testing.T) {
		out := ts.postBundle(t, bundleJSON("transaction",
			entryJSON("", "POST", "Observation", observationJSON("Patient?identifier="+mrnSystem+"|later")),
			entryJSON("", "POST", "Patient", identifiedPatient("later", "Later"), `"ifNoneExist":"identifier=`+mrnSystem+`|later"`),
		))
		id := resourceOf(t, out.Entry[1].Resource)["id"].(string)
		require.Equal(t, "Patient/"+id, subject(out.Entry[0].Resource))
		require.Equal(t, 1, ts.total("Patient?identifier="+mrnSystem+"|later"))
	})
	t.Run("a conditional reference found by search among the entries' creates", func(t *testing.T) {
		out := ts.postBundle(t, bundleJSON("transaction",
			entryJSON("", "POST", "Observation", observationJSON("Patient?identifier="+mrnSystem+"|plain")),
			entryJSON("", "POST", "Patient", identifiedPatient("plain", "Plain")),
		))
		id := resourceOf(t, out.Entry[1].Resource)["id"].(string)
		require.Equal(t, "Patient/"+id, subject(out.Entry[0].Resource))
	})
	t.Run("no match still fails the transaction, naming the entry", func(t *testing.T) {
		r := ts.do("POST", ts.base, bundleJSON("transaction",
			entryJSON("", "POST", "Patient", identifiedPatient("other", "Other")),
			entryJSON("", "POST", "Observation", observationJSON("Patient?identifier="+mrnSystem+"|nobody")),
		))
		m := requireOutcome(t, r, http.StatusPreconditionFailed)
		require.Contains(t, fmt.Sprint(m["issue"]), "Bundle.entry[1]")
		require.Equal(t, 0, ts.total("Patient?identifier="+mrnSystem+"|other"), "nothing was written")
	})
	t.Run("absolute fullUrls", func(t *testing.T) {
		const other = "http://example.org/fhir"
		out := ts.postBundle(t, bundleJSON("transaction",
			entryJSON(other+"/Patient/abc", "POST", "Patient", identifiedPatient("abs", "Absolute")),
			entryJSON(other+"/Observation/o1", "POST", "Observation", observationJSON("Patient/abc")),
			entryJSON("urn:uuid:5b1e4a6c-0d63-4d0e-9a3c-6f0e1d2c3b4a", "POST", "Observation", observationJSON(other+"/Patient/abc")),
			entryJSON("urn:uuid:0f6f3bb0-9f1f-4f83-8d5e-0a9c1e2d3f4b", "POST", "Observation", observationJSON("Patient/abc")),
		))
		id := resourceOf(t, out.Entry[0].Resource)["id"].(string)
		require.NotEqual(t, "abc", id, "a POST gets a server id")
		require.Equal(t, "Patient/"+id, subject(out.Entry[1].Resource), "relative to the entry's absolute base")
		require.Equal(t, "Patient/"+id, subject(out.Entry[2].Resource), "the absolute fullUrl itself")
		require.Equal(t, "Patient/abc", subject(out.Entry[3].Resource), "relative to this server: not the entry")
	})
}

// A source that pushes the same bundle twice, with conditional creates on
// the identifiers its resources carry and its own ids for the rest (update
// as create), ends with each resource once.
func TestTransactionTwiceDuplicatesNothing(t *testing.T) {
	forStores(t, testTransactionTwiceDuplicatesNothing)
}

func testTransactionTwiceDuplicatesNothing(t *testing.T) {
	ts := startServer(t, nil)
	raw := syntheaFixture(t, barneyAbbott)
	var b map[string]any
	require.NoError(t, json.Unmarshal(raw, &b))
	counts := map[string]int{}
	conditional := 0
	for _, e := range b["entry"].([]any) {
		e := e.(map[string]any)
		res := e["resource"].(map[string]any)
		typ := res["resourceType"].(string)
		counts[typ]++
		req := e["request"].(map[string]any)
		if ids, ok := res["identifier"].([]any); ok && len(ids) > 0 {
			id := ids[0].(map[string]any)
			req["ifNoneExist"] = "identifier=" + url.QueryEscape(id["system"].(string)+"|"+id["value"].(string))
			conditional++
			continue
		}
		id := strings.TrimPrefix(e["fullUrl"].(string), "urn:uuid:")
		res["id"] = id
		req["method"], req["url"] = "PUT", typ+"/"+id
	}
	require.Positive(t, conditional)
	body, err := json.Marshal(b)
	require.NoError(t, err)

	first := ts.postBundle(t, body)
	second := ts.postBundle(t, body)
	for i := range first.Entry {
		require.Equal(t, resourceOf(t, first.Entry[i].Resource)["id"], resourceOf(t, second.Entry[i].Resource)["id"], "entry %d", i)
		require.Equal(t, "200 OK", second.Entry[i].Response.Status, "entry %d", i)
	}
	for typ, n := range counts {
		require.Equal(t, n, ts.total(typ+"?_summary=count"), typ)
	}
}
