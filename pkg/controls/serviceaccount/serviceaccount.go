// Package serviceaccount holds controls on how pods use service account
// credentials.
package serviceaccount

import (
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
)

// Controls returns the service account controls.
func Controls() []*control.Control {
	return []*control.Control{automount, defaultSA, deprecatedField, missing}
}

// Name returns the ServiceAccount a pod runs as, with the path that sets
// it ("" when the pod relies on the default account).
func Name(w *inventory.Workload) (name, path string) {
	switch {
	case w.Spec.ServiceAccountName != "":
		return w.Spec.ServiceAccountName, w.Field("serviceAccountName")
	case w.Spec.DeprecatedServiceAccount != "":
		return w.Spec.DeprecatedServiceAccount, w.Field("serviceAccount")
	}
	return "default", ""
}

var defaultSA = &control.Control{
	ID:       "SA-DEFAULT",
	Title:    "Pod uses the default ServiceAccount",
	Severity: finding.Low,
	Category: "serviceaccount",
	Rationale: "Every pod of a namespace that does not choose an account shares the default ServiceAccount, so " +
		"permissions granted to one application leak to all of them.",
	Remediation:   "Create a ServiceAccount per application and set serviceAccountName to it.",
	Refs:          control.Refs("CIS:5.1.5", "NSA:authentication-authorization", "NIST:4.3.2", "MITRE:T1078"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		if name, path := Name(w); name == "default" {
			if path == "" {
				path = w.Field("serviceAccountName")
			}
			p.Report(path, "pod runs as the default ServiceAccount")
		}
	},
}

var deprecatedField = &control.Control{
	ID:       "SA-DEPRECATED-FIELD",
	Title:    "Deprecated serviceAccount field",
	Severity: finding.Low,
	Category: "serviceaccount",
	Rationale: "spec.serviceAccount is a deprecated alias of serviceAccountName; when both are set and differ, " +
		"readers and tools disagree on which identity the pod has.",
	Remediation:   "Replace serviceAccount with serviceAccountName.",
	Refs:          control.Refs("NIST:4.3.2"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		// the API server sets the alias equal to serviceAccountName in
		// every object it serves: only a lone or differing alias counts
		if w := p.Workload; w.Spec.DeprecatedServiceAccount != "" && w.Spec.DeprecatedServiceAccount != w.Spec.ServiceAccountName {
			p.Report(w.Field("serviceAccount"), "pod uses the deprecated serviceAccount field")
		}
	},
}

// missing only speaks when the input defines ServiceAccounts in the pod's
// namespace: otherwise the account may simply live elsewhere.
var missing = &control.Control{
	ID:       "SA-MISSING",
	Title:    "Referenced ServiceAccount not defined",
	Severity: finding.Medium,
	Category: "serviceaccount",
	Rationale: "A pod whose ServiceAccount does not exist is rejected at creation; if someone later creates an " +
		"account of that name, the pod silently receives its permissions.",
	Remediation:   "Define the ServiceAccount next to the workload, or fix serviceAccountName.",
	Refs:          control.Refs("NIST:4.3.2"),
	Scope:         control.InventoryScope,
	Reads:         []string{"ServiceAccount"},
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		name, path := Name(w)
		// every namespace has a default account, created by the cluster
		if path == "" || name == "default" || !p.Inventory.HasKindIn("ServiceAccount", p.Object.Namespace) {
			return
		}
		if _, ok := p.Inventory.Get("ServiceAccount", p.Object.Namespace, name); !ok {
			p.Report(path, "ServiceAccount %q is not defined in namespace %q of the input", name, p.Object.Namespace)
		}
	},
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
	Reads:         []string{"ServiceAccount"},
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
			p.Report(w.Field("automountServiceAccountToken"), "neither the pod nor ServiceAccount %q disables automountServiceAccountToken", sa)
			return
		}
		p.Report(w.Field("automountServiceAccountToken"), "pod does not set automountServiceAccountToken: false (ServiceAccount %q)", sa)
	},
}
