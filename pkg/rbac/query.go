package rbac

import (
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/inventory"
)

// wellKnownGroups resolve a resource name to its API group when none is
// given, as kubectl does through discovery, for inputs without a cluster.
var wellKnownGroups = map[string]string{
	"deployments": "apps", "statefulsets": "apps", "daemonsets": "apps", "replicasets": "apps", "controllerrevisions": "apps",
	"jobs": "batch", "cronjobs": "batch",
	"ingresses": "networking.k8s.io", "networkpolicies": "networking.k8s.io", "ingressclasses": "networking.k8s.io",
	"roles": "rbac.authorization.k8s.io", "clusterroles": "rbac.authorization.k8s.io",
	"rolebindings": "rbac.authorization.k8s.io", "clusterrolebindings": "rbac.authorization.k8s.io",
	"certificatesigningrequests": "certificates.k8s.io", "signers": "certificates.k8s.io",
	"validatingwebhookconfigurations": "admissionregistration.k8s.io", "mutatingwebhookconfigurations": "admissionregistration.k8s.io",
	"validatingadmissionpolicies": "admissionregistration.k8s.io", "validatingadmissionpolicybindings": "admissionregistration.k8s.io",
	"poddisruptionbudgets": "policy", "horizontalpodautoscalers": "autoscaling",
	"customresourcedefinitions": "apiextensions.k8s.io", "storageclasses": "storage.k8s.io", "csidrivers": "storage.k8s.io",
	"tokenreviews": "authentication.k8s.io", "subjectaccessreviews": "authorization.k8s.io", "leases": "coordination.k8s.io",
	"priorityclasses": "scheduling.k8s.io", "runtimeclasses": "node.k8s.io", "endpointslices": "discovery.k8s.io",
}

// ParseRequest turns command-line words into a request: RESOURCE may be
// "pods", "pods/exec", "deployments.apps" or a non-resource URL
// ("/metrics"). group overrides the resource's group.
func ParseRequest(verb, resource, group, namespace, name string) (Request, error) {
	if verb == "" {
		return Request{}, fmt.Errorf("no verb")
	}
	if strings.HasPrefix(resource, "/") {
		return Request{Verb: verb, Path: resource}, nil
	}
	res, sub, _ := strings.Cut(resource, "/")
	if res == "" {
		return Request{}, fmt.Errorf("no resource in %q", resource)
	}
	if r, g, ok := strings.Cut(res, "."); ok && group == "" {
		res, group = r, g
	} else if group == "" {
		group = wellKnownGroups[res]
	}
	return Request{Verb: verb, Group: group, Resource: res, Subresource: sub, Namespace: namespace, Name: name}, nil
}

// ParseSubject reads sa:NAMESPACE/NAME, user:NAME or group:NAME.
func ParseSubject(s string) (rbacv1.Subject, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return rbacv1.Subject{}, fmt.Errorf("subject %q: want sa:NAMESPACE/NAME, user:NAME or group:NAME", s)
	}
	switch kind {
	case "sa", "serviceaccount":
		ns, name, ok := strings.Cut(rest, "/")
		if !ok || ns == "" || name == "" {
			return rbacv1.Subject{}, fmt.Errorf("subject %q: want sa:NAMESPACE/NAME", s)
		}
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}, nil
	case "user":
		return rbacv1.Subject{Kind: rbacv1.UserKind, Name: rest}, nil
	case "group":
		return rbacv1.Subject{Kind: rbacv1.GroupKind, Name: rest}, nil
	}
	return rbacv1.Subject{}, fmt.Errorf("subject %q: kind %q is not sa, user or group", s, kind)
}

// UserOf returns the identity a subject authenticates as: a
// ServiceAccount with its groups, a user with the given groups and
// system:authenticated, or, for a group, just that group (what binding to
// the group grants its members).
func UserOf(s rbacv1.Subject, groups []string) User {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return ServiceAccountUser(s.Namespace, s.Name)
	case rbacv1.GroupKind:
		return User{Groups: []string{s.Name}}
	}
	return User{Name: s.Name, Groups: append(append([]string{}, groups...), "system:authenticated")}
}

// AccessVerbs are the columns of an access matrix.
var AccessVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// commonResources always appear in an access matrix.
var commonResources = []string{"pods", "pods/exec", "pods/log", "secrets", "configmaps", "services", "serviceaccounts",
	"serviceaccounts/token", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "ingresses", "networkpolicies",
	"roles", "rolebindings", "clusterroles", "clusterrolebindings", "nodes", "nodes/proxy", "namespaces", "persistentvolumes",
	"certificatesigningrequests", "validatingwebhookconfigurations", "mutatingwebhookconfigurations"}

