// Package network holds controls on network isolation and on references
// between objects that select pods (NetworkPolicies, Services, Ingresses,
// PodDisruptionBudgets, HorizontalPodAutoscalers). NetworkPolicy semantics
// come from package netpol.
package network

import (
	"fmt"
	"net/netip"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Controls returns the network controls.
func Controls() []*control.Control {
	return []*control.Control{noIngressPolicy, noEgressPolicy, noDefaultDeny, allowAllIngress, allowAllEgress, egressMetadata, egressNodePorts,
		policyDangling, serviceDangling, ingressBackend, hpaTarget, pdbDangling}
}

// workloads returns the workloads of each namespace, built once.
func workloads(inv *inventory.Inventory) map[string][]inventory.Entry {
	return inv.Memo("network.workloads", []string{inventory.AnyWorkload}, func(inv *inventory.Inventory) any {
		m := map[string][]inventory.Entry{}
		for _, e := range inv.Entries() {
			if e.Workload != nil {
				m[e.Object.Namespace] = append(m[e.Object.Namespace], e)
			}
		}
		return m
	}).(map[string][]inventory.Entry)
}

// labelIndex holds, per namespace, the workloads carrying each label
// (key=value), so that a selector is tested only against workloads that
// have at least one of its required labels.
type labelIndex map[string]map[string][]*inventory.Workload

func index(inv *inventory.Inventory) labelIndex {
	return inv.Memo("network.labels", []string{inventory.AnyWorkload}, func(inv *inventory.Inventory) any {
		idx := labelIndex{}
		for ns, ws := range workloads(inv) {
			m := map[string][]*inventory.Workload{}
			for _, e := range ws {
				for k, v := range e.Workload.Meta.Labels {
					m[k+"="+v] = append(m[k+"="+v], e.Workload)
				}
			}
			idx[ns] = m
		}
		return idx
	}).(labelIndex)
}

// anySelected reports whether a workload of ns has pod labels sel matches.
func anySelected(inv *inventory.Inventory, ns string, sel labels.Selector) bool {
	candidates := func() []*inventory.Workload {
		reqs, _ := sel.Requirements()
		for _, r := range reqs {
			if (r.Operator() == selection.Equals || r.Operator() == selection.DoubleEquals || r.Operator() == selection.In) && r.Values().Len() == 1 {
				return index(inv)[ns][r.Key()+"="+r.Values().List()[0]]
			}
		}
		var all []*inventory.Workload
		for _, e := range workloads(inv)[ns] {
			all = append(all, e.Workload)
		}
		return all
	}()
	for _, w := range candidates {
		if sel.Matches(labels.Set(w.Meta.Labels)) {
			return true
		}
	}
	return false
}

func isolation(id, dir string, sev finding.Severity, ingress bool, refs ...string) *control.Control {
	return &control.Control{
		ID:       id,
		Title:    "Workload not isolated by a NetworkPolicy for " + dir,
		Severity: sev,
		Category: "network",
		Rationale: fmt.Sprintf("Kubernetes allows all %s traffic of a pod until a NetworkPolicy of type %s selects it; "+
			"a compromised neighbour (or this pod, once compromised) can then reach anything.", dir, dir),
		Remediation:   "Add a NetworkPolicy that selects the pods (a namespace-wide default deny plus explicit allows is the usual pattern).",
		Refs:          control.Refs(refs...),
		Scope:         control.InventoryScope,
		Reads:         []string{"NetworkPolicy"},
		WorkloadsOnly: true,
		Check: func(p *control.Pass) {
			w := p.Workload
			if w.Spec.HostNetwork {
				return // NetworkPolicies do not apply to host-network pods
			}
			if !netpol.Of(p.Inventory).Isolated(p.Object.Namespace, w.Meta.Labels, ingress) {
				p.Report(w.MetaPath, "no NetworkPolicy of namespace %q selects these pods for %s", p.Object.Namespace, dir)
			}
		},
	}
}

var (
	noIngressPolicy = isolation("NET-NO-INGRESS-POLICY", "ingress", finding.Medium, true,
		"CIS:5.3.2", "NSA:network-separation", "NIST:4.3.3", "MITRE:T1046")
	noEgressPolicy = isolation("NET-NO-EGRESS-POLICY", "egress", finding.Low, false,
		"CIS:5.3.2", "NSA:network-separation", "NIST:4.4.2", "MITRE:T1041")
)

// noDefaultDeny is reported once per namespace: on the Namespace object
// when the input has it, else on the namespace's first workload.
var noDefaultDeny = &control.Control{
	ID:       "NET-NO-DEFAULT-DENY",
	Title:    "Namespace without default-deny NetworkPolicies",
	Severity: finding.Medium,
	Category: "network",
	Rationale: "Without a policy that selects every pod of the namespace for ingress and egress, each new " +
		"workload starts fully open until someone remembers to write its policy.",
	Remediation: "Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] to the namespace, then allow " +
		"the required flows explicitly (DNS included).",
	Refs:          control.Refs("CIS:5.3.2", "NSA:network-separation", "NIST:4.3.3"),
	Scope:         control.InventoryScope,
	Reads:         []string{"NetworkPolicy", "Namespace", control.Workloads},
	Kinds:         []string{"Namespace", control.Workloads},
	NamespaceWide: true,
	Check: func(p *control.Pass) {
		ns := p.Object.Namespace
		if p.Object.Kind == "Namespace" && p.Object.Group() == "" {
			ns = p.Object.Name
		} else if p.Workload == nil || p.Inventory.HasKindIn("Namespace", "") && namespaceDefined(p.Inventory, ns) {
			return
		}
		ws := workloads(p.Inventory)[ns]
		if len(ws) == 0 || p.Workload != nil && anchors(p.Inventory)[ns] != p.Object {
			return
		}
		m := netpol.Of(p.Inventory)
		var missing []string
		if !m.DefaultDeny(ns, true) {
			missing = append(missing, "ingress")
		}
		if !m.DefaultDeny(ns, false) {
			missing = append(missing, "egress")
		}
		switch len(missing) {
		case 2:
			p.Report("metadata", "namespace %q has workloads but no default-deny NetworkPolicy for ingress or egress", ns)
		case 1:
			p.Report("metadata", "namespace %q has workloads but no default-deny NetworkPolicy for %s", ns, missing[0])
		}
	},
}

// anchors are, per namespace, the workload a namespace's finding hangs on
// when the input does not define the Namespace: the first by kind and
// name, whatever the order of the files. Built once per inventory.
func anchors(inv *inventory.Inventory) map[string]*object.Object {
	return inv.Memo("network.anchors", []string{inventory.AnyWorkload}, func(inv *inventory.Inventory) any {
		out := map[string]*object.Object{}
		for ns, ws := range workloads(inv) {
			a := ws[0].Object
			for _, e := range ws[1:] {
				if e.Object.Ref.Compare(a.Ref) < 0 {
					a = e.Object
				}
			}
			out[ns] = a
		}
		return out
	}).(map[string]*object.Object)
}

func namespaceDefined(inv *inventory.Inventory, ns string) bool {
	_, ok := inv.Get("Namespace", "", ns)
	return ok
}

// everywhere reports whether a peer list admits any address: no peers at
// all, or an ipBlock of the whole IPv4 or IPv6 space without exceptions. at
// is the path of the deciding peer's CIDR below the rule ("" for none).
func everywhere(peers []networkingv1.NetworkPolicyPeer, field string) (all bool, what, at string) {
	if len(peers) == 0 {
		return true, "any source or destination", ""
	}
	for i, p := range peers {
		if b := p.IPBlock; b != nil && (b.CIDR == "0.0.0.0/0" || b.CIDR == "::/0") && len(b.Except) == 0 {
			return true, b.CIDR, "." + object.Index(field, i) + ".ipBlock.cidr"
		}
	}
	return false, "", ""
}

var allowAllIngress = &control.Control{
	ID:       "NET-ALLOW-ALL-INGRESS",
	Title:    "NetworkPolicy allows ingress from everywhere",
	Severity: finding.Medium,
	Category: "network",
	Rationale: "An ingress rule without from (or with 0.0.0.0/0) admits every pod of every namespace and any " +
		"external address, which defeats the isolation the policy seems to add.",
	Remediation: "List the allowed sources: podSelector and namespaceSelector for in-cluster clients, ipBlock for " +
		"known external ranges.",
	Refs:  control.Refs("CIS:5.3.2", "NSA:network-separation", "NIST:4.3.3"),
	Kinds: []string{"NetworkPolicy"},
	Check: func(p *control.Pass) {
		pol, ok := netpol.New(p.Object)
		if !ok || !pol.Ingress {
			return
		}
		for i, r := range pol.Spec.Ingress {
			if all, what, at := everywhere(r.From, "from"); all {
				p.Report(object.Index("spec.ingress", i)+at, "ingress rule %d admits %s", i, what)
			}
		}
	},
}

// metadataAddrs are the cloud instance metadata endpoints (AWS, GCP, Azure
// and others on IPv4, AWS on IPv6): their credentials are the node's.
var metadataAddrs = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}

