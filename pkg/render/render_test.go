package render_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/render"
	"github.com/kubeguard/kubeguard/pkg/report"
)

func scan(t *testing.T, paths []string, rs ...object.Renderer) *engine.Result {
	t.Helper()
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	inputs, diags := object.Expand(paths, nil, rs...)
	res := eng.ScanInputs(inputs)
	res.Diagnostics = append(diags, res.Diagnostics...)
	return res
}

// has reports whether a finding of control id points at file:line (line 0:
// any line).
func has(res *engine.Result, id, file string, line int) bool {
	for _, f := range res.Findings {
		if f.ControlID == id && strings.HasSuffix(f.Position.File, file) && (line == 0 || f.Position.Line == line) {
			return true
		}
	}
	return false
}

const chart = "testdata/charts/shop"

func TestHelmValues(t *testing.T) {
	def := scan(t, []string{chart}, &render.Helm{})
	if len(def.Diagnostics) > 0 {
		t.Fatalf("diagnostics: %v", def.Diagnostics)
	}
	// the Deployment and values.yaml (searched for credentials)
	// findings point at the template's lines, not the rendered output's
	if def.Objects != 2 || !has(def, "PSS-RUN-AS-NON-ROOT", "shop/templates/deployment.yaml", 20) {
		t.Errorf("default values: %d objects, findings %v", def.Objects, def.Findings)
	}
	// values files are searched for credentials, placeholders are not
	if !has(def, "SEC-HARDCODED", "shop/values.yaml", 9) || has(def, "SEC-HARDCODED", "shop/values.yaml", 8) {
		t.Error("values.yaml: want the Slack webhook on line 9 only")
	}
	for _, id := range []string{"PSS-PRIVILEGED", "IMG-LATEST-TAG", "PSS-HOST-NAMESPACES"} {
		if has(def, id, "", 0) {
			t.Errorf("default values: unexpected %s", id)
		}
	}
	if def.Findings[0].Object.Name != "release-name-shop" || !strings.Contains(def.Findings[0].Origin, "helm chart shop 1.2.0") {
		t.Errorf("object %v origin %q", def.Findings[0].Object, def.Findings[0].Origin)
	}

	// A values file turns on privileged mode, the latest tag and the cache
	// subchart; --set and --release-name apply on top.
	debug := scan(t, []string{chart}, &render.Helm{ValueFiles: []string{filepath.Join(chart, "values-debug.yaml")},
		Set: []string{"replicas=1"}, ReleaseName: "dbg"})
	// A value a template line takes from one .Values reference is fixed
	// in the values file that set it; a value --set gave, or a line
	// combining several values, at the template line.
	for _, w := range []struct {
		id, file string
		line     int
	}{
		{"PSS-PRIVILEGED", "shop/values-debug.yaml", 3},
		{"IMG-LATEST-TAG", "shop/templates/deployment.yaml", 19},
		{"REL-SINGLE-REPLICA", "shop/templates/deployment.yaml", 8},
		{"PSS-HOST-NAMESPACES", "shop/charts/cache/templates/statefulset.yaml", 0},
	} {
		if !has(debug, w.id, w.file, w.line) {
			t.Errorf("values-debug.yaml: missing %s at %s:%d", w.id, w.file, w.line)
		}
	}
	// two workloads and three values files (chart, subchart, values-debug)
	if debug.Objects != 5 || !has(debug, "PSS-PRIVILEGED", "", 0) {
		t.Errorf("values-debug.yaml: %d objects", debug.Objects)
	}
	for _, f := range debug.Findings {
		if f.Object.Kind == "Deployment" && f.Object.Name != "dbg-shop" {
			t.Errorf("release name not applied: %v", f.Object)
		}
	}
	str := scan(t, []string{chart}, &render.Helm{SetString: []string{"image.tag=latest"}})
	if !has(str, "IMG-LATEST-TAG", "", 0) {
		t.Error("--set-string not applied")
	}
}

