// Package reach says how far a problem in an object spreads beyond it:
// workloads whose ServiceAccount can escalate, workloads the internet can
// connect to, and the Services and routes that expose them. The HTML
// report ranks its worst risks by severity, then by reach.
package reach

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// Exposure scores, beside the RBAC capability scores (cluster-admin 100).
const (
	// Internet: a LoadBalancer open to any address, an Ingress or a
	// Gateway route.
	Internet = 60
	// ExternalIPs: a Service answering on addresses routed to the nodes.
	ExternalIPs = 50
	// Nodes: a NodePort or host port, on every node's (or its node's)
	// address, or an internal LoadBalancer: reachable from the cloud
	// network, and from outside only if it is.
	Nodes = 40
)

type why struct {
	score int
	rbac  bool
	text  string
}

// Of returns the reach of inv's objects that have any, by
// report.ReachKey. risks are rbac.Model.Risks of the same inventory.
func Of(inv *inventory.Inventory, risks []rbac.SubjectRisk) map[string]report.Reach {
	found := map[string][]why{}
	add := func(o *object.Object, w why) {
		k := report.ReachKey(o.Ref, o.Source)
		if !slices.Contains(found[k], w) {
			found[k] = append(found[k], w)
		}
	}
	workloads := map[string]inventory.Entry{} // by Ref.String(), as rbac names them
	for _, e := range inv.Entries() {
		if e.Workload != nil && e.Object.Namespace != "" {
			workloads[e.Object.Ref.String()] = e
		}
	}
	// the workloads a Service can select, by namespace: not pods whose
	// controller is in the inventory, which carries their reach
	byNS := map[string][]inventory.Entry{}
	for _, e := range workloads {
		kind, name, _, owned := inventory.Owner(e.Object)
		if _, present := workloads[object.Ref{Kind: kind, Namespace: e.Object.Namespace, Name: name}.String()]; !owned || !present {
			byNS[e.Object.Namespace] = append(byNS[e.Object.Namespace], e)
		}
	}
	for _, es := range byNS {
		slices.SortFunc(es, func(a, b inventory.Entry) int { return a.Object.Ref.Compare(b.Object.Ref) })
	}

	// the power of the ServiceAccount whose token the pods carry
	for _, sr := range risks {
		if !strings.HasPrefix(sr.Subject, "sa:") || len(sr.Risks) == 0 {
			continue
		}
		top := sr.Risks[0]
		for _, w := range sr.Workloads {
			if e, ok := workloads[w.Ref]; ok && w.Automount {
				var steps []string
				for _, st := range top.Path {
					steps = append(steps, st.Via)
				}
				add(e.Object, why{top.Score, true, fmt.Sprintf("runs as %s with its token mounted, which holds %s: %s",
					sr.Subject, strings.Join(steps, ", then "), top.Effect)})
			}
		}
	}

	// exposure: Services of the workloads, and what routes to them
	nsLabels := netpol.NamespaceLabels(inv)
	model := netpol.Of(inv)
	// fromInternet says whether the NetworkPolicies admit a connection
	// from an address outside the cluster into the workload.
	fromInternet := func(e inventory.Entry) bool {
		return !model.Connect(netpol.Internet, netpol.EndpointOf(e, nsLabels), false).Ingress.Empty()
	}
	selected := map[string][]inventory.Entry{} // Service ns/name -> workloads
	for _, s := range inv.OfKind("Service") {
		if s.Object.Group() != "" {
			continue
		}
		sel := object.StringMap(at(s.Object.Content, "spec.selector"))
		if len(sel) == 0 {
			continue // endpoints managed by hand: nothing to follow
		}
		selector := labels.SelectorFromSet(sel)
		var ws []inventory.Entry
		for _, e := range byNS[s.Object.Namespace] {
			if selector.Matches(labels.Set(e.Workload.Meta.Labels)) {
				ws = append(ws, e)
			}
		}
		selected[s.Object.Namespace+"/"+s.Object.Name] = ws
		score, text := serviceExposure(s.Object)
		if score == 0 {
			continue
		}
		for _, e := range ws {
			if !fromInternet(e) {
				continue // NetworkPolicies keep the outside out
			}
			add(e.Object, why{score, false, text})
			add(s.Object, why{score, false, fmt.Sprintf("exposes %s: %s", e.Object.Ref, text)})
		}
	}
	route := func(r *object.Object, ns, svc string) {
		for _, e := range selected[ns+"/"+svc] {
			add(e.Object, why{Internet, false, fmt.Sprintf("%s routes traffic from outside the cluster to it through Service/%s/%s", r.Ref, ns, svc)})
			add(r, why{Internet, false, fmt.Sprintf("routes traffic from outside the cluster to %s", e.Object.Ref)})
		}
	}
	for _, in := range inv.OfKind("Ingress") {
		if in.Object.Group() != "networking.k8s.io" {
			continue
		}
		for _, svc := range ingressServices(in.Object.Content) {
			route(in.Object, in.Object.Namespace, svc)
		}
	}
	grants := referenceGrants(inv)
	for _, kind := range []string{"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"} {
		for _, r := range inv.OfKind(kind) {
			if r.Object.Group() != "gateway.networking.k8s.io" {
				continue
			}
			for _, b := range routeBackends(r.Object.Content) {
				ns := b.namespace
				if ns == "" {
					ns = r.Object.Namespace
				}
				// another namespace's Service only where a ReferenceGrant there allows it
				if ns != r.Object.Namespace && !grants[grant{ns, kind, r.Object.Namespace, ""}] && !grants[grant{ns, kind, r.Object.Namespace, b.name}] {
					continue
				}
				route(r.Object, ns, b.name)
			}
		}
	}

	// the node's own addresses: host ports and the host network
	for _, es := range byNS {
		for _, e := range es {
			for _, c := range e.Workload.Containers {
				for _, p := range c.Ports {
					switch {
					case e.Workload.Spec.HostNetwork && p.ContainerPort > 0:
						add(e.Object, why{Nodes, false, fmt.Sprintf("shares its node's network: container %s listens on the node's port %d", c.Name, p.ContainerPort)})
					case p.HostPort > 0 && fromInternet(e):
						add(e.Object, why{Nodes, false, fmt.Sprintf("container %s binds port %d of its node", c.Name, p.HostPort)})
					}
				}
			}
		}
	}

	out := make(map[string]report.Reach, len(found))
	for k, ws := range found {
		slices.SortStableFunc(ws, func(a, b why) int { return b.score - a.score })
		var r report.Reach
		power, exposure := 0, 0
		for _, w := range ws {
			if w.rbac {
				power = max(power, w.score)
			} else {
				exposure = max(exposure, w.score)
			}
			r.Why = append(r.Why, w.text)
		}
		r.Score = power + exposure
		out[k] = r
	}
	return out
}

