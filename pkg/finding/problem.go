package finding

import (
	"cmp"
	"slices"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Problem is one thing to fix: the findings of every control that reports
// the same field of the same object, and the same source line in every
// render of it. Reports list and count problems.
//
// The rules:
//   - findings on one field of one object (same path) are one problem,
//     whichever controls report it: a hostPath volume, an added capability;
//     a finding on the object as a whole (no path: a team's policy) is a
//     problem of its own;
//   - problems at one source position with the same controls, in
//     different objects or renders (a kustomize base built by several
//     overlays, a Helm template rendered in a loop), are one problem that
//     lists the other renders;
//   - suppressions stay per control: a suppression of one control leaves
//     the problem open for the others, and a problem is suppressed only
//     when all its findings are.
type Problem struct {
	// Finding is the primary finding: the most severe unsuppressed one
	// (the most severe of all when every one is suppressed). Its
	// severity, message and position are the problem's.
	*Finding
	// Also are the other controls' findings, most severe first.
	Also []*Finding
	// Renders are the other objects or renders in which the same source
	// line has the same problem.
	Renders []Render
}

// Render names one object rendered from a shared source.
type Render struct {
	Object object.Ref `json:"object"`
	Origin string     `json:"origin,omitempty"`
}

// Findings returns the primary finding and the others.
func (p *Problem) Findings() []*Finding {
	return append([]*Finding{p.Finding}, p.Also...)
}

// Open reports whether a finding of the problem is unsuppressed.
func (p *Problem) Open() bool { return p.Suppressed == nil }

// ControlIDs returns the IDs of the problem's controls, primary first,
// each once (one control may report one field for several containers).
func (p *Problem) ControlIDs() []string {
	ids := []string{p.ControlID}
	for _, f := range p.Also {
		if !slices.Contains(ids, f.ControlID) {
			ids = append(ids, f.ControlID)
		}
	}
	return ids
}

// Merge groups findings, sorted by Compare, into problems, in the order of
// their first findings. Sorted findings at one position are adjacent
// (objects without a position: by object), so each run is grouped on its
// own, without maps over the whole scan.
func Merge(fs []*Finding) []*Problem {
	out := make([]*Problem, 0, len(fs))
	for i := 0; i < len(fs); {
		j := i + 1
		for j < len(fs) && sameRun(fs[i], fs[j]) {
			j++
		}
		out = mergeRun(fs[i:j], out)
		i = j
	}
	return out
}

func located(f *Finding) bool { return f.Position.File != "" && f.Position.Line > 0 }

func sameRun(a, b *Finding) bool {
	if located(a) {
		return a.Position == b.Position
	}
	return !located(b) && a.Position == b.Position && a.Object == b.Object
}

// mergeRun groups the findings of one position into problems: one field
// of one object first, then one source line in several renders.
func mergeRun(run []*Finding, out []*Problem) []*Problem {
	if len(run) == 1 {
		return append(out, &Problem{Finding: run[0]})
	}
	// a run can be long (an image's vulnerabilities all point at its
	// image field): groups are found by key, not by a scan of the run
	type field struct {
		object   object.Ref
		objectAt object.Position
		origin   string
		path     string
		vuln     string
		// a finding on no field (a team's policy judging the whole
		// object) shares its problem with no other control's or message
		whole string
	}
	var groups [][]*Finding
	index := map[field]int{}
	for _, f := range run {
		fk := field{f.Object, f.ObjectAt, f.Origin, f.Path, f.Vuln.Key(), ""}
		if f.Path == "" {
			fk.whole = f.ControlID + "\x00" + f.Message
		}
		k, ok := index[fk]
		if !ok {
			index[fk] = len(groups)
			groups = append(groups, []*Finding{f})
			continue
		}
		if !slices.ContainsFunc(groups[k], func(g *Finding) bool { return g.ControlID == f.ControlID && g.Message == f.Message }) {
			groups[k] = append(groups[k], f)
		}
	}
	at := map[string]*Problem{}
	for _, g := range groups {
		p := newProblem(g)
		if !located(p.Finding) {
			out = append(out, p)
			continue
		}
		key := p.Path + "\x00" + strings.Join(sortedIDs(g), ",") + "\x00" + p.Vuln.Key()
		if p.Path == "" {
			key += "\x00" + p.Message
		}
		prev, ok := at[key]
		if !ok {
			out = append(out, p)
			at[key] = p
			continue
		}
		r := Render{Object: p.Object, Origin: p.Origin}
		if (r != Render{Object: prev.Object, Origin: prev.Origin}) && !slices.Contains(prev.Renders, r) {
			prev.Renders = append(prev.Renders, r)
		}
	}
	return out
}

func newProblem(g []*Finding) *Problem {
	if len(g) == 1 {
		return &Problem{Finding: g[0]}
	}
	slices.SortStableFunc(g, func(a, b *Finding) int {
		if (a.Suppressed == nil) != (b.Suppressed == nil) {
			if a.Suppressed == nil {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		return cmp.Compare(a.ControlID, b.ControlID)
	})
	return &Problem{Finding: g[0], Also: g[1:]}
}

func sortedIDs(g []*Finding) []string {
	if len(g) == 1 {
		return []string{g[0].ControlID}
	}
	ids := make([]string, len(g))
	for i, f := range g {
		ids[i] = f.ControlID
	}
	slices.Sort(ids)
	return ids
}
