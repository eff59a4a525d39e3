// Package auditpolicy reads and writes the API server's audit policy:
// whether a policy logs what kubeguard's audit rules need at the levels
// they need (and credentials at Metadata only), and the policy kubeguard
// recommends. kubeguard audit-policy and the node checks of CIS 3.2 use
// it.
package auditpolicy

import (
	"fmt"
	"slices"
	"strings"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Need is a request kind kubeguard must see, and the level it must be
// logged at for a control to judge it.
type Need struct {
	Controls []string
	// What the request is, as the policy evaluator sees it.
	User                                   string
	Groups                                 []string
	Verb, Group, Resource, Subresource, NS string
	Path                                   string
	Level                                  auditinternal.Level
	// Optional needs conflict with another recommendation (ConfigMap
	// bodies with CIS 3.2): missing them is a warning.
	Optional bool
	Why      string
}

var person = []string{"system:authenticated"}

// Needs are what the AUD-* rules, the catalog on carried objects and the
// baselines need from the audit policy.
var Needs = []Need{
	{Controls: []string{"AUD-EXEC"}, User: "alice", Groups: person, Verb: "create", Resource: "pods", Subresource: "exec", NS: "shop", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-ATTACH"}, User: "alice", Groups: person, Verb: "create", Resource: "pods", Subresource: "attach", NS: "shop", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-PORT-FORWARD"}, User: "alice", Groups: person, Verb: "create", Resource: "pods", Subresource: "portforward", NS: "shop", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-EPHEMERAL-CONTAINER", "PSS-*"}, User: "alice", Groups: person, Verb: "patch", Resource: "pods", Subresource: "ephemeralcontainers", NS: "shop", Level: auditinternal.LevelRequest,
		Why: "the catalog judges the container added"},
	{Controls: []string{"PSS-*", "POD-*", "CTR-*", "VOL-*"}, User: "alice", Groups: person, Verb: "create", Resource: "pods", NS: "shop", Level: auditinternal.LevelRequest,
		Why: "the catalog judges the pod created"},
	{Controls: []string{"PSS-*", "POD-*", "CTR-*", "VOL-*"}, User: "alice", Groups: person, Verb: "update", Group: "apps", Resource: "deployments", NS: "shop", Level: auditinternal.LevelRequest,
		Why: "the catalog judges the workload changed"},
	{Controls: []string{"AUD-CLUSTER-ADMIN-BINDING", "AUD-BINDING-BY-WORKLOAD"}, User: "alice", Groups: person, Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Level: auditinternal.LevelRequest,
		Why: "the binding's roleRef is in the request"},
	{Controls: []string{"AUD-WILDCARD-ROLE", "AUD-RBAC-ESCALATION"}, User: "alice", Groups: person, Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "roles", NS: "shop", Level: auditinternal.LevelRequest,
		Why: "the role's rules are in the request"},
	{Controls: []string{"AUD-SA-KUBE-SYSTEM"}, User: "alice", Groups: person, Verb: "create", Resource: "serviceaccounts", NS: "kube-system", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-NODEPORT"}, User: "alice", Groups: person, Verb: "create", Resource: "services", NS: "shop", Level: auditinternal.LevelRequest,
		Why: "the Service type is in the request"},
	{Controls: []string{"AUD-SECRETS-ALL-NAMESPACES"}, User: "system:serviceaccount:shop:reporter", Groups: []string{"system:serviceaccounts", "system:authenticated"}, Verb: "list", Resource: "secrets", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-TOKEN-REQUEST"}, User: "alice", Groups: person, Verb: "create", Resource: "serviceaccounts", Subresource: "token", NS: "shop", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-CSR-APPROVAL"}, User: "alice", Groups: person, Verb: "update", Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-ANONYMOUS"}, User: "system:anonymous", Groups: []string{"system:unauthenticated"}, Verb: "get", Resource: "configmaps", NS: "kube-system", Level: auditinternal.LevelMetadata},
	{Controls: []string{"AUD-PROBING", "AUD-ANOMALY-*"}, User: "system:serviceaccount:shop:reporter", Groups: []string{"system:serviceaccounts", "system:authenticated"}, Verb: "get", Resource: "configmaps", NS: "shop", Level: auditinternal.LevelMetadata,
		Why: "baselines learn every identity's requests"},
	{Controls: []string{"AUD-CONFIGMAP-CREDENTIALS"}, User: "alice", Groups: person, Verb: "create", Resource: "configmaps", NS: "shop", Level: auditinternal.LevelRequest, Optional: true,
		Why: "the rule reads the ConfigMap's data, which CIS 3.2 keeps out of the log"},
}

