// Package deploy_test checks kubeguard's own deployment: the Helm chart
// lints, and kubeguard's scan of what it renders finds nothing.
package deploy_test

import (
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"

	"github.com/kubeguard/kubeguard/deploy"
	"github.com/kubeguard/kubeguard/internal/cli"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/render"
)

const chart = "helm/kubeguard"

const digest = "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestChartLints(t *testing.T) {
	l := lint.All(chart, nil, "kubeguard", false)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// Every combination a user is likely to pick scans clean (suppressions
// carry their reasons) and renders both components when enabled.
func TestChartScansClean(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		set  []string
		want map[string]int
	}{
		{nil, map[string]int{"Deployment": 2, "ValidatingWebhookConfiguration": 1, "MutatingWebhookConfiguration": 0, "Certificate": 1}},
		{[]string{"webhook.mutating=true", "webhook.failurePolicy=Fail"}, map[string]int{"MutatingWebhookConfiguration": 1}},
		{[]string{"webhook.certManager=false", "controller.enabled=false"}, map[string]int{"Deployment": 1, "Certificate": 0}},
	} {
		h := &render.Helm{ReleaseName: "kubeguard", Namespace: "kubeguard", Set: append([]string{digest}, tc.set...)}
		inputs, diags := object.Expand([]string{chart}, nil, h)
		res := eng.ScanInputs(inputs)
		for _, d := range append(diags, res.Diagnostics...) {
			t.Errorf("%v: %s", tc.set, d)
		}
		for _, f := range res.Findings {
			if f.Suppressed == nil {
				t.Errorf("%v: %s %s %s: %s", tc.set, f.ControlID, f.Object, f.Path, f.Message)
			}
		}
		for kind, n := range tc.want {
			if got := len(res.Inventory.OfKind(kind)); got != n {
				t.Errorf("%v: %d %s, want %d", tc.set, got, kind, n)
			}
		}
	}
}

// deploy/kubeguard.yaml is what the chart renders (make manifests).
func TestManifestsAreCurrent(t *testing.T) {
	want, err := deploy.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("kubeguard.yaml")
	if err != nil || string(got) != want {
		t.Error("deploy/kubeguard.yaml is stale: run make manifests")
	}
	for _, kind := range []string{"Deployment", "ValidatingWebhookConfiguration", "NetworkPolicy", "ConfigMap"} {
		if !strings.Contains(want, "\nkind: "+kind+"\n") {
			t.Errorf("the rendered manifests hold no %s", kind)
		}
	}
}

// kubeguard scan deploy/ finds nothing at all, as a user runs it: the
// chart with Helm's default release, the plain manifests, the CRDs, and
// deploy/.kubeguard.yaml (which is configuration, not a manifest).
func TestScanDeployDirectory(t *testing.T) {
	var out, errOut strings.Builder
	code := cli.Main([]string{"scan", ".", "--fail-on", "info"}, strings.NewReader(""), &out, &errOut)
	if code != 0 || errOut.Len() > 0 {
		t.Errorf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "no findings") {
		t.Errorf("want no findings:\n%s", out.String())
	}
}
