// Package render turns inputs that are not plain manifests into documents
// for the engine: Helm charts, rendered in-process with the Helm SDK, and
// Kustomize kustomizations, built with the Kustomize API. Neither needs a
// binary or the network.
package render

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Helm renders charts like `helm template`.
type Helm struct {
	ValueFiles []string // --values, in order
	Set        []string // --set
	SetString  []string // --set-string
	SetFile    []string // --set-file
	// ReleaseName defaults to "release-name", as in helm template.
	ReleaseName string
	// Namespace is .Release.Namespace. It is empty by default, so that a
	// chart is not reported as deploying to the default namespace merely
	// because it was rendered without one.
	Namespace string
	// KubeVersion is .Capabilities.KubeVersion (default: Helm's).
	KubeVersion string
}

// Claims reports whether path is a chart directory (with Chart.yaml) or a
// packaged chart (.tgz).
func (h *Helm) Claims(path string, isDir bool) bool {
	if isDir {
		st, err := os.Stat(filepath.Join(path, "Chart.yaml"))
		return err == nil && !st.IsDir()
	}
	return strings.HasSuffix(path, ".tgz") && packagedChart(path)
}

// Owns reports whether file is inside the chart dir: templates, values and
// Chart.yaml are not manifests until the chart is rendered.
func (h *Helm) Owns(dir, file string) bool {
	rel, err := filepath.Rel(dir, file)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// packagedChart reports whether a .tgz holds a chart (its top directory
// has a Chart.yaml), so other archives in a tree are left alone.
func packagedChart(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	tr := tar.NewReader(gz)
	for i := 0; i < 100; i++ {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		if dir, name, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/"); ok && dir != "" && name == "Chart.yaml" {
			return true
		}
	}
	return false
}

// Render renders the chart and its subcharts. Each template becomes one
// document whose file is the template's path, so findings point at the
// template they come from; line numbers count in the rendered template.
func (h *Helm) Render(path string) object.Rendered {
	fail := func(err error) object.Rendered {
		return object.Rendered{Kind: "Helm chart", Diags: []object.Diagnostic{{Pos: object.Position{File: path}, Severity: object.SeverityError,
			Message: "Helm chart: " + err.Error()}}}
	}
	ch, err := loader.Load(path)
	if err != nil {
		return fail(err)
	}
	// helm template refuses a chart whose dependencies were not fetched;
	// the chart's own objects are still scanned, and the error says what
	// was not
	var diags []object.Diagnostic
	if missing := missingDependencies(ch); len(missing) > 0 {
		diags = fail(fmt.Errorf("dependencies in Chart.yaml missing from charts/ (helm dependency build fetches them), "+
			"their objects are not scanned: %s", strings.Join(missing, ", "))).Diags
	}
	vals, err := h.values()
	if err != nil {
		return fail(err)
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return fail(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	if h.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(h.KubeVersion)
		if err != nil {
			return fail(fmt.Errorf("--kube-version: %v", err))
		}
		caps.KubeVersion = *kv
	}
	name := h.ReleaseName
	if name == "" {
		name = "release-name"
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: name, Namespace: h.Namespace, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return fail(err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return fail(err) // Helm names the template and line
	}
	origin := fmt.Sprintf("helm chart %s %s (release %s)", ch.Name(), ch.Metadata.Version, name)
	// Values files are searched for credentials as text: a value may be a
	// secret whether or not a template uses it.
	var texts []*object.Object
	for _, c := range append([]*chart.Chart{ch}, ch.Dependencies()...) {
		for _, f := range c.Raw {
			if f.Name == "values.yaml" {
				texts = append(texts, object.NewText("HelmValues", templateFile(path, filepath.Join(c.ChartFullPath(), f.Name)), f.Data))
			}
		}
	}
	for _, vf := range h.ValueFiles {
		if data, err := os.ReadFile(vf); err == nil {
			texts = append(texts, object.NewText("HelmValues", vf, data))
		}
	}
	var docs, output []object.Document
	for _, crd := range ch.CRDObjects() {
		docs = append(docs, object.Document{File: templateFile(path, crd.Filename), Line: 1, Data: crd.File.Data, Origin: origin})
	}
	output = append(output, docs...)
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	templates := map[string]string{}
	for _, c := range append([]*chart.Chart{ch}, ch.Dependencies()...) {
		for _, t := range c.Templates {
			templates[filepath.Join(c.ChartFullPath(), t.Name)] = string(t.Data)
		}
	}
	// The values files a value can come from, the one that wins first:
	// -f files last to first, then the chart's values.yaml (on disk).
	var valueFiles []*object.Object
	for i := len(h.ValueFiles) - 1; i >= 0; i-- {
		valueFiles = append(valueFiles, rawObjects(h.ValueFiles[i])...)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		valueFiles = append(valueFiles, rawObjects(filepath.Join(path, "values.yaml"))...)
	}
	objs := texts
	for _, n := range names {
		base := filepath.Base(n)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(out[n]) == "" {
			continue
		}
		output = append(output, object.Document{File: templateFile(path, n), Line: 1, Data: []byte(out[n]), Origin: origin})
		tmpl, ok := templates[n]
		if !ok {
			docs = append(docs, object.Document{File: templateFile(path, n), Line: 1, Data: []byte(out[n]), Origin: origin})
			continue
		}
		// located at the template lines that wrote them, not at lines of
		// the rendered output
		vf := valueFiles
		if !strings.HasPrefix(n, ch.Name()+"/templates/") {
			vf = nil // a subchart's .Values are the parent's under the subchart's name
		}
		o, ds := fromTemplate(templateFile(path, n), origin, tmpl, out[n], vf)
		objs, diags = append(objs, o...), append(diags, ds...)
	}
	return object.Rendered{Kind: "Helm chart", Docs: docs, Objects: objs, Diags: diags, Output: output}
}

// missingDependencies names the dependencies of ch's Chart.yaml that are
// not in its charts/ directory.
func missingDependencies(ch *chart.Chart) []string {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if !have[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	return missing
}

// templateFile maps a template name ("chart/templates/x.yaml",
// "chart/charts/sub/templates/y.yaml") to a path under the chart; for a
// packaged chart, to "chart.tgz:templates/x.yaml".
func templateFile(chartPath, name string) string {
	_, rest, _ := strings.Cut(name, "/")
	if strings.HasSuffix(chartPath, ".tgz") {
		return chartPath + ":" + rest
	}
	return filepath.Join(chartPath, rest)
}

// values merges -f files, then --set, --set-string and --set-file, as
// helm's values options do, from local files only: the network is never
// used (and Helm's remote getters stay out of the binary).
func (h *Helm) values() (map[string]any, error) {
	base := map[string]any{}
	for _, f := range h.ValueFiles {
		data, err := readValuesFile(f)
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", f, err)
		}
		base = mergeMaps(base, m)
	}
	for _, v := range h.Set {
		if err := strvals.ParseInto(v, base); err != nil {
			return nil, fmt.Errorf("failed parsing --set data: %w", err)
		}
	}
	for _, v := range h.SetString {
		if err := strvals.ParseIntoString(v, base); err != nil {
			return nil, fmt.Errorf("failed parsing --set-string data: %w", err)
		}
	}
	for _, v := range h.SetFile {
		read := func(rs []rune) (any, error) {
			data, err := readValuesFile(string(rs))
			return string(data), err
		}
		if err := strvals.ParseIntoFile(v, base, read); err != nil {
			return nil, fmt.Errorf("failed parsing --set-file data: %w", err)
		}
	}
	return base, nil
}

func readValuesFile(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// mergeMaps merges b into a, maps recursively, b's values winning.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
