package searchparam

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func stringReader(s string) *strings.Reader { return strings.NewReader(s) }

func TestDateRange(t *testing.T) {
	tests := []struct {
		in, low, high string // high "" means invalid
	}{
		{"2024", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"2024-03", "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"},
		{"2024-12", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2024-03-05T10:15", "2024-03-05T10:15:00Z", "2024-03-05T10:16:00Z"},
		{"2024-03-05T10:15:30", "2024-03-05T10:15:30Z", "2024-03-05T10:15:31Z"},
		{"2024-03-05T10:15:30Z", "2024-03-05T10:15:30Z", "2024-03-05T10:15:31Z"},
		{"2024-03-05T10:15:30+01:00", "2024-03-05T09:15:30Z", "2024-03-05T09:15:31Z"},
		{"2024-03-05T23:30:00-05:30", "2024-03-06T05:00:00Z", "2024-03-06T05:00:01Z"},
		{"2024-03-05T10:15:30.25Z", "2024-03-05T10:15:30.25Z", "2024-03-05T10:15:30.26Z"},
		{"2024-03-05T10:15:30.123456789123Z", "2024-03-05T10:15:30.123456789Z", "2024-03-05T10:15:30.12345679Z"},
		{"2023-02-29", "", ""},
		{"2024-13", "", ""},
		{"2024-3", "", ""},
		{"24", "", ""},
		{"2024-03-05T25:00:00Z", "", ""},
		{"2024-03-05T10:15:30.Z", "", ""},
		{"2024-03-05T10:15:30+1:00", "", ""},
		{"2024-03-05 10:15", "", ""},
		{"last week", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			low, high, ok := dateRange(tt.in)
			if tt.high == "" {
				assert.False(t, ok)
				return
			}
			assert.True(t, ok)
			assert.Equal(t, tt.low, low.Format(time.RFC3339Nano))
			assert.Equal(t, tt.high, high.Format(time.RFC3339Nano))
		})
	}
}

func TestPeriodAndTiming(t *testing.T) {
	const (
		encounter   = `{"resourceType":"Encounter","period":%s}`
		observation = `{"resourceType":"Observation","effectiveTiming":%s}`
	)
	tests := []struct {
		name, resourceType, template, raw string
		want                              []string
	}{
		{"open end", "Encounter", encounter, `{"start":"2024-01-02"}`, []string{"2024-01-02T00:00:00Z..9999-12-31T23:59:59.999999Z"}},
		{"open start", "Encounter", encounter, `{"end":"2024-01-02"}`, []string{"0001-01-01T00:00:00Z..2024-01-03T00:00:00Z"}},
		{"empty", "Encounter", encounter, `{}`, nil},
		{"bad end", "Encounter", encounter, `{"start":"2024","end":"soon"}`, nil},
		{"timing events and bounds", "Observation", observation,
			`{"event":["2024-01-02","2024-02"],"repeat":{"boundsPeriod":{"start":"2024-01-01","end":"2024-12-31"}}}`, []string{
				"2024-01-02T00:00:00Z..2024-01-03T00:00:00Z",
				"2024-02-01T00:00:00Z..2024-03-01T00:00:00Z",
				"2024-01-01T00:00:00Z..2025-01-01T00:00:00Z",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals, err := Extract(tt.resourceType, []byte(fmt.Sprintf(tt.template, tt.raw)))
			assert.NoError(t, err)
			assert.Equal(t, tt.want, shown(vals, "date"))
		})
	}
}

func TestDecimalRange(t *testing.T) {
	tests := []struct{ in, low, high string }{
		{"5.4", "5.35", "5.45"},
		{"5.40", "5.395", "5.405"},
		{"100", "99.5", "100.5"},
		{"0", "-0.5", "0.5"},
		{"-2.5", "-2.55", "-2.45"},
		{"1.0e2", "95", "105"},
		{"1e3", "500", "1500"},
		{"2.5E-3", "0.00245", "0.00255"},
		{"1e401", "", ""},
		{"1e", "", ""},
		{".5", "", ""},
		{"5.", "", ""},
		{"1.2.3", "", ""},
		{"0x10", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			low, high, ok := decimalRange(tt.in)
			assert.Equal(t, tt.high != "", ok)
			assert.Equal(t, tt.low, low)
			assert.Equal(t, tt.high, high)
		})
	}
}

