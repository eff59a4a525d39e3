// Package deploy holds kubeguard's own deployment: the Helm chart under
// helm/kubeguard and the plain manifests rendered from it.
package deploy

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/render"
)

// Manifests renders the chart with its default values as release
// kubeguard in namespace kubeguard.
func Manifests() (string, error) {
	_, self, _, _ := runtime.Caller(0)
	chart := filepath.Join(filepath.Dir(self), "helm", "kubeguard")
	r := (&render.Helm{ReleaseName: "kubeguard", Namespace: "kubeguard"}).Render(chart)
	if len(r.Diags) > 0 {
		return "", fmt.Errorf("%s", r.Diags[0])
	}
	var b strings.Builder
	b.WriteString("# kubeguard: admission webhook and posture controller, rendered from deploy/helm/kubeguard\n" +
		"# with its default values (make manifests). Install the report CRDs (deploy/crds) and\n" +
		"# cert-manager first, create the namespace kubeguard, and pin the image by digest.\n")
	for _, d := range r.Output {
		rel, _ := filepath.Rel(filepath.Dir(chart), d.File)
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", filepath.ToSlash(rel), strings.TrimLeft(string(d.Data), "\n"))
		if !strings.HasSuffix(string(d.Data), "\n") {
			b.WriteString("\n")
		}
	}
	return b.String(), nil
}
