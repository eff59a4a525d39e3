// Package object turns every input (files, stdin, later clusters and
// admission requests) into the same thing: a Kubernetes object in
// unstructured form that remembers where it came from, so findings can point
// at the exact line of the offending field.
package object

import (
	"fmt"
	"strings"
)

// Position is a place in an input file. Line and Column are 1-based; a zero
// Line means the position is unknown (for example an object read from a
// cluster).
type Position struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

func (p Position) String() string {
	switch {
	case p.File == "":
		return ""
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Ref names an object the way kubectl does.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Compare orders references by kind, namespace, name and API version,
// field by field: building strings to compare would dominate sorting large
// scans.
func (r Ref) Compare(o Ref) int {
	if c := strings.Compare(r.Kind, o.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(r.Namespace, o.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(r.Name, o.Name); c != 0 {
		return c
	}
	return strings.Compare(r.APIVersion, o.APIVersion)
}

// Group returns the API group of the object ("" for the core group).
func (r Ref) Group() string {
	if i := strings.IndexByte(r.APIVersion, '/'); i >= 0 {
		return r.APIVersion[:i]
	}
	return ""
}

// Locator maps a field path of an object to its position in the input.
type Locator interface {
	Locate(path string) Position
}

// Object is one Kubernetes object under analysis.
type Object struct {
	Ref
	// Content is the whole object in unstructured form (as decoded from
	// JSON: map[string]any, []any, string, int64, float64, bool, nil).
	// Workloads drop it once their pod spec has been extracted, to keep
	// memory flat on large inputs; see inventory.
	Content map[string]any
	// Source is where the object starts.
	Source Position
	// Origin optionally names a second source, such as the chart template
	// an object was rendered from.
	Origin string
	// Scope names the application the object belongs to (a chart, a
	// kustomization, a path given on the command line): cross-object
	// controls resolve references within it, so adding an unrelated
	// directory to a scan never changes another's findings.
	Scope string
	// Native is the typed form of an input that is not a Kubernetes object
	// (a parsed Dockerfile), for the controls of that kind.
	Native any
	// Request, for an object under admission, is what the request says
	// beyond the object: policies that read the operation, the old
	// object or the user (Gatekeeper templates, CEL policies) see it.
	// Nil elsewhere, where an object is judged as a create.
	Request *Request

	loc Locator
}

// Request is the admission request an object came with.
type Request struct {
	Operation   string // CREATE, UPDATE, DELETE or CONNECT
	SubResource string
	OldObject   map[string]any
	User        string
	Groups      []string
	UID         string
	DryRun      bool
}

// New returns an object for content with the given locator (may be nil).
func New(content map[string]any, source Position, loc Locator) *Object {
	o := &Object{Content: content, Source: source, loc: loc}
	o.APIVersion, _ = content["apiVersion"].(string)
	o.Kind, _ = content["kind"].(string)
	if md, ok := content["metadata"].(map[string]any); ok {
		o.Name, _ = md["name"].(string)
		if o.Name == "" {
			if gn, _ := md["generateName"].(string); gn != "" {
				o.Name = gn + "*"
			}
		}
		o.Namespace, _ = md["namespace"].(string)
	}
	return o
}

// Locate returns the position of the field at path, or of its nearest
// existing ancestor, or of the object itself when nothing better is known.
func (o *Object) Locate(path string) Position {
	if o.loc != nil {
		if p := o.loc.Locate(path); p.Line > 0 {
			return p
		}
	}
	return o.Source
}

// RenderedAt returns where the field at path is in the rendered output the
// object was decoded from, for objects located in their sources (a chart's
// templates and values, a kustomization's resources); nil for the rest.
func (o *Object) RenderedAt(path string) *Position {
	if r, ok := o.loc.(interface{ RenderedAt(string) Position }); ok {
		p := r.RenderedAt(path)
		return &p
	}
	return nil
}

// Compact replaces the object's locator with one that holds no parse tree,
// so that objects kept for cross-object analysis stay small. The positions
// of the anchor paths are kept; others are found again on demand. The
// anchors slice may be shared between objects and is never modified.
func (o *Object) Compact(anchors []string) {
	if c, ok := o.loc.(interface{ Compact([]string) Locator }); ok {
		o.loc = c.Compact(anchors)
	}
}

// CompactUnlessSmall is Compact, except that an object alone in its
// document with at most maxNodes fields and items keeps every position:
// for kinds whose cross-object findings point deep inside them (a Role's
// rules, a binding's subjects), finding each again would parse the
// document again.
func (o *Object) CompactUnlessSmall(anchors []string, maxNodes int) {
	if s, ok := o.loc.(interface{ small(int) Locator }); ok {
		if l := s.small(maxNodes); l != nil {
			o.loc = l
			return
		}
	}
	o.Compact(anchors)
}

// Metadata returns metadata.<field> as a string map (labels, annotations).
func (o *Object) Metadata(field string) map[string]string {
	md, _ := o.Content["metadata"].(map[string]any)
	return StringMap(md[field])
}

// StringMap converts an unstructured map of strings; other values are
// skipped.
func StringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
