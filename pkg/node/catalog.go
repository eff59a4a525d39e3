package node

import (
	"slices"

	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Item is a check as the catalog lists it: one control per benchmark
// item, whichever benchmark versions have it.
type Item struct {
	ID, Control, Title, Remediation string
	Section                         string // the section's title
	Scored                          bool
	Severity                        finding.Severity
	// Manual items are never reported as findings: a person judges them.
	Manual bool
	// Rationale and Refs are set for the items outside the benchmark.
	Rationale string
	Refs      []string
}

// Items lists every check kubeguard node runs, in benchmark order; an
// item that differs between versions is listed as the newest has it.
func Items() []Item {
	var out []Item
	seen := map[string]int{}
	all := slices.Concat([]group{master, apiServerChecks, controllerManagerChecks, schedulerChecks, etcdChecks, controlPlaneConfig}, worker, []group{keysAndHost})
	for _, g := range all {
		for _, c := range g.checks {
			it := Item{ID: c.id, Control: c.controlID(), Title: c.title, Remediation: c.remediation, Section: g.title,
				Scored: c.scored, Severity: c.defaultSeverity(), Manual: c.manual, Rationale: c.rationale, Refs: c.refs}
			if i, ok := seen[c.id]; ok {
				if c.in == nil || slices.Contains(c.in, Benchmarks[len(Benchmarks)-1]) {
					out[i] = it
				}
				continue
			}
			seen[c.id] = len(out)
			out = append(out, it)
		}
	}
	return out
}
