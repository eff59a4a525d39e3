// Package cluster holds controls on a cluster's own configuration: what
// Pod Security Admission enforces per namespace, legacy ServiceAccount
// tokens, nodes on public addresses and admission webhooks that fail open.
package cluster

import (
	"fmt"
	"net/netip"
	"strings"

	admregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Controls returns the cluster controls.
func Controls() []*control.Control {
	return []*control.Control{legacyToken, publicNode, webhookFailOpen, kubeletEOL,
		versionEOL, noAdmissionPolicy, meshMTLS}
}

// systemNamespaces run the cluster's own components, which the Pod
// Security Standards exempt.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

var legacyToken = &control.Control{
	ID:       "SA-LEGACY-TOKEN",
	Title:    "Long-lived ServiceAccount token Secret",
	Severity: finding.Medium,
	Category: "serviceaccount",
	Rationale: "A Secret of type kubernetes.io/service-account-token holds a token that never expires and is not " +
		"bound to a pod; whoever reads it once can use it until the Secret is deleted.",
	Remediation: "Delete the Secret and let pods use projected, short-lived tokens (TokenRequest); create tokens " +
		"for external clients with kubectl create token and a short duration.",
	Refs:        control.Refs("CIS:5.1.6", "NSA:authentication", "NIST:4.1.4", "MITRE:T1528"),
	Kinds:       []string{"Secret"},
	ClusterOnly: true,
	Check: func(p *control.Pass) {
		if t, _ := p.Object.Content["type"].(string); t == string(corev1.SecretTypeServiceAccountToken) {
			sa := p.Object.Metadata("annotations")[corev1.ServiceAccountNameKey]
			p.Report("type", "Secret holds a long-lived token of ServiceAccount %q", sa)
		}
	},
}

var publicNode = &control.Control{
	ID:       "NODE-PUBLIC-IP",
	Title:    "Node with a public address",
	Severity: finding.Medium,
	Category: "node",
	Rationale: "A node reachable on a public address exposes the kubelet, NodePorts and host-network pods to " +
		"the internet; the guidance is private networking for nodes, behind a load balancer or gateway.",
	Remediation: "Run nodes on private subnets and publish services through load balancers or ingress; " +
		"firewall the kubelet port (10250) and NodePorts.",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.5.2", "MITRE:T1133"),
	Kinds:       []string{"Node"},
	ClusterOnly: true,
	Check: func(p *control.Pass) {
		n, ok := inventory.As[corev1.Node](p.Object)
		if !ok {
			return
		}
		for i, a := range n.Status.Addresses {
			ip, err := netip.ParseAddr(a.Address)
			if err != nil || a.Type != corev1.NodeExternalIP && a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip.IsGlobalUnicast() && !ip.IsPrivate() {
				p.Report(object.Index("status.addresses", i)+".address", "node %q has public %s %s", n.Name, a.Type, a.Address)
			}
		}
	},
}

// newestMinor is the newest Kubernetes minor release kubeguard knows: the
// one its API libraries (k8s.io/api v0.37) describe. The project supports
// the three newest minors.
const newestMinor = 37

var kubeletEOL = &control.Control{
	ID:       "NODE-KUBELET-EOL",
	Title:    "Node runs an end-of-life kubelet",
	Severity: finding.High,
	Category: "node",
	Rationale: "Kubernetes patches only its three newest minor releases; an older kubelet no longer receives " +
		"security fixes for known vulnerabilities.",
	Remediation: fmt.Sprintf("Upgrade the node to a supported release (1.%d to 1.%d), one minor version at a time.", newestMinor-2, newestMinor),
	Refs:        control.Refs("CIS:5.1.1", "NSA:upgrades", "NIST:4.4.1", "MITRE:T1190"),
	Kinds:       []string{"Node"},
	ClusterOnly: true,
	Check: func(p *control.Pass) {
		v, _ := object.Get(p.Object.Content, "status.nodeInfo.kubeletVersion")
		s, _ := v.(string)
		if minor, ok := minorOf(s); ok && minor < newestMinor-2 {
			p.Report("status.nodeInfo.kubeletVersion", "kubelet %s is end of life (supported: 1.%d to 1.%d)", s, newestMinor-2, newestMinor)
		}
	},
}

// guarded are the resources whose admission a security webhook must not
// skip when it is down.
var guarded = map[string]bool{"*": true, "pods": true, "pods/*": true, "deployments": true, "daemonsets": true,
	"statefulsets": true, "replicasets": true, "jobs": true, "cronjobs": true, "roles": true, "clusterroles": true,
	"rolebindings": true, "clusterrolebindings": true, "*/*": true}

var webhookFailOpen = &control.Control{
	ID:       "WEBHOOK-FAIL-OPEN",
	Title:    "Admission webhook on security-relevant resources fails open",
	Severity: finding.Low,
	Category: "admission",
	Rationale: "With failurePolicy Ignore, a webhook that is down, slow or unreachable admits everything it " +
		"guards; an attacker who can disrupt it (or its network path) bypasses the policy.",
	Remediation: "Use failurePolicy Fail for webhooks that enforce security policy, with several replicas, a " +
		"PodDisruptionBudget and namespace exclusions for the webhook itself and kube-system.",
	Refs:  control.Refs("NSA:admission-control", "NIST:4.3.2"),
	Kinds: []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"},
	Check: func(p *control.Pass) {
		if p.Object.Group() != "admissionregistration.k8s.io" {
			return
		}
		// Validating and mutating configurations share these fields.
		hooks, _ := p.Object.Content["webhooks"].([]any)
		for i, h := range hooks {
			w, _ := h.(map[string]any)
			if fp, _ := w["failurePolicy"].(string); fp != string(admregv1.Ignore) {
				continue // Fail is the API default
			}
			var covered []string
			rules, _ := w["rules"].([]any)
			for _, r := range rules {
				rm, _ := r.(map[string]any)
				res, _ := rm["resources"].([]any)
				for _, x := range res {
					if s, _ := x.(string); guarded[s] {
						covered = append(covered, s)
					}
				}
			}
			if len(covered) > 0 {
				name, _ := w["name"].(string)
				p.Report(object.Index("webhooks", i)+".failurePolicy", "webhook %q fails open (failurePolicy Ignore) for %s", name, strings.Join(covered, ", "))
			}
		}
	},
}

// Cluster-wide controls report on the object that stands for the cluster
// (kind Cluster, added by kubeguard cluster and the controller).

func minorOf(v string) (int, bool) {
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &major, &minor); err != nil || major != 1 {
		return 0, false
	}
	return minor, true
}

