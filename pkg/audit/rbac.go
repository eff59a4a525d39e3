package audit

import (
	"cmp"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeguard/kubeguard/pkg/rbac"
)

// Usage is what service accounts were allowed to do, request by
// request kind, over the events read: the input of least privilege.
type Usage struct {
	// Accounts maps a service account ("ns/name") to its requests.
	Accounts map[string]map[rbac.Request]int
}

// NewUsage returns an empty usage record.
func NewUsage() *Usage { return &Usage{Accounts: map[string]map[rbac.Request]int{}} }

// Add records one event if a service account made an allowed request.
func (u *Usage) Add(e *Event) {
	if e.Stage != "ResponseComplete" && e.Stage != "" || !succeeded(e) {
		return
	}
	rest, ok := strings.CutPrefix(e.User.Username, "system:serviceaccount:")
	if !ok || e.ImpersonatedUser != nil {
		return
	}
	ns, name, ok := strings.Cut(rest, ":")
	if !ok {
		return
	}
	var r rbac.Request
	if ref := e.ObjectRef; ref != nil && ref.Resource != "" {
		r = rbac.Request{Verb: e.Verb, Group: ref.APIGroup, Resource: ref.Resource, Subresource: ref.Subresource, Namespace: ref.Namespace}
	} else if path, _, _ := strings.Cut(e.RequestURI, "?"); !strings.HasPrefix(path, "/api") {
		r = rbac.Request{Verb: e.Verb, Path: path}
	} else {
		return // discovery: every account may
	}
	key := ns + "/" + name
	if u.Accounts[key] == nil {
		u.Accounts[key] = map[rbac.Request]int{}
	}
	u.Accounts[key][r]++
}

// MinimalRBAC returns, for one service account, the Roles (one per
// namespace it used) and ClusterRole (cluster-scoped resources, requests
// across all namespaces, non-resource URLs) that allow exactly what it
// used, with their bindings. Verbs used on the same resources share a
// rule.
func (u *Usage) MinimalRBAC(account string) []any {
	ns, name, _ := strings.Cut(account, "/")
	scopes := map[string][]rbac.Request{} // namespace, "" for the ClusterRole
	for r := range u.Accounts[account] {
		scopes[r.Namespace] = append(scopes[r.Namespace], r)
	}
	roleName := "kubeguard-used-" + name
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}}
	var out []any
	for _, scope := range sortedKeys(scopes) {
		rules := rulesOf(scopes[scope])
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Name: roleName}
		if scope == "" {
			ref.Kind = "ClusterRole"
			out = append(out,
				&rbacv1.ClusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
					ObjectMeta: metav1.ObjectMeta{Name: roleName + "-" + ns}, Rules: rules},
				&rbacv1.ClusterRoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
					ObjectMeta: metav1.ObjectMeta{Name: roleName + "-" + ns}, Subjects: subject, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName + "-" + ns}})
			continue
		}
		ref.Kind = "Role"
		out = append(out,
			&rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
				ObjectMeta: metav1.ObjectMeta{Name: roleName, Namespace: scope}, Rules: rules},
			&rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: roleName, Namespace: scope}, Subjects: subject, RoleRef: ref})
	}
	return out
}

