// Package report renders findings. Every format is a pure function of a
// Report: adding a format never touches a control.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Report is the input of every format.
type Report struct {
	Tool        string
	Version     string
	Catalog     *control.Catalog
	Findings    []*finding.Finding // all of them, suppressed included
	Diagnostics []object.Diagnostic
	Objects     int
	Inputs      int
	// Folded counts objects left out because their controller, also read,
	// reports their findings (pods of a Deployment in a cluster or a dump).
	Folded int
	// ShowSuppressed lists suppressed findings (they are always counted).
	ShowSuppressed bool
	// FailOn is the threshold that makes the exit code 1.
	FailOn finding.Severity
	// Color enables ANSI colours in the table.
	Color bool
	// GroupBy groups the table by object (default), control, file or
	// namespace; SummaryOnly prints counts instead of findings.
	GroupBy     string
	SummaryOnly bool
	// UIDs name the live objects of a cluster scan (policy reports cite
	// them).
	UIDs map[object.Ref]string
	// Configs say which configuration file applied to which inputs.
	Configs []ConfigUse
	// Filter selects the findings shown and counted (nil: all).
	Filter *Filter
	// Checked are the objects evaluated, for formats that list what
	// passed (JUnit).
	Checked []Checked
	// Follow, for a page served live (the dashboard), is where the page
	// asks whether the reports changed since it was written.
	Follow *Follow
	// Title heads the HTML report ("kubeguard report" when empty).
	Title string
	// OnlyFailed says Checked holds only objects with findings, as read
	// back from PolicyReports, which name no object that passed.
	OnlyFailed bool
	// Live is true for objects read from a cluster.
	Live bool
	// Compliance lists the frameworks whose per-section view the report
	// includes (--framework).
	Compliance []control.Framework
	// HiddenDiagnostics counts the diagnostics of excluded files.
	HiddenDiagnostics int
	// MaxResults caps the results of a SARIF run (0: GitHub's 25,000).
	MaxResults int
	// Scanned says in words what was read ("1 file"), for the summary
	// line; "" says "N inputs".
	Scanned string
	// Checklists are benchmarks evaluated item by item (kubeguard node):
	// every format shows them beside the findings of their failed items.
	Checklists []Checklist
	// Baseline, when set, marks each finding new or unchanged and lists
	// the fixed ones (--baseline); with FailOnNew only new findings
	// make the exit code 1.
	Baseline  *Baseline
	FailOnNew bool
	// History are earlier reports' counts, oldest first, which the HTML
	// report draws as a trend ending with this one (--history).
	History []HistoryPoint
	// Pictures are drawings of the input the HTML report shows (the RBAC
	// escalation graph, the NetworkPolicy matrix).
	Pictures []Picture
	// Reach is each object's reach by ReachKey, for the objects that
	// have any.
	Reach map[string]Reach

	// merged caches Problems (a report is written by one goroutine).
	merged *merged
}

type merged struct {
	problems []*finding.Problem
	hidden   int
	expired  []*finding.Finding
	// against the baseline, computed once: every format asks
	states map[*finding.Problem]string
	fixed  []BaselineFinding
}

// Checked is an object that was evaluated, and where it starts.
type Checked struct {
	Ref      object.Ref
	Source   object.Position
	Workload bool // carries a pod spec
	// ControlPlane is true for a workload running a control-plane
	// component, the only objects the control-plane controls check.
	ControlPlane bool
}

// Passed returns the checked objects without an open problem shown.
func (r *Report) Passed() []Checked {
	failed := map[object.Ref]bool{}
	for _, p := range r.Problems() {
		if p.Open() {
			failed[p.Object] = true
			for _, rd := range p.Renders {
				failed[rd.Object] = true
			}
		}
	}
	var out []Checked
	for _, c := range r.Checked {
		if !failed[c.Ref] {
			out = append(out, c)
		}
	}
	return out
}

// ConfigUse is a configuration file ("" for none) and the inputs it
// applied to.
type ConfigUse struct {
	Path   string   `json:"path"`
	Inputs []string `json:"inputs"`
}

// Listed returns the problems a format prints: the findings the filter
// shows, merged into problems (see finding.Problem), without the
// suppressed ones unless ShowSuppressed.
func (r *Report) Listed() []*finding.Problem {
	all := r.Problems()
	if r.ShowSuppressed || !slices.ContainsFunc(all, func(p *finding.Problem) bool { return !p.Open() }) {
		return all // no copy: large scans list hundreds of thousands
	}
	out := make([]*finding.Problem, 0, len(all))
	for _, p := range all {
		if p.Open() {
			out = append(out, p)
		}
	}
	return out
}