// Exposure is a request kind whose body must stay out of the log: it
// holds credentials (CIS Kubernetes Benchmark 3.2.2).
type Exposure struct {
	Verb, Group, Resource, Subresource string
	// Optional: ConfigMaps should hold no credentials; logging their
	// bodies is a warning (partial), and what AUD-CONFIGMAP-CREDENTIALS
	// needs.
	Optional bool
}

var exposures = []Exposure{{"get", "", "secrets", "", false}, {"create", "", "secrets", "", false}, {"update", "", "secrets", "", false},
	{"create", "", "serviceaccounts", "token", false}, {"create", "authentication.k8s.io", "tokenreviews", "", false},
	{"get", "", "configmaps", "", true}, {"create", "", "configmaps", "", true}}

// PolicyResult is one line of a policy check.
type PolicyResult struct {
	Status  string `json:"status"` // ok, blind, partial, exposes
	Request string `json:"request"`
	Level   string `json:"level"`
	Want    string `json:"want"`
	Detail  string `json:"detail"`
}

// CheckPolicy evaluates an audit policy (as the API server reads it)
// against what kubeguard needs and what must stay out of the log.
func CheckPolicy(data []byte) ([]PolicyResult, error) {
	p, err := policy.LoadPolicyFromBytes(data)
	if err != nil {
		return nil, err
	}
	ev := policy.NewPolicyRuleEvaluator(p)
	var out []PolicyResult
	for _, n := range Needs {
		a := authorizer.AttributesRecord{User: &user.DefaultInfo{Name: n.User, Groups: n.Groups}, Verb: n.Verb, Namespace: n.NS,
			APIGroup: n.Group, Resource: n.Resource, Subresource: n.Subresource, ResourceRequest: true, Path: n.Path}
		c := ev.EvaluatePolicyRule(a)
		r := PolicyResult{Status: "ok", Request: describe(n.User, n.Verb, n.Group, n.Resource, n.Subresource, n.NS), Level: string(c.Level), Want: string(n.Level)}
		switch {
		case c.Level.Less(n.Level):
			r.Status = "blind"
			if n.Optional {
				r.Status = "partial"
			}
			r.Detail = fmt.Sprintf("%v cannot judge it at %s", n.Controls, LevelName(string(c.Level)))
			if n.Why != "" {
				r.Detail += ": " + n.Why
			}
		case slices.Contains(c.OmitStages, auditinternal.StageResponseComplete):
			r.Status = "blind"
			r.Detail = fmt.Sprintf("%v: the ResponseComplete stage is omitted, and kubeguard judges each request once, complete", n.Controls)
		default:
			r.Detail = fmt.Sprintf("%v", n.Controls)
		}
		out = append(out, r)
	}
	for _, x := range exposures {
		a := authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "alice", Groups: person}, Verb: x.Verb, Namespace: "shop",
			APIGroup: x.Group, Resource: x.Resource, Subresource: x.Subresource, ResourceRequest: true}
		if x.Resource == "tokenreviews" {
			a.Namespace = ""
		}
		c := ev.EvaluatePolicyRule(a)
		r := PolicyResult{Status: "ok", Request: describe("alice", x.Verb, x.Group, x.Resource, x.Subresource, a.Namespace), Level: string(c.Level), Want: "Metadata at most",
			Detail: "credentials stay out of the log (CIS 3.2.2)"}
		if auditinternal.LevelMetadata.Less(c.Level) {
			r.Status = "exposes"
			if x.Optional {
				r.Status = "partial"
			}
			r.Detail = fmt.Sprintf("logged at %s: its body (credentials) lands in the audit log; log it at Metadata (CIS 3.2.2)", c.Level)
		}
		out = append(out, r)
	}
	return out, nil
}

