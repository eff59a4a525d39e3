package netpol_test

// Truth tables ported from the upstream Kubernetes network policy e2e
// tests (test/e2e/network/netpol/network_policy.go, release 1.37): the same
// pods (x/a, x/b, ... with label pod=NAME and ports serve-PORT-PROTO), the
// same policies, the same expected pod x pod reachability on the probed
// port (namespace "y" is quoted: YAML 1.1, which kubectl reads, takes a
// bare y for true). Loopback is not compared, as upstream does not either. Cases that
// change objects between probes are ported as one case per state; cases
// that depend on pod IPs (ipBlock with pod CIDRs) have no static answer
// and are left out.

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/object"
)

type probe struct {
	port   int32
	proto  corev1.Protocol
	expect func(r *reach)
}

type upstreamCase struct {
	name     string
	pods     string // "x/a x/b y/a"
	ports    []int32
	protos   []corev1.Protocol // default TCP
	policies string
	probes   []probe
}

// reach is an upstream Reachability: every pair true unless set.
type reach struct {
	pods []string
	m    map[[2]string]bool
}

func newReach(pods []string) *reach {
	r := &reach{pods: pods, m: map[[2]string]bool{}}
	for _, a := range pods {
		for _, b := range pods {
			r.m[[2]string{a, b}] = true
		}
	}
	return r
}

func matches(sel, pod string) bool {
	ns, name, _ := strings.Cut(sel, "/")
	pns, pname, _ := strings.Cut(pod, "/")
	return (ns == "" || ns == pns) && (name == "" || name == pname)
}

// peer is ExpectPeer: selectors "x/" (namespace), "x/a" (pod), "/" (any).
func (r *reach) peer(from, to string, v bool) {
	for _, a := range r.pods {
		for _, b := range r.pods {
			if matches(from, a) && matches(to, b) {
				r.m[[2]string{a, b}] = v
			}
		}
	}
}
func (r *reach) allIngress(to string, v bool)  { r.peer("/", to, v) }
func (r *reach) allEgress(from string, v bool) { r.peer(from, "/", v) }
func (r *reach) set(from, to string, v bool)   { r.m[[2]string{from, to}] = v }

const policyHeader = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"

func tcp(port int32, e func(r *reach)) probe { return probe{port, corev1.ProtocolTCP, e} }

var upstreamCases = []upstreamCase{
	{name: "should support a 'default-deny-ingress' policy", pods: "x/a x/b y/a y/b", ports: []int32{80},
		policies: `metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: []}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("/", "x/", false) })}},
	{name: "should support a 'default-deny-all' policy", pods: "x/a x/b y/a", ports: []int32{80},
		policies: `metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress], ingress: [], egress: []}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("/", "x/", false); r.peer("x/", "/", false) })}},
	{name: "should enforce policy to allow traffic from pods within server namespace based on PodSelector", pods: "x/a x/b x/c y/a", ports: []int32{80},
		policies: `metadata: {name: x-a-allows-x-b, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", false); r.set("x/b", "x/a", true) })}},
	{name: "should enforce policy to allow ingress traffic for a target", pods: "x/a x/b y/a", ports: []int32{80},
		policies: `metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: []}
