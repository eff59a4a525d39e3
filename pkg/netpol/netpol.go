// Package netpol is kubeguard's one model of NetworkPolicy semantics. The
// catalog's network controls and the netpol command read it; none of them
// evaluates selectors on its own.
package netpol

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Policy is a NetworkPolicy with its effective policy types.
type Policy struct {
	Object *object.Object
	Spec   networkingv1.NetworkPolicySpec
	// Ingress and Egress are the effective policy types: without
	// policyTypes, a policy always governs ingress and governs egress only
	// when it has egress rules.
	Ingress, Egress bool
	selector        labels.Selector
	// peers holds the parsed selectors of the rules' peers: connectivity
	// matrices test them millions of times.
	peers map[*metav1.LabelSelector]labels.Selector
}

// Selects reports whether the policy applies to a pod with these labels in
// the policy's namespace. An empty podSelector selects every pod.
func (p *Policy) Selects(podLabels map[string]string) bool {
	return p.selector.Matches(labels.Set(podLabels))
}

// SelectsAll reports whether the policy applies to every pod of its
// namespace.
func (p *Policy) SelectsAll() bool { return p.selector.Empty() }

// Covers reports whether the policy isolates every pod of its namespace
// for ingress (or egress): with no rules it is a default deny, with rules
// it allows only what they list.
func (p *Policy) Covers(ingress bool) bool {
	return p.SelectsAll() && (ingress && p.Ingress || !ingress && p.Egress)
}

// New reads a NetworkPolicy object; it reports false for other kinds and
// for policies whose selector is invalid (the API server rejects them).
func New(o *object.Object) (*Policy, bool) {
	if o.Kind != "NetworkPolicy" || o.Group() != "networking.k8s.io" {
		return nil, false
	}
	np, ok := inventory.As[networkingv1.NetworkPolicy](o)
	if !ok || len(validateNP(&np.Spec)) > 0 {
		return nil, false // the API server rejects it; scan and netpol report it
	}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return nil, false
	}
	p := &Policy{Object: o, Spec: np.Spec, selector: sel, peers: map[*metav1.LabelSelector]labels.Selector{}}
	parse := func(peers []networkingv1.NetworkPolicyPeer) {
		for i := range peers {
			for _, ls := range []*metav1.LabelSelector{peers[i].PodSelector, peers[i].NamespaceSelector} {
				if ls == nil {
					continue
				}
				if s, err := metav1.LabelSelectorAsSelector(ls); err == nil {
					p.peers[ls] = s
				} else {
					p.peers[ls] = labels.Nothing() // the API server rejects it
				}
			}
		}
	}
	for _, r := range p.Spec.Ingress {
		parse(r.From)
	}
	for _, r := range p.Spec.Egress {
		parse(r.To)
	}
	if len(np.Spec.PolicyTypes) == 0 {
		p.Ingress, p.Egress = true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		p.Ingress = p.Ingress || t == networkingv1.PolicyTypeIngress
		p.Egress = p.Egress || t == networkingv1.PolicyTypeEgress
	}
	return p, true
}

// Model holds the policies of an inventory by namespace.
type Model struct {
	byNS map[string][]*Policy
	// admin are the AdminNetworkPolicies by priority; baseline is the
	// BaselineAdminNetworkPolicy, if any.
	admin    []*AdminPolicy
	baseline []*AdminPolicy
}

// Of returns the model of an inventory, built once.
func Of(inv *inventory.Inventory) *Model {
	return inv.Memo("netpol.Model", []string{"NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}, func(inv *inventory.Inventory) any {
		m := &Model{byNS: map[string][]*Policy{}}
		for _, e := range lastOfEach(inv, "NetworkPolicy") {
			if p, ok := New(e.Object); ok {
				m.byNS[e.Object.Namespace] = append(m.byNS[e.Object.Namespace], p)
			}
		}
		for _, e := range lastOfEach(inv, "AdminNetworkPolicy") {
			if p, ok := newAdmin(e.Object); ok {
				m.admin = append(m.admin, p)
			}
		}
		for _, e := range lastOfEach(inv, "BaselineAdminNetworkPolicy") {
			if p, ok := newAdmin(e.Object); ok {
				m.baseline = append(m.baseline, p)
			}
		}
		sortAdmin(m.admin)
		return m
	}).(*Model)
}

// lastOfEach returns the policies of a kind, one per namespace and name:
// applying two of the same name keeps the last.
func lastOfEach(inv *inventory.Inventory, kind string) []inventory.Entry {
	all := inv.OfKind(kind)
	last := map[[2]string]int{}
	for i, e := range all {
		last[[2]string{e.Object.Namespace, e.Object.Name}] = i
	}
	out := make([]inventory.Entry, 0, len(last))
	for i, e := range all {
		if last[[2]string{e.Object.Namespace, e.Object.Name}] == i {
			out = append(out, e)
		}
	}
	return out
}

// Duplicates reports policies defined again under the same name: the
// earlier definition never takes effect.
func Duplicates(inv *inventory.Inventory) []object.Diagnostic {
	var out []object.Diagnostic
	for _, kind := range []string{"NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"} {
		first := map[[2]string]*object.Object{}
		for _, e := range inv.OfKind(kind) {
			k := [2]string{e.Object.Namespace, e.Object.Name}
			if f, ok := first[k]; ok {
				out = append(out, object.Diagnostic{Pos: e.Object.Locate("metadata.name"), Severity: object.SeverityError,
					Message: fmt.Sprintf("%s is defined again (first at %s); applying both keeps only this one", e.Object.Ref, f.Source)})
				continue
			}
			first[k] = e.Object
		}
	}
	return out
}

// Policies returns the policies of a namespace.
func (m *Model) Policies(ns string) []*Policy { return m.byNS[ns] }

// Isolated reports whether a pod with these labels in ns is selected by a
// policy governing ingress (or egress), i.e. whether only explicitly
// allowed traffic reaches it.
func (m *Model) Isolated(ns string, podLabels map[string]string, ingress bool) bool {
	for _, p := range m.byNS[ns] {
		if (ingress && p.Ingress || !ingress && p.Egress) && p.Selects(podLabels) {
			return true
		}
	}
	return false
}

// DefaultDeny reports whether ns has a policy that isolates all of its
// pods for ingress (or egress), so that traffic not explicitly allowed is
// denied.
func (m *Model) DefaultDeny(ns string, ingress bool) bool {
	for _, p := range m.byNS[ns] {
		if p.Covers(ingress) {
			return true
		}
	}
	return false
}
