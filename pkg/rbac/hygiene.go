package rbac

import (
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/inventory"
)

// Issue is an RBAC hygiene problem.
type Issue struct {
	Kind    string `json:"kind"` // missing-role, missing-serviceaccount, unused-role, cluster-admin-equivalent
	Object  string `json:"object"`
	Message string `json:"message"`
}

// defaultRoles exist in every cluster; files refer to them without
// defining them.
func defaultRole(name string) bool {
	switch name {
	case "cluster-admin", "admin", "edit", "view":
		return true
	}
	return strings.HasPrefix(name, "system:")
}

// Hygiene finds bindings to roles or ServiceAccounts that do not exist,
// roles nothing binds, and subjects with cluster-admin-equivalent
// permissions. live says the inventory is a whole cluster: then every
// missing object is missing; for files, only roles and ServiceAccounts
// the input could define (not the cluster's default roles, not
// ServiceAccounts of namespaces it defines none of) count.
func (m *Model) Hygiene(inv *inventory.Inventory, live bool) []Issue {
	var out []Issue
	bound := map[*Role]bool{}
	for _, b := range m.Bindings {
		r, ok := m.Role(b)
		if ok {
			bound[r] = true
		} else if live || !(b.RoleRef.Kind == "ClusterRole" && defaultRole(b.RoleRef.Name)) {
			out = append(out, Issue{"missing-role", b.Object.Ref.String(), "refers to " + b.RoleRef.Kind + " " + b.RoleRef.Name + ", which does not exist"})
		}
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind {
				continue
			}
			ns := s.Namespace
			if ns == "" {
				ns = b.Object.Namespace
			}
			if _, ok := inv.Get("ServiceAccount", ns, s.Name); ok || !live && !inv.HasKindIn("ServiceAccount", ns) {
				continue
			}
			out = append(out, Issue{"missing-serviceaccount", b.Object.Ref.String(), "binds ServiceAccount " + ns + "/" + s.Name + ", which does not exist"})
		}
	}
	// Roles aggregated into others are used through them.
	for _, r := range m.roles {
		if r.Aggregated {
			bound[r] = true
		}
	}
	for _, r := range m.roles {
		labels := r.Object.Metadata("labels")
		aggregatedInto := false
		for k := range labels {
			aggregatedInto = aggregatedInto || strings.Contains(k, "aggregate-to-")
		}
		if bound[r] || aggregatedInto || r.Builtin || defaultRole(r.Object.Name) {
			continue
		}
		out = append(out, Issue{"unused-role", r.Object.Ref.String(), "no binding refers to it"})
	}
	for _, s := range m.holders(Capabilities[0], "") {
		if strings.HasPrefix(s.Name, "system:") && s.Kind != rbacv1.ServiceAccountKind {
			continue // system:masters and friends are cluster-admin by design
		}
		out = append(out, Issue{"cluster-admin-equivalent", SubjectString(s), "can use every verb on every resource cluster-wide"})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Object < out[j].Object
	})
	return out
}