// serviceExposure is how a Service is reached from outside the cluster,
// if it is.
func serviceExposure(o *object.Object) (int, string) {
	spec, _ := o.Content["spec"].(map[string]any)
	t, _ := spec["type"].(string)
	if ips := strs(spec["externalIPs"]); len(ips) > 0 {
		return ExternalIPs, fmt.Sprintf("%s answers on external IPs %s", o.Ref, strings.Join(ips, ", "))
	}
	switch corev1.ServiceType(t) {
	case corev1.ServiceTypeLoadBalancer:
		ranges := strs(spec["loadBalancerSourceRanges"])
		if len(ranges) > 0 && !slices.Contains(ranges, "0.0.0.0/0") && !slices.Contains(ranges, "::/0") {
			return 0, ""
		}
		if internal(o) {
			return Nodes, fmt.Sprintf("internal LoadBalancer %s accepts connections from any address of the cloud network", o.Ref)
		}
		return Internet, fmt.Sprintf("LoadBalancer %s accepts connections from any address", o.Ref)
	case corev1.ServiceTypeNodePort:
		return Nodes, fmt.Sprintf("NodePort %s opens a port on every node", o.Ref)
	}
	return 0, ""
}

// internalLB are the cloud providers' annotations that put a
// LoadBalancer on the private network, with the value that does.
var internalLB = map[string]string{
	"networking.gke.io/load-balancer-type":                               "internal",
	"cloud.google.com/load-balancer-type":                                "internal",
	"service.beta.kubernetes.io/aws-load-balancer-internal":              "true",
	"service.beta.kubernetes.io/aws-load-balancer-scheme":                "internal",
	"service.beta.kubernetes.io/azure-load-balancer-internal":            "true",
	"service.beta.kubernetes.io/oci-load-balancer-internal":              "true",
	"service.beta.kubernetes.io/openstack-internal-load-balancer":        "true",
	"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "intranet",
	"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type":     "private",
}

// internal reports whether a LoadBalancer Service asks for an internal
// balancer.
func internal(o *object.Object) bool {
	anns, _ := at(o.Content, "metadata.annotations").(map[string]any)
	for k, want := range internalLB {
		if v, ok := anns[k].(string); ok && strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}

func ingressServices(content map[string]any) []string {
	var out []string
	if s, ok := at(content, "spec.defaultBackend.service.name").(string); ok {
		out = append(out, s)
	}
	rules, _ := at(content, "spec.rules").([]any)
	for _, r := range rules {
		paths, _ := at(r, "http.paths").([]any)
		for _, p := range paths {
			if s, ok := at(p, "backend.service.name").(string); ok && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

type backend struct{ namespace, name string }

// routeBackends are the Services a Gateway API route sends traffic to.
func routeBackends(content map[string]any) []backend {
	var out []backend
	rules, _ := at(content, "spec.rules").([]any)
	for _, r := range rules {
		refs, _ := at(r, "backendRefs").([]any)
		for _, ref := range refs {
			m, _ := ref.(map[string]any)
			group, _ := m["group"].(string)
			kind, _ := m["kind"].(string)
			if group != "" || kind != "" && kind != "Service" {
				continue
			}
			name, _ := m["name"].(string)
			ns, _ := m["namespace"].(string)
			if b := (backend{ns, name}); name != "" && !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// grant is a ReferenceGrant's permission: routes of a kind in namespace
// from may send traffic to the Services of namespace to ("" name), or to
// the one named.
type grant struct{ to, kind, from, name string }

func referenceGrants(inv *inventory.Inventory) map[grant]bool {
	out := map[grant]bool{}
	for _, e := range inv.OfKind("ReferenceGrant") {
		if e.Object.Group() != "gateway.networking.k8s.io" {
			continue
		}
		var names []string
		tos, _ := at(e.Object.Content, "spec.to").([]any)
		for _, t := range tos {
			m, _ := t.(map[string]any)
			if g, _ := m["group"].(string); g == "" && m["kind"] == "Service" {
				name, _ := m["name"].(string)
				names = append(names, name)
			}
		}
		froms, _ := at(e.Object.Content, "spec.from").([]any)
		for _, f := range froms {
			m, _ := f.(map[string]any)
			if m["group"] != "gateway.networking.k8s.io" {
				continue
			}
			kind, _ := m["kind"].(string)
			ns, _ := m["namespace"].(string)
			for _, name := range names {
				out[grant{e.Object.Namespace, kind, ns, name}] = true
			}
		}
	}
	return out
}

// at is the value at a field path of unstructured content, or nil.
func at(v any, path string) any {
	x, _ := object.Get(v, path)
	return x
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
