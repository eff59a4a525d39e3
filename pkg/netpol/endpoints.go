package netpol

import (
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

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
// as the Deployment. Pods (or ReplicaSets) whose owner is not in the input
// (a kubectl get pods snapshot) appear once per owner, under its name.
func Workloads(inv *inventory.Inventory) []*Endpoint {
	nsLabels := NamespaceLabels(inv)
	present := map[string]bool{} // uids and ns/Kind/name of the workloads
	for _, e := range inv.Entries() {
		if e.Workload != nil {
			if u := inventory.UID(e.Object); u != "" {
				present[u] = true
			}
			present[e.Object.Namespace+"/"+e.Object.Kind+"/"+e.Object.Name] = true
		}
	}
	owners := map[string]bool{}
	var out []*Endpoint
	for _, e := range inv.Entries() {
		w := e.Workload
		if w == nil || e.Object.Namespace == "" {
			continue
		}
		ns := e.Object.Namespace
		name := ns + "/" + e.Object.Kind + "/" + e.Object.Name
		if kind, owner, uid, ok := inventory.Owner(e.Object); ok {
			key := ns + "/" + kind + "/" + owner
			if uid != "" && present[uid] || present[key] || owners[key] {
				continue // counted through its owner
			}
			owners[key] = true
			name = key
		}
		ep := EndpointOf(e, nsLabels)
		ep.Name = name
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// EndpointOf is the endpoint of one workload entry, named ns/Kind/name;
// nsLabels are NamespaceLabels of its inventory.
func EndpointOf(e inventory.Entry, nsLabels map[string]map[string]string) *Endpoint {
	w, ns := e.Workload, e.Object.Namespace
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
	return ep
}

// External returns the external endpoints worth showing: the internet,
// one address inside each ipBlock the policies name (outside its
// exceptions), one inside each exception, and one inside each network of
// the admin policies.
func (m *Model) External() []*Endpoint {
	out := []*Endpoint{Internet}
	seen := map[string]bool{}
	add := func(name, cidr string, except []string) {
		if seen[name] {
			return
		}
		if a, ok := inside(cidr, except); ok {
			seen[name] = true
			out = append(out, &Endpoint{Name: name, Addr: a})
		}
	}
	block := func(b *networkingv1.IPBlock) {
		name := b.CIDR
		if len(b.Except) > 0 {
			name += " except " + strings.Join(b.Except, ",")
		}
		add(name, b.CIDR, b.Except)
		for _, x := range b.Except {
			add(x, x, nil)
		}
	}
	for _, ps := range m.byNS {
		for _, p := range ps {
			for _, r := range p.Spec.Ingress {
				for _, pe := range r.From {
					if pe.IPBlock != nil {
						block(pe.IPBlock)
					}
				}
			}
			for _, r := range p.Spec.Egress {
				for _, pe := range r.To {
					if pe.IPBlock != nil {
						block(pe.IPBlock)
					}
				}
			}
		}
	}
	for _, ps := range [][]*AdminPolicy{m.admin, m.baseline} {
		for _, p := range ps {
			for _, rules := range [][]anpRule{p.spec.Ingress, p.spec.Egress} {
				for _, r := range rules {
					for _, pe := range append(append([]anpPeer{}, r.From...), r.To...) {
						for _, n := range pe.Networks {
							add(n, n, nil)
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
