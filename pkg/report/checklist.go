package report

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Status is a checklist item's verdict, with kube-bench's meanings.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Warn is an item the benchmark leaves to judgement (unscored) whose
	// setting does not pass, or a finding that needs a person's eye.
	Warn          Status = "warn"
	NotApplicable Status = "not applicable"
	// Manual is an item no program can judge: the detail says what a
	// person runs to judge it.
	Manual Status = "manual"
)

// Statuses are the verdicts in the order reports count them.
var Statuses = []Status{Pass, Fail, Warn, Manual, NotApplicable}

// Checklist is a benchmark evaluated item by item on one target
// (kubeguard node on a node): what passed, what a person must judge and
// what did not apply, beside the findings of what failed.
type Checklist struct {
	Benchmark string `json:"benchmark"`
	// Target is what the checklist is about (the Node); its failed items'
	// findings are about it too.
	Target object.Ref `json:"target"`
	// Kind says what the target is ("control-plane node").
	Kind string `json:"kind,omitempty"`
	// Notes say what was read, or why a section was not checked.
	Notes    []string           `json:"notes,omitempty"`
	Sections []ChecklistSection `json:"sections"`
}

// ChecklistSection is a section of the benchmark with its counts.
type ChecklistSection struct {
	ID      string          `json:"id"`
	Title   string          `json:"title"`
	Results []ChecklistItem `json:"results"`
	Counts  map[Status]int  `json:"counts"`
}

// ChecklistItem is one benchmark item on one target.
type ChecklistItem struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Scored      bool   `json:"scored"`
	Status      Status `json:"status"`
	Detail      string `json:"detail"`
	Remediation string `json:"remediation"`
	// Read names the files and processes the verdict rests on.
	Read []string `json:"read,omitempty"`
	// Control is the catalog control that reports the item when it
	// fails; Severity is its severity.
	Control  string           `json:"control,omitempty"`
	Severity finding.Severity `json:"severity,omitempty"`
	// Position is where to fix a failing item: the setting in its file,
	// or the file itself (line 0) when its mode or owner is wrong. Field
	// is the setting (--flag, or a config file's dotted field).
	Position object.Position `json:"position,omitzero"`
	Field    string          `json:"field,omitempty"`
	// Suppressed says why the failing item's finding does not count.
	Suppressed string `json:"suppressed,omitempty"`
}

// failing reports whether an item fails the run: failed, and its
// finding not suppressed.
func (it *ChecklistItem) failing() bool { return it.Status == Fail && it.Suppressed == "" }

// Count tallies the checklist's verdicts.
func (c *Checklist) Count() map[Status]int {
	out := map[Status]int{}
	for _, s := range c.Sections {
		for st, n := range s.Counts {
			out[st] += n
		}
	}
	return out
}

var statusLabel = map[Status]string{Pass: "[PASS]", Fail: "[FAIL]", Warn: "[WARN]", Manual: "[MANUAL]", NotApplicable: "[N/A]"}

func countLine(c map[Status]int) string {
	var parts []string
	for _, st := range Statuses {
		parts = append(parts, fmt.Sprintf("%d %s", c[st], st))
	}
	return strings.Join(parts, ", ")
}

// writeChecklists prints each checklist as kube-bench does: every item
// with its verdict, and the counts of each section and of the whole.
func writeChecklists(w *bufio.Writer, r *Report) {
	for _, c := range r.Checklists {
		fmt.Fprintf(w, "%s on %s", c.Benchmark, c.Target.Name)
		if c.Kind != "" {
			fmt.Fprintf(w, " (%s)", c.Kind)
		}
		w.WriteString("\n")
		for _, n := range c.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
		for _, s := range c.Sections {
			fmt.Fprintf(w, "\n%s %s\n", s.ID, s.Title)
			for _, it := range s.Results {
				fmt.Fprintf(w, "  %-8s %-7s %s: %s", statusLabel[it.Status], it.ID, it.Title, it.Detail)
				if it.Suppressed != "" {
					fmt.Fprintf(w, " (suppressed: %s)", it.Suppressed)
				}
				w.WriteString("\n")
			}
			fmt.Fprintf(w, "  %s\n", countLine(s.Counts))
		}
		n := 0
		total := c.Count()
		for _, v := range total {
			n += v
		}
		fmt.Fprintf(w, "\n%d checks: %s\n\n", n, countLine(total))
	}
}

