package rbac

import (
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/inventory"
)

// Capability is a permission an attacker turns into more power. Each
// alternative is a set of requests that must all be allowed; Namespace is
// filled in per scope, except where a request names one.
type Capability struct {
	ID     string
	Title  string
	Score  int
	Scope  string // "cluster", "namespace" (each one), or one namespace
	AnyOf  [][]Request
	Effect string // what holding it leads to
}

func req(verb, group, resource, sub string) Request {
	return Request{Verb: verb, Group: group, Resource: resource, Subresource: sub}
}

// Capabilities are the escalation steps rbac risks looks for, in order of
// what they give away.
var Capabilities = []Capability{
	{ID: "cluster-admin", Title: "every verb on every resource cluster-wide", Score: 100, Scope: "cluster",
		AnyOf: [][]Request{{req("*", "*", "*", "")}}, Effect: "full control of the cluster"},
	{ID: "impersonate", Title: "impersonate users, groups or ServiceAccounts", Score: 95, Scope: "cluster",
		AnyOf:  [][]Request{{req("impersonate", "", "users", "")}, {req("impersonate", "", "groups", "")}, {req("impersonate", "", "serviceaccounts", "")}},
		Effect: "act as any identity, system:masters included"},
	{ID: "bind", Title: "bind any ClusterRole with a new ClusterRoleBinding", Score: 95, Scope: "cluster",
		AnyOf:  [][]Request{{req("bind", "rbac.authorization.k8s.io", "clusterroles", ""), req("create", "rbac.authorization.k8s.io", "clusterrolebindings", "")}},
		Effect: "grant itself cluster-admin"},
	{ID: "escalate", Title: "escalate: edit ClusterRoles beyond its own permissions", Score: 95, Scope: "cluster",
		AnyOf:  [][]Request{{req("escalate", "rbac.authorization.k8s.io", "clusterroles", ""), req("update", "rbac.authorization.k8s.io", "clusterroles", "")}},
		Effect: "add any permission to a role it holds"},
	{ID: "csr-approve", Title: "create and approve certificate signing requests for API client certificates", Score: 90, Scope: "cluster",
		AnyOf: [][]Request{{req("create", "certificates.k8s.io", "certificatesigningrequests", ""),
			req("update", "certificates.k8s.io", "certificatesigningrequests", "approval"),
			{Verb: "approve", Group: "certificates.k8s.io", Resource: "signers", Name: "kubernetes.io/kube-apiserver-client"}}},
		Effect: "mint a client certificate for system:masters"},
	{ID: "webhook-write", Title: "create or change admission webhook configurations", Score: 85, Scope: "cluster",
		AnyOf: [][]Request{{req("create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "")},
			{req("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "")},
			{req("update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "")}},
		Effect: "read or rewrite every object sent to the API server"},
	{ID: "nodes-proxy", Title: "use the kubelet API through nodes/proxy", Score: 85, Scope: "cluster",
		AnyOf:  [][]Request{{req("get", "", "nodes", "proxy")}, {req("create", "", "nodes", "proxy")}},
		Effect: "exec into any pod on any node"},
	{ID: "secrets-cluster", Title: "read Secrets in every namespace", Score: 80, Scope: "cluster",
		AnyOf:  [][]Request{{req("list", "", "secrets", "")}, {req("get", "", "secrets", "")}},
		Effect: "read every ServiceAccount token and credential"},
	{ID: "secrets-kube-system", Title: "read Secrets", Score: 80, Scope: "kube-system",
		AnyOf:  [][]Request{{req("list", "", "secrets", "")}, {req("get", "", "secrets", "")}},
		Effect: "read the tokens of controllers that hold cluster-wide permissions"},
	{ID: "token-create", Title: "create tokens for ServiceAccounts", Score: 60, Scope: "namespace",
		AnyOf:  [][]Request{{req("create", "", "serviceaccounts", "token")}},
		Effect: "act as any ServiceAccount of the namespace"},
	{ID: "pod-exec", Title: "exec into pods", Score: 50, Scope: "namespace",
		AnyOf:  [][]Request{{req("create", "", "pods", "exec")}, {req("get", "", "pods", "exec")}},
		Effect: "run commands in pods and use their ServiceAccount tokens"},
	{ID: "secrets-namespace", Title: "read Secrets of a namespace", Score: 40, Scope: "namespace",
		AnyOf:  [][]Request{{req("list", "", "secrets", "")}, {req("get", "", "secrets", "")}},
		Effect: "read the namespace's credentials and ServiceAccount tokens"},
}

// podCreators are the requests that let a subject run a pod as any
// ServiceAccount of a namespace.
var podCreators = []Request{req("create", "", "pods", ""), req("create", "apps", "deployments", ""),
	req("create", "apps", "daemonsets", ""), req("create", "apps", "statefulsets", ""), req("create", "batch", "jobs", ""),
	req("create", "batch", "cronjobs", "")}

// Step is one edge of an escalation path.
type Step struct {
	From, To string // subjects or capability nodes
	Via      string // what the step uses
}

// Risk is one capability a subject holds, directly or through a
// ServiceAccount it can run pods as.
type Risk struct {
	Capability string `json:"capability"`
	Title      string `json:"title"`
	Effect     string `json:"effect"`
	Scope      string `json:"scope"` // "cluster" or the namespace
	Score      int    `json:"score"`
	Path       []Step `json:"path"`
}

// Workload is a running workload that uses a ServiceAccount.
type Workload struct {
	Ref       string `json:"ref"`
	Automount bool   `json:"automountsToken"`
}

// SubjectRisk is a subject with everything it can reach, best first.
type SubjectRisk struct {
	Subject   string     `json:"subject"`
	Score     int        `json:"score"`
	Risks     []Risk     `json:"risks"`
	Workloads []Workload `json:"workloads,omitempty"`
}

// RiskOptions tune Risks.
type RiskOptions struct {
	// IncludeSystem keeps users and groups named system:* (the control
	// plane's own identities), which otherwise dominate the ranking.
	IncludeSystem bool
}

// Risks ranks the subjects of the model by the capabilities they hold,
// with escalation paths: a subject that can create pods in a namespace
// holds what any ServiceAccount of that namespace holds.
func (m *Model) Risks(inv *inventory.Inventory, opts RiskOptions) []SubjectRisk {
	namespaces := Namespaces(inv)
	held := map[string][]Risk{}
	subjects := map[string]rbacv1.Subject{}
	add := func(s rbacv1.Subject, r Risk) {
		k := SubjectString(s)
		subjects[k] = s
		held[k] = append(held[k], r)
	}
	for _, c := range Capabilities {
		var scopes []string
		switch c.Scope {
		case "cluster":
			scopes = []string{""}
		case "namespace":
			// Held cluster-wide, it is reported once, not per namespace.
			scopes = append([]string{""}, namespaces...)
		default:
			scopes = []string{c.Scope}
		}
		clusterWide := map[string]bool{}
		for _, ns := range scopes {
			if c.ID == "secrets-namespace" && ns == "kube-system" {
				continue // reported as secrets-kube-system
			}
			for _, s := range m.holders(c, ns) {
				if ns == "" {
					clusterWide[SubjectString(s)] = true
				} else if clusterWide[SubjectString(s)] {
					continue
				}
				scope := "cluster"
				if ns != "" {
					scope = ns
				}
				k := SubjectString(s)
				add(s, Risk{Capability: c.ID, Title: c.Title, Effect: c.Effect, Scope: scope, Score: c.Score,
					Path: []Step{{From: k, To: c.ID, Via: c.Title + scopeSuffix(c, scope)}}})
			}
		}
	}
	// One hop: creating pods in a namespace gives the power of its
	// ServiceAccounts.
	accounts := serviceAccounts(m, inv)
	for _, ns := range namespaces {
		creators := map[string]rbacv1.Subject{}
		for _, r := range podCreators {
			r.Namespace = ns
			for _, g := range m.WhoCan(r) {
				creators[SubjectString(g.Subject)] = g.Subject
			}
		}
		for _, sa := range accounts[ns] {
			saKey := "sa:" + ns + "/" + sa
			for _, r := range held[saKey] {
				if len(r.Path) != 1 {
					continue // direct capabilities only: no chains of hops
				}
				for k, s := range creators {
					if k == saKey {
						continue
					}
					hop := r
					hop.Score = r.Score - 1
					hop.Path = []Step{{From: k, To: saKey, Via: "create pods in " + ns + " running as " + saKey}, r.Path[0]}
					add(s, hop)
				}
			}
		}
	}
	var out []SubjectRisk
	for k, rs := range held {
		s := subjects[k]
		if !opts.IncludeSystem && s.Kind != rbacv1.ServiceAccountKind && strings.HasPrefix(s.Name, "system:") {
			continue
		}
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Score != rs[j].Score {
				return rs[i].Score > rs[j].Score
			}
			if len(rs[i].Path) != len(rs[j].Path) {
				return len(rs[i].Path) < len(rs[j].Path)
			}
			return fmt.Sprint(rs[i].Capability, rs[i].Scope, rs[i].Path) < fmt.Sprint(rs[j].Capability, rs[j].Scope, rs[j].Path)
		})
		sr := SubjectRisk{Subject: k, Score: rs[0].Score, Risks: dedupe(rs)}
		if s.Kind == rbacv1.ServiceAccountKind {
			sr.Workloads = workloadsOf(inv, s.Namespace, s.Name)
		}
		out = append(out, sr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Subject < out[j].Subject
	})
	return out
}

// scopeSuffix says where a capability is held: a namespace, or every one
// for a namespaced capability held cluster-wide. A cluster capability's
// title says it already.
func scopeSuffix(c Capability, scope string) string {
	if scope == "cluster" {
		if c.Scope == "cluster" {
			return ""
		}
		return " (cluster-wide)"
	}
	return " in " + scope
}

// holders returns the subjects allowed every request of some alternative
// of c in namespace ns.
func (m *Model) holders(c Capability, ns string) []rbacv1.Subject {
	found := map[string]rbacv1.Subject{}
	for _, alt := range c.AnyOf {
		var common map[string]rbacv1.Subject
		for _, r := range alt {
			if r.Namespace == "" {
				r.Namespace = ns
			}
			cur := map[string]rbacv1.Subject{}
			for _, g := range m.WhoCan(r) {
				if common == nil || hasKey(common, SubjectString(g.Subject)) {
					cur[SubjectString(g.Subject)] = g.Subject
				}
			}
			common = cur
		}
		for k, s := range common {
			found[k] = s
		}
	}
	out := make([]rbacv1.Subject, 0, len(found))
	for _, s := range found {
		out = append(out, s)
	}
	return out
}

func hasKey(m map[string]rbacv1.Subject, k string) bool { _, ok := m[k]; return ok }

// dedupe keeps the best path to each capability and scope (rs is sorted
// best first): once a subject holds something directly, the ways to reach
// it through others add nothing.
func dedupe(rs []Risk) []Risk {
	seen := map[string]bool{}
	var out []Risk
	for _, r := range rs {
		k := r.Capability + "\x00" + r.Scope
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// serviceAccounts returns the ServiceAccounts of each namespace: those the
// input defines and those bindings name.
func serviceAccounts(m *Model, inv *inventory.Inventory) map[string][]string {
	set := map[string]map[string]bool{}
	addSA := func(ns, name string) {
		if set[ns] == nil {
			set[ns] = map[string]bool{}
		}
		set[ns][name] = true
	}
	for _, e := range inv.OfKind("ServiceAccount") {
		addSA(e.Object.Namespace, e.Object.Name)
	}
	for _, b := range m.Bindings {
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind {
				ns := s.Namespace
				if ns == "" {
					ns = b.Object.Namespace
				}
				if ns != "" {
					addSA(ns, s.Name)
				}
			}
		}
	}
	out := map[string][]string{}
	for ns, names := range set {
		for n := range names {
			out[ns] = append(out[ns], n)
		}
		sort.Strings(out[ns])
	}
	return out
}

// workloadsOf returns the workloads running as a ServiceAccount and
// whether their pods get its token.
func workloadsOf(inv *inventory.Inventory, ns, name string) []Workload {
	saAutomount := true
	if e, ok := inv.Get("ServiceAccount", ns, name); ok {
		if v, ok := e.Object.Content["automountServiceAccountToken"].(bool); ok {
			saAutomount = v
		}
	}
	var out []Workload
	for _, e := range inv.Entries() {
		w := e.Workload
		if w == nil || e.Object.Namespace != ns {
			continue
		}
		// Pods owned by a controller are counted through the controller.
		if md, _ := e.Object.Content["metadata"].(map[string]any); e.Object.Kind == "Pod" && md != nil && md["ownerReferences"] != nil {
			continue
		}
		sa := w.Spec.ServiceAccountName
		if sa == "" {
			sa = w.Spec.DeprecatedServiceAccount
		}
		if sa == "" {
			sa = "default"
		}
		if sa != name {
			continue
		}
		automount := saAutomount
		if w.Spec.AutomountServiceAccountToken != nil {
			automount = *w.Spec.AutomountServiceAccountToken
		}
		out = append(out, Workload{Ref: e.Object.Ref.String(), Automount: automount})
	}
	return out
}