// clusterScoped resources appear only in the cluster row of a matrix.
var clusterScoped = map[string]bool{"nodes": true, "nodes/proxy": true, "namespaces": true, "persistentvolumes": true,
	"clusterroles": true, "clusterrolebindings": true, "certificatesigningrequests": true,
	"validatingwebhookconfigurations": true, "mutatingwebhookconfigurations": true, "customresourcedefinitions": true,
	"storageclasses": true, "priorityclasses": true}

// Cell is one row of an access matrix: the verbs a user may use on a
// resource in a namespace ("" for cluster-scoped resources).
type Cell struct {
	Namespace string   `json:"namespace"`
	Group     string   `json:"group,omitempty"`
	Resource  string   `json:"resource"`
	Verbs     []string `json:"verbs"`
}

// Access returns the access matrix of u over the namespaces given (the
// inventory's when empty): namespaced resources per namespace and
// cluster-scoped ones once. Rows without any allowed verb are left out.
func (m *Model) Access(u User, inv *inventory.Inventory, namespaces []string) []Cell {
	if len(namespaces) == 0 {
		namespaces = Namespaces(inv)
	}
	resources := map[string]string{} // "resource" -> group
	for _, r := range commonResources {
		base, _, _ := strings.Cut(r, "/")
		resources[r] = wellKnownGroups[base]
	}
	bound := map[*Role]bool{}
	for _, b := range m.Bindings {
		if r, ok := m.Role(b); ok {
			bound[r] = true
		}
	}
	for _, role := range m.roles {
		if role.Builtin && !bound[role] {
			continue // the default policy's roles that nothing here binds add no rows
		}
		for _, rule := range role.Rules {
			for _, res := range rule.Resources {
				if strings.Contains(res, "*") || len(rule.APIGroups) != 1 || rule.APIGroups[0] == "*" {
					continue
				}
				if _, ok := resources[res]; !ok {
					resources[res] = rule.APIGroups[0]
				}
			}
		}
	}
	names := make([]string, 0, len(resources))
	for r := range resources {
		names = append(names, r)
	}
	sort.Strings(names)
	// Only the bindings naming u matter; the matrix asks thousands of
	// questions.
	mine := m.forUser(u)
	var out []Cell
	row := func(ns, res string) {
		base, sub, _ := strings.Cut(res, "/")
		c := Cell{Namespace: ns, Group: resources[res], Resource: res}
		for _, v := range AccessVerbs {
			if len(mine.Allowed(u, Request{Verb: v, Group: c.Group, Resource: base, Subresource: sub, Namespace: ns})) > 0 {
				c.Verbs = append(c.Verbs, v)
			}
		}
		if len(c.Verbs) > 0 {
			out = append(out, c)
		}
	}
	for _, res := range names {
		if clusterScoped[strings.SplitN(res, "/", 2)[0]] {
			row("", res)
		}
	}
	for _, ns := range namespaces {
		for _, res := range names {
			if !clusterScoped[strings.SplitN(res, "/", 2)[0]] {
				row(ns, res)
			}
		}
	}
	return out
}

// forUser returns a view of the model with only the bindings that have
// a subject covering u.
func (m *Model) forUser(u User) *Model {
	v := &Model{roles: m.roles, byNS: map[string][]*Binding{}}
	for _, b := range m.Bindings {
		for _, s := range b.Subjects {
			if applies(s, b.Object.Namespace, u) {
				v.Bindings = append(v.Bindings, b)
				if b.Cluster {
					v.cluster = append(v.cluster, b)
				} else {
					v.byNS[b.Object.Namespace] = append(v.byNS[b.Object.Namespace], b)
				}
				break
			}
		}
	}
	return v
}

// Namespaces returns every namespace the inventory mentions: Namespace
// objects and the namespaces of namespaced objects.
func Namespaces(inv *inventory.Inventory) []string {
	seen := map[string]bool{}
	for _, e := range inv.Entries() {
		if e.Object.Kind == "Namespace" {
			seen[e.Object.Name] = true
		} else if e.Object.Namespace != "" {
			seen[e.Object.Namespace] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// RuleString writes a rule compactly: verbs on resources in groups, with
// names or URLs.
func RuleString(r rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 {
		return strings.Join(r.Verbs, ",") + " " + strings.Join(r.NonResourceURLs, ",")
	}
	groups := make([]string, len(r.APIGroups))
	for i, g := range r.APIGroups {
		if g == "" {
			g = "core"
		}
		groups[i] = g
	}
	s := strings.Join(r.Verbs, ",") + " " + strings.Join(r.Resources, ",") + " (" + strings.Join(groups, ",") + ")"
	if len(r.ResourceNames) > 0 {
		s += " names=" + strings.Join(r.ResourceNames, ",")
	}
	return s
}
