// Package serviceaccount holds controls on how pods use service account
// credentials.
package serviceaccount

import (
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Controls returns the service account controls.
func Controls() []*control.Control {
	return []*control.Control{automount}
}

// automount reads the ServiceAccount object from the inventory: a pod that
// does not decide inherits the account's automountServiceAccountToken, and
// the pod's own setting wins over the account's.
var automount = &control.Control{
	ID:       "SA-AUTOMOUNT-TOKEN",
	Title:    "Service account token mounted automatically",
	Severity: finding.Medium,
	Category: "serviceaccount",
	Rationale: "An automatically mounted token lets anyone who compromises the container call the Kubernetes API " +
		"with the service account's permissions. Most applications never need it.",
	Remediation: "Set automountServiceAccountToken: false in the pod spec (or on the ServiceAccount) and mount a " +
		"projected token only in workloads that call the API.",
	Refs:          control.Refs("CIS:5.1.6", "NSA:pod-security/sa-token", "NIST:4.3.2", "MITRE:T1528"),
	Scope:         control.InventoryScope,
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		if v := w.Spec.AutomountServiceAccountToken; v != nil {
			if *v {
				p.Report(w.Field("automountServiceAccountToken"), "pod sets automountServiceAccountToken: true")
			}
			return
		}
		sa := w.Spec.ServiceAccountName
		if sa == "" {
			sa = w.Spec.DeprecatedServiceAccount
		}
		if sa == "" {
			sa = "default"
		}
		if e, ok := p.Inventory.Get("ServiceAccount", p.Object.Namespace, sa); ok {
			if v, ok := e.Object.Content["automountServiceAccountToken"].(bool); ok && !v {
				return // the account opts out and the pod does not override it
			}
			p.Report(w.SpecPath, "neither the pod nor ServiceAccount %q disables automountServiceAccountToken", sa)
			return
		}
		p.Report(w.SpecPath, "pod does not set automountServiceAccountToken: false (ServiceAccount %q)", sa)
	},
}
