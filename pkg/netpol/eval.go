package netpol

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Endpoint is one side of a connection: a workload's pods, or an address
// outside the cluster.
type Endpoint struct {
	// Name identifies the endpoint: "ns/Kind/name" for workloads, the
	// address or a chosen name for external endpoints.
	Name      string
	Namespace string // "" for external endpoints
	Labels    map[string]string
	NSLabels  map[string]string
	// Selector is the workload's own pod selector (spec.selector
	// matchLabels), which generated policies use: template labels such as
	// versions change more often.
	Selector map[string]string
	// Ports are the containers' ports; named ports resolve against them.
	Ports []corev1.ContainerPort
	// HostNetwork pods use the node's network: policies neither select
	// nor isolate them.
	HostNetwork bool
	// Addr is the address of an external endpoint.
	Addr netip.Addr
}

// External reports whether the endpoint is outside the pod network.
func (e *Endpoint) External() bool { return e.Namespace == "" }

// Reason is one step of an explanation.
type Reason struct {
	Direction string // "egress" or "ingress"
	Policy    string // namespace/name, "" when no policy applies
	Rule      int    // index of the rule, -1 for none
	Ports     PortSet
	Text      string
}

// Verdict is what the policies decide for a pair of endpoints.
type Verdict struct {
	Ports   PortSet // allowed ports: egress and ingress both allow them
	Egress  PortSet
	Ingress PortSet
	Reasons []Reason
}

// Connect evaluates src -> dst with NetworkPolicy semantics: the egress
// policies selecting src and the ingress policies selecting dst must both
// allow a port. A pod no policy of a direction selects is not isolated in
// that direction.
func (m *Model) Connect(src, dst *Endpoint, explain bool) Verdict {
	return m.connect(src, dst, m.selecting(src, false), m.selecting(dst, true), explain)
}

func (m *Model) connect(src, dst *Endpoint, egressPols, ingressPols []*Policy, explain bool) Verdict {
	var v Verdict
	v.Egress = m.direction(src, dst, false, egressPols, explain, &v.Reasons)
	if v.Egress.Empty() && !explain {
		v.Ingress, v.Ports = PortSet{}, PortSet{}
		return v
	}
	v.Ingress = m.direction(src, dst, true, ingressPols, explain, &v.Reasons)
	v.Ports = v.Egress.Intersect(v.Ingress)
	return v
}

// selecting returns the policies of ep's namespace that select it for a
// direction; nil for endpoints policies do not apply to.
func (m *Model) selecting(ep *Endpoint, ingress bool) []*Policy {
	if ep.External() || ep.HostNetwork {
		return nil
	}
	var out []*Policy
	for _, p := range m.byNS[ep.Namespace] {
		if (ingress && p.Ingress || !ingress && p.Egress) && p.Selects(ep.Labels) {
			out = append(out, p)
		}
	}
	return out
}

// direction returns what the policies of one side allow: egress policies
// selecting src, or ingress policies selecting dst.
func (m *Model) direction(src, dst *Endpoint, ingress bool, selecting []*Policy, explain bool, reasons *[]Reason) PortSet {
	self, peer, dir := src, dst, "egress"
	if ingress {
		self, peer, dir = dst, src, "ingress"
	}
	if self.External() || self.HostNetwork {
		if explain {
			*reasons = append(*reasons, Reason{Direction: dir, Rule: -1, Ports: AllPorts(), Text: self.Name + " is not subject to NetworkPolicies"})
		}
		return AllPorts()
	}
	// Admin tier first: what it allows or denies is settled; the rest,
	// and what it passes, goes to the NetworkPolicies.
	allowed, left := PortSet{}, AllPorts()
	if len(m.admin) > 0 {
		allowed, left = adminTier(m.admin, self, peer, dst, ingress, explain, reasons, dir)
		if left.Empty() {
			return allowed
		}
	}
	if len(selecting) == 0 {
		// Not isolated by NetworkPolicies: the baseline decides, and
		// allows what it does not deny.
		if len(m.baseline) > 0 {
			bAllowed, bLeft := adminTier(m.baseline, self, peer, dst, ingress, explain, reasons, dir)
			allowed.Union(bAllowed.Intersect(left))
			allowed.Union(bLeft.Intersect(left))
			return allowed
		}
		if explain {
			*reasons = append(*reasons, Reason{Direction: dir, Rule: -1, Ports: left,
				Text: fmt.Sprintf("no NetworkPolicy selects %s for %s: not isolated", self.Name, dir)})
		}
		allowed.Union(left)
		return allowed
	}
	npAllowed := m.networkPolicies(self, peer, dst, ingress, selecting, explain, reasons, dir)
	allowed.Union(npAllowed.Intersect(left))
	return allowed
}