// rulesOf groups requests into rules: one rule per (group, resource set)
// with the same verbs.
func rulesOf(reqs []rbac.Request) []rbacv1.PolicyRule {
	verbs := map[[2]string][]string{} // (group, resource[/sub]) or ("", path)
	for _, r := range reqs {
		k := [2]string{r.Group, r.Resource}
		if r.Subresource != "" {
			k[1] += "/" + r.Subresource
		}
		if r.NonResource() {
			k = [2]string{"\x00url", r.Path}
		}
		if !slices.Contains(verbs[k], r.Verb) {
			verbs[k] = append(verbs[k], r.Verb)
		}
	}
	type group struct{ apiGroup, verbs string }
	byVerbs := map[group][]string{}
	for k, vs := range verbs {
		slices.Sort(vs)
		byVerbs[group{k[0], strings.Join(vs, ",")}] = append(byVerbs[group{k[0], strings.Join(vs, ",")}], k[1])
	}
	var rules []rbacv1.PolicyRule
	for g, things := range byVerbs {
		slices.Sort(things)
		r := rbacv1.PolicyRule{Verbs: strings.Split(g.verbs, ",")}
		if g.apiGroup == "\x00url" {
			r.NonResourceURLs = things
		} else {
			r.APIGroups, r.Resources = []string{g.apiGroup}, things
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b rbacv1.PolicyRule) int {
		return cmp.Or(cmp.Compare(strings.Join(a.APIGroups, ","), strings.Join(b.APIGroups, ",")),
			cmp.Compare(strings.Join(a.Resources, ","), strings.Join(b.Resources, ",")),
			cmp.Compare(strings.Join(a.NonResourceURLs, ","), strings.Join(b.NonResourceURLs, ",")))
	})
	return rules
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Unused is a granted permission an account never used.
type Unused struct {
	Account string `json:"account"`
	// Grant is the binding and role it comes from, Rule the rule as
	// written, Permission the verb and resource never used.
	Binding    string `json:"binding"`
	Role       string `json:"role"`
	Namespace  string `json:"namespace,omitempty"`
	Permission string `json:"permission"`
	Risk       int    `json:"risk"`
}

// Unused lists, for each account with recorded usage, the permissions its
// bindings grant that no request used, the riskiest first.
func (u *Usage) Unused(m *rbac.Model) []Unused {
	var out []Unused
	for _, account := range sortedKeys(u.Accounts) {
		ns, name, _ := strings.Cut(account, "/")
		used := u.Accounts[account]
		for _, b := range m.ServiceAccountGrants(ns, name) {
			role, ok := m.Role(b)
			if !ok {
				continue
			}
			scope := ""
			if !b.Cluster {
				scope = b.Object.Namespace
			}
			for _, rule := range role.Rules {
				for _, perm := range expand(rule) {
					if usedBy(perm, scope, used) {
						continue
					}
					out = append(out, Unused{Account: "sa:" + account, Binding: b.Object.Kind + "/" + b.Object.Name, Role: b.RoleRef.Kind + "/" + b.RoleRef.Name,
						Namespace: scope, Permission: permString(perm), Risk: risk(perm)})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Unused) int { return cmp.Or(cmp.Compare(b.Risk, a.Risk), cmp.Compare(a.Account, b.Account)) })
	return out
}

// expand splits a rule into single-verb, single-resource rules.
func expand(r rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, v := range r.Verbs {
		for _, url := range r.NonResourceURLs {
			out = append(out, rbacv1.PolicyRule{Verbs: []string{v}, NonResourceURLs: []string{url}})
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				out = append(out, rbacv1.PolicyRule{Verbs: []string{v}, APIGroups: []string{g}, Resources: []string{res}, ResourceNames: r.ResourceNames})
			}
		}
	}
	return out
}

// usedBy reports whether a request the account made falls under perm
// where the binding applies (a RoleBinding: its namespace).
func usedBy(perm rbacv1.PolicyRule, scope string, used map[rbac.Request]int) bool {
	perm.ResourceNames = nil // usage is recorded without names
	for r := range used {
		if scope != "" && r.Namespace != scope {
			continue
		}
		if rbac.RuleAllows(perm, r) {
			return true
		}
	}
	return false
}

func permString(r rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 {
		return r.Verbs[0] + " " + r.NonResourceURLs[0]
	}
	res := r.Resources[0]
	if g := r.APIGroups[0]; g != "" {
		res += "." + g
	}
	s := r.Verbs[0] + " " + res
	if len(r.ResourceNames) > 0 {
		s += " (" + strings.Join(r.ResourceNames, ", ") + ")"
	}
	return s
}

// risk ranks an unused permission by what it would give an attacker
// holding the token.
func risk(r rbacv1.PolicyRule) int {
	if len(r.NonResourceURLs) > 0 {
		return 5
	}
	v, res := r.Verbs[0], r.Resources[0]
	switch {
	case v == "*" && res == "*":
		return 100
	case v == "impersonate" || v == "escalate" || v == "bind":
		return 95
	case res == "*":
		return 90
	case res == "secrets" && v != "create" && v != "delete":
		return 80
	case res == "pods/exec" || res == "pods/attach" || res == "nodes/proxy" || res == "serviceaccounts/token":
		return 75
	case r.APIGroups[0] == "rbac.authorization.k8s.io" && v != "get" && v != "list" && v != "watch":
		return 70
	case v == "*":
		return 60
	case (res == "pods" || res == "deployments" || res == "daemonsets" || res == "statefulsets" || res == "jobs" || res == "cronjobs") && v == "create":
		return 55
	case v == "delete" || v == "deletecollection":
		return 40
	case v == "create" || v == "update" || v == "patch":
		return 30
	}
	return 10
}
