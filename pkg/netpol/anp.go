package netpol

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io
// v1alpha1) are cluster-scoped tiers around NetworkPolicies: admin rules,
// by priority, Allow, Deny or Pass before NetworkPolicies see the
// traffic; the baseline applies to traffic NetworkPolicies leave alone.
// The types below hold the fields the evaluation reads.

type anpPods struct {
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`
	PodSelector       metav1.LabelSelector `json:"podSelector"`
}

type anpSubject struct {
	Namespaces *metav1.LabelSelector `json:"namespaces,omitempty"`
	Pods       *anpPods              `json:"pods,omitempty"`
}

type anpPeer struct {
	Namespaces *metav1.LabelSelector `json:"namespaces,omitempty"`
	Pods       *anpPods              `json:"pods,omitempty"`
	Networks   []string              `json:"networks,omitempty"`
}

type anpPort struct {
	PortNumber *struct {
		Protocol corev1.Protocol `json:"protocol"`
		Port     int32           `json:"port"`
	} `json:"portNumber,omitempty"`
	NamedPort *string `json:"namedPort,omitempty"`
	PortRange *struct {
		Protocol corev1.Protocol `json:"protocol"`
		Start    int32           `json:"start"`
		End      int32           `json:"end"`
	} `json:"portRange,omitempty"`
}

type anpRule struct {
	Name   string     `json:"name"`
	Action string     `json:"action"` // Allow, Deny, Pass (admin only)
	From   []anpPeer  `json:"from,omitempty"`
	To     []anpPeer  `json:"to,omitempty"`
	Ports  *[]anpPort `json:"ports,omitempty"`
}

type anpSpec struct {
	Priority int32      `json:"priority"`
	Subject  anpSubject `json:"subject"`
	Ingress  []anpRule  `json:"ingress,omitempty"`
	Egress   []anpRule  `json:"egress,omitempty"`
}

// AdminPolicy is an AdminNetworkPolicy or the BaselineAdminNetworkPolicy.
type AdminPolicy struct {
	Object   *object.Object
	Baseline bool
	spec     anpSpec
}

func newAdmin(o *object.Object) (*AdminPolicy, bool) {
	if o.Group() != "policy.networking.k8s.io" || o.Kind != "AdminNetworkPolicy" && o.Kind != "BaselineAdminNetworkPolicy" {
		return nil, false
	}
	var s anpSpec
	if len(validateANP(o, &s)) > 0 {
		return nil, false // the API server rejects it; scan and netpol report it
	}
	return &AdminPolicy{Object: o, Baseline: o.Kind == "BaselineAdminNetworkPolicy", spec: s}, true
}

// sortAdmin orders admin policies by priority (lower first), then name.
func sortAdmin(ps []*AdminPolicy) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].spec.Priority != ps[j].spec.Priority {
			return ps[i].spec.Priority < ps[j].spec.Priority
		}
		return ps[i].Object.Name < ps[j].Object.Name
	})
}

func matchSel(s *metav1.LabelSelector, l map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(s)
	return err == nil && sel.Matches(labels.Set(l))
}

func (p *AdminPolicy) selects(ep *Endpoint) bool {
	s := p.spec.Subject
	switch {
	case s.Namespaces != nil:
		return matchSel(s.Namespaces, ep.NSLabels)
	case s.Pods != nil:
		return matchSel(&s.Pods.NamespaceSelector, ep.NSLabels) && matchSel(&s.Pods.PodSelector, ep.Labels)
	}
	return false
}

func peerMatches(peers []anpPeer, ep *Endpoint) bool {
	for _, p := range peers {
		switch {
		case p.Networks != nil:
			for _, n := range p.Networks {
				if pfx, err := netip.ParsePrefix(n); err == nil && ep.External() && ep.Addr.IsValid() && pfx.Contains(ep.Addr) {
					return true
				}
			}
		case ep.External() || ep.HostNetwork:
		case p.Namespaces != nil:
			if matchSel(p.Namespaces, ep.NSLabels) {
				return true
			}
		case p.Pods != nil:
			if matchSel(&p.Pods.NamespaceSelector, ep.NSLabels) && matchSel(&p.Pods.PodSelector, ep.Labels) {
				return true
			}
		}
	}
	return false
}

// ports returns what a rule's ports cover on dst; no ports list means all.
func (r *anpRule) ports(dst *Endpoint) PortSet {
	if r.Ports == nil {
		return AllPorts()
	}
	out := PortSet{}
	for _, p := range *r.Ports {
		switch {
		case p.PortNumber != nil:
			out.Add(protoOr(p.PortNumber.Protocol), Range{p.PortNumber.Port, p.PortNumber.Port})
		case p.PortRange != nil:
			out.Add(protoOr(p.PortRange.Protocol), Range{p.PortRange.Start, p.PortRange.End})
		case p.NamedPort != nil:
			for _, cp := range dst.Ports {
				if cp.Name == *p.NamedPort {
					out.Add(protoOr(cp.Protocol), Range{cp.ContainerPort, cp.ContainerPort})
				}
			}
		}
	}
	return out
}

func protoOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

var actionVerb = map[string]string{"Allow": "allows", "Deny": "denies", "Pass": "passes"}

// adminTier applies the admin policies selecting self to the ports still
// undecided: Allow and Deny settle ports for good, Pass hands them to the
// NetworkPolicies. It returns the allowed ports and those left for the
// next tier.
func adminTier(ps []*AdminPolicy, self, peer, dst *Endpoint, ingress, explain bool, reasons *[]Reason, dir string) (allowed, left PortSet) {
	allowed, left = PortSet{}, AllPorts()
	passed := PortSet{}
	for _, p := range ps {
		if !p.selects(self) {
			continue
		}
		rules := p.spec.Egress
		if ingress {
			rules = p.spec.Ingress
		}
		for i := range rules {
			r := &rules[i]
			peers := r.To
			if ingress {
				peers = r.From
			}
			if !peerMatches(peers, peer) {
				continue
			}
			ports := r.ports(dst).Intersect(left)
			if ports.Empty() {
				continue
			}
			left = left.Subtract(ports)
			switch r.Action {
			case "Allow":
				allowed.Union(ports)
			case "Pass":
				passed.Union(ports)
			}
			if explain {
				*reasons = append(*reasons, Reason{dir, p.Object.Kind + "/" + p.Object.Name, i, ports,
					fmt.Sprintf("%s %s %s rule %d (%s) %s %s", p.Object.Kind, p.Object.Name, dir, i, r.Name, actionVerb[r.Action], ports)})
			}
		}
	}
	left.Union(passed)
	return allowed, left
}
