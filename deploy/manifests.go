// Package deploy holds kubeguard's own deployment, described once: the
// Helm chart under helm/kubeguard, embedded in the binary. The plain
// manifests (kubeguard.yaml, make manifests) and `kubeguard webhook
// install-manifests` are renderings of it.
package deploy

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/releaseutil"

	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/render"
)

var kindRE = regexp.MustCompile(`(?m)^kind: (\S+)$`)

//go:embed all:helm/kubeguard
var chartFS embed.FS

// Render renders the chart as release name in namespace with values over
// its defaults, as helm template prints it, each document headed by its
// template.
func Render(name, namespace string, values map[string]any) (string, error) {
	dir, err := os.MkdirTemp("", "kubeguard-chart")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	err = fs.WalkDir(chartFS, "helm", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := chartFS.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		return "", err
	}
	h := &render.Helm{ReleaseName: name, Namespace: namespace}
	if len(values) > 0 {
		data, err := yaml.Marshal(values)
		if err != nil {
			return "", err
		}
		vf := filepath.Join(dir, "values.yaml")
		if err := os.WriteFile(vf, data, 0o644); err != nil {
			return "", err
		}
		h.ValueFiles = []string{vf}
	}
	chart := filepath.Join(dir, "helm", "kubeguard")
	r := h.Render(chart)
	if len(r.Diags) > 0 {
		return "", fmt.Errorf("%s", r.Diags[0].Message)
	}
	// documents in Helm's install order (the Namespace first), so that
	// kubectl apply -f creates them as helm install would
	type doc struct{ source, text string }
	var docs []doc
	for _, d := range r.Output {
		rel, _ := filepath.Rel(filepath.Dir(chart), d.File)
		for _, text := range strings.Split(string(d.Data), "\n---\n") {
			if text = strings.Trim(text, "\n"); strings.TrimSpace(strings.TrimPrefix(text, "---")) != "" {
				docs = append(docs, doc{filepath.ToSlash(rel), strings.TrimPrefix(text, "---\n")})
			}
		}
	}
	order := func(d doc) int {
		m := kindRE.FindStringSubmatch(d.text)
		if m == nil {
			return len(releaseutil.InstallOrder)
		}
		if i := slices.Index(releaseutil.InstallOrder, m[1]); i >= 0 {
			return i
		}
		return len(releaseutil.InstallOrder)
	}
	slices.SortStableFunc(docs, func(a, b doc) int { return order(a) - order(b) })
	var b strings.Builder
	for _, d := range docs {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", d.source, d.text)
	}
	return b.String(), nil
}

// Manifests renders the chart with its default values as release
// kubeguard in namespace kubeguard.
func Manifests() (string, error) {
	out, err := Render("kubeguard", "kubeguard", nil)
	if err != nil {
		return "", err
	}
	return "# kubeguard: admission webhook and posture controller, rendered from deploy/helm/kubeguard\n" +
		"# with its default values (make manifests). Install the report CRDs (deploy/crds) and\n" +
		"# cert-manager first, create the namespace kubeguard, and pin the image by digest.\n" + out, nil
}
