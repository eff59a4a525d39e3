package render

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// originAnnotation is where kustomize records the file a resource came
// from (buildMetadata: [originAnnotations]).
const originAnnotation = "config.kubernetes.io/origin"

// sources reads the files resources came from, once each, for one build.
type sources struct {
	files map[string][]*object.Object
}

func (s *sources) objects(path string) []*object.Object {
	if objs, ok := s.files[path]; ok {
		return objs
	}
	var objs []*object.Object
	if data, err := os.ReadFile(path); err == nil {
		object.SplitBytes(path, data, func(d object.Document) {
			o, _ := object.Decode(d, object.Limits{})
			objs = append(objs, o...)
		})
	}
	if s.files == nil {
		s.files = map[string][]*object.Object{}
	}
	s.files[path] = objs
	return objs
}

// source finds the object of file that a built object came from: the
// same kind, and the name the build derived its own from (namePrefix and
// nameSuffix only add to it).
func (s *sources) source(file string, built *object.Object) *object.Object {
	var best *object.Object
	for _, o := range s.objects(file) {
		if o.Kind != built.Kind || !strings.Contains(built.Name, o.Name) {
			continue
		}
		if best == nil || len(o.Name) > len(best.Name) {
			best = o
		}
	}
	return best
}

// sourceLocator points a built object's fields at the file it came from:
// a field the source has, with the value built, is found there; a field
// the build added or changed (a patch, images, replicas) at the
// kustomization's field that changes it; a field the built object lacks at
// its nearest ancestor in the source. Every position is a line of a file
// the user can edit.
type sourceLocator struct {
	src, built *object.Object
	// changed locates what the build changed (a patch's value): the
	// kustomization's entry that can change it.
	changed func(path string) object.Position
}

func (l sourceLocator) Locate(path string) object.Position {
	v, inSrc := object.Get(l.src.Content, path)
	b, inBuilt := object.Get(l.built.Content, path)
	if inBuilt && (!inSrc || !reflect.DeepEqual(v, b)) && l.changed != nil {
		if pos := l.changed(path); pos.Line > 0 {
			return pos
		}
	}
	for p := path; ; p = parent(p) {
		if _, ok := object.Get(l.src.Content, p); ok || p == "" {
			return l.src.Locate(p)
		}
	}
}

// RenderedAt is the field's position in the build output.
func (l sourceLocator) RenderedAt(path string) object.Position { return l.built.Locate(path) }

// parent returns the path of a field's parent ("" for a top-level field).
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// fromSource returns built (decoded from the build output) located in the
// source file its origin names, relative to the kustomization directory
// dir, or built itself when the source cannot be found.
func (s *sources) fromSource(dir, origin string, built *object.Object, changed func(string) object.Position) *object.Object {
	if origin == "" || filepath.IsAbs(origin) {
		return built
	}
	file := filepath.Join(dir, origin)
	src := s.source(file, built)
	if src == nil {
		return built
	}
	o := object.New(built.Content, src.Source, sourceLocator{src, built, changed})
	o.Origin = built.Origin
	o.Scope = built.Scope
	return o
}

// changers are the kustomization fields that change resources' values:
// images and replicas for those fields, else patches first.
func changers(path string) []string {
	switch {
	case strings.HasSuffix(path, ".image"):
		return []string{"images", "patches", "patchesStrategicMerge", "patchesJson6902", "replacements", "components"}
	case path == "spec.replicas":
		return []string{"replicas", "patches", "patchesStrategicMerge", "patchesJson6902", "replacements", "components"}
	}
	return []string{"patches", "patchesStrategicMerge", "patchesJson6902", "replacements", "components"}
}

// changedAt returns where kustomization file k changes the value at a
// path: its first field that can, or its start. The file is read once,
// here, not at every finding.
func changedAt(k string) func(string) object.Position {
	objs := rawObjects(k)
	return func(path string) object.Position {
		if len(objs) == 0 {
			return object.Position{File: k, Line: 1, Column: 1}
		}
		for _, f := range changers(path) {
			if _, ok := objs[0].Content[f]; ok {
				return objs[0].Locate(f)
			}
		}
		return objs[0].Source
	}
}

// rawObjects reads a file whose documents need not be Kubernetes objects
// (a kustomization has no apiVersion and kind).
func rawObjects(path string) []*object.Object {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []*object.Object
	object.SplitBytes(path, data, func(d object.Document) {
		// give the document a kind so that it decodes as an object
		d.Data = append([]byte("apiVersion: kubeguard.io/v1\nkind: Kustomization\n"), d.Data...)
		d.Line -= 2
		o, _ := object.Decode(d, object.Limits{})
		out = append(out, o...)
	})
	return out
}
