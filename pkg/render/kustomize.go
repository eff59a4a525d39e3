package render

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Kustomize builds kustomizations like `kustomize build`, offline.
type Kustomize struct{}

// kustomizationFiles are the names kustomize recognises, in its order.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func kustomizationFile(dir string) string {
	for _, n := range kustomizationFiles {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && !st.IsDir() {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

// Claims reports whether path is a directory with a kustomization.
func (Kustomize) Claims(path string, isDir bool) bool {
	return isDir && kustomizationFile(path) != ""
}

// Owns reports whether file is dir's kustomization file.
func (Kustomize) Owns(dir, file string) bool {
	k := kustomizationFile(dir)
	return k != "" && filepath.Clean(k) == filepath.Clean(file)
}

// Render builds the kustomization. Each resulting object is one document
// attributed to the kustomization file, with the overlay as origin; line
// numbers count in the built object.
func (Kustomize) Render(dir string) object.Rendered {
	file := kustomizationFile(dir)
	fail := func(err error) object.Rendered {
		// the kustomization file is never a manifest, built or not
		return object.Rendered{Kind: "kustomization", Diags: []object.Diagnostic{{Pos: object.Position{File: file}, Severity: object.SeverityError,
			Message: "Kustomize: " + err.Error()}}, Read: []string{file}}
	}
	remote, charts := remoteRefs(file)
	if len(remote) > 0 {
		return fail(fmt.Errorf("remote bases and resources are not supported (kubeguard works offline): %s", strings.Join(remote, ", ")))
	}
	if len(charts) > 0 {
		// kustomize inflates them by running the helm binary
		return fail(fmt.Errorf("helmCharts are not supported (kubeguard runs no helm binary and fetches no charts): %s; "+
			"scan the chart itself (kubeguard scan CHART -f VALUES)", strings.Join(charts, ", ")))
	}
	fs := &recordingFS{FileSystem: filesys.MakeFsOnDisk(), read: map[string]bool{}, top: absOr(file)}
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.DisabledPluginConfig() // no exec or helm plugins: nothing runs
	m, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	if err != nil {
		return fail(err)
	}
	origin := "kustomize build " + dir
	var objs []*object.Object
	var diags []object.Diagnostic
	var src sources
	changed := changedAt(file)
	for _, r := range m.Resources() {
		from := ""
		if o, err := r.GetOrigin(); err == nil && o != nil {
			from = o.Path
		}
		if !fs.userOrigins {
			// the annotation is kubeguard's: the user did not ask for it
			ann := r.GetAnnotations()
			delete(ann, originAnnotation)
			if err := r.SetAnnotations(ann); err != nil {
				return fail(err)
			}
		}
		data, err := r.AsYAML()
		if err != nil {
			return fail(err)
		}
		// Findings point at the file and line each field came from, not
		// at lines of the build output that exist nowhere.
		built, ds := object.Decode(object.Document{File: file, Line: 1, Data: data, Origin: origin}, object.Limits{})
		diags = append(diags, ds...)
		for _, b := range built {
			objs = append(objs, src.fromSource(dir, from, b, changed))
		}
	}
	return object.Rendered{Kind: "kustomization", Objects: objs, Diags: diags, Read: append(fs.files(), file)}
}

// remoteRefs lists the entries of a kustomization that point at the
// network (git or HTTP), which kustomize would fetch, and the names of its
// helmCharts, which it would inflate with the helm binary.
func remoteRefs(file string) (remote, charts []string) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil
	}
	var k struct {
		Resources  []string `json:"resources"`
		Bases      []string `json:"bases"`
		Components []string `json:"components"`
		HelmCharts []struct {
			Name string `json:"name"`
		} `json:"helmCharts"`
	}
	if yaml.Unmarshal(data, &k) != nil {
		return nil, nil
	}
	for _, lists := range [][]string{k.Resources, k.Bases, k.Components} {
		for _, r := range lists {
			if strings.Contains(r, "://") || strings.HasPrefix(r, "git@") || strings.HasPrefix(r, "github.com/") ||
				strings.HasPrefix(r, "gitlab.com/") || strings.HasPrefix(r, "bitbucket.org/") || strings.Contains(r, "?ref=") {
				remote = append(remote, r)
			}
		}
	}
	for _, c := range k.HelmCharts {
		charts = append(charts, c.Name)
	}
	return remote, charts
}

// recordingFS notes every file a build reads, so that a directory walk
// does not scan them again as plain manifests.
type recordingFS struct {
	filesys.FileSystem
	mu   sync.Mutex
	read map[string]bool
	// top is the kustomization being built (absolute and clean, as
	// kustomize names the files it reads): reading it asks kustomize to
	// record where each resource came from, unless it says so itself
	// (userOrigins).
	top         string
	userOrigins bool
}

func (f *recordingFS) ReadFile(path string) ([]byte, error) {
	f.mu.Lock()
	f.read[path] = true
	f.mu.Unlock()
	data, err := f.FileSystem.ReadFile(path)
	if err == nil && filepath.Clean(path) == f.top {
		if bytes.Contains(data, []byte("buildMetadata")) {
			f.userOrigins = bytes.Contains(data, []byte("originAnnotations"))
		} else {
			data = append(append(bytes.TrimRight(data, "\n"), '\n'), "buildMetadata: [originAnnotations]\n"...)
		}
	}
	return data, err
}

func absOr(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func (f *recordingFS) files() []string {
	out := make([]string, 0, len(f.read))
	for p := range f.read {
		out = append(out, p)
	}
	return out
}
