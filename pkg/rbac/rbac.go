// Package rbac is kubeguard's one model of Kubernetes RBAC: roles with
// aggregation resolved, bindings, and rule matching with the authorizer's
// semantics (wildcards, subresources, resourceNames). Catalog controls and
// the rbac command read it.
package rbac

import (
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Role is a Role or ClusterRole with its effective rules.
type Role struct {
	Object  *object.Object
	Cluster bool
	// Rules are the role's own rules followed by those aggregated into it.
	Rules []rbacv1.PolicyRule
	// Own is how many of Rules are the role's own (the rest are aggregated
	// and located in other objects).
	Own int
	// Aggregated roles get their rules from other ClusterRoles only.
	Aggregated bool
	// Builtin roles come from the API server's default policy, not from
	// the input (which binds them without defining them).
	Builtin bool

	aggregation *rbacv1.AggregationRule
}

// Binding is a RoleBinding or ClusterRoleBinding.
type Binding struct {
	Object   *object.Object
	Cluster  bool
	Subjects []rbacv1.Subject
	RoleRef  rbacv1.RoleRef
}

type key struct{ ns, name string }

// Model holds the RBAC objects of an inventory.
type Model struct {
	roles    map[key]*Role // ClusterRoles under namespace ""
	Bindings []*Binding
	// subjects indexes bindings by "Kind/namespace/name" of their subjects
	// (namespace only for ServiceAccounts).
	subjects map[string][]*Binding
	// cluster and byNS split Bindings into ClusterRoleBindings and the
	// RoleBindings of each namespace, as the authorizer consults them.
	cluster []*Binding
	byNS    map[string][]*Binding
}

func subjectKey(s rbacv1.Subject, bindingNS string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return s.Kind + "/" + ns + "/" + s.Name
	}
	return s.Kind + "//" + s.Name
}

// Of returns the model of an inventory, built once.
func Of(inv *inventory.Inventory) *Model {
	return inv.Memo("rbac.Model", []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}, func(inv *inventory.Inventory) any { return build(inv) }).(*Model)
}

func isRBAC(o *object.Object) bool { return o.Group() == "rbac.authorization.k8s.io" }

func build(inv *inventory.Inventory) *Model {
	m := &Model{roles: map[key]*Role{}, subjects: map[string][]*Binding{}, byNS: map[string][]*Binding{}}
	for _, e := range inv.OfKind("Role") {
		if r, ok := inventory.As[rbacv1.Role](e.Object); ok && isRBAC(e.Object) {
			m.roles[key{e.Object.Namespace, e.Object.Name}] = &Role{Object: e.Object, Rules: r.Rules, Own: len(r.Rules)}
		}
	}
	for _, e := range inv.OfKind("ClusterRole") {
		if r, ok := inventory.As[rbacv1.ClusterRole](e.Object); ok && isRBAC(e.Object) {
			m.roles[key{"", e.Object.Name}] = &Role{Object: e.Object, Cluster: true, Rules: r.Rules, Own: len(r.Rules), aggregation: r.AggregationRule}
		}
	}
	m.addBootstrap()
	resolveAggregation(m)
	for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
		for _, e := range inv.OfKind(kind) {
			if !isRBAC(e.Object) {
				continue
			}
			b := &Binding{Object: e.Object, Cluster: kind == "ClusterRoleBinding"}
			if kind == "RoleBinding" {
				rb, ok := inventory.As[rbacv1.RoleBinding](e.Object)
				if !ok {
					continue
				}
				b.Subjects, b.RoleRef = rb.Subjects, rb.RoleRef
			} else {
				crb, ok := inventory.As[rbacv1.ClusterRoleBinding](e.Object)
				if !ok {
					continue
				}
				b.Subjects, b.RoleRef = crb.Subjects, crb.RoleRef
			}
			m.Bindings = append(m.Bindings, b)
			if b.Cluster {
				m.cluster = append(m.cluster, b)
			} else {
				m.byNS[b.Object.Namespace] = append(m.byNS[b.Object.Namespace], b)
			}
			seen := map[string]bool{}
			for _, s := range b.Subjects {
				if k := subjectKey(s, b.Object.Namespace); !seen[k] {
					seen[k] = true
					m.subjects[k] = append(m.subjects[k], b)
				}
			}
		}
	}
	return m
}

