// Package rbac holds controls on Roles, ClusterRoles and their bindings:
// wildcards, permissions that lead to privilege escalation, dangerous
// subjects, and workloads whose ServiceAccount holds such permissions.
// RBAC semantics come from package rbac.
package rbac

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls/serviceaccount"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

// Controls returns the RBAC controls.
func Controls() []*control.Control {
	out := []*control.Control{wildcard, clusterAdmin, namespaceAdmin, anonymous, defaultSABound, workloadSA, kubeSystemConfig}
	for _, r := range risks {
		out = append(out, riskControl(r))
	}
	return out
}

// perm is a set of verbs on resources of one API group.
type perm struct {
	verbs     []string
	group     string
	resources []string
}

// risk is a permission that leads to privilege escalation or to evidence
// removal; any of its perms is enough.
type risk struct {
	id, title   string
	severity    finding.Severity
	rationale   string
	remediation string
	refs        []string
	perms       []perm
}

var risks = []risk{
	{"RBAC-SECRETS-READ", "Role can read Secrets", finding.High,
		"get, list or watch on secrets reveals every credential in scope, including ServiceAccount tokens of more privileged workloads.",
		"Grant access to named Secrets only (resourceNames), or mount the Secret into the pod instead of reading it through the API.",
		[]string{"CIS:5.1.2", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1552.007"},
		[]perm{{[]string{"get", "list", "watch"}, "", []string{"secrets"}}}},
	{"RBAC-CREATE-PODS", "Role can create pods or workload controllers", finding.High,
		"Whoever can create pods (directly or through Deployments, Jobs and the like) can run them as any ServiceAccount of the namespace and mount its Secrets, inheriting their permissions.",
		"Let a CI identity or GitOps controller create workloads; grant people read access.",
		[]string{"CIS:5.1.4", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1610"},
		[]perm{{[]string{"create"}, "", []string{"pods", "replicationcontrollers"}},
			{[]string{"create", "update", "patch"}, "apps", []string{"deployments", "daemonsets", "statefulsets", "replicasets"}},
			{[]string{"create", "update", "patch"}, "batch", []string{"jobs", "cronjobs"}}}},
	{"RBAC-POD-EXEC", "Role can exec, attach or port-forward into pods", finding.High,
		"pods/exec, pods/attach and pods/portforward give a shell or a tunnel into running containers, with their credentials and network position.",
		"Remove the subresources from everyday roles; grant them just in time for debugging.",
		[]string{"NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1609"},
		[]perm{{[]string{"create", "get"}, "", []string{"pods/exec", "pods/attach", "pods/portforward"}}}},
	{"RBAC-ESCALATE", "Role can escalate, bind or impersonate", finding.Critical,
		"escalate and bind let a subject grant itself any permission; impersonate lets it act as any user, group or ServiceAccount, including cluster administrators.",
		"Remove escalate, bind and impersonate; they belong to cluster administrators only.",
		[]string{"CIS:5.1.8", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1078", "MITRE:T1098"},
		[]perm{{[]string{"escalate", "bind"}, "rbac.authorization.k8s.io", []string{"roles", "clusterroles"}},
			{[]string{"impersonate"}, "", []string{"users", "groups", "serviceaccounts", "uids"}},
			{[]string{"impersonate"}, "authentication.k8s.io", []string{"userextras/*", "uids"}}}},
	{"RBAC-NODES-PROXY", "Role can use the nodes/proxy subresource", finding.High,
		"nodes/proxy reaches the kubelet API, which runs commands in any pod of the node without admission control or audit of the command.",
		"Remove nodes/proxy; monitoring agents need only nodes/metrics and nodes/stats.",
		[]string{"CIS:5.1.10", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1609"},
		[]perm{{[]string{"get", "create"}, "", []string{"nodes/proxy"}}}},
	{"RBAC-SA-TOKEN", "Role can create ServiceAccount tokens", finding.High,
		"serviceaccounts/token create mints tokens for any ServiceAccount in scope, so the subject acts with the permissions of the most privileged one.",
		"Remove create on serviceaccounts/token except for the components that issue tokens.",
		[]string{"CIS:5.1.13", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1528"},
		[]perm{{[]string{"create"}, "", []string{"serviceaccounts/token"}}}},
	{"RBAC-CSR-APPROVE", "Role can approve certificate signing requests", finding.High,
		"Approving CSRs (with create on them) lets a subject mint a client certificate for any identity, up to system:masters on some signers.",
		"Leave CSR approval to the controller manager and cluster administrators.",
		[]string{"CIS:5.1.11", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1649"},
		[]perm{{[]string{"update", "patch"}, "certificates.k8s.io", []string{"certificatesigningrequests/approval"}},
			{[]string{"approve"}, "certificates.k8s.io", []string{"signers"}}}},
	{"RBAC-WEBHOOK-WRITE", "Role can change admission webhooks or policies", finding.High,
		"Whoever can write admission webhook configurations or admission policies can switch off enforcement, or intercept and mutate every object sent to the API server, Secrets included.",
		"Restrict writes on admissionregistration.k8s.io to cluster administrators.",
		[]string{"CIS:5.1.12", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1562.001"},
		[]perm{{[]string{"create", "update", "patch", "delete"}, "admissionregistration.k8s.io", []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations", "validatingadmissionpolicies", "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}}}},
	{"RBAC-ROLE-WRITE", "Role can modify roles or bindings", finding.High,
		"Writing Roles or bindings is one step from granting oneself more permissions (the API server's escalation check is the only barrier left).",
		"Manage RBAC through GitOps with a dedicated identity; grant people read access.",
		[]string{"NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1098"},
		[]perm{{[]string{"create", "update", "patch"}, "rbac.authorization.k8s.io", []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"}}}},
	{"RBAC-POD-MODIFY", "Role can change running pods or add ephemeral containers", finding.High,
		"update or patch on pods swaps a running container's image, and pods/ephemeralcontainers adds a container of any image to a running pod: code execution with the pod's ServiceAccount, volumes and network position, like create and exec.",
		"Let only controllers update pods; grant pods/ephemeralcontainers just in time for debugging.",
		[]string{"NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1609", "MITRE:T1610"},
		[]perm{{[]string{"update", "patch"}, "", []string{"pods", "pods/ephemeralcontainers"}}}},
	{"RBAC-PV-WRITE", "Role can create or change PersistentVolumes", finding.High,
		"A PersistentVolume can be a hostPath on a node: whoever creates one and a claim bound to it mounts the node's disk into a pod, past Pod Security's hostPath check.",
		"Leave PersistentVolumes to the storage provisioner and cluster administrators; grant PersistentVolumeClaims instead.",
		[]string{"NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1611"},
		[]perm{{[]string{"create", "update", "patch"}, "", []string{"persistentvolumes"}}}},
	{"RBAC-NETPOL-WRITE", "Role can change NetworkPolicies", finding.Medium,
		"Writing NetworkPolicies (or admin network policies) switches network isolation off: one allow-all policy opens every pod of the namespace.",
		"Manage NetworkPolicies through GitOps with a dedicated identity; grant people read access.",
		[]string{"NSA:network-separation", "NIST:4.3.3", "MITRE:T1562.001"},
		[]perm{{[]string{"create", "update", "patch", "delete"}, "networking.k8s.io", []string{"networkpolicies"}},
			{[]string{"create", "update", "patch", "delete"}, "policy.networking.k8s.io", []string{"adminnetworkpolicies", "baselineadminnetworkpolicies"}}}},
	{"RBAC-EVIDENCE-DELETE", "Role can delete events", finding.Medium,
		"Deleting events removes the trace of what happened in the cluster, the first thing an attacker covers.",
		"Remove delete and deletecollection on events; they expire on their own.",
		[]string{"NSA:logging", "NIST:4.3.1", "MITRE:T1070"},
		[]perm{{[]string{"delete", "deletecollection"}, "", []string{"events"}},
			{[]string{"delete", "deletecollection"}, "events.k8s.io", []string{"events"}}}},
}

// grants describes what rule grants of risk r ("" when nothing).
func (r *risk) grants(rule rbacv1.PolicyRule) string {
	for _, p := range r.perms {
		for _, res := range p.resources {
			for _, v := range p.verbs {
				if rbac.Allows(rule, v, p.group, res) {
					return v + " " + res
				}
			}
		}
	}
	return ""
}

// roleOf returns the Role or ClusterRole an object is, for rule controls.
// Roles of the cluster's own bootstrap policy (system:*) are skipped.
func roleOf(p *control.Pass) *rbac.Role {
	if p.Object.Kind != "Role" && p.Object.Kind != "ClusterRole" || strings.HasPrefix(p.Object.Name, "system:") || defaultPolicy(p.Object) {
		return nil
	}
	r, _ := rbac.Of(p.Inventory).RoleNamed(nsOf(p.Object), p.Object.Name)
	if r == nil || r.Object != p.Object {
		return nil
	}
	return r
}

// defaultPolicy reports whether an object is part of the API server's
// default RBAC policy (cluster-admin, view, the system: bindings): the API
// server recreates it at every start unless autoupdate is turned off, so
// it is the platform's, not something the user can fix.
func defaultPolicy(o *object.Object) bool {
	return o.Metadata("labels")["kubernetes.io/bootstrapping"] == "rbac-defaults" &&
		o.Metadata("annotations")["rbac.authorization.kubernetes.io/autoupdate"] != "false"
}

func nsOf(o *object.Object) string {
	if o.Kind == "ClusterRole" {
		return ""
	}
	return o.Namespace
}

// Rule controls report each role's own rules, on the rule; aggregated
// rules are reported on the role they come from.
func riskControl(r risk) *control.Control {
	return &control.Control{
		ID: r.id, Title: r.title, Severity: r.severity, Category: "rbac",
		Rationale: r.rationale, Remediation: r.remediation, Refs: control.Refs(r.refs...),
		Scope: control.InventoryScope, Kinds: []string{"Role", "ClusterRole"}, Reads: []string{"ClusterRole"},
		Check: func(p *control.Pass) {
			role := roleOf(p)
			if role == nil {
				return
			}
			for i, rule := range role.Rules[:role.Own] {
				if g := r.grants(rule); g != "" {
					p.Report(object.Index("rules", i), "%s grants %s", p.Object.Kind, g)
				}
			}
		},
	}
}

var kubeSystemConfig = &control.Control{
	ID:       "RBAC-KUBE-SYSTEM-CONFIG-WRITE",
	Title:    "Role can change ConfigMaps in kube-system",
	Severity: finding.High,
	Category: "rbac",
	Rationale: "ConfigMaps in kube-system configure the cluster itself: coredns decides where every name resolves, " +
		"aws-auth maps cloud identities to Kubernetes groups (system:masters included), kube-proxy and kubeadm-config " +
		"set up the nodes.",
	Remediation: "Grant ConfigMap writes in kube-system to cluster administrators only, or limit the rule to the " +
		"ConfigMaps a component owns with resourceNames.",
	Refs:  control.Refs("NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1098", "MITRE:T1562.001"),
	Scope: control.InventoryScope,
	Reads: []string{"ClusterRole", "RoleBinding", "ClusterRoleBinding"},
	Kinds: []string{"Role", "ClusterRole"},
	// A Role of kube-system, or a ClusterRole granted there (by a
	// ClusterRoleBinding, or a RoleBinding in kube-system).
	Check: func(p *control.Pass) {
		role := roleOf(p)
		if role == nil {
			return
		}
		if role.Cluster {
			m := rbac.Of(p.Inventory)
			granted := false
			for _, b := range m.Bindings {
				if r, ok := m.Role(b); ok && r == role && (b.Cluster || b.Object.Namespace == "kube-system") {
					granted = true
					break
				}
			}
			if !granted {
				return
			}
		} else if p.Object.Namespace != "kube-system" {
			return
		}
		for i, rule := range role.Rules[:role.Own] {
			for _, v := range []string{"create", "update", "patch", "delete"} {
				if rbac.Allows(rule, v, "", "configmaps") {
					p.Report(object.Index("rules", i), "%s grants %s configmaps in kube-system", p.Object.Kind, v)
					break
				}
			}
		}
	},
}

var wildcard = &control.Control{
	ID:       "RBAC-WILDCARD",
	Title:    "Role uses wildcards",
	Severity: finding.Medium,
	Category: "rbac",
	Rationale: "A * in verbs, resources or apiGroups grants everything that exists, and everything added later " +
		"(new resources, CRDs, subresources), so the role grows without anyone reviewing it.",
	Remediation: "List the verbs, resources and API groups the subject needs.",
	Refs:        control.Refs("CIS:5.1.3", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1078"),
	Scope:       control.InventoryScope,
	Reads:       []string{"ClusterRole"},
	Kinds:       []string{"Role", "ClusterRole"},
	Check: func(p *control.Pass) {
		role := roleOf(p)
		if role == nil {
			return
		}
		for i, rule := range role.Rules[:role.Own] {
			for _, f := range []struct {
				name string
				list []string
			}{{"apiGroups", rule.APIGroups}, {"resources", rule.Resources}, {"verbs", rule.Verbs}, {"nonResourceURLs", rule.NonResourceURLs}} {
				for j, v := range f.list {
					if v == "*" {
						p.Report(object.Index(object.Index("rules", i)+"."+f.name, j), "rule %d uses * in %s", i, f.name)
					}
				}
			}
		}
	},
}

// allPowerful reports whether a role grants every verb on every resource of
// every group (cluster-admin or its equivalent).
func allPowerful(r *rbac.Role) bool {
	for _, rule := range r.Rules {
		if rbac.Allows(rule, "*", "*", "*") {
			return true
		}
	}
	return false
}

// systemSubject is part of the cluster's own identity: system: users and
// groups and ServiceAccounts of kube-system.
func systemSubject(s rbacv1.Subject, bindingNS string) bool {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return ns == "kube-system"
	}
	return strings.HasPrefix(s.Name, "system:")
}

func binding(p *control.Pass) *rbac.Binding {
	if p.Object.Kind != "RoleBinding" && p.Object.Kind != "ClusterRoleBinding" || defaultPolicy(p.Object) {
		return nil
	}
	for _, b := range rbac.Of(p.Inventory).Bindings {
		if b.Object == p.Object {
			return b
		}
	}
	return nil
}

var clusterAdmin = &control.Control{
	ID:       "RBAC-CLUSTER-ADMIN",
	Title:    "cluster-admin bound to a non-system subject",
	Severity: finding.Critical,
	Category: "rbac",
	Rationale: "cluster-admin (or any role granting * on * in every API group) is unrestricted control of the " +
		"cluster. Bound to a user, group or application ServiceAccount, one stolen credential is a cluster takeover.",
	Remediation: "Bind a role with the permissions actually needed; keep cluster-admin for break-glass access.",
	Refs:        control.Refs("CIS:5.1.1", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1078"),
	Scope:       control.InventoryScope,
	Reads:       []string{"Role", "ClusterRole"},
	Kinds:       []string{"RoleBinding", "ClusterRoleBinding"},
	Check: func(p *control.Pass) {
		// A RoleBinding, even to cluster-admin, grants one namespace; the
		// rule controls report what that role allows there.
		b := binding(p)
		if b == nil || !b.Cluster {
			return
		}
		m := rbac.Of(p.Inventory)
		role, ok := m.Role(b)
		admin := b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == "cluster-admin" || ok && allPowerful(role)
		if !admin {
			return
		}
		for i, s := range b.Subjects {
			if !systemSubject(s, p.Object.Namespace) {
				p.Report(object.Index("subjects", i), "%s %q is bound to %s %q, which grants everything", s.Kind, s.Name, b.RoleRef.Kind, b.RoleRef.Name)
			}
		}
	},
}

// adminRole reports whether a role is cluster-admin, admin or grants as
// much: full control of whatever namespace it is granted in.
func adminRole(b *rbac.Binding, role *rbac.Role, ok bool) bool {
	if b.RoleRef.Kind == "ClusterRole" && (b.RoleRef.Name == "cluster-admin" || b.RoleRef.Name == "admin") {
		return true
	}
	return ok && allPowerful(role)
}

var namespaceAdmin = &control.Control{
	ID:       "RBAC-NAMESPACE-ADMIN",
	Title:    "Namespace administration granted to a non-system subject",
	Severity: finding.High,
	Category: "rbac",
	Rationale: "cluster-admin or admin granted in a namespace (a RoleBinding), or admin in every namespace (a " +
		"ClusterRoleBinding), is full control there: every Secret, exec into every pod, running pods as any " +
		"ServiceAccount, and Roles and RoleBindings to hand all of it on.",
	Remediation: "Bind a role with the verbs and resources the subject needs (edit or view, or a Role of your own); " +
		"keep admin for the people who own the namespace.",
	Refs:  control.Refs("CIS:5.1.1", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1078"),
	Scope: control.InventoryScope,
	Reads: []string{"Role", "ClusterRole"},
	Kinds: []string{"RoleBinding", "ClusterRoleBinding"},
	Check: func(p *control.Pass) {
		b := binding(p)
		if b == nil {
			return
		}
		role, ok := rbac.Of(p.Inventory).Role(b)
		if !adminRole(b, role, ok) {
			return
		}
		where := "namespace " + p.Object.Namespace
		if b.Cluster {
			if b.RoleRef.Name != "admin" || ok && allPowerful(role) {
				return // cluster-wide cluster-admin is RBAC-CLUSTER-ADMIN
			}
			where = "every namespace"
		}
		for i, s := range b.Subjects {
			if !systemSubject(s, p.Object.Namespace) {
				p.Report(object.Index("subjects", i), "%s %q is granted %s %q in %s: its Secrets, exec into its pods, and its RBAC", s.Kind, s.Name, b.RoleRef.Kind, b.RoleRef.Name, where)
			}
		}
	},
}

var publicGroups = map[string]string{
	"system:anonymous":       "unauthenticated requests",
	"system:unauthenticated": "unauthenticated requests",
	"system:authenticated":   "every authenticated identity, ServiceAccounts of all namespaces included",
	"system:serviceaccounts": "every ServiceAccount of every namespace, so every pod's token",
}

var anonymous = &control.Control{
	ID:       "RBAC-PUBLIC-SUBJECT",
	Title:    "Role bound to anonymous or all authenticated users",
	Severity: finding.Critical,
	Category: "rbac",
	Rationale: "Bindings to system:anonymous or system:unauthenticated hand the role to anyone who can reach the " +
		"API server; system:authenticated hands it to every identity, and system:serviceaccounts to every pod's " +
		"ServiceAccount token, in every namespace.",
	Remediation: "Bind the role to the specific users, groups or ServiceAccounts that need it.",
	Refs:        control.Refs("CIS:5.1.1", "NSA:authentication-authorization", "NIST:4.3.2", "MITRE:T1078"),
	Scope:       control.InventoryScope,
	Reads:       []string{},
	Kinds:       []string{"RoleBinding", "ClusterRoleBinding"},
	Check: func(p *control.Pass) {
		b := binding(p)
		if b == nil {
			return
		}
		for i, s := range b.Subjects {
			if who, ok := publicGroups[s.Name]; ok && s.Kind != rbacv1.ServiceAccountKind {
				p.Report(object.Index("subjects", i), "%s %q (%s) is bound to %s %q", s.Kind, s.Name, who, b.RoleRef.Kind, b.RoleRef.Name)
			}
		}
	},
}

var defaultSABound = &control.Control{
	ID:       "RBAC-DEFAULT-SA-BOUND",
	Title:    "Role bound to a default ServiceAccount",
	Severity: finding.Medium,
	Category: "rbac",
	Rationale: "Every pod that does not choose a ServiceAccount runs as default; a role bound to it is granted to " +
		"all of them, now and in future.",
	Remediation: "Create a dedicated ServiceAccount for the workload that needs the role and bind that instead.",
	Refs:        control.Refs("CIS:5.1.5", "NSA:authentication-authorization", "NIST:4.3.2"),
	Scope:       control.InventoryScope,
	Reads:       []string{},
	Kinds:       []string{"RoleBinding", "ClusterRoleBinding"},
	Check: func(p *control.Pass) {
		b := binding(p)
		if b == nil {
			return
		}
		for i, s := range b.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == "default" {
				p.Report(object.Index("subjects", i), "default ServiceAccount is bound to %s %q", b.RoleRef.Kind, b.RoleRef.Name)
			}
		}
	},
}

// SAPermissions returns the risky permissions a ServiceAccount holds
// through the bindings of the inventory, as "RISK-ID (verb resource via
// binding)" lines, sorted.
func SAPermissions(inv *inventory.Inventory, ns, name string) []string {
	// Many workloads share a ServiceAccount (default above all): each
	// account's answer is computed once per inventory.
	cache := inv.Memo("rbac.SAPermissions", []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}, func(*inventory.Inventory) any {
		return &sync.Map{}
	}).(*sync.Map)
	if v, ok := cache.Load(ns + "/" + name); ok {
		return v.([]string)
	}
	out := saPermissions(inv, ns, name)
	cache.Store(ns+"/"+name, out)
	return out
}

func saPermissions(inv *inventory.Inventory, ns, name string) []string {
	m := rbac.Of(inv)
	seen := map[string]bool{}
	var out []string
	for _, b := range m.ServiceAccountGrants(ns, name) {
		role, ok := m.Role(b)
		if !ok {
			continue
		}
		if !b.Cluster && b.Object.Namespace != ns {
			continue // a RoleBinding grants in its own namespace, which the account does not run in
		}
		add := func(s string) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		if allPowerful(role) {
			if b.Cluster {
				add(fmt.Sprintf("cluster-admin equivalent via %s %s", b.Object.Kind, b.Object.Name))
			} else {
				add(fmt.Sprintf("every permission in namespace %s via %s %s", b.Object.Namespace, b.Object.Kind, b.Object.Name))
			}
			continue
		}
		for _, rule := range role.Rules {
			for i := range risks {
				if g := risks[i].grants(rule); g != "" {
					add(fmt.Sprintf("%s (%s via %s %s)", risks[i].id, g, b.Object.Kind, b.Object.Name))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

var workloadSA = &control.Control{
	ID:       "RBAC-WORKLOAD-SA",
	Title:    "Workload runs as a ServiceAccount with risky permissions",
	Severity: finding.High,
	Category: "rbac",
	Rationale: "The pods' ServiceAccount token carries its permissions: anyone who compromises the container " +
		"(or reads its token) can read Secrets, create pods or escalate as that account.",
	Remediation: "Give the workload its own ServiceAccount with only the permissions it needs, and disable token " +
		"automounting where it does not call the API.",
	Refs:          control.Refs("CIS:5.1.6", "NSA:authentication-authorization", "NIST:4.3.1", "MITRE:T1528"),
	Scope:         control.InventoryScope,
	Reads:         []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"},
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		name, path := serviceaccount.Name(w)
		if path == "" {
			path = w.SpecPath
		}
		if perms := SAPermissions(p.Inventory, p.Object.Namespace, name); len(perms) > 0 {
			p.Report(path, "ServiceAccount %q holds: %s", name, strings.Join(perms, "; "))
		}
	},
}
