package searchparam

import "testing"

func BenchmarkExtract(b *testing.B) {
	cases := []struct {
		name string
		raw  []byte
	}{
		{"SyntheaObservation", synthea(b, "86575039-871b-4223-9abb-439821846191")},
		{"SyntheaPatient", firstSynthea(b, "Patient")},
		{"SyntheaEncounter", firstSynthea(b, "Encounter")},
		{"UKCoreBloodPressure", ukcore(b, "UKCore-Observation-VitalSigns-BloodPressure-Example.json")},
	}
	for _, c := range cases {
		rt, _ := head(b, c.raw)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				if _, err := Extract(rt, c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPatientRefs(b *testing.B) {
	raw := ukcore(b, "UKCore-Observation-VitalSigns-BloodPressure-Example.json")
	b.ReportAllocs()
	for b.Loop() {
		PatientRefs("Observation", raw)
	}
}