var egressMetadata = &control.Control{
	ID:       "NET-EGRESS-METADATA",
	Title:    "NetworkPolicy allows egress to the cloud metadata endpoint",
	Severity: finding.High,
	Category: "network",
	Rationale: "169.254.169.254 (fd00:ec2::254 on AWS IPv6) hands out the node's cloud credentials and bootstrap " +
		"data to anyone who asks from the node's network: a compromised pod that reaches it acts as the node in " +
		"the cloud account. A broad ipBlock such as 0.0.0.0/0 includes it unless it is excepted.",
	Remediation: "Add 169.254.169.254/32 (and fd00:ec2::254/128) to the ipBlock's except list, or narrow the ipBlock " +
		"to the ranges the pods need.",
	Refs:  control.Refs("NSA:network-separation", "NIST:4.3.3", "MITRE:T1552.005"),
	Kinds: []string{"NetworkPolicy"},
	Check: func(p *control.Pass) {
		pol, ok := netpol.New(p.Object)
		if !ok || !pol.Egress {
			return
		}
		for i, r := range pol.Spec.Egress {
			rule := object.Index("spec.egress", i)
			if !netpol.RulePorts(r.Ports, netpol.Internet).Contains(corev1.ProtocolTCP, 80) {
				continue
			}
			if len(r.To) == 0 {
				p.Report(rule, "egress rule %d allows every destination, the metadata endpoint %s included", i, metadataAddrs[0])
				continue
			}
			for j, peer := range r.To {
				for _, a := range metadataAddrs {
					if b := peer.IPBlock; b != nil && netpol.InBlock(b, a) {
						p.Report(object.Index(rule+".to", j)+".ipBlock.cidr", "egress rule %d allows %s, which holds the metadata endpoint %s", i, b.CIDR, a)
						break
					}
				}
			}
		}
	},
}

