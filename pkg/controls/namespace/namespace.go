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
	return []*control.Control{defaultNS, kubeSystem}
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
