package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// fixtureObjects decodes the control fixtures afresh, one object per
// reference as in a cluster.
func fixtureObjects(t *testing.T) []*object.Object {
	t.Helper()
	files, _ := filepath.Glob("../controls/testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	seen := map[object.Ref]bool{}
	var out []*object.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		object.SplitBytes(f, data, func(d object.Document) {
			objs, _ := object.Decode(d, object.Limits{})
			for _, o := range objs {
				if !seen[o.Ref] {
					seen[o.Ref] = true
					out = append(out, o)
				}
			}
		})
	}
	return out
}

func keys(fs []*finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s %s", f.Object, f.ControlID, f.Path, f.Message))
	}
	slices.Sort(out)
	return out
}

func without(objs []*object.Object, i int) []*object.Object {
	return append(objs[:i:i], objs[i+1:]...)
}

// TestRescanMatchesFullScan removes and adds each fixture object in turn:
// a Rescan of the change, completed with the findings before it, must
// equal a full scan after it. This holds the controls' Reads to what their
// checks read.
func TestRescanMatchesFullScan(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{AllowedRegistries: []string{"registry.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{Catalog: cat, Live: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	all := eng.ScanObjects(fixtureObjects(t)).Findings
	n := len(fixtureObjects(t))
	checks := 0 // controls run on dependants
	for i := 0; i < n; i++ {
		before := eng.ScanObjects(without(fixtureObjects(t), i)).Findings
		ref := fixtureObjects(t)[i].Ref

		// Deleted.
		objs := fixtureObjects(t)
		got := eng.Rescan(without(objs, i), []Change{{Old: objs[i]}})
		checks += dependantChecks(got)
		got.Carry(all)
		if a, b := keys(got.Findings), keys(before); !slices.Equal(a, b) {
			t.Errorf("deleting %s: rescan differs from a full scan:\n%s", ref, diff(a, b))
		}

		// Added.
		objs = fixtureObjects(t)
		got = eng.Rescan(objs, []Change{{New: objs[i]}})
		checks += dependantChecks(got)
		got.Carry(before)
		if a, b := keys(got.Findings), keys(all); !slices.Equal(a, b) {
			t.Errorf("adding %s: rescan differs from a full scan:\n%s", ref, diff(a, b))
		}
	}
	// Each object has about 100 controls to run; a change re-runs a
	// handful of cross-object checks on its dependants.
	avg := float64(checks) / float64(2*n)
	t.Logf("%d objects; a change re-ran %.1f checks on its dependants on average", n, avg)
	if avg > float64(n) {
		t.Errorf("a change re-ran %.1f checks on dependants, more than one per object", avg)
	}
}

func dependantChecks(r *Result) int {
	n := 0
	for _, ev := range r.Evaluated {
		n += len(ev.Controls)
	}
	return n
}

func diff(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			b.WriteString("  extra:   " + g + "\n")
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			b.WriteString("  missing: " + w + "\n")
		}
	}
	return b.String()
}

func decode(t *testing.T, yaml string) []*object.Object {
	t.Helper()
	var out []*object.Object
	object.SplitBytes("test.yaml", []byte(yaml), func(d object.Document) {
		objs, diags := object.Decode(d, object.Limits{})
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		out = append(out, objs...)
	})
	return out
}

// A new NetworkPolicy re-evaluates the pods it selects and its namespace's
// default-deny check; the other workloads of the namespace keep their
// findings.
func TestRescanNetworkPolicySelectsDependants(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{Catalog: cat, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	const shop = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: postgres}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress]}
`
	before := eng.ScanObjects(decode(t, shop)[:3]).Findings
	objs := decode(t, shop)
	res := eng.Rescan(objs, []Change{{New: objs[3]}})
	got := map[string][]string{}
	for o, ev := range res.Evaluated {
		if ev.All {
			got[o.Ref.String()] = []string{"all"}
			continue
		}
		for id := range ev.Controls {
			got[o.Ref.String()] = append(got[o.Ref.String()], id)
		}
		slices.Sort(got[o.Ref.String()])
	}
	want := map[string][]string{
		"NetworkPolicy/shop/db": {"all"},
		"Deployment/shop/db":    {"NET-NO-DEFAULT-DENY", "NET-NO-EGRESS-POLICY", "NET-NO-INGRESS-POLICY"},
		"Namespace/shop":        {"NET-NO-DEFAULT-DENY"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("evaluated %v\nwant      %v", got, want)
	}
	res.Carry(before)
	full := eng.ScanObjects(decode(t, shop)).Findings
	if a, b := keys(res.Findings), keys(full); !slices.Equal(a, b) {
		t.Errorf("rescan differs from a full scan:\n%s", diff(a, b))
	}
}