func TestQuantityKinds(t *testing.T) {
	tests := []struct {
		name, resourceType, raw, param string
		want                           []string
	}{
		{"money is in its currency", "ChargeItem", `{"priceOverride":{"value":12.5,"currency":"GBP"}}`, "price-override",
			[]string{"12.5 [12.45,12.55] urn:iso:std:iso:4217|GBP "}},
		{"age range", "Condition", `{"onsetRange":{"low":{"value":10,"unit":"a","system":"http://unitsofmeasure.org","code":"a"},"high":{"value":20}}}`, "onset-age",
			[]string{" [9.5,20.5] http://unitsofmeasure.org|a a"}},
		{"range open above", "Condition", `{"onsetRange":{"low":{"value":10,"code":"a"}}}`, "onset-age", []string{" [9.5,] |a "}},
		{"age", "Condition", `{"onsetAge":{"value":42,"code":"a"}}`, "onset-age", []string{"42 [41.5,42.5] |a "}},
		{"a quantity without a value has none", "Observation", `{"valueQuantity":{"code":"kg"}}`, "value-quantity", nil},
		{"number", "RiskAssessment", `{"prediction":[{"probabilityDecimal":0.25}]}`, "probability", []string{"0.25 [0.245,0.255]"}},
		{"number range", "RiskAssessment", `{"prediction":[{"probabilityRange":{"low":{"value":1},"high":{"value":2}}}]}`, "probability", []string{" [0.5,2.5]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"resourceType":"` + tt.resourceType + `",` + tt.raw[1:]
			vals, err := Extract(tt.resourceType, []byte(raw))
			assert.NoError(t, err)
			assert.Equal(t, tt.want, shown(vals, tt.param))
		})
	}
}

func TestTokenKinds(t *testing.T) {
	tests := []struct {
		name, resourceType, raw, param string
		want                           []string
	}{
		{"boolean", "Patient", `{"active":true}`, "active", []string{"|true"}},
		{"text-only concept", "Condition", `{"code":{"text":"Sore ear"}}`, "code", []string{"| text=Sore ear"}},
		{"coding", "Encounter", `{"class":{"system":"s","code":"AMB","display":"ambulatory"}}`, "class", []string{"s|AMB display=ambulatory"}},
		{"concept codings share its text", "Condition", `{"code":{"coding":[{"system":"a","code":"1"},{"code":"2"}],"text":"t"}}`, "code",
			[]string{"a|1 text=t", "|2 text=t"}},
		{"empty coding", "Condition", `{"code":{"coding":[{}]}}`, "code", nil},
		{"identifier type for :of-type", "Patient", `{"identifier":[{"type":{"coding":[{"system":"v2","code":"MR"}],"text":"MRN"},"system":"h","value":"7"}]}`, "identifier",
			[]string{"h|7 text=MRN type=v2|MR"}},
		// (value as CodeableConcept) | (value as boolean): a union keeps its parts' order.
		{"group characteristic value", "Group", `{"characteristic":[{"valueQuantity":{"value":1}},{"valueBoolean":false},{"valueCodeableConcept":{"coding":[{"code":"x"}]}}]}`, "value",
			[]string{"|x", "|false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"resourceType":"` + tt.resourceType + `",` + tt.raw[1:]
			vals, err := Extract(tt.resourceType, []byte(raw))
			assert.NoError(t, err)
			assert.Equal(t, tt.want, shown(vals, tt.param))
		})
	}
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want ReferenceValue
	}{
		{"Patient/123", ReferenceValue{Type: "Patient", ID: "123"}},
		{"Patient/123/_history/4", ReferenceValue{Type: "Patient", ID: "123", Version: "4"}},
		{"http://x.org/fhir/Patient/123", ReferenceValue{Type: "Patient", ID: "123", URL: "http://x.org/fhir/Patient/123"}},
		{"https://x.org/Observation/a.b-c/_history/2", ReferenceValue{Type: "Observation", ID: "a.b-c", Version: "2", URL: "https://x.org/Observation/a.b-c/_history/2"}},
		{"http://hl7.org/fhir/ValueSet/example|4.0.1", ReferenceValue{Type: "ValueSet", ID: "example", URL: "http://hl7.org/fhir/ValueSet/example|4.0.1"}},
		{"urn:uuid:59bc5dbb-1957-47ef-b6b5-25952e6bfdab", ReferenceValue{URL: "urn:uuid:59bc5dbb-1957-47ef-b6b5-25952e6bfdab"}},
		{"#contained1", ReferenceValue{URL: "#contained1"}},
		{"http://snomed.info/sct", ReferenceValue{URL: "http://snomed.info/sct"}},
		{"Nonsense/123", ReferenceValue{URL: "Nonsense/123"}},
		{"x/Patient/123", ReferenceValue{URL: "x/Patient/123"}},
		{"Patient/Patient/1", ReferenceValue{URL: "Patient/Patient/1"}},
		{"Patient/12 3", ReferenceValue{URL: "Patient/12 3"}},
		{"Patient?identifier=a|b", ReferenceValue{URL: "Patient?identifier=a|b"}},
		{"Patient/123/_history/", ReferenceValue{URL: "Patient/123/_history/"}},
		{"", ReferenceValue{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, parseReference(tt.in))
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"smith", "smith"},
		{"SMITH", "smith"},
		{"Zoë", "zoe"},
		{"ÉLODIE Çelik", "elodie celik"},
		{"Ødegård", "ødegard"},
		{"Ñandú", "nandu"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, Normalize(tt.in))
		})
	}
}
