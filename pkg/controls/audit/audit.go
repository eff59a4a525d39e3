// Package audit holds the controls on what the API server's audit trail
// shows people and workloads doing: the behaviours of Falco's k8saudit
// rules and more, judged event by event.
package audit

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Rule is an audit control and its test of one event: a message when
// the event shows the behaviour.
type Rule struct {
	*control.Control
	// Path is the field of the event that shows the behaviour.
	Path  string
	Match func(e *auditv1.Event) (string, bool)
}

// Rules are the audit rules judged on each event alone; their controls
// are External (the audit front door reports them).
func Rules() []Rule { return rules }

// Controls returns the audit controls for the catalog: the rules, those
// judged over many events, and the anomalies of learned baselines.
func Controls() []*control.Control {
	out := make([]*control.Control, 0, len(rules)+len(Stateful))
	for _, r := range rules {
		out = append(out, r.Control)
	}
	return append(out, Stateful...)
}

func rule(id, title string, sev finding.Severity, rationale, remediation string, refs []string, path string, match func(e *auditv1.Event) (string, bool)) Rule {
	return Rule{Control: ctl(id, title, sev, rationale, remediation, refs), Path: path, Match: match}
}

func ctl(id, title string, sev finding.Severity, rationale, remediation string, refs []string) *control.Control {
	return &control.Control{ID: id, Title: title, Severity: sev, Category: "runtime", Rationale: rationale,
		Remediation: remediation, Refs: control.Refs(refs...), External: true, Kinds: []string{control.AuditEventKind}}
}

// who names the identity of an event.
func who(e *auditv1.Event) string {
	if e.ImpersonatedUser != nil && e.ImpersonatedUser.Username != "" {
		return e.ImpersonatedUser.Username + " (impersonated by " + e.User.Username + ")"
	}
	return e.User.Username
}

// allowed reports whether the request was authorized: the authorizer's
// decision when the event carries it (an allowed exec that the kubelet
// then failed is still an exec attempt), else a success code or no
// status at all.
func allowed(e *auditv1.Event) bool {
	if d, ok := e.Annotations["authorization.k8s.io/decision"]; ok {
		return d == "allow"
	}
	return e.ResponseStatus == nil || e.ResponseStatus.Code < 400
}

func on(e *auditv1.Event, resource, subresource string, verbs ...string) bool {
	if e.ObjectRef == nil || e.ObjectRef.Resource != resource || e.ObjectRef.Subresource != subresource {
		return false
	}
	for _, v := range verbs {
		if e.Verb == v {
			return allowed(e)
		}
	}
	return false
}

func target(e *auditv1.Event) string {
	r := e.ObjectRef
	if r.Namespace == "" {
		return r.Resource + "/" + r.Name
	}
	return r.Resource + "/" + r.Namespace + "/" + r.Name
}

// system identities run the cluster: controllers, nodes, the scheduler.
func system(user string) bool {
	return strings.HasPrefix(user, "system:") && !strings.HasPrefix(user, "system:serviceaccount:") || user == "system:kube-controller-manager"
}

// object decodes the request object of an event (nil at levels below
// Request).
func object(e *auditv1.Event) map[string]any {
	if e.RequestObject == nil || len(e.RequestObject.Raw) == 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(e.RequestObject.Raw, &m) != nil {
		return nil
	}
	return m
}

func str(m map[string]any, path ...string) string {
	for i, p := range path {
		v, ok := m[p]
		if !ok {
			return ""
		}
		if i == len(path)-1 {
			s, _ := v.(string)
			return s
		}
		if m, ok = v.(map[string]any); !ok {
			return ""
		}
	}
	return ""
}

