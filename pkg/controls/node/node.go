// Package node holds the controls kubeguard node evaluates on a node's
// host: every automatable item of the CIS Kubernetes Benchmark's
// sections 1 to 4 (CIS-<item>), and kubeguard's checks of keys,
// certificates and host hardening (NODE-*).
package node

import (
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/node"
)

// Controls returns one External control per item; manual items, which
// only a person judges, have none.
func Controls() []*control.Control {
	var out []*control.Control
	for _, it := range node.Items() {
		if it.Manual {
			continue
		}
		c := &control.Control{ID: it.Control, Title: it.Title, Severity: it.Severity, Category: "node",
			Rationale: it.Rationale, Remediation: it.Remediation, Refs: control.Refs(it.Refs...),
			External: true, Kinds: []string{control.NodeHostKind}}
		if it.Rationale == "" {
			c.Rationale = "CIS Kubernetes Benchmark " + it.ID + " (" + it.Section + "), "
			if it.Scored {
				c.Rationale += "an automated item."
			} else {
				c.Rationale += "a manual item whose setting kubeguard reads; the benchmark leaves the verdict to judgement, so it is reported as a warning."
			}
			c.Refs = control.Refs("CIS:" + it.ID)
		}
		out = append(out, c)
	}
	return out
}
