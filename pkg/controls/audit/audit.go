// Package audit holds the controls on what the API server's audit trail
// shows people and workloads doing: the behaviours of Falco's k8saudit
// rules and more, judged event by event.
package audit

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Rule is an audit control and its test of one event: a message when
// the event shows the behaviour.
type Rule struct {
	*control.Control
	Match func(e *auditv1.Event) (string, bool)
}

// Rules are the audit rules; their controls are External (the audit
// front door reports them).
func Rules() []Rule { return rules }

// Controls returns the audit rules' controls for the catalog.
func Controls() []*control.Control {
	out := make([]*control.Control, 0, len(rules))
	for _, r := range rules {
		out = append(out, r.Control)
	}
	return out
}

func rule(id, title string, sev finding.Severity, rationale, remediation string, refs []string, match func(e *auditv1.Event) (string, bool)) Rule {
	return Rule{Control: &control.Control{ID: id, Title: title, Severity: sev, Category: "runtime", Rationale: rationale,
		Remediation: remediation, Refs: control.Refs(refs...), External: true, Kinds: []string{control.AuditEventKind}}, Match: match}
}

// who names the identity of an event.
func who(e *auditv1.Event) string {
	if e.ImpersonatedUser != nil && e.ImpersonatedUser.Username != "" {
		return e.ImpersonatedUser.Username + " (impersonated by " + e.User.Username + ")"
	}
	return e.User.Username
}

// allowed reports whether the API server allowed the request (a
// ResponseComplete event with a success code, or no status at all).
func allowed(e *auditv1.Event) bool {
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