---
metadata: {name: allow-all-to-a, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {}, namespaceSelector: {}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", true); r.allIngress("x/b", false) })}},
	{name: "should enforce policy to allow ingress traffic from pods in all namespaces", pods: "x/a x/b y/a z/a", ports: []int32{80},
		policies: `metadata: {name: allow-from-another-ns, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) {})}},
	{name: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector", pods: "x/a x/b y/a z/a", ports: []int32{80},
		policies: `metadata: {name: allow-client-a-via-ns-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("x/", "x/a", false); r.peer("z/", "x/a", false) })}},
	{name: "should enforce policy based on PodSelector with MatchExpressions", pods: "x/a x/b y/a", ports: []int32{80},
		policies: `metadata: {name: x-a-allows-x-b, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", false); r.set("x/b", "x/a", true) })}},
	{name: "should enforce policy based on NamespaceSelector with MatchExpressions", pods: "x/a x/b y/a z/a", ports: []int32{80},
		policies: `metadata: {name: allow-ns-y-match-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: ["y"]}]}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("x/", "x/a", false); r.peer("z/", "x/a", false) })}},
	{name: "should enforce policy based on PodSelector or NamespaceSelector", pods: "x/a x/b x/c y/a", ports: []int32{80},
		policies: `metadata: {name: allow-ns-y-match-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]}}, {podSelector: {matchLabels: {pod: b}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.set("x/a", "x/a", false); r.set("x/c", "x/a", false) })}},
	{name: "should enforce policy based on PodSelector and NamespaceSelector", pods: "x/a x/b y/a y/b z/b", ports: []int32{80},
		policies: `metadata: {name: allow-ns-y-podselector-and-nsselector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]}, podSelector: {matchLabels: {pod: b}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", false); r.set("y/b", "x/a", true); r.set("z/b", "x/a", true) })}},
	{name: "should enforce policy based on Multiple PodSelectors and NamespaceSelectors", pods: "x/a x/b y/a y/b y/c", ports: []int32{80},
		policies: `metadata: {name: allow-ns-y-z-pod-b-c, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]}, podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("x/", "x/a", false); r.set("y/a", "x/a", false) })}},
	{name: "should enforce policy based on any PodSelectors", pods: "x/a x/b x/c", ports: []int32{80},
		policies: `metadata: {name: allow-ns-x-pod-b-c, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}, {podSelector: {matchLabels: {pod: c}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", false); r.set("x/b", "x/a", true); r.set("x/c", "x/a", true) })}},
	{name: "should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector", pods: "x/a x/b y/a y/b z/a", ports: []int32{80},
		policies: `metadata: {name: allow-ns-y-pod-a-via-namespace-pod-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}, podSelector: {matchLabels: {pod: a}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", false); r.set("y/a", "x/a", true) })}},
	{name: "should enforce policy based on Ports", pods: "x/a x/b y/a y/b z/a", ports: []int32{81},
		policies: `metadata: {name: allow-client-a-via-ns-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}], ports: [{port: 81, protocol: TCP}]}]}`,
		probes: []probe{tcp(81, func(r *reach) { r.peer("x/", "x/a", false); r.peer("y/", "x/a", true); r.peer("z/", "x/a", false) })}},
	{name: "should enforce multiple, stacked policies with overlapping podSelectors (first policy)", pods: "x/a x/b y/a y/b z/a", ports: []int32{80, 81},
		policies: `metadata: {name: allow-client-a-via-ns-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}], ports: [{port: 81, protocol: TCP}]}]}`,
		probes: []probe{
			tcp(81, func(r *reach) { r.peer("x/", "x/a", false); r.peer("y/", "x/a", true); r.peer("z/", "x/a", false) }),
			tcp(80, func(r *reach) { r.allIngress("x/a", false) }),
		}},
	{name: "should enforce multiple, stacked policies with overlapping podSelectors (both policies)", pods: "x/a x/b y/a y/b z/a", ports: []int32{80, 81},
		policies: `metadata: {name: allow-client-a-via-ns-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}], ports: [{port: 81, protocol: TCP}]}]}
