package netpol

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Internet is the external endpoint standing for any address outside the
// cluster (0.0.0.0/0); TEST-NET-3 is an address no policy names by
// accident.
var Internet = &Endpoint{Name: "internet", Addr: netip.MustParseAddr("203.0.113.1")}

// NamespaceLabels returns the labels of every namespace the inventory
// knows, with the kubernetes.io/metadata.name label the API server sets on
// every namespace.
func NamespaceLabels(inv *inventory.Inventory) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, e := range inv.OfKind("Namespace") {
		l := map[string]string{}
		for k, v := range e.Object.Metadata("labels") {
			l[k] = v
		}
		l[corev1.LabelMetadataName] = e.Object.Name
		out[e.Object.Name] = l
	}
	return out
}

// Workloads returns an endpoint per workload of the inventory: controllers
// and the pods no controller owns, so that a Deployment's pods appear once,
// as the Deployment.
func Workloads(inv *inventory.Inventory) []*Endpoint {
	nsLabels := NamespaceLabels(inv)
	var out []*Endpoint
	for _, e := range inv.Entries() {
		w := e.Workload
		if w == nil || e.Object.Namespace == "" {
			continue
		}
		if md, _ := e.Object.Content["metadata"].(map[string]any); md != nil && md["ownerReferences"] != nil {
			continue // counted through its owner
		}
		ns := e.Object.Namespace
		l := nsLabels[ns]
		if l == nil {
			l = map[string]string{corev1.LabelMetadataName: ns}
		}
		ep := &Endpoint{Name: ns + "/" + e.Object.Kind + "/" + e.Object.Name, Namespace: ns, Labels: w.Meta.Labels,
			NSLabels: l, HostNetwork: w.Spec.HostNetwork}
		for _, c := range w.Containers {
			ep.Ports = append(ep.Ports, c.Ports...)
		}
		if sel, ok := object.Get(e.Object.Content, "spec.selector.matchLabels"); ok {
			ep.Selector = object.StringMap(sel)
		}
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// External returns the external endpoints worth showing: the internet,
// and one address inside each ipBlock the policies name (outside its
// exceptions).
func (m *Model) External() []*Endpoint {
	out := []*Endpoint{Internet}
	seen := map[string]bool{}
	for _, ps := range m.byNS {
		for _, p := range ps {
			for _, r := range p.Spec.Ingress {
				for _, pe := range r.From {
					if pe.IPBlock != nil {
						if a, ok := inside(pe.IPBlock.CIDR, pe.IPBlock.Except); ok && !seen[pe.IPBlock.CIDR] {
							seen[pe.IPBlock.CIDR] = true
							out = append(out, &Endpoint{Name: pe.IPBlock.CIDR, Addr: a})
						}
					}
				}
			}
			for _, r := range p.Spec.Egress {
				for _, pe := range r.To {
					if pe.IPBlock != nil {
						if a, ok := inside(pe.IPBlock.CIDR, pe.IPBlock.Except); ok && !seen[pe.IPBlock.CIDR] {
							seen[pe.IPBlock.CIDR] = true
							out = append(out, &Endpoint{Name: pe.IPBlock.CIDR, Addr: a})
						}
					}
				}
			}
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out
}

// inside returns an address of cidr that no exception covers: the first,
// or the first after each exception.
func inside(cidr string, except []string) (netip.Addr, bool) {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Addr{}, false
	}
	candidates := []netip.Addr{pfx.Masked().Addr()}
	for _, e := range except {
		if ex, err := netip.ParsePrefix(e); err == nil {
			if n := lastAddr(ex).Next(); n.IsValid() {
				candidates = append(candidates, n)
			}
		}
	}
	for _, a := range candidates {
		excluded := !pfx.Contains(a)
		for _, e := range except {
			if ex, err := netip.ParsePrefix(e); err == nil && ex.Contains(a) {
				excluded = true
			}
		}
		if !excluded {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// lastAddr returns the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
