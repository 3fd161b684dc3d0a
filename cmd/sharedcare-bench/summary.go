package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// summaryPatientSize is how many resources the summary scenarios' patient
// has: the "a patient with 1,000 resources".
const summaryPatientSize = 1000

// summaryServer GETs Patient/{id}/$summary of one patient with about
// summaryPatientSize resources.
func summaryServer(ctx context.Context, e *env) (op, error) {
	return patientOperation(ctx, e, "$summary")
}

// everythingServer GETs the first page of Patient/{id}/$everything of the
// same kind of patient.
func everythingServer(ctx context.Context, e *env) (op, error) {
	return patientOperation(ctx, e, "$everything")
}

// patientOperation seeds a large patient and returns the request that runs
// the operation on it.
func patientOperation(ctx context.Context, e *env, operation string) (op, error) {
	id, err := seedLargePatient(ctx, e)
	if err != nil {
		return nil, err
	}
	path := "/Patient/" + id + "/" + operation
	return func(ctx context.Context, _ *rand.Rand) error {
		_, err := e.fhir.do(ctx, http.MethodGet, path, nil)
		return err
	}, nil
}

// seedLargePatient pushes the largest Synthea template as a transaction,
// then tops the patient up to summaryPatientSize resources with what a
// care home's records add over months: observations, medication
// administrations (some missed or refused) and a care plan revised a few
// times. It returns the Patient's id.
func seedLargePatient(ctx context.Context, e *env) (string, error) {
	ts, err := e.templates()
	if err != nil {
		return "", err
	}
	t := ts[0]
	for _, c := range ts {
		if len(c.entries) > len(t.entries) {
			t = c
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	resp, err := e.fhir.send(ctx, e.fhir.token, http.MethodPost, "", t.wholeCopy(rng, pick(rng, benchPractices)), minimalReturn)
	if err != nil {
		return "", fmt.Errorf("seed the summary patient: %w", err)
	}
	var out struct {
		Entry []struct {
			Response struct{ Location string } `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return "", err
	}
	id := ""
	for _, en := range out.Entry {
		if rest, ok := strings.CutPrefix(en.Response.Location, "Patient/"); ok {
			id, _, _ = strings.Cut(rest, "/")
		}
	}
	if id == "" {
		return "", fmt.Errorf("seed the summary patient: no Patient in the transaction-response")
	}
	extra := summaryPatientSize - len(t.entries)
	if _, err := e.fhir.send(ctx, e.fhir.token, http.MethodPost, "", careHomeRecords(id, extra), minimalReturn); err != nil {
		return "", fmt.Errorf("seed the summary patient's care records: %w", err)
	}
	for v := 1; v <= 3; v++ {
		if _, err := e.fhir.send(ctx, e.fhir.token, http.MethodPut, "/CarePlan/"+id+"-plan", carePlan(id, v), nil); err != nil {
			return "", fmt.Errorf("seed the summary patient's care plan: %w", err)
		}
	}
	return id, nil
}

// careHomeRecords returns a transaction of n records of the patient: three
// quarters heart-rate observations, the rest administrations of three
// medicines, every seventeenth not done.
func careHomeRecords(patient string, n int) []byte {
	meds := [][2]string{{"322236009", "Paracetamol 500mg tablets"}, {"318475005", "Omeprazole 20mg capsules"}, {"320000009", "Amlodipine 5mg tablets"}}
	now := time.Now().UTC()
	var entries []string
	for i := 0; i < n; i++ {
		at := now.Add(-time.Duration(i) * 6 * time.Hour).Format(time.RFC3339)
		var res string
		if i%4 != 3 {
			res = fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},`+
				`"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`,
				patient, at, 60+i%30)
		} else {
			m := meds[i%3]
			status, reason := "completed", ""
			if i%17 == 0 {
				status, reason = "not-done", `,"statusReason":[{"text":"Refused"}]`
			}
			res = fmt.Sprintf(`{"resourceType":"MedicationAdministration","status":%q%s,"medicationCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":%q,"display":%q}]},`+
				`"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"performer":[{"actor":{"display":"Carer %d"}}]}`,
				status, reason, m[0], m[1], patient, at, i%5)
		}
		typ := res[len(`{"resourceType":"`):strings.Index(res, `","`)]
		entries = append(entries, fmt.Sprintf(`{"resource":%s,"request":{"method":"POST","url":%q}}`, res, typ))
	}
	return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`)
}

// carePlan returns version v of the patient's care plan: each version adds
// an activity.
func carePlan(patient string, v int) []byte {
	var acts []string
	for i := 1; i <= v; i++ {
		acts = append(acts, fmt.Sprintf(`{"detail":{"status":"in-progress","description":"Care task %d"}}`, i))
	}
	return []byte(fmt.Sprintf(`{"resourceType":"CarePlan","id":"%s-plan","status":"active","intent":"plan","title":"Residential care plan",`+
		`"subject":{"reference":"Patient/%s"},"activity":[%s]}`, patient, patient, strings.Join(acts, ",")))
}