// nodePorts are the ports of the node's control services.
var nodePorts = []struct {
	from, to int32
	what     string
}{{10250, 10250, "the kubelet API"}, {2379, 2380, "etcd"}}

var egressNodePorts = &control.Control{
	ID:       "NET-EGRESS-NODE-PORTS",
	Title:    "NetworkPolicy allows egress to kubelet or etcd ports",
	Severity: finding.High,
	Category: "network",
	Rationale: "The kubelet API (10250) runs commands in any pod of its node for whoever it authorises, and etcd " +
		"(2379-2380) holds every Secret of the cluster: application pods have no reason to reach either, and a " +
		"rule that names those ports opens them.",
	Remediation: "Remove 10250 and 2379-2380 from the egress rule's ports; monitoring agents that scrape the kubelet " +
		"belong in a namespace of their own with a policy of their own.",
	Refs:  control.Refs("NSA:network-separation", "NIST:4.3.3", "MITRE:T1609"),
	Kinds: []string{"NetworkPolicy"},
	Check: func(p *control.Pass) {
		pol, ok := netpol.New(p.Object)
		if !ok || !pol.Egress {
			return
		}
		for i, r := range pol.Spec.Egress {
			for j, port := range r.Ports {
				if port.Protocol != nil && *port.Protocol != corev1.ProtocolTCP || port.Port == nil || port.Port.Type != intstr.Int {
					continue
				}
				end := port.Port.IntVal
				if port.EndPort != nil {
					end = *port.EndPort
				}
				for _, np := range nodePorts {
					if port.Port.IntVal <= np.to && end >= np.from {
						p.Report(object.Index(object.Index("spec.egress", i)+".ports", j), "egress rule %d allows port %s, %s", i, port.Port.String(), np.what)
						break
					}
				}
			}
		}
	},
}

