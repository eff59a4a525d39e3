// Package report renders findings. Every format is a pure function of a
// Report: adding a format never touches a control.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

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
	// UIDs name the live objects of a cluster scan (policy reports cite
	// them).
	UIDs map[object.Ref]string
	// Configs say which configuration file applied to which inputs.
	Configs []ConfigUse
}

// ConfigUse is a configuration file ("" for none) and the inputs it
// applied to.
type ConfigUse struct {
	Path   string   `json:"path"`
	Inputs []string `json:"inputs"`
}

// Listed returns the findings a format prints.
func (r *Report) Listed() []*finding.Finding {
	if r.ShowSuppressed || !slices.ContainsFunc(r.Findings, func(f *finding.Finding) bool { return f.Suppressed != nil }) {
		return r.Findings // no copy: large scans list hundreds of thousands
	}
	out := make([]*finding.Finding, 0, len(r.Findings))
	for _, f := range r.Findings {
		if f.Suppressed == nil {
			out = append(out, f)
		}
	}
	return out
}

// Summary counts findings.
type Summary struct {
	Objects    int            `json:"objects"`
	Inputs     int            `json:"inputs"`
	Folded     int            `json:"folded,omitempty"`
	Findings   int            `json:"findings"`
	Suppressed int            `json:"suppressed"`
	BySeverity map[string]int `json:"bySeverity"`
	Errors     int            `json:"inputErrors"`
	// Failed is true when an unsuppressed finding is at or above FailOn.
	Failed bool `json:"failed"`
}

// Summarize counts r's findings.
func (r *Report) Summarize() Summary {
	s := Summary{Objects: r.Objects, Inputs: r.Inputs, Folded: r.Folded, BySeverity: map[string]int{}}
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			s.Suppressed++
			continue
		}
		s.Findings++
		s.BySeverity[f.Severity.String()]++
		if r.FailOn != 0 && f.Severity >= r.FailOn {
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
var Formats = []string{"table", "json", "sarif", "junit", "policyreport"}

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
