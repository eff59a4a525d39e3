package userpolicy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// BenchmarkScanWithPolicies scans 2,000 Deployments with the example
// policies (a label check on a namespace selector, a limit read from a
// parameter) against the same scan without them: the difference is what
// the policies cost per object.
func BenchmarkScanWithPolicies(b *testing.B) {
	policies, err := os.ReadFile("../../examples/policies/policies.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var objs strings.Builder
	objs.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {env: prod}}\n")
	for i := range 2000 {
		fmt.Fprintf(&objs, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d%d, namespace: shop}\nspec:\n  replicas: %d\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      containers:\n      - {name: c, image: registry.example.com/c:1}\n", i, i%8)
	}
	file := filepath.Join(b.TempDir(), "objects.yaml")
	os.WriteFile(file, []byte(objs.String()), 0o644)
	inputs, _ := object.Expand([]string{file}, nil)
	var pol []*object.Object
	object.SplitBytes("policies.yaml", policies, func(d object.Document) {
		o, _ := object.Decode(d, object.DefaultLimits)
		pol = append(pol, o...)
	})
	set, _ := Load(pol)
	for _, c := range []struct {
		name  string
		extra bool
	}{{"catalog", false}, {"catalog+policies", true}} {
		b.Run(c.name, func(b *testing.B) {
			opts := controls.Options{}
			if c.extra {
				opts.Extra = set.Controls()
			}
			cat, _ := controls.Catalog(opts)
			eng, _ := engine.New(engine.Options{Catalog: cat})
			for b.Loop() {
				if res := eng.ScanInputs(inputs); res.Objects != 2001 {
					b.Fatal(res.Objects)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2001/1000, "µs/object")
		})
	}
}
