package netpol_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/netpol"
)

const anpHeader = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
const banpHeader = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n"
const npHeader = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"

// anpPods are x/a, x/b, y/a serving TCP 80 and 81.
func anpPods() string {
	var b strings.Builder
	for _, ns := range []string{"x", "y"} {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %q}\n---\n", ns)
	}
	for _, p := range []string{"x/a", "x/b", "y/a"} {
		ns, name, _ := strings.Cut(p, "/")
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: %q, namespace: %q, labels: {pod: %q}}\nspec:\n  containers:\n  - name: c\n    image: registry.example.com/c:1\n    ports: [{name: http, containerPort: 80}, {name: alt, containerPort: 81}]\n---\n", name, ns, name)
	}
	return b.String()
}

func TestAdminNetworkPolicyTiers(t *testing.T) {
	allowAllNP := npHeader + `metadata: {name: allow-all, namespace: "x"}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{}]}`
	denyFromY := anpHeader + `metadata: {name: deny-from-y}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: "x"}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: "y"}}}]}]`
	for _, tc := range []struct {
		name    string
		objects []string
		port    int32
		expect  func(r *reach)
	}{
		{"admin Deny overrides a NetworkPolicy that allows", []string{allowAllNP, denyFromY}, 80,
			func(r *reach) { r.peer("y/", "x/", false) }},
		{"higher priority Allow wins per port (80)", []string{denyFromY, anpHeader + `metadata: {name: allow-y-80}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: "x"}}}
  ingress: [{name: allow-80, action: Allow, from: [{namespaces: {}}], ports: [{portNumber: {protocol: TCP, port: 80}}]}]`}, 80,
			func(r *reach) {}},
		{"higher priority Allow wins per port (81 still denied)", []string{denyFromY, anpHeader + `metadata: {name: allow-y-80}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: "x"}}}
  ingress: [{name: allow-80, action: Allow, from: [{namespaces: {}}], ports: [{namedPort: http}]}]`}, 81,
			func(r *reach) { r.peer("y/", "x/", false) }},
		{"Pass hands over to NetworkPolicies", []string{anpHeader + `metadata: {name: pass-y}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: "x"}}}
  ingress: [{name: pass, action: Pass, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: "y"}}}]}]`,
			denyFromY, npHeader + `metadata: {name: a-from-b, namespace: "x"}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}`}, 80,
			// Passed traffic skips the lower-priority Deny: x/b is open,
			// x/a follows its NetworkPolicy.
			func(r *reach) { r.allIngress("x/a", false); r.set("x/b", "x/a", true) }},
		{"baseline applies only where NetworkPolicies do not isolate", []string{banpHeader + `metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: "x"}}}
  ingress: [{name: deny-all, action: Deny, from: [{namespaces: {}}]}]`,
			npHeader + `metadata: {name: a-from-b, namespace: "x"}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}`}, 80,
			func(r *reach) { r.peer("/", "x/", false); r.set("x/b", "x/a", true) }},
		{"egress Deny to networks", []string{anpHeader + `metadata: {name: no-internet}
spec:
  priority: 3
  subject: {pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "x"}}, podSelector: {matchLabels: {pod: a}}}}
  egress: [{name: deny-out, action: Deny, to: [{networks: [0.0.0.0/0]}]}]`}, 80,
			func(r *reach) {}},
	} {
		inv := loadString(t, tc.name, anpPods()+strings.Join(tc.objects, "\n---\n"))
		m := netpol.Of(inv)
		eps := map[string]*netpol.Endpoint{}
		for _, e := range netpol.Workloads(inv) {
			p := strings.Split(e.Name, "/")
			eps[p[0]+"/"+p[2]] = e
		}
		pods := []string{"x/a", "x/b", "y/a"}
		want := newReach(pods)
		tc.expect(want)
		for _, a := range pods {
			for _, b := range pods {
				if a == b {
					continue
				}
				got := m.Connect(eps[a], eps[b], false).Ports.Contains(corev1.ProtocolTCP, tc.port)
				if got != want.m[[2]string{a, b}] {
					t.Errorf("%s: %s -> %s on %d: got %v, want %v", tc.name, a, b, tc.port, got, want.m[[2]string{a, b}])
				}
			}
		}
		if tc.name == "egress Deny to networks" {
			if got := m.Connect(eps["x/a"], netpol.Internet, false).Ports; !got.Empty() {
				t.Errorf("x/a -> internet: %s, want none", got)
			}
			if got := m.Connect(eps["x/b"], netpol.Internet, false).Ports; got.String() != "all" {
				t.Errorf("x/b -> internet: %s, want all", got)
			}
		}
	}
}

func TestPortSetSubtract(t *testing.T) {
	s := netpol.AllPorts().Subtract(netpol.PortSet{corev1.ProtocolTCP: {{80, 81}, {443, 443}}})
	if got := s.String(); got != "TCP/1-79,82-442,444-65535 UDP/all SCTP/all" {
		t.Errorf("subtract: %s", got)
	}
}
