package inventory

import (
	"testing"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// BenchmarkExtractWorkload converts the pod specs of the corpus's
// workloads into their typed view, the largest per-object cost after
// decoding.
func BenchmarkExtractWorkload(b *testing.B) {
	inputs, _ := object.Expand([]string{"../../../shared/corpus"}, nil)
	if len(inputs) == 0 {
		b.Skip("corpus not found")
	}
	var workloads []*object.Object
	for _, in := range inputs {
		in.Split(object.Limits{}, func(bt object.Batch) {
			objs, _ := object.DecodeBatch(bt, object.Limits{})
			for _, o := range objs {
				if w, _ := ExtractWorkload(o); w != nil {
					workloads = append(workloads, o)
				}
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, o := range workloads {
			if _, err := ExtractWorkload(o); err != nil && o == nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(workloads)*b.N)/b.Elapsed().Seconds(), "workloads/s")
}
