package report

import (
	"bufio"
	"cmp"
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

// Table writes findings grouped by object (or by GroupBy), then a
// summary; with SummaryOnly, counts instead of findings. Diagnostics are
// the caller's to print (on stderr).
func Table(out io.Writer, r *Report) error {
	w := bufio.NewWriter(out)
	paint := func(s finding.Severity, text string) string {
		if !r.Color {
			return text
		}
		return severityColor[s] + text + "\x1b[0m"
	}
	if !r.SummaryOnly {
		writeChecklists(w, r)
	}
	if r.SummaryOnly {
		writeCounts(w, r, paint)
	} else {
		writeFindings(w, r, paint)
	}
	writeFrameworks(w, r)
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
	if b := s.Baseline; b != nil {
		fmt.Fprintf(w, "; since the baseline: %d new, %d unchanged, %d fixed", b.New, b.Unchanged, b.Fixed)
	}
	fmt.Fprintln(w)
	return w.Flush()
}

func writeFindings(w *bufio.Writer, r *Report, paint func(finding.Severity, string) string) {
	listed := r.Listed()
	// group in order of first appearance (findings are sorted by
	// position, so an object's findings are mostly contiguous)
	type group struct {
		first *finding.Problem
		items []int
	}
	type groupKey struct {
		file string
		ref  object.Ref
		id   string
	}
	by := r.GroupBy
	key := func(p *finding.Problem) groupKey {
		switch by {
		case "control":
			return groupKey{id: p.ControlID}
		case "file":
			return groupKey{file: p.Position.File}
		case "namespace":
			return groupKey{id: p.Object.Namespace}
		}
		return groupKey{file: p.Position.File, ref: p.Object}
	}
	var groups []*group
	idx := map[groupKey]*group{}
	for i, p := range listed {
		k := key(p)
		g, ok := idx[k]
		if !ok {
			g = &group{first: p}
			idx[k] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, i)
	}
	if by == "control" || by == "namespace" {
		// most severe groups first, then by name
		slices.SortStableFunc(groups, func(a, b *group) int {
			if by == "control" {
				if c := cmp.Compare(b.first.Severity, a.first.Severity); c != 0 {
					return c
				}
				return cmp.Compare(a.first.ControlID, b.first.ControlID)
			}
			return cmp.Compare(a.first.Object.Namespace, b.first.Object.Namespace)
		})
	}
	// Lines are written field by field, padded as fmt's %-Ns pads (by
	// characters) before they are coloured: large scans list hundreds of
	// thousands of findings.
	var sevs [finding.Critical + 1]string
	for sev := range sevs {
		name := strings.ToUpper(finding.Severity(sev).String())
		sevs[sev] = paint(finding.Severity(sev), name+spaces(8-len(name)))
	}
	const blank = "  " + "        " + "  " + "       " + "  " + "                              " + " "
	var num []byte
	for _, g := range groups {
		f := g.first
		switch by {
		case "control":
			w.WriteString(f.ControlID)
			if c := r.control(f.ControlID); c != nil {
				w.WriteString("  " + c.Title)
			}
		case "file":
			w.WriteString(orCluster(f.Finding))
		case "namespace":
			if f.Object.Namespace == "" {
				w.WriteString("(cluster-scoped)")
			} else {
				w.WriteString("namespace " + f.Object.Namespace)
			}
		default:
			loc := orCluster(f.Finding)
			if f.Origin != "" {
				loc += "  (" + f.Origin + ")"
			}
			w.WriteString(f.Object.String())
			w.WriteString("  ")
			w.WriteString(loc)
		}
		w.WriteByte('\n')
		for _, i := range g.items {
			f := listed[i]
			w.WriteString("  ")
			w.WriteString(sevs[f.Severity])
			w.WriteString("  ")
			num = num[:0]
			if f.Position.Line > 0 {
				num = strconv.AppendInt(num, int64(f.Position.Line), 10)
				num = append(num, ':')
				num = strconv.AppendInt(num, int64(f.Position.Column), 10)
			}
			if by == "control" || by == "namespace" {
				// SEV  CONTROL  object: message, then where on a line of its own
				w.WriteString(spaces(9))
				pad(w, f.ControlID, 30)
				w.WriteByte(' ')
				w.WriteString(f.Object.String())
				w.WriteString(": ")
				if r.State(f) == StateNew {
					w.WriteString("[new] ")
				}
				w.WriteString(f.Message)
				w.WriteString("\n" + blank + "at ")
				w.WriteString(orCluster(f.Finding))
				if len(num) > 0 {
					w.WriteByte(':')
					w.Write(num)
				}
				w.WriteByte('\n')
			} else {
				w.Write(num)
				w.WriteString(spaces(7 - len(num)))
				w.WriteString("  ")
				pad(w, f.ControlID, 30)
				w.WriteByte(' ')
				if by == "file" {
					w.WriteString(f.Object.String())
					w.WriteString(": ")
				}
				if r.State(f) == StateNew {
					w.WriteString("[new] ")
				}
				w.WriteString(f.Message)
				w.WriteByte('\n')
			}
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
			if v := f.Vuln; v != nil {
				writeVuln(w, blank, v)
			}
			if f.Suppressed != nil {
				w.WriteString(blank + "suppressed (")
				w.WriteString(f.Suppressed.Kind)
				w.WriteString("): ")
				w.WriteString(f.Suppressed.Reason)
				w.WriteByte('\n')
			} else if f.Vuln != nil {
				w.WriteString(blank + "fix: ")
				w.WriteString(vulnFix(f.Vuln))
				w.WriteByte('\n')
			} else if c := r.control(f.ControlID); c != nil && c.Remediation != "" {
				w.WriteString(blank + "fix: ")
				w.WriteString(c.Remediation)
				w.WriteByte('\n')
			}
		}
		w.WriteByte('\n')
	}
}

// orCluster names where a finding is: its file, else the image, node or
// cluster it was read from.
func orCluster(f *finding.Finding) string {
	switch {
	case f.Position.File != "":
		return f.Position.File
	case f.Vuln != nil:
		return "(image)"
	case f.Object.Kind == "Node":
		return "(node)"
	}
	return "(cluster)"
}

// writeCounts writes the --summary tables: problems by control, by file
// and by object (the most first), and suppression counts.
func writeCounts(w *bufio.Writer, r *Report, paint func(finding.Severity, string) string) {
	type row struct {
		name  string
		sev   finding.Severity // the most severe
		n     int
		bySev [finding.Critical + 1]int
	}
	tally := func(key func(*finding.Problem) string) []*row {
		idx := map[string]*row{}
		var rows []*row
		for _, p := range r.Problems() {
			if !p.Open() {
				continue
			}
			k := key(p)
			rw, ok := idx[k]
			if !ok {
				rw = &row{name: k}
				idx[k] = rw
				rows = append(rows, rw)
			}
			rw.n++
			rw.bySev[p.Severity]++
			rw.sev = max(rw.sev, p.Severity)
		}
		slices.SortStableFunc(rows, func(a, b *row) int {
			for s := finding.Critical; s >= finding.Info; s-- {
				if c := cmp.Compare(b.bySev[s], a.bySev[s]); c != 0 {
					return c
				}
			}
			return cmp.Compare(a.name, b.name)
		})
		return rows
	}
	sevCounts := func(rw *row) string {
		var parts []string
		for s := finding.Critical; s >= finding.Info; s-- {
			if rw.bySev[s] > 0 {
				parts = append(parts, paint(s, fmt.Sprintf("%d %s", rw.bySev[s], s)))
			}
		}
		return strings.Join(parts, ", ")
	}
	section := func(title string, rows []*row, limit int, label func(*row) string) {
		if len(rows) == 0 {
			return
		}
		shown := rows
		if limit > 0 && len(rows) > limit {
			shown = rows[:limit]
			title += fmt.Sprintf(" (top %d of %d)", limit, len(rows))
		}
		w.WriteString(title + "\n")
		width := 0
		for _, rw := range shown {
			width = max(width, utf8.RuneCountInString(label(rw)))
		}
		for _, rw := range shown {
			w.WriteString("  ")
			pad(w, label(rw), width)
			fmt.Fprintf(w, "  %6d  %s\n", rw.n, sevCounts(rw))
		}
		w.WriteByte('\n')
	}
	section("By control", tally(func(p *finding.Problem) string { return p.ControlID }), 0, func(rw *row) string {
		if c := r.control(rw.name); c != nil {
			return rw.name + "  " + c.Title
		}
		return rw.name
	})
	section("By file", tally(func(p *finding.Problem) string { return orCluster(p.Finding) }), 20, func(rw *row) string { return rw.name })
	section("By namespace", tally(func(p *finding.Problem) string {
		if p.Object.Namespace == "" {
			return "(cluster-scoped)"
		}
		return p.Object.Namespace
	}), 20, func(rw *row) string { return rw.name })
	section("Top objects", tally(func(p *finding.Problem) string { return p.Object.String() }), 10, func(rw *row) string { return rw.name })
	if expired := r.Expired(); len(expired) > 0 {
		w.WriteString("Expired suppressions\n")
		for _, f := range expired {
			fmt.Fprintf(w, "  %s on %s: %s suppression expired %s (%s)\n", f.ControlID, f.Object, f.Expired.Kind, f.Expired.Expires, f.Expired.Reason)
		}
		w.WriteByte('\n')
	}
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

// writeVuln says where an image vulnerability is: the file the package
// was read from, the layer and instruction that added it, and the
// advisories' other names.
func writeVuln(w *bufio.Writer, blank string, v *finding.Vulnerability) {
	w.WriteString(blank + "in: ")
	w.WriteString(strings.Join(v.Paths, ", "))
	fmt.Fprintf(w, " (layer %d", v.Layer)
	if v.LayerCommand != "" {
		w.WriteString(": ")
		w.WriteString(strings.TrimSpace(v.LayerCommand))
	}
	w.WriteString(")\n")
	if len(v.Aliases) > 0 {
		w.WriteString(blank + "aka: ")
		w.WriteString(strings.Join(v.Aliases, ", "))
		w.WriteByte('\n')
	}
}

// vulnFix is the remediation of one image vulnerability.
func vulnFix(v *finding.Vulnerability) string {
	switch {
	case v.Fixed == "":
		return "no fixed version yet: accept the risk with a reason and an expiry, or replace the package"
	case v.BaseLayer:
		return "rebuild on a base image with " + v.Package + " " + v.Fixed + " or later"
	}
	return "update " + v.Package + " to " + v.Fixed + " or later"
}
