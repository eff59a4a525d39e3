package engine

import (
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/object"
)

const corpus = "../../../shared/corpus"

func benchScan(b *testing.B, parseOnly bool) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := New(Options{Catalog: cat, ParseOnly: parseOnly})
	if err != nil {
		b.Fatal(err)
	}
	inputs, _ := object.Expand([]string{corpus}, nil)
	if len(inputs) == 0 {
		b.Skip("corpus not found")
	}
	b.ReportAllocs()
	b.ResetTimer()
	objs := 0
	for i := 0; i < b.N; i++ {
		objs = eng.ScanInputs(inputs).Objects
	}
	b.ReportMetric(float64(objs*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkCorpusParse is the baseline: reading and decoding only.
func BenchmarkCorpusParse(b *testing.B) { benchScan(b, true) }

// BenchmarkCorpusScan runs the whole catalog.
func BenchmarkCorpusScan(b *testing.B) { benchScan(b, false) }
