package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/control"
)

// FrameworkView is a framework's checklist over a report, as kube-bench
// and Kubescape users read it: per section, the controls that passed,
// failed or had nothing to check.
type FrameworkView struct {
	Framework control.Framework `json:"framework"`
	Sections  []SectionView     `json:"sections"`
	Total     SectionView       `json:"total"`
}

// SectionView counts the controls of one section. A control fails when
// one of its findings is open, whatever the display filters show; it is not
// applicable when the input holds no object it checks. Score is passed
// over passed and failed, in percent.
type SectionView struct {
	ID            string   `json:"id"`
	Passed        int      `json:"passed"`
	Failed        int      `json:"failed"`
	NotApplicable int      `json:"notApplicable"`
	Score         float64  `json:"score"`
	FailedIDs     []string `json:"failedControls,omitempty"`
}

// section is the part of a framework item a checklist groups by: CIS
// 5.2.2 in 5.2, CIS 2.1 in 2, NIST 4.3.1 in 4.3, NSA pod-security/capabilities in
// pod-security; others (PSS levels, MITRE techniques) as they are.
func section(f control.Framework, id string) string {
	switch f {
	case control.CIS, control.CISDocker, control.NIST:
		// 5.2.2 is in 5.2; a two-part item (etcd's 2.1) in its chapter
		switch parts := strings.Split(id, "."); {
		case len(parts) > 2:
			return parts[0] + "." + parts[1]
		case len(parts) == 2:
			return parts[0]
		}
	case control.NSA:
		s, _, _ := strings.Cut(id, "/")
		return s
	}
	return id
}

// Frameworks builds the views of r.Compliance.
func (r *Report) Frameworks() []FrameworkView {
	if r.Catalog == nil || len(r.Compliance) == 0 {
		return nil
	}
	// A checklist speaks of everything checked: display filters of
	// severity or control do not make a control pass; excluded files are
	// out of scope.
	failed := map[string]bool{}
	for _, f := range r.Findings {
		if f.Suppressed == nil && !(r.Filter != nil && r.Filter.Paths != nil && f.Position.File != "" && r.Filter.Paths(f.Position.File)) {
			failed[f.ControlID] = true
		}
	}
	type kind struct {
		name     string
		workload bool
	}
	kinds := map[kind]bool{}
	controlPlane := false
	for _, c := range r.Checked {
		kinds[kind{c.Ref.Kind, c.Workload}] = true
		controlPlane = controlPlane || c.ControlPlane
	}
	applies := func(c *control.Control) bool {
		if c.Category == "control-plane" && !controlPlane {
			return false
		}
		for k := range kinds {
			if c.AppliesTo(k.name, k.workload) && !c.Skips(k.name, r.Live) {
				return true
			}
		}
		return false
	}
	var out []FrameworkView
	for _, fw := range r.Compliance {
		v := FrameworkView{Framework: fw, Total: SectionView{ID: "total"}}
		bySection := map[string]*SectionView{}
		for _, c := range r.Catalog.All() {
			secs := map[string]bool{}
			for _, id := range c.RefsFor(fw) {
				secs[section(fw, id)] = true
			}
			if len(secs) == 0 {
				continue
			}
			for _, s := range append(slices.Sorted(maps.Keys(secs)), "") {
				sv := &v.Total
				if s != "" {
					if bySection[s] == nil {
						bySection[s] = &SectionView{ID: s}
					}
					sv = bySection[s]
				}
				switch {
				case failed[c.ID]:
					sv.Failed++
					sv.FailedIDs = append(sv.FailedIDs, c.ID)
				case applies(c):
					sv.Passed++
				default:
					sv.NotApplicable++
				}
			}
		}
		for _, s := range bySection {
			v.Sections = append(v.Sections, *s)
		}
		slices.SortFunc(v.Sections, func(a, b SectionView) int { return compareSections(a.ID, b.ID) })
		for i := range v.Sections {
			v.Sections[i].score()
		}
		v.Total.score()
		out = append(out, v)
	}
	return out
}

func (s *SectionView) score() {
	if n := s.Passed + s.Failed; n > 0 {
		s.Score = float64(int(1000*float64(s.Passed)/float64(n)+0.5)) / 10
	}
}

// compareSections orders 1.2 before 1.10, and names alphabetically.
func compareSections(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < min(len(pa), len(pb)); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

// writeFrameworks writes the checklists as a table.
func writeFrameworks(w interface{ WriteString(string) (int, error) }, r *Report) {
	for _, v := range r.Frameworks() {
		w.WriteString(fmt.Sprintf("%s checklist (controls)      passed  failed  n/a   score\n", v.Framework))
		for _, s := range append(v.Sections, v.Total) {
			score := "    -"
			if s.Passed+s.Failed > 0 {
				score = fmt.Sprintf("%5.1f%%", s.Score)
			}
			line := fmt.Sprintf("  %-28s %6d  %6d  %4d  %s", s.ID, s.Passed, s.Failed, s.NotApplicable, score)
			if len(s.FailedIDs) > 0 && s.ID != "total" {
				line += "  " + strings.Join(s.FailedIDs, ", ")
			}
			w.WriteString(line + "\n")
		}
		w.WriteString("\n")
	}
}
