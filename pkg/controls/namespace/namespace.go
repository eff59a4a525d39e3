// Package namespace holds controls on where objects are placed.
package namespace

import (
	"strings"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Controls returns the namespace controls.
func Controls() []*control.Control {
	return []*control.Control{defaultNS, kubeSystem, noPSA}
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
		// A cluster-scoped object's namespace is ignored by the API server.
		// Only a namespace written in the manifest: one without it goes
		// wherever it is applied (the scan's --namespace, default unless
		// given), which the manifest does not decide.
		ns, _ := object.Get(p.Object.Content, "metadata.namespace")
		if ns == "default" && !clusterProvided(p.Object.Kind, p.Object.Name) && !object.ClusterScoped(p.Object.Ref) {
			p.Report("metadata.namespace", "%s is placed in the default namespace", p.Object.Kind)
		}
	},
}

// clusterProvided are the objects Kubernetes itself keeps in every
// namespace, default included: nobody placed them there.
func clusterProvided(kind, name string) bool {
	switch kind + "/" + name {
	case "Service/kubernetes", "ServiceAccount/default", "ConfigMap/kube-root-ca.crt", "Endpoints/kubernetes",
		"EndpointSlice/kubernetes":
		return true
	}
	return false
}

// systemNamespaces hold the cluster's own components.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

var kubeSystem = &control.Control{
	ID:       "NS-SYSTEM",
	Title:    "Workload in a system namespace",
	Severity: finding.Medium,
	Category: "namespace",
	Rationale: "kube-system holds the control plane's credentials and highly privileged ServiceAccounts; an " +
		"application placed there shares that blast radius and usually escapes the policies applied to " +
		"application namespaces.",
	Remediation:   "Deploy applications to their own namespace; keep kube-system for cluster components.",
	Refs:          control.Refs("CIS:5.7.1", "NSA:namespaces", "NIST:4.3.4"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		if systemNamespaces[p.Object.Namespace] && !clusterComponent(p) {
			p.Report("metadata.namespace", "%s runs in system namespace %s", p.Object.Kind, p.Object.Namespace)
		}
	},
}

// clusterComponent recognises add-ons that belong in kube-system by the
// markers Kubernetes and its add-ons use: a system priority class or the
// k8s-app / cluster-service / control-plane labels.
func clusterComponent(p *control.Pass) bool {
	w := p.Workload
	if strings.HasPrefix(w.Spec.PriorityClassName, "system-") {
		return true
	}
	for _, l := range []map[string]string{w.Meta.Labels, p.Object.Metadata("labels")} {
		if l["k8s-app"] != "" || l["kubernetes.io/cluster-service"] == "true" || l["tier"] == "control-plane" {
			return true
		}
	}
	return false
}

var noPSA = &control.Control{
	ID:       "NS-NO-POD-SECURITY",
	Title:    "Namespace without Pod Security Admission enforcement",
	Severity: finding.Medium,
	Category: "namespace",
	Rationale: "Without a pod-security.kubernetes.io/enforce label, the built-in Pod Security Admission enforces " +
		"nothing in the namespace (unless the cluster sets a default): privileged pods are admitted.",
	Remediation: "Label the namespace pod-security.kubernetes.io/enforce=restricted (or baseline where a " +
		"workload needs it), with warn and audit at restricted.",
	Refs:  control.Refs("CIS:5.2.1", "NSA:pod-security", "NIST:4.4.3"),
	Kinds: []string{"Namespace"},
	Check: func(p *control.Pass) {
		if systemNamespaces[p.Object.Name] || p.Object.Group() != "" {
			return
		}
		labels := p.Object.Metadata("labels")
		const prefix = "pod-security.kubernetes.io/"
		level, ok := labels[prefix+"enforce"]
		at := object.Key("metadata.labels", prefix+"enforce")
		switch {
		case level == "baseline" || level == "restricted":
		case !ok:
			var only []string
			for _, mode := range []string{"warn", "audit"} {
				if _, ok := labels[prefix+mode]; ok {
					only = append(only, mode)
				}
			}
			if len(only) > 0 {
				p.Report(object.Key("metadata.labels", prefix+only[0]), "namespace %q sets Pod Security %s but no enforce label: violations are reported, never refused",
					p.Object.Name, strings.Join(only, " and "))
			} else {
				p.Report("metadata.labels", "namespace %q has no pod-security.kubernetes.io/enforce label", p.Object.Name)
			}
		case level == "privileged":
			p.Report(at, "namespace %q enforces the privileged Pod Security level, which allows everything", p.Object.Name)
		default:
			p.Report(at, "namespace %q sets pod-security.kubernetes.io/enforce to %q, which is not a level (privileged, baseline, restricted): the API server rejects the namespace", p.Object.Name, level)
		}
	},
}