// Every output format names the template a finding comes from.
func TestHelmTemplateInReports(t *testing.T) {
	res := scan(t, []string{chart}, &render.Helm{Set: []string{"privileged=true"}})
	cat, _ := controls.Catalog(controls.Options{})
	for _, format := range report.Formats {
		var b bytes.Buffer
		if err := report.Write(&b, format, &report.Report{Tool: "kubeguard", Catalog: cat, Findings: res.Findings, FailOn: finding.High}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "templates/deployment.yaml") || !strings.Contains(b.String(), "helm chart shop") {
			t.Errorf("%s report does not name the template and chart", format)
		}
		if strings.Contains(b.String(), "Xk2mR9vTq4LzN8wB3yHcQ1Pz") {
			t.Errorf("%s report quotes the secret of values.yaml", format)
		}
		// the rendered position stays as a related location
		if format == "sarif" && !strings.Contains(b.String(), `"relatedLocations"`) || format == "sarif" && !strings.Contains(b.String(), "of the rendered output of helm chart shop") {
			t.Errorf("sarif report has no related location in the rendered output")
		}
	}
}

func TestHelmPackagedChart(t *testing.T) {
	ch, err := loader.Load(chart)
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res := scan(t, []string{tgz}, &render.Helm{Set: []string{"privileged=true"}})
	if !has(res, "PSS-PRIVILEGED", ".tgz:templates/deployment.yaml", 21) {
		t.Errorf("packaged chart: %v %v", res.Findings, res.Diagnostics)
	}
}

// A chart that fails to render is reported with Helm's message, which
// names the template; the rest of the input is still scanned.
func TestHelmRenderError(t *testing.T) {
	res := scan(t, []string{"testdata/charts/broken", chart}, &render.Helm{})
	if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0].Message, "broken/templates/configmap.yaml:6:12") ||
		!strings.Contains(res.Diagnostics[0].Message, "a value is required") || !res.HasErrors() {
		t.Errorf("diagnostics: %v", res.Diagnostics)
	}
	if res.Objects != 2 {
		t.Errorf("the other chart was not scanned: %d objects", res.Objects)
	}
	if _, diags := object.Expand([]string{chart}, nil, &render.Helm{KubeVersion: "not-a-version"}); len(diags) != 1 || !strings.Contains(diags[0].Message, "--kube-version") {
		t.Errorf("bad --kube-version: %v", diags)
	}
}

// TestHelmMissingDependency: helm template refuses a chart whose
// dependencies were not fetched; kubeguard scans the chart's own objects
// and reports an error naming the missing ones.
func TestHelmMissingDependency(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 17.0.0\n  repository: https://charts.example.com\n",
		"templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.2\n    securityContext: {privileged: true}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := scan(t, []string{dir}, &render.Helm{})
	if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0].Message, "missing from charts/") || !strings.Contains(res.Diagnostics[0].Message, "redis") {
		t.Errorf("diagnostics %v", res.Diagnostics)
	}
	privileged := false
	for _, f := range res.Findings {
		privileged = privileged || f.ControlID == "PSS-PRIVILEGED"
	}
	if !privileged {
		t.Error("the chart's own Pod was not scanned")
	}
}

// TestKustomizeHelmCharts: kustomize would run the helm binary for
// helmCharts; the error says so and what to scan instead.
func TestKustomizeHelmCharts(t *testing.T) {
	dir := t.TempDir()
	k := "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n  version: 1.0.0\nresources:\n- cm.yaml\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags := object.Expand([]string{dir}, nil, render.Kustomize{})
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "helmCharts are not supported") || !strings.Contains(diags[0].Message, "redis") {
		t.Errorf("diagnostics %v", diags)
	}
}