// checklistResults are a checklist's items as policy report results:
// fail (skip when its finding is suppressed), pass, warn (manual items
// too) and skip for what did not apply.
func checklistResults(c Checklist, ts map[string]any) ([]any, map[string]any) {
	summary := map[string]any{"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
	var out []any
	for _, s := range c.Sections {
		for _, it := range s.Results {
			result := map[Status]string{Pass: "pass", Fail: "fail", Warn: "warn", Manual: "warn", NotApplicable: "skip"}[it.Status]
			msg := it.Detail
			if it.Suppressed != "" && (it.Status == Fail || it.Status == Warn) {
				result, msg = "skip", msg+" (suppressed: "+it.Suppressed+")"
			}
			summary[result] = summary[result].(int) + 1
			res := map[string]any{
				"source": "kubeguard", "policy": c.Benchmark + " " + it.ID, "rule": it.Title, "category": s.ID + " " + s.Title,
				"result": result, "message": msg, "scored": it.Scored, "timestamp": ts,
				"resources": []any{map[string]any{"apiVersion": c.Target.APIVersion, "kind": c.Target.Kind, "name": c.Target.Name}},
			}
			if it.Severity != 0 && (it.Status == Fail || it.Status == Warn) {
				res["severity"] = policySeverity(it.Severity)
			}
			props := map[string]any{}
			if it.Control != "" {
				props["control"] = it.Control
			}
			if it.Position.File != "" {
				props["file"] = it.Position.String()
			}
			if len(it.Read) > 0 {
				props["read"] = strings.Join(it.Read, ", ")
			}
			if len(props) > 0 {
				res["properties"] = props
			}
			out = append(out, res)
		}
	}
	return out, summary
}

// appendChecklistSuites writes a test suite per checklist section and a
// case per item: failed items fail (a suppressed one is skipped, with
// why), items a person must judge or that did not apply are skipped,
// warnings pass with their detail as output.
func appendChecklistSuites(b []byte, r *Report) []byte {
	for _, c := range r.Checklists {
		for _, s := range c.Sections {
			failures, skipped := 0, 0
			for _, it := range s.Results {
				switch {
				case it.failing():
					failures++
				case it.Status == Fail, it.Status == Manual, it.Status == NotApplicable:
					skipped++
				}
			}
			b = appendSuiteStart(b, c.Target.Name+" "+c.Benchmark+" "+s.ID+" "+s.Title, len(s.Results), failures, 0, skipped)
			for _, it := range s.Results {
				b = append(b, "\n    <testcase name=\""...)
				b = appendXML(b, it.ID+" "+it.Title)
				b = appendCaseAttrs(b, c.Benchmark+"."+s.ID)
				switch {
				case it.failing():
					b = append(b, "\n      <failure"...)
					b = appendAttr(b, "message", it.Detail)
					b = appendAttr(b, "type", it.Severity.String())
					b = append(b, '>')
					if it.Position.File != "" {
						b = appendPosition(b, it.Position)
						b = append(b, "&#xA;"...)
					}
					b = appendXML(b, it.Detail)
					b = append(b, "&#xA;Remediation: "...)
					b = appendXML(b, it.Remediation)
					b = append(b, "</failure>"...)
				case it.Status == Fail:
					b = append(b, "\n      <skipped>suppressed: "...)
					b = appendXML(b, it.Suppressed)
					b = append(b, "</skipped>"...)
				case it.Status == Manual || it.Status == NotApplicable:
					b = append(b, "\n      <skipped>"...)
					b = appendXML(b, string(it.Status)+": "+it.Detail)
					b = append(b, "</skipped>"...)
				default:
					b = append(b, "\n      <system-out>"...)
					b = appendXML(b, string(it.Status)+": "+it.Detail)
					b = append(b, "</system-out>"...)
				}
				b = append(b, "\n    </testcase>"...)
			}
			b = append(b, "\n  </testsuite>"...)
		}
	}
	return b
}

// inChecklist reports whether a finding is one of a checklist's items:
// the checklist's own report and cases carry it.
func (r *Report) inChecklist() func(f *finding.Finding) bool {
	type key struct {
		target  object.Ref
		control string
	}
	items := map[key]bool{}
	for _, c := range r.Checklists {
		for _, s := range c.Sections {
			for _, it := range s.Results {
				items[key{c.Target, it.Control}] = true
			}
		}
	}
	return func(f *finding.Finding) bool { return items[key{f.Object, f.ControlID}] }
}