// networkPolicies returns what the NetworkPolicies selecting self allow.
func (m *Model) networkPolicies(self, peer, dst *Endpoint, ingress bool, selecting []*Policy, explain bool, reasons *[]Reason, dir string) PortSet {
	src := peer
	if !ingress {
		src = self
	}
	out := PortSet{}
	for _, p := range selecting {
		name := p.Object.Namespace + "/" + p.Object.Name
		matched := false
		if ingress {
			for i, r := range p.Spec.Ingress {
				if p.peersMatch(r.From, peer) {
					ports := RulePorts(r.Ports, dst)
					out.Union(ports)
					matched = true
					if explain {
						*reasons = append(*reasons, Reason{dir, name, i, ports, fmt.Sprintf("%s ingress rule %d allows %s from %s", name, i, ports, src.Name)})
					}
				}
			}
		} else {
			for i, r := range p.Spec.Egress {
				if p.peersMatch(r.To, peer) {
					ports := RulePorts(r.Ports, dst)
					out.Union(ports)
					matched = true
					if explain {
						*reasons = append(*reasons, Reason{dir, name, i, ports, fmt.Sprintf("%s egress rule %d allows %s to %s", name, i, ports, dst.Name)})
					}
				}
			}
		}
		if explain && !matched {
			*reasons = append(*reasons, Reason{dir, name, -1, PortSet{}, fmt.Sprintf("%s selects %s for %s; none of its rules matches %s", name, self.Name, dir, peer.Name)})
		}
	}
	return out
}

// peersMatch reports whether a rule's peers include ep. No peers means
// every source or destination; a peer with both selectors needs both
// (AND), separate peers are alternatives (OR). ipBlocks match external
// addresses; pod addresses are not known before pods run.
func (pol *Policy) peersMatch(peers []networkingv1.NetworkPolicyPeer, ep *Endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			if ep.External() && InBlock(p.IPBlock, ep.Addr) {
				return true
			}
			continue
		}
		if ep.External() || ep.HostNetwork {
			continue
		}
		nsOK := ep.Namespace == pol.Object.Namespace
		if p.NamespaceSelector != nil {
			nsOK = pol.peers[p.NamespaceSelector].Matches(labels.Set(ep.NSLabels))
		}
		if nsOK && (p.PodSelector == nil || pol.peers[p.PodSelector].Matches(labels.Set(ep.Labels))) {
			return true
		}
	}
	return false
}

// InBlock reports whether an ipBlock holds address a outside its
// exceptions.
func InBlock(b *networkingv1.IPBlock, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	pfx, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !pfx.Contains(a) {
		return false
	}
	for _, e := range b.Except {
		if ex, err := netip.ParsePrefix(e); err == nil && ex.Contains(a) {
			return false
		}
	}
	return true
}

// RulePorts returns the ports a rule allows on dst: every port without a
// ports list; a number, a range up to endPort, or a name resolved against
// dst's container ports (a name dst does not declare allows nothing).
func RulePorts(ports []networkingv1.NetworkPolicyPort, dst *Endpoint) PortSet {
	if len(ports) == 0 {
		return AllPorts()
	}
	out := PortSet{}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		switch {
		case p.Port == nil:
			out.Add(proto, Range{1, maxPort})
		case p.Port.Type == intstr.Int:
			hi := p.Port.IntVal
			if p.EndPort != nil && *p.EndPort >= hi {
				hi = *p.EndPort
			}
			out.Add(proto, Range{p.Port.IntVal, hi})
		default:
			for _, cp := range dst.Ports {
				cpProto := cp.Protocol
				if cpProto == "" {
					cpProto = corev1.ProtocolTCP
				}
				if cp.Name == p.Port.StrVal && cpProto == proto {
					out.Add(proto, Range{cp.ContainerPort, cp.ContainerPort})
				}
			}
		}
	}
	return out
}
