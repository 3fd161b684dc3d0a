package embedded

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
)

// observation returns a body of about 1 KiB, the size of a typical
// Observation with a code, a value and a few identifiers.
func observation(id string) []byte {
	return []byte(`{"resourceType":"Observation","id":"` + id + `","meta":{"versionId":"1","lastUpdated":"2024-03-01T09:30:00.000Z"},` +
		`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},` +
		`"effectiveDateTime":"2024-03-01T09:30:00Z","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"},` +
		`"note":[{"text":"` + strings.Repeat("resting, seated; ", 30) + `"}]}`)
}

// write puts the version after the current one of each of ids, in one
// Write, with the given search index values.
func write(ctx context.Context, s *Store, ids []string, index []searchparam.Value) error {
	return s.Write(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			cur, ok, err := tx.Current(ctx, "Observation", id)
			if err != nil {
				return err
			}
			v := int64(1)
			if ok {
				v = cur.VersionID + 1
			}
			r := fhir.Resource{Type: "Observation", ID: id, VersionID: v, LastUpdated: time.Now(), Raw: observation(id), PatientID: "p1"}
			if err := tx.Put(ctx, store.Version{Resource: r, Index: index}); err != nil {
				return err
			}
		}
		return nil
	})
}

// obsIndex returns the search index values of observation, which the
// benchmarks write with every version as the server does.
func obsIndex(b *testing.B) []searchparam.Value {
	index, err := searchparam.Extract("Observation", observation("o"))
	require.NoError(b, err)
	return index
}

func BenchmarkPut(b *testing.B) {
	for _, bc := range []struct {
		name     string
		perWrite int
		update   bool
	}{
		{"create", 1, false},
		{"update", 1, true},
		{"create100PerWrite", 100, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := open(b, b.TempDir())
			index := obsIndex(b)
			ctx := context.Background()
			n := 0
			ids := make([]string, bc.perWrite)
			for b.Loop() {
				for i := range ids {
					if bc.update {
						ids[i] = fmt.Sprintf("o%d", i)
					} else {
						ids[i] = fmt.Sprintf("o%d", n)
					}
					n++
				}
				require.NoError(b, write(ctx, s, ids, index))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/put")
			b.ReportMetric(float64(len(index)), "index-values/put")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	const resources = 10_000
	s := open(b, b.TempDir())
	ctx := context.Background()
	ids := make([]string, 0, 500)
	for i := range resources {
		ids = append(ids, fmt.Sprintf("o%d", i))
		if len(ids) == cap(ids) {
			require.NoError(b, write(ctx, s, ids, obsIndex(b)))
			ids = ids[:0]
		}
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			_, err := s.Read(ctx, "Observation", fmt.Sprintf("o%d", i*7919%resources))
			require.NoError(b, err)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				_, err := s.Read(ctx, "Observation", fmt.Sprintf("o%d", i*7919%resources))
				require.NoError(b, err)
			}
		})
	})
}
