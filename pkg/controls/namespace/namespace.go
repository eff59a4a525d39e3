// Package namespace holds controls on where objects are placed.
package namespace

import (
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Controls returns the namespace controls.
func Controls() []*control.Control {
	return []*control.Control{defaultNS}
}

var defaultNS = &control.Control{
	ID:       "NS-DEFAULT",
	Title:    "Object in the default namespace",
	Severity: finding.Low,
	Category: "namespace",
	Rationale: "The default namespace mixes unrelated workloads, so RBAC, NetworkPolicies, quotas and Pod " +
		"Security labels cannot be scoped to one application.",
	Remediation: "Create a namespace per application or team and set metadata.namespace to it.",
	Refs:        control.Refs("CIS:5.7.4", "NSA:namespaces", "NIST:4.3.4"),
	Check: func(p *control.Pass) {
		if p.Object.Namespace == "default" {
			p.Report("metadata.namespace", "%s is placed in the default namespace", p.Object.Kind)
		}
	},
}
