package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

var severityColor = map[finding.Severity]string{
	finding.Critical: "\x1b[1;31m", finding.High: "\x1b[31m", finding.Medium: "\x1b[33m",
	finding.Low: "\x1b[36m", finding.Info: "\x1b[2m",
}

// Table writes findings grouped by object, then diagnostics and a summary.
func Table(out io.Writer, r *Report) error {
	w := bufio.NewWriter(out)
	paint := func(s finding.Severity, text string) string {
		if !r.Color {
			return text
		}
		return severityColor[s] + text + "\x1b[0m"
	}
	listed := r.Listed()
	// group by object, in order of first appearance (findings are sorted
	// by position, so an object's findings are mostly contiguous)
	type group struct {
		ref    object.Ref
		first  object.Position
		origin string
		items  []int
	}
	var groups []*group
	idx := map[string]*group{}
	for i, f := range listed {
		k := f.Position.File + "\x00" + f.Object.String()
		g, ok := idx[k]
		if !ok {
			g = &group{ref: f.Object, first: f.Position, origin: f.Origin}
			idx[k] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, i)
	}
	for _, g := range groups {
		loc := g.first.File
		if loc == "" {
			loc = "(cluster)"
		}
		if g.origin != "" {
			loc += "  (" + g.origin + ")"
		}
		fmt.Fprintf(w, "%s  %s\n", g.ref, loc)
		for _, i := range g.items {
			f := listed[i]
			sev := strings.ToUpper(f.Severity.String())
			pos := ""
			if f.Position.Line > 0 {
				pos = fmt.Sprintf("%d:%d", f.Position.Line, f.Position.Column)
			}
			fmt.Fprintf(w, "  %-8s  %-7s  %-30s %s\n", paint(f.Severity, sev), pos, f.ControlID, f.Message)
			if f.Suppressed != nil {
				fmt.Fprintf(w, "  %-8s  %-7s  %-30s suppressed (%s): %s\n", "", "", "", f.Suppressed.Kind, f.Suppressed.Reason)
			} else if c := r.control(f.ControlID); c != nil && c.Remediation != "" {
				fmt.Fprintf(w, "  %-8s  %-7s  %-30s fix: %s\n", "", "", "", c.Remediation)
			}
		}
		fmt.Fprintln(w)
	}
	for _, d := range r.Diagnostics {
		fmt.Fprintln(w, d.String())
	}
	s := r.Summarize()
	var parts []string
	for sev := finding.Critical; sev >= finding.Info; sev-- {
		if n := s.BySeverity[sev.String()]; n > 0 {
			parts = append(parts, paint(sev, fmt.Sprintf("%d %s", n, sev)))
		}
	}
	counts := "no findings"
	if len(parts) > 0 {
		counts = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "%d objects in %d inputs: %s", s.Objects, s.Inputs, counts)
	if s.Suppressed > 0 {
		fmt.Fprintf(w, "; %d suppressed", s.Suppressed)
	}
	if s.Errors > 0 {
		fmt.Fprintf(w, "; %d input errors", s.Errors)
	}
	fmt.Fprintln(w)
	return w.Flush()
}