---
metadata: {name: allow-client-a-via-ns-selector-80, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}], ports: [{port: 80, protocol: TCP}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("x/", "x/a", false); r.peer("y/", "x/a", true); r.peer("z/", "x/a", false) })}},
	{name: "should support allow-all policy", pods: "x/a x/b y/a", ports: []int32{80, 81},
		policies: `metadata: {name: allow-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{}]}`,
		probes: []probe{tcp(80, func(r *reach) {}), tcp(81, func(r *reach) {})}},
	{name: "should allow ingress access on one named port", pods: "x/a x/b y/a", ports: []int32{80, 81},
		policies: `metadata: {name: allow-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{ports: [{port: serve-81-tcp}]}]}`,
		probes: []probe{tcp(81, func(r *reach) {}), tcp(80, func(r *reach) { r.peer("/", "x/", false) })}},
	{name: "should allow ingress access from namespace on one named port", pods: "x/a x/b y/a z/a", ports: []int32{80, 81},
		policies: `metadata: {name: allow-client-a-via-ns-selector-80, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}], ports: [{port: serve-80-tcp, protocol: TCP}]}]}`,
		probes: []probe{
			tcp(80, func(r *reach) { r.peer("x/", "x/a", false); r.peer("z/", "x/a", false) }),
			tcp(81, func(r *reach) { r.allIngress("x/a", false) }),
		}},
	{name: "should allow egress access on one named port", pods: "x/a y/a", ports: []int32{80, 81},
		policies: `metadata: {name: allow-egress, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: serve-80-tcp}]}]}`,
		probes: []probe{tcp(80, func(r *reach) {}), tcp(81, func(r *reach) { r.peer("x/", "/", false) })}},
	{name: "should not allow all ports if it cannot limit to the requested port", pods: "x/a y/a", ports: []int32{80},
		policies: `metadata: {name: allow-ingress-on-nonexistent-port, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{ports: [{port: no-such-port, protocol: TCP}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", false) })}},
	{name: "should deny ingress from pods on other namespaces", pods: "x/a x/b y/a z/a", ports: []int32{80},
		policies: `metadata: {name: deny-empty-policy, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("y/", "x/", false); r.peer("z/", "x/", false) })}},
	{name: "should deny ingress access to updated pod (before the label)", pods: "x/a y/a", ports: []int32{80},
		policies: `metadata: {name: deny-ingress-via-label-selector, namespace: x}
spec: {podSelector: {matchLabels: {target: isolated}}, policyTypes: [Ingress], ingress: []}`,
		probes: []probe{tcp(80, func(r *reach) {})}},
	{name: "should deny egress from pods based on PodSelector", pods: "x/a x/b y/a", ports: []int32{80},
		policies: `metadata: {name: deny-egress-pod-a, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: []}`,
		probes: []probe{tcp(80, func(r *reach) { r.allEgress("x/a", false) })}},
	{name: "should deny egress from all pods in a namespace", pods: "x/a x/b y/a", ports: []int32{80},
		policies: `metadata: {name: deny-egress-ns-x, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress], egress: []}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("x/", "/", false) })}},
	{name: "should work with Ingress, Egress specified together", pods: "x/a x/b x/c y/a", ports: []int32{80, 81},
		policies: `metadata: {name: allow-client-a-via-pod-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress, Ingress], ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}], egress: [{ports: [{port: 80}]}]}`,
		probes: []probe{
			tcp(80, func(r *reach) { r.allIngress("x/a", false); r.set("x/b", "x/a", true) }),
			tcp(81, func(r *reach) { r.allIngress("x/a", false); r.allEgress("x/a", false); r.set("x/b", "x/a", true) }),
		}},
	{name: "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)", pods: "x/a y/a y/b", ports: []int32{80},
		policies: `metadata: {name: allow-to-ns-y-pod-a, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}, podSelector: {matchLabels: {pod: a}}}]}]}