var allowAllEgress = &control.Control{
	ID:       "NET-ALLOW-ALL-EGRESS",
	Title:    "NetworkPolicy allows egress to everywhere on every port",
	Severity: finding.Low,
	Category: "network",
	Rationale: "An egress rule to every address on every port lets a compromised pod exfiltrate data and reach " +
		"command-and-control servers. Rules limited to ports (such as DNS on 53) are not reported.",
	Remediation: "List the destinations the pods need (namespaceSelector/podSelector, or ipBlock ranges) and the ports.",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.4.2", "MITRE:T1041"),
	Kinds:       []string{"NetworkPolicy"},
	Check: func(p *control.Pass) {
		pol, ok := netpol.New(p.Object)
		if !ok || !pol.Egress {
			return
		}
		for i, r := range pol.Spec.Egress {
			if all, what, at := everywhere(r.To, "to"); all && len(r.Ports) == 0 {
				p.Report(object.Index("spec.egress", i)+at, "egress rule %d allows %s on every port", i, what)
			}
		}
	},
}

// dangling reports selectors that match no workload, only in namespaces
// whose workloads the input holds (otherwise the targets may be elsewhere)
// and that hold no custom resources (an operator may create the pods).
// Labels that controllers add to pods at runtime are not required.
func dangling(p *control.Pass, ns string, sel labels.Selector, path, format string, args ...any) {
	if len(workloads(p.Inventory)[ns]) == 0 || operated(p.Inventory)[ns] {
		return
	}
	if reqs, _ := sel.Requirements(); len(reqs) > 0 {
		kept := labels.NewSelector()
		for _, r := range reqs {
			if !runtimeLabels[r.Key()] {
				kept = kept.Add(r)
			}
		}
		if kept.Empty() || anySelected(p.Inventory, ns, kept) {
			return
		}
	} else if anySelected(p.Inventory, ns, sel) {
		return
	}
	p.Report(path, format, args...)
}

// runtimeLabels are set on pods by their controllers, never in templates.
var runtimeLabels = map[string]bool{
	"statefulset.kubernetes.io/pod-name": true, "apps.kubernetes.io/pod-index": true,
	"controller-revision-hash": true, "pod-template-hash": true, "pod-template-generation": true,
	"batch.kubernetes.io/job-name": true, "job-name": true, "batch.kubernetes.io/controller-uid": true,
	"controller-uid": true, "batch.kubernetes.io/job-completion-index": true,
}

// operated returns the namespaces holding custom resources, built once.
func operated(inv *inventory.Inventory) map[string]bool {
	return inv.Memo("network.operated", nil, func(inv *inventory.Inventory) any {
		m := map[string]bool{}
		for _, e := range inv.Entries() {
			if g := e.Object.Group(); strings.Contains(g, ".") && !strings.HasSuffix(g, ".k8s.io") && e.Object.Namespace != "" {
				m[e.Object.Namespace] = true
			}
		}
		return m
	}).(map[string]bool)
}

var policyDangling = &control.Control{
	ID:          "NET-POLICY-DANGLING",
	Title:       "NetworkPolicy selects no workload",
	Severity:    finding.Low,
	Category:    "network",
	Rationale:   "A policy whose podSelector matches nothing protects nothing; usually a label was renamed and the pods it was written for are open.",
	Remediation: "Fix spec.podSelector to match the pods' labels, or delete the policy.",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.3.3"),
	Scope:       control.InventoryScope,
	Reads:       []string{control.AnyKind},
	Kinds:       []string{"NetworkPolicy"},
	Check: func(p *control.Pass) {
		pol, ok := netpol.New(p.Object)
		if !ok || pol.SelectsAll() {
			return
		}
		sel, _ := metav1.LabelSelectorAsSelector(&pol.Spec.PodSelector)
		dangling(p, p.Object.Namespace, sel, "spec.podSelector", "podSelector %s matches no workload in namespace %q", sel, p.Object.Namespace)
	},
}

var serviceDangling = &control.Control{
	ID:          "SVC-SELECTOR-DANGLING",
	Title:       "Service selects no workload",
	Severity:    finding.Low,
	Category:    "network",
	Rationale:   "A Service whose selector matches no pods has no endpoints; traffic to it fails, or reaches whatever is later deployed with those labels.",
	Remediation: "Fix spec.selector to match the pod template labels of the intended workload.",
	Refs:        control.Refs("NIST:4.3.3"),
	Scope:       control.InventoryScope,
	Reads:       []string{control.AnyKind},
	Kinds:       []string{"Service"},
	Check: func(p *control.Pass) {
		if p.Object.Kind != "Service" || p.Object.Group() != "" {
			return
		}
		sel := object.StringMap(getMap(p.Object.Content, "spec", "selector"))
		if len(sel) == 0 {
			return // no selector: endpoints are managed by hand
		}
		dangling(p, p.Object.Namespace, labels.SelectorFromSet(sel), "spec.selector", "selector %s matches no workload in namespace %q", labels.Set(sel), p.Object.Namespace)
	},
}

