package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Filter selects the findings a report shows and counts. Every control
// still runs: cross-object controls see every object, and a hidden
// finding is counted as hidden, never dropped silently.
type Filter struct {
	// Severities, when not empty, are the only severities shown.
	Severities []finding.Severity
	// Controls, when not empty, are glob patterns (PSS-*) of the only
	// control IDs shown; Skip are patterns of IDs never shown.
	Controls, Skip []string
	// Frameworks, when not empty, show only controls that reference one
	// of them.
	Frameworks []control.Framework
	// Paths, when set, hides findings located in files it matches
	// (--exclude, .kubeguardignore).
	Paths func(file string) bool
}

// Shows reports whether f (of control c, nil when unknown) is shown.
func (x *Filter) Shows(f *finding.Finding, c *control.Control) bool {
	if len(x.Severities) > 0 && !slices.Contains(x.Severities, f.Severity) {
		return false
	}
	if len(x.Controls) > 0 && !matchAny(x.Controls, f.ControlID) {
		return false
	}
	if matchAny(x.Skip, f.ControlID) {
		return false
	}
	if len(x.Frameworks) > 0 {
		if c == nil || !slices.ContainsFunc(c.Refs, func(r control.Ref) bool { return slices.Contains(x.Frameworks, r.Framework) }) {
			return false
		}
	}
	if x.Paths != nil && f.Position.File != "" && x.Paths(f.Position.File) {
		return false
	}
	return true
}

func matchAny(patterns []string, id string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return control.MatchID(p, id) })
}

// ParseSeverities reads --severity: a comma-separated list
// (critical,high) or a minimum (high+).
func ParseSeverities(s string) ([]finding.Severity, error) {
	var out []finding.Severity
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		min := strings.HasSuffix(part, "+")
		sev, err := finding.ParseSeverity(strings.TrimSuffix(part, "+"))
		if err != nil {
			return nil, err
		}
		if !min {
			out = append(out, sev)
			continue
		}
		for v := sev; v <= finding.Critical; v++ {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no severity in %q", s)
	}
	return out, nil
}

// ParseFrameworks reads --framework names (case-insensitive).
func ParseFrameworks(names []string) ([]control.Framework, error) {
	var out []control.Framework
	for _, n := range names {
		i := slices.IndexFunc(control.Frameworks, func(f control.Framework) bool { return strings.EqualFold(string(f), n) })
		if i < 0 {
			var all []string
			for _, f := range control.Frameworks {
				all = append(all, string(f))
			}
			return nil, fmt.Errorf("unknown framework %q (want one of %s)", n, strings.Join(all, ", "))
		}
		out = append(out, control.Frameworks[i])
	}
	return out, nil
}
