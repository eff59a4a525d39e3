package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

var severityColor = map[finding.Severity]string{
	finding.Critical: "\x1b[1;31m", finding.High: "\x1b[31m", finding.Medium: "\x1b[33m",
	finding.Low: "\x1b[36m", finding.Info: "\x1b[2m",
}

// pad writes s left-aligned in n characters.
func pad(w *bufio.Writer, s string, n int) {
	w.WriteString(s)
	w.WriteString(spaces(n - utf8.RuneCountInString(s)))
}

const manySpaces = "                                        "

// spaces returns n spaces (none when n is not positive).
func spaces(n int) string {
	if n <= 0 {
		return ""
	}
	if n > len(manySpaces) {
		return strings.Repeat(" ", n)
	}
	return manySpaces[:n]
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
	type groupKey struct {
		file string
		ref  object.Ref
	}
	var groups []*group
	idx := map[groupKey]*group{}
	for i, f := range listed {
		k := groupKey{f.Position.File, f.Object}
		g, ok := idx[k]
		if !ok {
			g = &group{ref: f.Object, first: f.Position, origin: f.Origin}
			idx[k] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, i)
	}
	// Lines are written field by field, padded as fmt's %-Ns pads (by
	// characters): large scans list hundreds of thousands of findings.
	var sevs [finding.Critical + 1]string
	for sev := range sevs {
		sevs[sev] = paint(finding.Severity(sev), strings.ToUpper(finding.Severity(sev).String()))
	}
	const blank = "  " + "        " + "  " + "       " + "  " + "                              " + " "
	var num []byte
	for _, g := range groups {
		loc := g.first.File
		if loc == "" {
			loc = "(cluster)"
		}
		if g.origin != "" {
			loc += "  (" + g.origin + ")"
		}
		w.WriteString(g.ref.String())
		w.WriteString("  ")
		w.WriteString(loc)
		w.WriteByte('\n')
		for _, i := range g.items {
			f := listed[i]
			w.WriteString("  ")
			pad(w, sevs[f.Severity], 8)
			w.WriteString("  ")
			num = num[:0]
			if f.Position.Line > 0 {
				num = strconv.AppendInt(num, int64(f.Position.Line), 10)
				num = append(num, ':')
				num = strconv.AppendInt(num, int64(f.Position.Column), 10)
			}
			w.Write(num)
			w.WriteString(spaces(7 - len(num)))
			w.WriteString("  ")
			pad(w, f.ControlID, 30)
			w.WriteByte(' ')
			w.WriteString(f.Message)
			w.WriteByte('\n')
			if ids := f.ControlIDs(); len(ids) > 1 {
				w.WriteString(blank + "also: ")
				for j, id := range ids[1:] {
					if j > 0 {
						w.WriteString(", ")
					}
					w.WriteString(id)
					if !slices.ContainsFunc(f.Also, func(a *finding.Finding) bool { return a.ControlID == id && a.Suppressed == nil }) {
						w.WriteString(" (suppressed)")
					}
				}
				w.WriteByte('\n')
			}
			if len(f.Renders) > 0 {
				w.WriteString(blank + "also in: ")
				w.WriteString(renderList(f.Renders, 5))
				w.WriteByte('\n')
			}
			if f.Expired != nil && f.Suppressed == nil {
				w.WriteString(blank + "suppression expired ")
				w.WriteString(f.Expired.Expires)
				w.WriteString(" (")
				w.WriteString(f.Expired.Kind)
				w.WriteString("): ")
				w.WriteString(f.Expired.Reason)
				w.WriteByte('\n')
			}
			if f.Suppressed != nil {
				w.WriteString(blank + "suppressed (")
				w.WriteString(f.Suppressed.Kind)
				w.WriteString("): ")
				w.WriteString(f.Suppressed.Reason)
				w.WriteByte('\n')
			} else if c := r.control(f.ControlID); c != nil && c.Remediation != "" {
				w.WriteString(blank + "fix: ")
				w.WriteString(c.Remediation)
				w.WriteByte('\n')
			}
		}
		w.WriteByte('\n')
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
	in := r.Scanned
	if in == "" {
		in = fmt.Sprintf("%d inputs", s.Inputs)
	}
	fmt.Fprintf(w, "%d objects in %s", s.Objects, in)
	if s.Folded > 0 {
		fmt.Fprintf(w, " (%d more folded into their controllers)", s.Folded)
	}
	fmt.Fprintf(w, ": %s", counts)
	if s.Suppressed > 0 {
		fmt.Fprintf(w, "; %d suppressed", s.Suppressed)
	}
	if s.Expired > 0 {
		fmt.Fprintf(w, "; %d expired suppressions", s.Expired)
	}
	if s.Hidden > 0 {
		fmt.Fprintf(w, "; %d findings hidden by filters", s.Hidden)
	}
	if s.Errors > 0 {
		fmt.Fprintf(w, "; %d input errors", s.Errors)
	}
	fmt.Fprintln(w)
	return w.Flush()
}

// renderList names renders, at most max of them.
func renderList(rs []finding.Render, max int) string {
	var parts []string
	for i, r := range rs {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(rs)-max))
			break
		}
		s := r.Object.String()
		if r.Origin != "" {
			s += " (" + r.Origin + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