// LevelName names an audit level; the evaluator gives None as "".
func LevelName(l string) string {
	if l == "" {
		return "None"
	}
	return l
}

func describe(userName, verb, group, resource, sub, ns string) string {
	res := resource
	if group != "" {
		res += "." + group
	}
	if sub != "" {
		res += "/" + sub
	}
	s := verb + " " + res
	if ns != "" {
		s += " in " + ns
	}
	return s + " by " + Identity(userName)
}

// GeneratePolicy returns the audit policy kubeguard recommends: what its
// rules need at the levels they need, credentials at Metadata only, and
// the control plane's noisy read-only traffic dropped. configMapBodies
// logs ConfigMap writes at Request, for AUD-CONFIGMAP-CREDENTIALS.
func GeneratePolicy(configMapBodies bool) string {
	if !configMapBodies {
		return generatedPolicy
	}
	return strings.Replace(generatedPolicy, "  # credentials: who touched them", `  # ConfigMap writes with their data, for AUD-CONFIGMAP-CREDENTIALS
  # (CIS 3.2.2 would keep them at Metadata)
  - level: Request
    verbs: ["create", "update", "patch"]
    resources:
      - group: ""
        resources: ["configmaps"]
  # credentials: who touched them`, 1)
}

const generatedPolicy = `# Audit policy for kubeguard audit (generated by kubeguard audit-policy generate).
# Pass it to kube-apiserver with --audit-policy-file.
apiVersion: audit.k8s.io/v1
kind: Policy
# kubeguard judges each request once, complete
omitStages: ["RequestReceived"]
omitManagedFields: true
rules:
  # the control plane's own read-only chatter
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
      - group: ""
        resources: ["endpoints", "services", "services/status"]
      - group: "discovery.k8s.io"
        resources: ["endpointslices"]
  - level: None
    userGroups: ["system:nodes"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["nodes", "nodes/status"]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:serviceaccount:kube-system:endpoint-controller"]
    verbs: ["get", "update"]
    namespaces: ["kube-system"]
    resources:
      - group: ""
        resources: ["endpoints"]
      - group: "coordination.k8s.io"
        resources: ["leases"]
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics"]
  - level: None
    resources:
      - group: ""
        resources: ["events"]
      - group: "events.k8s.io"
        resources: ["events"]
  # credentials: who touched them, never their content (CIS 3.2.2)
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  # what the catalog and the AUD-* rules judge: the objects written
  - level: Request
    verbs: ["create", "update", "patch"]
    resources:
      - group: ""
        resources: ["pods", "pods/ephemeralcontainers", "services", "serviceaccounts", "replicationcontrollers"]
      - group: "apps"
      - group: "batch"
      - group: "rbac.authorization.k8s.io"
      - group: "networking.k8s.io"
      - group: "admissionregistration.k8s.io"
  # everything else: who did what, for the rules and the baselines
  - level: Metadata
`

// Identity names a username briefly: sa:NAMESPACE/NAME for a service
// account.
func Identity(user string) string {
	if rest, ok := strings.CutPrefix(user, "system:serviceaccount:"); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok {
			return "sa:" + ns + "/" + name
		}
	}
	return user
}

// Username is the inverse of Identity.
func Username(identity string) string {
	if rest, ok := strings.CutPrefix(identity, "sa:"); ok {
		if ns, name, ok := strings.Cut(rest, "/"); ok {
			return "system:serviceaccount:" + ns + ":" + name
		}
	}
	return identity
}
