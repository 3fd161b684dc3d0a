package validate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func BenchmarkResource(b *testing.B) {
	for _, name := range []string{
		"ukcore-examples/json/UKCore-Observation-VitalSigns-BloodPressure-Example.json",
		"ukcore-examples/json/UKCore-Patient-RichardSmith-Example.json",
		"synthea-sample/Barney_Abbott_3f228315-d2de-4292-a56a-b7c120c2875d.json",
	} {
		raw, err := os.ReadFile(filepath.Join(sharedFHIR, name))
		require.NoError(b, err)
		b.Run(filepath.Base(name), func(b *testing.B) {
			_, err := Resource(raw) // decodes the element tables outside the timing
			require.NoError(b, err)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Resource(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