---
metadata: {name: allow-from-xa-on-ya-match-selector, namespace: "y"}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}, podSelector: {matchLabels: {pod: a}}}]}]}
---
metadata: {name: allow-from-xa-on-yb-match-selector, namespace: "y"}
spec: {podSelector: {matchLabels: {pod: b}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}, podSelector: {matchLabels: {pod: a}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) {
			r.peer("x/a", "/", false)
			r.peer("/", "y/a", false)
			r.peer("x/a", "y/a", true)
			r.peer("/", "y/b", false)
		})}},
	{name: "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector", pods: "x/a y/a y/b", ports: []int32{80},
		policies: `metadata: {name: allow-to-ns-y-pod-a, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}, podSelector: {matchLabels: {pod: a}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.allEgress("x/a", false); r.set("x/a", "y/a", true) })}},
	{name: "should enforce ingress policy allowing any port traffic to a server on a specific protocol", pods: "x/a y/a", ports: []int32{80},
		protos: []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP},
		policies: `metadata: {name: allow-ingress-by-proto, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{ports: [{protocol: TCP}]}]}`,
		probes: []probe{tcp(80, func(r *reach) {}), {80, corev1.ProtocolUDP, func(r *reach) { r.peer("/", "x/a", false) }}}},
	{name: "should enforce multiple ingress policies with ingress allow-all policy taking precedence (port 80 only)", pods: "x/a y/a", ports: []int32{81},
		policies: `metadata: {name: allow-ingress-port-80, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{ports: [{port: 80}]}]}`,
		probes: []probe{tcp(81, func(r *reach) { r.peer("/", "x/", false) })}},
	{name: "should enforce multiple ingress policies with ingress allow-all policy taking precedence (with allow-all)", pods: "x/a y/a", ports: []int32{81},
		policies: `metadata: {name: allow-ingress-port-80, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{ports: [{port: 80}]}]}
---
metadata: {name: allow-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{}]}`,
		probes: []probe{tcp(81, func(r *reach) {})}},
	{name: "should enforce multiple egress policies with egress allow-all policy taking precedence (port 80 only)", pods: "x/a y/a", ports: []int32{81},
		policies: `metadata: {name: allow-egress-port-80, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 80}]}]}`,
		probes: []probe{tcp(81, func(r *reach) { r.peer("x/", "/", false) })}},
	{name: "should enforce multiple egress policies with egress allow-all policy taking precedence (with allow-all)", pods: "x/a y/a", ports: []int32{81},
		policies: `metadata: {name: allow-egress-port-80, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 80}]}]}
---
metadata: {name: allow-egress, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}`,
		probes: []probe{tcp(81, func(r *reach) {})}},
	{name: "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector", pods: "x/a x/b y/a", ports: []int32{80},
		policies: `metadata: {name: allow-egress-for-target, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{}]}
---
metadata: {name: deny-ingress-via-label-selector, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: []}`,
		probes: []probe{tcp(80, func(r *reach) { r.allIngress("x/a", false) })}},
	{name: "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP", pods: "x/a y/a", ports: []int32{81},
		policies: `metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: []}
---
metadata: {name: allow-only-sctp-ingress-on-port-81, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{ports: [{port: 81, protocol: SCTP}]}]}`,
		probes: []probe{tcp(81, func(r *reach) { r.peer("/", "x/", false) })}},
	{name: "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP", pods: "x/a y/a", ports: []int32{81},
		policies: `metadata: {name: allow-only-sctp-ingress-on-port-80, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{ports: [{port: 80, protocol: SCTP}]}]}`,
		probes: []probe{tcp(81, func(r *reach) { r.allIngress("x/a", false) })}},
	{name: "should not allow access by TCP when a policy specifies only UDP", pods: "x/a y/a", ports: []int32{81},
		policies: `metadata: {name: allow-only-udp-ingress-on-port-81, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{ports: [{port: 81, protocol: UDP}]}]}`,
		probes: []probe{tcp(81, func(r *reach) { r.allIngress("x/a", false) })}},
	{name: "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label", pods: "x/a x/b y/a z/a", ports: []int32{80},
		policies: `metadata: {name: allow-client-a-via-ns-selector-for-immutable-ns-label, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("x/", "x/a", false); r.peer("z/", "x/a", false) })}},
	{name: "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label", pods: "x/a x/b y/a z/a", ports: []int32{80},
		policies: `metadata: {name: allow-ns-y-match-selector-for-immutable-ns-label, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: ["y"]}]}}]}]}`,
		probes: []probe{tcp(80, func(r *reach) { r.peer("x/a", "y/", false) })}},
}

