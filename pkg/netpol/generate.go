package netpol

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Generate writes least-privilege NetworkPolicies for the allow intents:
// a default deny of ingress and egress in every namespace with workloads,
// DNS egress for every pod, and for each allowed flow an egress policy on
// the source and an ingress policy on the destination, each selecting by
// the workload's selector labels. Deny intents need no policy: default
// deny realises them. Flows to the internet become egress to 0.0.0.0/0.
func Generate(intents []Intent, workloads []*Endpoint) ([]*networkingv1.NetworkPolicy, error) {
	byNS := map[string]bool{}
	for _, w := range workloads {
		byNS[w.Namespace] = true
	}
	policies := map[string]*networkingv1.NetworkPolicy{}
	get := func(ns, name string, sel map[string]string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
		key := ns + "/" + name
		if p, ok := policies[key]; ok {
			return p
		}
		p := &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "kubeguard"}},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: types},
		}
		policies[key] = p
		return p
	}
	for ns := range byNS {
		deny := get(ns, "default-deny", nil, networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)
		deny.Spec.Ingress, deny.Spec.Egress = nil, nil
		dns := get(ns, "allow-dns", nil, networkingv1.PolicyTypeEgress)
		udp, tcp, port := corev1.ProtocolUDP, corev1.ProtocolTCP, intstr.FromInt32(53)
		dns.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: DNS.Namespace}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: DNS.Labels},
			}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port}, {Protocol: &tcp, Port: &port}},
		}}
	}
	selectorOf := func(e *Endpoint) map[string]string {
		if len(e.Selector) > 0 {
			return e.Selector
		}
		return e.Labels
	}
	for _, in := range intents {
		if !in.Allow {
			continue
		}
		srcs, dsts := Resolve(in.Src, workloads), Resolve(in.Dst, workloads)
		if len(srcs) == 0 || len(dsts) == 0 {
			return nil, fmt.Errorf("line %d: %q matches no workload", in.Line, in.Text)
		}
		var ports []networkingv1.NetworkPolicyPort
		if in.Port != 0 {
			proto, port := in.Proto, intstr.FromInt32(in.Port)
			ports = []networkingv1.NetworkPolicyPort{{Protocol: &proto, Port: &port}}
		}
		for _, s := range srcs {
			for _, d := range dsts {
				if s == d {
					continue
				}
				if !s.External() {
					eg := get(s.Namespace, "allow-egress-"+short(s), selectorOf(s), networkingv1.PolicyTypeEgress)
					eg.Spec.Egress = append(eg.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peerOf(d, selectorOf(d))}, Ports: ports})
				}
				if !d.External() && d != DNS {
					ig := get(d.Namespace, "allow-ingress-"+short(d), selectorOf(d), networkingv1.PolicyTypeIngress)
					ig.Spec.Ingress = append(ig.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{peerOf(s, selectorOf(s))}, Ports: ports})
				}
			}
		}
	}
	keys := make([]string, 0, len(policies))
	for k := range policies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*networkingv1.NetworkPolicy, 0, len(keys))
	for _, k := range keys {
		out = append(out, policies[k])
	}
	return out, nil
}

func peerOf(e *Endpoint, sel map[string]string) networkingv1.NetworkPolicyPeer {
	if e.External() {
		cidr := "0.0.0.0/0"
		if e != Internet {
			cidr = e.Addr.String() + "/32"
			if strings.Contains(e.Name, "/") {
				cidr = e.Name
			}
		}
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}}
	}
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: e.Namespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: sel},
	}
}

// short is a policy name part for an endpoint: its workload name.
func short(e *Endpoint) string {
	parts := strings.Split(e.Name, "/")
	return strings.ToLower(parts[len(parts)-1])
}