func TestKustomize(t *testing.T) {
	inputs, diags := object.Expand([]string{"testdata/kustomize"}, nil, &render.Helm{}, render.Kustomize{})
	var names []string
	for _, in := range inputs {
		names = append(names, filepath.ToSlash(in.Name))
	}
	// the base's files belong to the base: not scanned again as plain YAML
	want := "testdata/kustomize/base testdata/kustomize/components/debug testdata/kustomize/overlays/dev testdata/kustomize/overlays/prod testdata/kustomize/remote"
	if strings.Join(names, " ") != want {
		t.Errorf("inputs %v", names)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "remote bases and resources are not supported") {
		t.Errorf("diagnostics %v", diags)
	}
	res := scan(t, []string{"testdata/kustomize/overlays"}, render.Kustomize{})
	if len(res.Diagnostics) > 0 {
		t.Fatal(res.Diagnostics)
	}
	// Findings point at the file and line a person fixes: the base for
	// what comes from it, the kustomization's patches, components or
	// images for what the overlay changes; never at build output lines.
	for _, w := range []struct {
		id, ns, name, origin, at string
	}{
		{"SVC-NODEPORT", "shop-prod", "web", "overlays/prod", "overlays/prod/kustomization.yaml:4"},
		{"PSS-PRIVILEGED", "shop-dev", "dev-web", "overlays/dev", "overlays/dev/kustomization.yaml:5"},
		{"IMG-LATEST-TAG", "shop-dev", "dev-web", "overlays/dev", "overlays/dev/kustomization.yaml:7"},
		{"CTR-CPU-LIMIT", "shop-dev", "dev-web", "overlays/dev", "base/deployment.yaml:14"},
	} {
		found := false
		for _, f := range res.Findings {
			at := fmt.Sprintf("%s:%d", f.Position.File, f.Position.Line)
			found = found || f.ControlID == w.id && f.Object.Namespace == w.ns && f.Object.Name == w.name &&
				strings.HasSuffix(f.Origin, w.origin) && strings.HasSuffix(at, w.at)
		}
		if !found {
			t.Errorf("missing %s on %s/%s from %s at %s", w.id, w.ns, w.name, w.origin, w.at)
		}
	}
	for _, f := range res.Findings {
		data, err := os.ReadFile(f.Position.File)
		if err != nil || f.Position.Line < 1 || f.Position.Line > strings.Count(string(data), "\n") {
			t.Errorf("%s at %v: not a line of a file (%v)", f.ControlID, f.Position, err)
		}
	}
	for _, f := range res.Findings {
		if f.Object.Namespace == "shop-prod" && (f.ControlID == "PSS-PRIVILEGED" || f.ControlID == "IMG-LATEST-TAG") {
			t.Errorf("prod overlay: unexpected %s", f.ControlID)
		}
	}
}

// Without renderers a chart is skipped with a note and a kustomization
// directory is read as plain YAML.
func TestNoRender(t *testing.T) {
	res := scan(t, []string{"testdata/charts/shop", "testdata/kustomize/base"})
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].Severity != object.SeverityNote {
		t.Errorf("diagnostics %v", res.Diagnostics)
	}
	if res.Objects != 2 {
		t.Errorf("%d objects from the plain base", res.Objects)
	}
}

// A template that renders several documents yields every object, each at
// its own line of the template.
func TestHelmTemplateWithSeveralDocuments(t *testing.T) {
	res := scan(t, []string{"testdata/charts/multi"}, &render.Helm{Namespace: "apps"})
	if res.Objects != 2 {
		t.Fatalf("%d objects, want 2", res.Objects)
	}
	if !has(res, "NS-DEFAULT", "templates/configs.yaml", 14) {
		t.Errorf("the second ConfigMap's namespace (line 14) is not reported: %v", res.Findings)
	}
	for _, e := range res.Inventory.OfKind("ConfigMap") {
		if e.Object.Origin == "" {
			t.Errorf("%s lost its chart origin", e.Object.Ref)
		}
	}
}