// resolveAggregation gives every aggregated ClusterRole the rules the
// aggregation controller would: the union of the rules of the ClusterRoles
// its selectors match (an empty selector matches all), without itself. The
// controller replaces the role's own rules, and aggregated roles feed each
// other, so the result is the transitive closure.
func resolveAggregation(m *Model) {
	sels := map[*Role][]labels.Selector{}
	for k, r := range m.roles {
		if k.ns != "" || r.aggregation == nil {
			continue
		}
		sels[r] = []labels.Selector{}
		for i := range r.aggregation.ClusterRoleSelectors {
			if sel, err := metav1.LabelSelectorAsSelector(&r.aggregation.ClusterRoleSelectors[i]); err == nil {
				sels[r] = append(sels[r], sel)
			}
		}
	}
	var names []string
	for k := range m.roles {
		if k.ns == "" {
			names = append(names, k.name)
		}
	}
	sort.Strings(names)      // the controller's order, so results are stable
	state := map[*Role]int{} // 1 resolving, 2 done
	var resolve func(r *Role) []rbacv1.PolicyRule
	resolve = func(r *Role) []rbacv1.PolicyRule {
		ss, ok := sels[r]
		if !ok || state[r] == 2 {
			return r.Rules
		}
		if state[r] == 1 {
			return nil // a cycle: the other roles on it contribute their own rules
		}
		state[r] = 1
		var rules []rbacv1.PolicyRule
		seen := map[string]bool{}
		for _, sel := range ss {
			for _, n := range names {
				other := m.roles[key{"", n}]
				if other == r || !sel.Matches(labels.Set(other.Object.Metadata("labels"))) {
					continue
				}
				for _, rule := range resolve(other) {
					if k := fmt.Sprint(rule); !seen[k] {
						seen[k] = true
						rules = append(rules, rule)
					}
				}
			}
		}
		r.Rules, r.Own, r.Aggregated = rules, 0, true
		state[r] = 2
		return rules
	}
	for r := range sels {
		resolve(r)
	}
}

// Role returns the role a binding grants: a Role of the binding's
// namespace or a ClusterRole.
func (m *Model) Role(b *Binding) (*Role, bool) {
	ns := ""
	if b.RoleRef.Kind == "Role" {
		ns = b.Object.Namespace
	}
	r, ok := m.roles[key{ns, b.RoleRef.Name}]
	return r, ok
}

// Roles returns every role of the model, ClusterRoles first, by name.
func (m *Model) Roles() []*Role {
	out := make([]*Role, 0, len(m.roles))
	for _, r := range m.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Object, out[j].Object
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

// RoleNamed returns a Role (ns set) or ClusterRole (ns empty).
func (m *Model) RoleNamed(ns, name string) (*Role, bool) {
	r, ok := m.roles[key{ns, name}]
	return r, ok
}

// ServiceAccountGrants returns the bindings that apply to a ServiceAccount,
// directly or through the groups every ServiceAccount belongs to.
func (m *Model) ServiceAccountGrants(ns, name string) []*Binding {
	var out []*Binding
	seen := map[*Binding]bool{}
	for _, s := range []rbacv1.Subject{
		{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name},
		{Kind: rbacv1.UserKind, Name: "system:serviceaccount:" + ns + ":" + name},
		{Kind: rbacv1.GroupKind, Name: "system:serviceaccounts"},
		{Kind: rbacv1.GroupKind, Name: "system:serviceaccounts:" + ns},
		{Kind: rbacv1.GroupKind, Name: "system:authenticated"},
	} {
		for _, b := range m.subjects[subjectKey(s, ns)] {
			if !seen[b] {
				seen[b] = true
				out = append(out, b)
			}
		}
	}
	return out
}

// Allows reports whether rule grants verb on group/resource (resource may
// be "pods/exec"), for any object name: a rule limited by resourceNames
// does not count as a broad grant.
func Allows(r rbacv1.PolicyRule, verb, group, resource string) bool {
	if len(r.ResourceNames) > 0 {
		return false
	}
	return has(r.Verbs, verb) && has(r.APIGroups, group) && resourceMatches(r.Resources, resource)
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v || x == rbacv1.VerbAll {
			return true
		}
	}
	return false
}

// resourceMatches follows the authorizer: "*" matches everything,
// "*/sub" matches that subresource of any resource.
func resourceMatches(list []string, resource string) bool {
	_, sub, hasSub := strings.Cut(resource, "/")
	for _, x := range list {
		if x == "*" || x == resource || hasSub && x == "*/"+sub {
			return true
		}
	}
	return false
}