var versionEOL = &control.Control{
	ID:       "CLUSTER-VERSION-EOL",
	Title:    "Kubernetes release is end of life",
	Severity: finding.High,
	Category: "cluster",
	Rationale: "Kubernetes patches only its three newest minor releases; an older control plane no longer " +
		"receives fixes for known vulnerabilities.",
	Remediation: fmt.Sprintf("Upgrade the control plane to a supported release (1.%d to 1.%d), one minor version at a time.", newestMinor-2, newestMinor),
	Refs:        control.Refs("NSA:upgrades", "NIST:4.4.1", "MITRE:T1190"),
	Kinds:       []string{"Cluster"},
	ClusterOnly: true,
	Check: func(p *control.Pass) {
		v, _ := object.Get(p.Object.Content, "spec.version")
		s, _ := v.(string)
		if minor, ok := minorOf(s); ok && minor < newestMinor-2 {
			p.Report("spec.version", "the API server runs %s, which is end of life (supported: 1.%d to 1.%d)", s, newestMinor-2, newestMinor)
		}
	},
}

var noAdmissionPolicy = &control.Control{
	ID:       "CLUSTER-NO-ADMISSION-POLICY",
	Title:    "No admission policy is enforced",
	Severity: finding.Medium,
	Category: "admission",
	Rationale: "Without Pod Security Admission labels, ValidatingAdmissionPolicies or a policy webhook " +
		"(kubeguard, Kyverno, Gatekeeper), nothing stops a privileged or root workload from being created.",
	Remediation: "Label namespaces with pod-security.kubernetes.io/enforce, and enforce the rest with kubeguard " +
		"webhook or kubeguard policy export --format vap.",
	Refs:        control.Refs("NSA:admission-control", "NIST:4.3.2", "CIS:5.2.1"),
	Scope:       control.InventoryScope,
	Reads:       []string{"Namespace", "ValidatingAdmissionPolicy", "ClusterPolicy", "ConstraintTemplate", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"},
	Kinds:       []string{"Cluster"},
	ClusterOnly: true,
	Check: func(p *control.Pass) {
		inv := p.Inventory
		for _, e := range inv.OfKind("Namespace") {
			if l := e.Object.Metadata("labels")["pod-security.kubernetes.io/enforce"]; l == "baseline" || l == "restricted" {
				return
			}
		}
		for _, k := range []string{"ValidatingAdmissionPolicy", "ClusterPolicy", "ConstraintTemplate"} {
			if len(inv.OfKind(k)) > 0 {
				return
			}
		}
		for _, k := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
			for _, e := range inv.OfKind(k) {
				for _, tool := range []string{"kubeguard", "kyverno", "gatekeeper"} {
					if strings.Contains(e.Object.Name, tool) {
						return
					}
				}
			}
		}
		p.Report("metadata", "no namespace enforces Pod Security, and no ValidatingAdmissionPolicy or policy webhook is installed")
	},
}

var meshMTLS = &control.Control{
	ID:       "CLUSTER-MESH-MTLS",
	Title:    "Istio mesh does not require mutual TLS",
	Severity: finding.Medium,
	Category: "network",
	Rationale: "Istio accepts plain-text traffic between services unless a mesh-wide PeerAuthentication " +
		"requires STRICT mTLS; anyone on the pod network can then read or forge requests.",
	Remediation: "Create a PeerAuthentication named default in the Istio root namespace (istio-system) with " +
		"spec.mtls.mode: STRICT.",
	Refs:        control.Refs("NSA:tls", "NIST:4.3.3", "MITRE:T1557"),
	Scope:       control.InventoryScope,
	Reads:       []string{"Namespace", "PeerAuthentication"},
	Kinds:       []string{"Cluster"},
	ClusterOnly: true,
	Check: func(p *control.Pass) {
		inv := p.Inventory
		_, istio := inv.Get("Namespace", "", "istio-system")
		pas := inv.OfKind("PeerAuthentication")
		if !istio && len(pas) == 0 {
			return // no Istio
		}
		for _, e := range pas {
			sel, _ := object.Get(e.Object.Content, "spec.selector")
			mode, _ := object.Get(e.Object.Content, "spec.mtls.mode")
			if e.Object.Namespace == "istio-system" && sel == nil && mode == "STRICT" {
				return
			}
		}
		p.Report("metadata", "Istio is installed but no mesh-wide PeerAuthentication in istio-system requires STRICT mTLS")
	},
}