// Manifests renders a case as the objects upstream creates: namespaces,
// pods and policies.
func (c upstreamCase) Manifests() string {
	protos := c.protos
	if len(protos) == 0 {
		protos = []corev1.Protocol{corev1.ProtocolTCP}
	}
	var b strings.Builder
	nss := map[string]bool{}
	for _, p := range strings.Fields(c.pods) {
		ns, _, _ := strings.Cut(p, "/")
		nss[ns] = true
	}
	for _, ns := range []string{"x", "y", "z"} {
		if nss[ns] || strings.Contains(c.policies, "namespace: "+ns) {
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %q}\n---\n", ns)
		}
	}
	for _, p := range strings.Fields(c.pods) {
		ns, name, _ := strings.Cut(p, "/")
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: %q, namespace: %q, labels: {pod: %q}}\nspec:\n  containers:\n  - name: agnhost\n    image: registry.k8s.io/e2e-test-images/agnhost:2.53\n    ports:\n", name, ns, name)
		for _, proto := range protos {
			for _, port := range c.ports {
				fmt.Fprintf(&b, "    - {name: serve-%d-%s, containerPort: %d, protocol: %s}\n", port, strings.ToLower(string(proto)), port, proto)
			}
		}
		b.WriteString("---\n")
	}
	for i, p := range strings.Split(c.policies, "\n---\n") {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(policyHeader + p + "\n")
	}
	return b.String()
}

// Check compares the model's verdicts on inv with the case's truth tables.
func (c upstreamCase) Check(t *testing.T, inv *inventory.Inventory) int {
	t.Helper()
	m := netpol.Of(inv)
	eps := map[string]*netpol.Endpoint{}
	for _, e := range netpol.Workloads(inv) {
		parts := strings.Split(e.Name, "/") // ns/Kind/name
		eps[parts[0]+"/"+parts[2]] = e
	}
	pods := strings.Fields(c.pods)
	sort.Strings(pods)
	compared := 0
	for _, pr := range c.probes {
		want := newReach(pods)
		pr.expect(want)
		var wrong []string
		for _, a := range pods {
			for _, b := range pods {
				if a == b {
					continue // loopback: upstream ignores it
				}
				src, dst := eps[a], eps[b]
				if src == nil || dst == nil {
					t.Fatalf("%s: no endpoint for %s or %s", c.name, a, b)
				}
				got := m.Connect(src, dst, false).Ports.Contains(pr.proto, pr.port)
				if got != want.m[[2]string{a, b}] {
					wrong = append(wrong, fmt.Sprintf("%s -> %s: kubeguard %v, upstream %v", a, b, got, want.m[[2]string{a, b}]))
				}
				compared++
			}
		}
		if len(wrong) > 0 {
			t.Errorf("%s, %s/%d:\n  %s", c.name, pr.proto, pr.port, strings.Join(wrong, "\n  "))
		}
	}
	return compared
}

func loadString(t *testing.T, name, data string) *inventory.Inventory {
	t.Helper()
	eng, err := engine.New(engine.Options{Catalog: control.NewCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	var docs []object.Document
	object.SplitBytes(name, []byte(data), func(d object.Document) { docs = append(docs, d) })
	var objs []*object.Object
	for _, d := range docs {
		os, diags := object.Decode(d, object.Limits{})
		if len(diags) > 0 {
			t.Fatalf("%s: %v", name, diags)
		}
		objs = append(objs, os...)
	}
	return eng.ScanObjects(objs).Inventory
}

func TestUpstreamTruthTables(t *testing.T) {
	total := 0
	for _, c := range upstreamCases {
		total += c.Check(t, loadString(t, c.name, c.Manifests()))
	}
	t.Logf("%d cases, %d pod pairs compared", len(upstreamCases), total)
}