func getMap(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

var ingressBackend = &control.Control{
	ID:          "ING-BACKEND-MISSING",
	Title:       "Ingress backend Service not defined",
	Severity:    finding.Low,
	Category:    "network",
	Rationale:   "An Ingress routing to a Service that does not exist serves errors, and routes to whatever Service is later created under that name.",
	Remediation: "Define the Service in the input or fix the backend's service name.",
	Refs:        control.Refs("NIST:4.3.3"),
	Scope:       control.InventoryScope,
	Reads:       []string{"Service"},
	Kinds:       []string{"Ingress"},
	Check: func(p *control.Pass) {
		if p.Object.Kind != "Ingress" || p.Object.Group() != "networking.k8s.io" || !p.Inventory.HasKindIn("Service", p.Object.Namespace) {
			return
		}
		ing, ok := inventory.As[networkingv1.Ingress](p.Object)
		if !ok {
			return
		}
		check := func(b *networkingv1.IngressBackend, path string) {
			if b == nil || b.Service == nil {
				return
			}
			if _, ok := p.Inventory.Get("Service", p.Object.Namespace, b.Service.Name); !ok {
				p.Report(path+".service.name", "backend Service %q is not defined in namespace %q", b.Service.Name, p.Object.Namespace)
			}
		}
		check(ing.Spec.DefaultBackend, "spec.defaultBackend")
		for i, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for j := range r.HTTP.Paths {
				check(&r.HTTP.Paths[j].Backend, object.Index(object.Index("spec.rules", i)+".http.paths", j)+".backend")
			}
		}
	},
}

var hpaTarget = &control.Control{
	ID:          "HPA-TARGET-MISSING",
	Title:       "HorizontalPodAutoscaler targets a missing workload",
	Severity:    finding.Low,
	Category:    "network",
	Rationale:   "An autoscaler whose target does not exist scales nothing; the workload it was meant for runs at a fixed size.",
	Remediation: "Fix spec.scaleTargetRef to name the workload's kind and name.",
	Refs:        control.Refs("NSA:resource-policies"),
	Scope:       control.InventoryScope,
	Reads:       []string{control.AnyKind},
	Kinds:       []string{"HorizontalPodAutoscaler"},
	Check: func(p *control.Pass) {
		if p.Object.Kind != "HorizontalPodAutoscaler" {
			return
		}
		h, ok := inventory.As[autoscalingv2.HorizontalPodAutoscaler](p.Object)
		if !ok || h.Spec.ScaleTargetRef.Name == "" {
			return
		}
		ref := h.Spec.ScaleTargetRef
		if !p.Inventory.HasKindIn(ref.Kind, p.Object.Namespace) {
			return
		}
		if _, ok := p.Inventory.Get(ref.Kind, p.Object.Namespace, ref.Name); !ok {
			p.Report("spec.scaleTargetRef.name", "scale target %s %q is not defined in namespace %q", ref.Kind, ref.Name, p.Object.Namespace)
		}
	},
}

var pdbDangling = &control.Control{
	ID:          "PDB-SELECTS-NOTHING",
	Title:       "PodDisruptionBudget selects no workload",
	Severity:    finding.Low,
	Category:    "network",
	Rationale:   "A disruption budget matching no pods protects nothing during node drains and upgrades.",
	Remediation: "Fix spec.selector to match the pod template labels of the workload it protects.",
	Refs:        control.Refs("NSA:resource-policies"),
	Scope:       control.InventoryScope,
	Reads:       []string{control.AnyKind},
	Kinds:       []string{"PodDisruptionBudget"},
	Check: func(p *control.Pass) {
		if p.Object.Kind != "PodDisruptionBudget" {
			return
		}
		pdb, ok := inventory.As[policyv1.PodDisruptionBudget](p.Object)
		if !ok || pdb.Spec.Selector == nil {
			return
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			return
		}
		dangling(p, p.Object.Namespace, sel, "spec.selector", "selector %s matches no workload in namespace %q", sel, p.Object.Namespace)
	},
}
