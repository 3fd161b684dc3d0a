package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/rest"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/postgres/pgtest"
)

// FuzzRequest drives the whole request path (routing, negotiation,
// validation, the write path and the store) with arbitrary requests. It
// holds the server to two promises: never a 500, and a refused request
// writes nothing. The seeds run as regression tests under `go test`.
func FuzzRequest(f *testing.F) {
	seeds := []struct{ method, path, ctype, body string }{
		{"POST", "/fhir/Patient", "application/fhir+json", `{"resourceType":"Patient","name":[{"family":"X"}]}`},
		{"PUT", "/fhir/Patient/p1", "application/fhir+json", `{"resourceType":"Patient","id":"p1","birthDate":"1950-02-30"}`},
		{"PUT", "/fhir/Patient/p1", "application/json", `{"resourceType":"Patient","id":"p1","_birthDate":{"extension":[{}]}}`},
		{"POST", "/fhir/Observation", "application/fhir+json", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e400}}`},
		{"PATCH", "/fhir/Patient/p1", "application/json-patch+json", `[{"op":"add","path":"/x","value":1}]`},
		{"PATCH", "/fhir/Patient/p1", "application/fhir+json", `{"resourceType":"Parameters","parameter":[{"name":"operation"}]}`},
		{"GET", "/fhir/Patient/p1/_history?_count=0&_since=2020", "", ""},
		{"DELETE", "/fhir/Patient/p1", "", ""},
		{"POST", "/fhir/Patient", "application/fhir+json", "{\"resourceType\":\"Patient\",\"id\":\"\xff\"}"},
		{"GET", "/fhir/Patient/p1?_summary=true&_elements=name", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.ctype, []byte(s.body))
	}

	st := pgtest.Open(f)
	key, err := access.LoadOrCreateDevKey(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	const base = "http://fuzz.test/fhir"
	verifier, err := key.Verifier(access.DevIssuer, base)
	if err != nil {
		f.Fatal(err)
	}
	token, err := key.Mint(access.MintOptions{Role: access.CareRoleSystem, Org: "A81001", Source: "gp", Audience: base})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Store: st, Records: &record.Service{Store: st}, BaseURL: base, Auth: verifier, MaxBodyBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	h := srv.Handler()
	logSize := func(t *testing.T) int {
		p, err := st.History(context.Background(), store.HistoryQuery{Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		return p.Total
	}

	f.Fuzz(func(t *testing.T, method, path, ctype string, body []byte) {
		switch method {
		case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
		default:
			return
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		req, err := http.NewRequest(method, "http://fuzz.test"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		before := logSize(t)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%s) %q: %d %s", method, path, ctype, body, rec.Code, rec.Body.Bytes())
		}
		if rec.Code >= 400 {
			var oo struct{ ResourceType string }
			if method != "HEAD" && (json.Unmarshal(rec.Body.Bytes(), &oo) != nil || oo.ResourceType != "OperationOutcome") {
				t.Fatalf("%s %s: %d without an OperationOutcome: %s", method, path, rec.Code, rec.Body.Bytes())
			}
			if after := logSize(t); after != before {
				t.Fatalf("%s %s: refused with %d but wrote %d versions", method, path, rec.Code, after-before)
			}
		}
	})
}
