package rbac

import (
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Request is an authorization question, as a SubjectAccessReview asks it:
// a resource request (Verb, Group, Resource, Subresource, Namespace, Name)
// or a non-resource request (Verb, Path).
type Request struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	Path        string // non-resource URL, e.g. /metrics
}

// NonResource reports whether r asks about a URL rather than a resource.
func (r Request) NonResource() bool { return r.Path != "" }

// User is who asks: a user name and its groups, as the authenticator
// reports them.
type User struct {
	Name   string
	Groups []string
}

// ServiceAccountUser returns the identity of a ServiceAccount's token.
func ServiceAccountUser(ns, name string) User {
	return User{Name: "system:serviceaccount:" + ns + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
}

// Grant is one way a request is allowed: a binding, the role it refers
// to, the rule that matches, and the subject of the binding that applies.
type Grant struct {
	Binding *Binding
	Role    *Role
	Rule    int // index into Role.Rules
	Subject rbacv1.Subject
}

// RuleAllows reports whether a rule allows a request, with the RBAC
// authorizer's semantics: "*" verbs, groups and resources; "resource/sub"
// and "*/sub" subresources; resourceNames limiting named requests only;
// non-resource URLs matched exactly or by a trailing "*" prefix.
func RuleAllows(rule rbacv1.PolicyRule, r Request) bool {
	if !matches(rule.Verbs, r.Verb) {
		return false
	}
	if r.NonResource() {
		for _, u := range rule.NonResourceURLs {
			if u == "*" || u == r.Path || strings.HasSuffix(u, "*") && strings.HasPrefix(r.Path, strings.TrimSuffix(u, "*")) {
				return true
			}
		}
		return false
	}
	if !matches(rule.APIGroups, r.Group) {
		return false
	}
	combined := r.Resource
	if r.Subresource != "" {
		combined += "/" + r.Subresource
	}
	ok := false
	for _, res := range rule.Resources {
		if res == "*" || res == combined || r.Subresource != "" && res == "*/"+r.Subresource {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	if len(rule.ResourceNames) == 0 {
		return true
	}
	for _, n := range rule.ResourceNames {
		if n == r.Name {
			return true
		}
	}
	return false
}

func matches(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

// applies reports whether a binding subject covers user, as the
// authorizer decides it: ServiceAccount subjects without a namespace take
// the RoleBinding's.
func applies(s rbacv1.Subject, bindingNS string, u User) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.Name == s.Name
	case rbacv1.GroupKind:
		for _, g := range u.Groups {
			if g == s.Name {
				return true
			}
		}
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return ns != "" && u.Name == "system:serviceaccount:"+ns+":"+s.Name
	}
	return false
}

// bindingsFor returns the bindings the authorizer consults for r:
// every ClusterRoleBinding, and the RoleBindings of r's namespace for
// namespaced resource requests.
func (m *Model) bindingsFor(r Request, visit func(*Binding)) {
	for _, b := range m.cluster {
		visit(b)
	}
	if !r.NonResource() && r.Namespace != "" {
		for _, b := range m.byNS[r.Namespace] {
			visit(b)
		}
	}
}

// grantingRules returns the indexes of the rules of b's role that allow r.
func (m *Model) grantingRules(b *Binding, r Request) (*Role, []int) {
	role, ok := m.Role(b)
	if !ok {
		return nil, nil
	}
	var idx []int
	for i, rule := range role.Rules {
		if RuleAllows(rule, r) {
			idx = append(idx, i)
		}
	}
	return role, idx
}

// Allowed returns every grant that allows u to do r; none means RBAC
// denies it.
func (m *Model) Allowed(u User, r Request) []Grant {
	var out []Grant
	m.bindingsFor(r, func(b *Binding) {
		for _, s := range b.Subjects {
			if !applies(s, b.Object.Namespace, u) {
				continue
			}
			role, idx := m.grantingRules(b, r)
			for _, i := range idx {
				out = append(out, Grant{Binding: b, Role: role, Rule: i, Subject: s})
			}
			if len(idx) > 0 {
				return
			}
		}
	})
	return out
}

// WhoCan returns the grants to every subject allowed to do r, ordered by
// subject.
func (m *Model) WhoCan(r Request) []Grant {
	var out []Grant
	m.bindingsFor(r, func(b *Binding) {
		role, idx := m.grantingRules(b, r)
		if len(idx) == 0 {
			return
		}
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == "" {
				s.Namespace = b.Object.Namespace
			}
			if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == "" {
				continue // a ClusterRoleBinding to a ServiceAccount without namespace grants nothing
			}
			out = append(out, Grant{Binding: b, Role: role, Rule: idx[0], Subject: s})
		}
	})
	sort.SliceStable(out, func(i, j int) bool { return SubjectString(out[i].Subject) < SubjectString(out[j].Subject) })
	return out
}

// Covers reports whether a who-can subject includes user.
func Covers(s rbacv1.Subject, u User) bool { return applies(s, s.Namespace, u) }

// SubjectString writes a subject the way the rbac command takes it:
// user:NAME, group:NAME, sa:NAMESPACE/NAME.
func SubjectString(s rbacv1.Subject) string {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return "sa:" + s.Namespace + "/" + s.Name
	case rbacv1.GroupKind:
		return "group:" + s.Name
	}
	return "user:" + s.Name
}
