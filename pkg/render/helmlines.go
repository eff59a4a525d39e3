package render

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// lineMap maps the lines of a rendered template to the lines of its
// source: a line copied as written, or written by an action whose text
// before "{{" it starts with, maps to that template line; a line an action
// expanded into several (include, toYaml) maps to the template line of the
// action. Findings then point at the template line a person edits.
type lineMap struct {
	line, col []int // per rendered line (1-based index): template line, column shift
}

func newLineMap(template, rendered string) lineMap {
	tl := strings.Split(template, "\n")
	rl := strings.Split(rendered, "\n")
	m := lineMap{line: make([]int, len(rl)+1), col: make([]int, len(rl)+1)}
	j, last, lastIndent := 0, 1, 0
	for i, r := range rl {
		rt := strings.TrimSpace(r)
		found := -1
		for k := j; k < len(tl) && k < j+400 && rt != ""; k++ {
			t := strings.TrimSpace(tl[k])
			if before, _, action := strings.Cut(t, "{{"); action {
				if before = strings.TrimSpace(before); before != "" && strings.HasPrefix(rt, before) {
					found = k
					break
				}
			} else if t == rt {
				found = k
				break
			}
		}
		if found >= 0 {
			j, last, lastIndent = found+1, found+1, indent(tl[found])
		}
		m.line[i+1], m.col[i+1] = last, lastIndent-indent(r)
	}
	return m
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func (m lineMap) position(p object.Position) object.Position {
	if p.Line <= 0 || p.Line >= len(m.line) {
		return p
	}
	l, c := m.line[p.Line], p.Column+m.col[p.Line]
	if c < 1 {
		c = 1
	}
	return object.Position{File: p.File, Line: l, Column: c}
}

// templateLocator translates a rendered object's positions to template
// lines, and a value a template line takes from a single .Values
// reference to the line of the values file that set it.
type templateLocator struct {
	rendered *object.Object
	lines    lineMap
	source   []string         // the template's lines
	values   []*object.Object // values files, the one that wins first
}

var valuesRef = regexp.MustCompile(`\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)`)

func (l templateLocator) Locate(path string) object.Position {
	p := l.lines.position(l.rendered.Locate(path))
	if p.Line < 1 || p.Line > len(l.source) {
		return p
	}
	refs := valuesRef.FindAllStringSubmatch(l.source[p.Line-1], -1)
	v, ok := object.Get(l.rendered.Content, path)
	if len(refs) != 1 || !ok || !scalar(v) {
		return p
	}
	for _, vf := range l.values {
		if set, ok := object.Get(vf.Content, refs[0][1]); ok {
			if fmt.Sprint(set) == fmt.Sprint(v) {
				return vf.Locate(refs[0][1])
			}
			break // the winning file set another value: --set or a function changed it
		}
	}
	return p
}

// RenderedAt is the field's position in the rendered template.
func (l templateLocator) RenderedAt(path string) object.Position { return l.rendered.Locate(path) }

func scalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any, nil:
		return false
	}
	return true
}

// fromTemplate decodes the output of a template into objects located in
// the template's source (and values files).
func fromTemplate(file, origin, source, rendered string, values []*object.Object) ([]*object.Object, []object.Diagnostic) {
	lines := newLineMap(source, rendered)
	srcLines := strings.Split(source, "\n")
	var objs []*object.Object
	var diags []object.Diagnostic
	diags = append(diags, object.SplitBytes(file, []byte(rendered), func(d object.Document) {
		d.Origin = origin
		decoded, ds := object.Decode(d, object.Limits{})
		for i := range ds {
			ds[i].Pos = lines.position(ds[i].Pos)
		}
		diags = append(diags, ds...)
		for _, o := range decoded {
			t := object.New(o.Content, lines.position(o.Source), templateLocator{o, lines, srcLines, values})
			t.Origin = o.Origin
			objs = append(objs, t)
		}
	})...)
	return objs, diags
}