// Problems returns every problem the filter shows, suppressed included.
func (r *Report) Problems() []*finding.Problem {
	if r.merged == nil {
		m := &merged{}
		shown := r.Findings
		if r.Filter != nil {
			shown = make([]*finding.Finding, 0, len(r.Findings))
			for _, f := range r.Findings {
				if r.Filter.Shows(f, r.control(f.ControlID)) {
					shown = append(shown, f)
				} else {
					m.hidden++
				}
			}
		}
		m.problems = finding.Merge(shown)
		expired := func(f *finding.Finding) {
			if f.Expired != nil && f.Suppressed == nil {
				m.expired = append(m.expired, f)
			}
		}
		for _, p := range m.problems {
			expired(p.Finding)
			for _, f := range p.Also {
				expired(f)
			}
		}
		if r.Baseline != nil {
			m.states, m.fixed = r.Baseline.compare(r.Findings, m.problems)
		}
		r.merged = m
	}
	return r.merged.problems
}

// Expired returns the findings of the shown problems whose suppression
// has expired: they count again, and reports name them.
func (r *Report) Expired() []*finding.Finding {
	r.Problems()
	return r.merged.expired
}

// Summary counts problems: findings of several controls on one field, or
// of one source line in several renders, count once.
type Summary struct {
	Objects    int            `json:"objects"`
	Inputs     int            `json:"inputs"`
	Folded     int            `json:"folded,omitempty"`
	Findings   int            `json:"findings"`
	Suppressed int            `json:"suppressed"`
	BySeverity map[string]int `json:"bySeverity"`
	// Hidden counts findings the display filters left out (each control's
	// finding once).
	Hidden int `json:"hidden,omitempty"`
	// Expired counts findings whose suppression has expired.
	Expired int `json:"expiredSuppressions,omitempty"`
	// HiddenDiagnostics counts diagnostics of excluded files.
	HiddenDiagnostics int `json:"hiddenDiagnostics,omitempty"`
	Errors            int `json:"inputErrors"`
	// Failed is true when an unsuppressed problem is at or above FailOn
	// (a new one, with FailOnNew).
	Failed bool `json:"failed"`
	// Baseline counts the open problems new and unchanged since the
	// baseline, and its findings fixed.
	Baseline *BaselineSummary `json:"baseline,omitempty"`
}

// Reach is how far a problem in an object spreads beyond it: the power
// of the ServiceAccount its pods run as, its exposure to the internet.
// The HTML report ranks its worst risks by severity, then reach.
type Reach struct {
	Score int
	Why   []string // furthest first
}

// ReachKey identifies an object in Report.Reach: its reference and where
// it starts, which tell apart two objects of one name in a scan.
func ReachKey(ref object.Ref, at object.Position) string {
	return fmt.Sprintf("%s@%s:%d", ref, at.File, at.Line)
}

// Follow is what a live page polls: URL answers the current generation
// of the reports, Generation is the page's own.
type Follow struct {
	URL        string
	Generation int64
	Every      time.Duration
}

// Picture is an SVG drawn by kubeguard (its text escaped where it
// quotes names), with a title and what it shows.
type Picture struct {
	Title, Caption, SVG string
}

// BaselineSummary compares a report with its baseline.
type BaselineSummary struct {
	Path      string `json:"path"`
	New       int    `json:"new"`
	Unchanged int    `json:"unchanged"`
	Fixed     int    `json:"fixed"`
}

// Summarize counts r's problems.
func (r *Report) Summarize() Summary {
	ps := r.Problems()
	s := Summary{Objects: r.Objects, Inputs: r.Inputs, Folded: r.Folded, BySeverity: map[string]int{}, Hidden: r.merged.hidden, HiddenDiagnostics: r.HiddenDiagnostics,
		Expired: len(r.merged.expired)}
	if r.Baseline != nil {
		s.Baseline = &BaselineSummary{Path: r.Baseline.Path, Fixed: len(r.Fixed())}
	}
	for _, p := range ps {
		if !p.Open() {
			s.Suppressed++
			continue
		}
		s.Findings++
		s.BySeverity[p.Severity.String()]++
		state := r.State(p)
		switch state {
		case StateNew:
			s.Baseline.New++
		case StateUnchanged:
			s.Baseline.Unchanged++
		}
		if r.FailOn != 0 && p.Severity >= r.FailOn && (!r.FailOnNew || state != StateUnchanged) {
			s.Failed = true
		}
	}
	for _, d := range r.Diagnostics {
		if d.Severity == object.SeverityError {
			s.Errors++
		}
	}
	return s
}

// Formats lists the output formats.
var Formats = []string{"table", "json", "sarif", "junit", "policyreport", "html"}

// Write renders r in format to w.
func Write(w io.Writer, format string, r *Report) error {
	switch format {
	case "table", "":
		return Table(w, r)
	case "json":
		return JSON(w, r)
	case "sarif":
		return SARIF(w, r)
	case "junit":
		return JUnit(w, r)
	case "policyreport":
		return PolicyReport(w, r)
	case "html":
		return HTML(w, r)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func (r *Report) control(id string) *control.Control {
	if r.Catalog == nil {
		return nil
	}
	c, _ := r.Catalog.Get(id)
	return c
}