var awsKey = regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b|aws_secret_access_key`)

var rules = []Rule{
	rule("AUD-EXEC", "Command run in a container (exec)", finding.Medium,
		"An interactive command in a running container bypasses the image that was scanned and the deployment that was reviewed; attackers use it to move inside the cluster.",
		"Debug with ephemeral containers or logs; restrict pods/exec with RBAC to break-glass identities.",
		[]string{"MITRE:T1609", "NSA:audit-logging"},
		"objectRef.subresource",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "pods", "exec", "create", "get") {
				return "", false
			}
			return fmt.Sprintf("%s ran a command in %s", who(e), target(e)), true
		}),
	rule("AUD-ATTACH", "Attached to a container", finding.Medium,
		"Attaching to a container gives its console to the caller, with the container's privileges.",
		"Restrict pods/attach with RBAC to break-glass identities.",
		[]string{"MITRE:T1609"},
		"objectRef.subresource",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "pods", "attach", "create", "get") {
				return "", false
			}
			return fmt.Sprintf("%s attached to %s", who(e), target(e)), true
		}),
	rule("AUD-PORT-FORWARD", "Port forwarded to a pod", finding.Low,
		"A port-forward opens a tunnel past Services and NetworkPolicies into a pod.",
		"Restrict pods/portforward with RBAC; expose what must be reached through a Service with a NetworkPolicy.",
		[]string{"MITRE:T1572"},
		"objectRef.subresource",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "pods", "portforward", "create", "get") {
				return "", false
			}
			return fmt.Sprintf("%s forwarded a port to %s", who(e), target(e)), true
		}),
	rule("AUD-EPHEMERAL-CONTAINER", "Ephemeral container added to a pod", finding.Medium,
		"An ephemeral container runs an arbitrary image inside a running pod, sharing its namespaces.",
		"Allow pods/ephemeralcontainers only to break-glass identities; the admission controls still judge the container.",
		[]string{"MITRE:T1610"},
		"objectRef.subresource",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "pods", "ephemeralcontainers", "update", "patch") {
				return "", false
			}
			return fmt.Sprintf("%s added an ephemeral container to %s", who(e), target(e)), true
		}),
	rule("AUD-CLUSTER-ADMIN-BINDING", "Binding to cluster-admin created", finding.High,
		"A binding to cluster-admin gives its subjects every permission in the cluster.",
		"Bind narrower roles; review who can create bindings (bind and escalate verbs).",
		[]string{"MITRE:T1098", "CIS:5.1.1"},
		"requestObject.roleRef.name",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "clusterrolebindings", "", "create", "update", "patch") && !on(e, "rolebindings", "", "create", "update", "patch") {
				return "", false
			}
			if o := object(e); o == nil || str(o, "roleRef", "name") != "cluster-admin" {
				return "", false
			}
			return fmt.Sprintf("%s bound cluster-admin in %s", who(e), target(e)), true
		}),
	rule("AUD-WILDCARD-ROLE", "Role with wildcard permissions created", finding.Medium,
		"A role granting * verbs or resources grants everything, including what future API versions add.",
		"List the verbs and resources the role needs.",
		[]string{"MITRE:T1098", "CIS:5.1.3"},
		"requestObject.rules",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "clusterroles", "", "create", "update", "patch") && !on(e, "roles", "", "create", "update", "patch") {
				return "", false
			}
			o := object(e)
			rs, _ := o["rules"].([]any)
			for _, r := range rs {
				m, _ := r.(map[string]any)
				for _, k := range []string{"verbs", "resources"} {
					list, _ := m[k].([]any)
					for _, v := range list {
						if v == "*" {
							return fmt.Sprintf("%s created %s with %s: *", who(e), target(e), k), true
						}
					}
				}
			}
			return "", false
		}),
	rule("AUD-SA-KUBE-SYSTEM", "ServiceAccount created in kube-system", finding.Medium,
		"kube-system holds the control plane's accounts; a new account there by a person or workload hides among them.",
		"Create accounts in the namespaces of the workloads that use them.",
		[]string{"MITRE:T1136"},
		"objectRef.namespace",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "serviceaccounts", "", "create") || e.ObjectRef.Namespace != "kube-system" || system(e.User.Username) {
				return "", false
			}
			return fmt.Sprintf("%s created %s", who(e), target(e)), true
		}),
	rule("AUD-ANONYMOUS", "Anonymous request allowed", finding.High,
		"An anonymous request that succeeds means something is open to anyone who can reach the API server.",
		"Turn anonymous authentication off (--anonymous-auth=false) or remove the bindings of system:anonymous and system:unauthenticated.",
		[]string{"MITRE:T1078", "CIS:1.2.1"},
		"user.username",
		func(e *auditv1.Event) (string, bool) {
			if e.User.Username != "system:anonymous" || !allowed(e) || e.ResponseStatus == nil || strings.HasPrefix(e.RequestURI, "/healthz") ||
				strings.HasPrefix(e.RequestURI, "/livez") || strings.HasPrefix(e.RequestURI, "/readyz") || strings.HasPrefix(e.RequestURI, "/version") {
				return "", false
			}
			return fmt.Sprintf("an anonymous %s of %s was allowed", e.Verb, e.RequestURI), true
		}),
	rule("AUD-NODEPORT", "NodePort Service created", finding.Low,
		"A NodePort opens the Service on every node's address, past the ingress and often past the firewall.",
		"Use a ClusterIP Service behind an Ingress or a LoadBalancer.",
		[]string{"MITRE:T1133"},
		"requestObject.spec.type",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "services", "", "create", "update", "patch") || str(object(e), "spec", "type") != "NodePort" {
				return "", false
			}
			return fmt.Sprintf("%s made %s a NodePort Service", who(e), target(e)), true
		}),
	rule("AUD-SECRETS-ALL-NAMESPACES", "Secrets listed across all namespaces", finding.High,
		"Listing Secrets cluster-wide reads every credential of the cluster at once.",
		"Grant list on Secrets per namespace, to the controllers that need it.",
		[]string{"MITRE:T1552.007", "CIS:5.1.2"},
		"objectRef.namespace",
		func(e *auditv1.Event) (string, bool) {
			if e.ObjectRef == nil || e.ObjectRef.Resource != "secrets" || e.ObjectRef.Namespace != "" || (e.Verb != "list" && e.Verb != "watch") ||
				!allowed(e) || system(e.User.Username) {
				return "", false
			}
			return fmt.Sprintf("%s %sed Secrets in all namespaces", who(e), e.Verb), true
		}),
	rule("AUD-IMPERSONATION", "Request made as another identity", finding.Medium,
		"Impersonation acts with another identity's permissions; it is how escalations hide.",
		"Grant impersonate only to break-glass and proxy identities, and name the users they may impersonate.",
		[]string{"MITRE:T1134"},
		"impersonatedUser",
		func(e *auditv1.Event) (string, bool) {
			if e.ImpersonatedUser == nil || !allowed(e) {
				return "", false
			}
			return fmt.Sprintf("%s acted as %s (%s %s)", e.User.Username, e.ImpersonatedUser.Username, e.Verb, e.RequestURI), true
		}),
	rule("AUD-CONFIGMAP-CREDENTIALS", "ConfigMap holding cloud credentials", finding.High,
		"ConfigMaps are readable by anyone who can read the namespace's configuration, and land in logs and backups unencrypted.",
		"Keep the key in a Secret (or a cloud identity for the workload) and rotate it.",
		[]string{"MITRE:T1552", "CIS:5.4.1"},
		"requestObject.data",
		func(e *auditv1.Event) (string, bool) {
			if !on(e, "configmaps", "", "create", "update", "patch") {
				return "", false
			}
			o := object(e)
			data, _ := o["data"].(map[string]any)
			for k, v := range data {
				if s, _ := v.(string); awsKey.MatchString(s) || awsKey.MatchString(k) {
					return fmt.Sprintf("%s stored an AWS credential in %s (key %s)", who(e), target(e), k), true
				}
			}
			return "", false
		}),
}

// kubeSystem reports whether user is the control plane or one of
// kube-system's own accounts (the controllers).
func kubeSystem(user string) bool {
	return system(user) || strings.HasPrefix(user, "system:serviceaccount:kube-system:")
}

// escalations are the permissions that lead to more permissions.
var escalations = []struct{ verb, resource string }{
	{"bind", ""}, {"escalate", ""}, {"impersonate", ""},
	{"create", "pods/exec"}, {"create", "serviceaccounts/token"}, {"update", "certificatesigningrequests/approval"},
}

func init() {
	rules = append(rules,
		rule("AUD-TOKEN-REQUEST", "Service account token requested by an unexpected identity", finding.Medium,
			"A TokenRequest mints a token of another account; kubelets and the controller manager need it, a person or workload that does is borrowing an identity.",
			"Let workloads mount their own projected tokens; allow-list the few identities that mint tokens (exclude with users:).",
			[]string{"MITRE:T1528"}, "objectRef.subresource",
			func(e *auditv1.Event) (string, bool) {
				if !on(e, "serviceaccounts", "token", "create") || kubeSystem(e.User.Username) {
					return "", false
				}
				return fmt.Sprintf("%s requested a token of %s", who(e), target(e)), true
			}),
		rule("AUD-CSR-APPROVAL", "Certificate signing request approved by an unexpected identity", finding.High,
			"An approved CSR is a client certificate the API server trusts until it expires; it cannot be revoked.",
			"Let the controller manager's approvers decide; allow-list the identities that approve by hand (exclude with users:).",
			[]string{"MITRE:T1649"}, "objectRef.subresource",
			func(e *auditv1.Event) (string, bool) {
				if !on(e, "certificatesigningrequests", "approval", "update", "patch") || kubeSystem(e.User.Username) {
					return "", false
				}
				return fmt.Sprintf("%s approved %s", who(e), target(e)), true
			}),
		rule("AUD-RBAC-ESCALATION", "Role granting a path to more permissions written", finding.High,
			"bind, escalate and impersonate, exec into pods, minting tokens and approving CSRs each lead to permissions beyond the role's own.",
			"Grant these only to break-glass roles, and name the roles, users or resources they apply to.",
			[]string{"MITRE:T1098", "CIS:5.1.8"}, "requestObject.rules",
			func(e *auditv1.Event) (string, bool) {
				if !on(e, "clusterroles", "", "create", "update", "patch") && !on(e, "roles", "", "create", "update", "patch") || kubeSystem(e.User.Username) {
					return "", false
				}
				rs, _ := object(e)["rules"].([]any)
				for _, r := range rs {
					m, _ := r.(map[string]any)
					verbs, _ := m["verbs"].([]any)
					res, _ := m["resources"].([]any)
					for _, esc := range escalations {
						if !slices.Contains(verbs, any(esc.verb)) {
							continue
						}
						if esc.resource == "" || slices.Contains(res, any(esc.resource)) {
							grant := esc.verb
							if esc.resource != "" {
								grant += " " + esc.resource
							}
							return fmt.Sprintf("%s wrote %s granting %s", who(e), target(e), grant), true
						}
					}
				}
				return "", false
			}),
		rule("AUD-BINDING-BY-WORKLOAD", "Workload identity created a role binding", finding.Medium,
			"Workloads rarely need to grant permissions; a service account that binds roles is how a compromised pod makes itself at home.",
			"Remove create on rolebindings and clusterrolebindings from workload roles; allow-list operators that manage RBAC (exclude with users:).",
			[]string{"MITRE:T1098"}, "user.username",
			func(e *auditv1.Event) (string, bool) {
				if !on(e, "clusterrolebindings", "", "create", "update", "patch") && !on(e, "rolebindings", "", "create", "update", "patch") {
					return "", false
				}
				if u := e.User.Username; !strings.HasPrefix(u, "system:serviceaccount:") || kubeSystem(u) {
					return "", false
				}
				return fmt.Sprintf("%s wrote %s", who(e), target(e)), true
			}),
		rule("AUD-POD-KUBE-SYSTEM", "Pod created in a system namespace by a person or workload", finding.Medium,
			"kube-system and kube-public hold the control plane's pods and accounts; a pod placed there inherits their trust and hides among them.",
			"Run workloads in their own namespaces; only the control plane creates pods in kube-system.",
			[]string{"MITRE:T1610"}, "objectRef.namespace",
			func(e *auditv1.Event) (string, bool) {
				if !on(e, "pods", "", "create") || (e.ObjectRef.Namespace != "kube-system" && e.ObjectRef.Namespace != "kube-public") || kubeSystem(e.User.Username) {
					return "", false
				}
				return fmt.Sprintf("%s created %s", who(e), target(e)), true
			}),
		rule("AUD-SYSTEM-ROLE-CHANGED", "System ClusterRole or binding changed", finding.High,
			"The system: roles and bindings are the control plane's own permissions; changing them changes what every node and controller may do.",
			"Leave system: roles to the API server's reconciliation; grant extra permissions in roles of your own.",
			[]string{"MITRE:T1098"}, "objectRef.name",
			func(e *auditv1.Event) (string, bool) {
				if !on(e, "clusterroles", "", "update", "patch", "delete") && !on(e, "clusterrolebindings", "", "update", "patch", "delete") ||
					!strings.HasPrefix(e.ObjectRef.Name, "system:") || kubeSystem(e.User.Username) {
					return "", false
				}
				return fmt.Sprintf("%s %s %s", who(e), map[string]string{"update": "updated", "patch": "patched", "delete": "deleted"}[e.Verb], target(e)), true
			}),
	)
}

// The controls judged over many events: their findings come from the
// audit package's Detector and baselines, not from a Match.
var (
	UnexpectedNetwork = ctl("AUD-UNEXPECTED-NETWORK", "Request from outside the expected networks", finding.High,
		"Requests from addresses outside the cluster's and operators' networks mean the API server is reachable, and a credential used, from somewhere it should not be.",
		"Restrict who can reach the API server (firewall, private endpoint, authorized networks) and rotate the credential; list the expected networks in audit.networks.",
		[]string{"MITRE:T1078", "MITRE:T1133"})
	Probing = ctl("AUD-PROBING", "Identity repeatedly denied (probing its permissions)", finding.Medium,
		"An identity that is refused again and again is trying what it may do: stolen tokens are tested this way (the can-i scan of an attacker).",
		"Find who holds the credential; if the workload does not need the calls, it is not its code making them.",
		[]string{"MITRE:T1613", "MITRE:T1069"})
	AnomalyAccess = ctl("AUD-ANOMALY-ACCESS", "Identity used a permission it never used before", finding.Medium,
		"After its learning window an identity's requests are the same few verbs on the same resources; the first secrets read or exec by an account that never did one is how a stolen token shows.",
		"Check who holds the identity's credentials; if the new use is expected, nothing to do (the baseline learns it); otherwise revoke and rotate.",
		[]string{"MITRE:T1078", "MITRE:T1613"})
	AnomalySource = ctl("AUD-ANOMALY-SOURCE", "Identity used from a new network", finding.Medium,
		"A workload's token used from an address outside the networks its pods run in has left the cluster.",
		"Confirm the new network; bind tokens to pods (projected, bound service account tokens) and rotate a leaked one.",
		[]string{"MITRE:T1078", "MITRE:T1550.001"})
	AnomalyAgent = ctl("AUD-ANOMALY-AGENT", "Identity used by a new client", finding.Medium,
		"kubectl or curl using a controller's service account token means a person holds it.",
		"Find out who used the token; workloads should not hand their tokens to people.",
		[]string{"MITRE:T1078", "MITRE:T1550.001"})
	AnomalyRate = ctl("AUD-ANOMALY-RATE", "Identity's request rate far above its learned peak", finding.Low,
		"Many times an identity's busiest hour is enumeration, scraping or a controller stuck in a loop.",
		"Look at what the identity requested in that hour; throttle it with API Priority and Fairness if it is a runaway client.",
		[]string{"MITRE:T1613", "MITRE:T1499"})

	// Stateful lists them for the catalog.
	Stateful = []*control.Control{UnexpectedNetwork, Probing, AnomalyAccess, AnomalySource, AnomalyAgent, AnomalyRate}
)
