// Package controlplane checks the flags of the control plane's static pods
// (kube-apiserver, kube-controller-manager, kube-scheduler, etcd) against
// section 1 and 2 of the CIS Kubernetes Benchmark. They apply to the
// manifests in /etc/kubernetes/manifests and to the mirror pods a cluster
// shows in kube-system alike.
package controlplane

import (
	"fmt"
	"path"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// component is a control-plane binary with its flags as the container
// passes them.
type component struct {
	name  string // kube-apiserver, kube-controller-manager, kube-scheduler, etcd
	c     inventory.Container
	flags map[string]flag
}

type flag struct {
	value string
	path  string // field path of the command or args element
}

func (c *component) get(name string) (string, bool) {
	f, ok := c.flags[name]
	return f.value, ok
}

// at returns where to report about a flag: its own element, or the
// container's command when the flag is missing.
func (c *component) at(name string) string {
	if f, ok := c.flags[name]; ok {
		return f.path
	}
	if len(c.c.Command) > 0 {
		return c.c.Field("command")
	}
	return c.c.Field("args")
}

var binaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}

// IsComponent reports whether a workload runs a control-plane binary
// (the objects the control-plane controls check).
func IsComponent(w *inventory.Workload) bool { return w != nil && len(components(w)) > 0 }

// components finds the control-plane containers of a workload by the
// binary their command (or first argument) runs.
func components(w *inventory.Workload) []*component {
	var out []*component
	for _, c := range w.Containers {
		words := append(append([]string{}, c.Command...), c.Args...)
		if len(words) == 0 {
			continue
		}
		bin := path.Base(words[0])
		known := false
		for _, b := range binaries {
			known = known || bin == b
		}
		if !known {
			continue
		}
		comp := &component{name: bin, c: c, flags: map[string]flag{}}
		for i, wd := range words[1:] {
			if !strings.HasPrefix(wd, "--") {
				continue
			}
			name, value, _ := strings.Cut(strings.TrimPrefix(wd, "--"), "=")
			field := "command"
			idx := i + 1
			if idx >= len(c.Command) {
				field, idx = "args", idx-len(c.Command)
			}
			comp.flags[name] = flag{value: value, path: object.Index(c.Field(field), idx)}
		}
		out = append(out, comp)
	}
	return out
}

// check is one benchmark item: bad returns the flag to point at and what
// is wrong, or "" when the component passes.
type check struct {
	id, title, rationale, remediation string
	severity                          finding.Severity
	refs                              []string
	appliesTo                         []string
	bad                               func(c *component) (flag, problem string)
}

func list(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func has(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// missing reports the first absent flag of names as a check's answer.
func missing(c *component, names ...string) (flag, problem string) {
	for _, n := range names {
		if v, ok := c.get(n); !ok || v == "" {
			return n, "--" + n + " is not set"
		}
	}
	return "", ""
}

var checks = []check{
	{id: "CP-ANONYMOUS-AUTH", title: "API server accepts anonymous requests", severity: finding.Medium,
		rationale:   "With anonymous authentication on (the default), unauthenticated requests reach the API server as system:anonymous; any binding to it or to system:unauthenticated exposes the cluster.",
		remediation: "Start kube-apiserver with --anonymous-auth=false (or limit anonymous access to health endpoints with an AuthenticationConfiguration).",
		refs:        []string{"CIS:1.2.1", "NSA:authentication", "NIST:4.3.1", "MITRE:T1078"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			if v, _ := c.get("anonymous-auth"); v != "false" {
				return "anonymous-auth", "--anonymous-auth is not false"
			}
			return "", ""
		}},
	{id: "CP-AUTHORIZATION-MODE", title: "API server authorization does not include Node and RBAC, or allows everything", severity: finding.Critical,
		rationale:   "AlwaysAllow (the default without --authorization-mode) lets every authenticated request do anything; without Node and RBAC, kubelets and users are not limited to what they need.",
		remediation: "Set --authorization-mode=Node,RBAC (plus Webhook if used) and never AlwaysAllow.",
		refs:        []string{"CIS:1.2.6", "CIS:1.2.7", "CIS:1.2.8", "NSA:authentication-authorization", "NIST:4.3.1"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			v, ok := c.get("authorization-mode")
			modes := list(v)
			switch {
			case !ok:
				return "authorization-mode", "--authorization-mode is not set (AlwaysAllow)"
			case has(modes, "AlwaysAllow"):
				return "authorization-mode", "--authorization-mode includes AlwaysAllow"
			case !has(modes, "Node") || !has(modes, "RBAC"):
				return "authorization-mode", fmt.Sprintf("--authorization-mode=%s lacks Node or RBAC", v)
			}
			return "", ""
		}},
	{id: "CP-LEGACY-ABAC", title: "API server uses legacy ABAC authorization", severity: finding.High,
		rationale:   "Attribute-based access control is configured in a file on the control-plane node, cannot be audited or changed through the API and is superseded by RBAC.",
		remediation: "Remove ABAC from --authorization-mode and drop --authorization-policy-file; express the rules as RBAC.",
		refs:        []string{"NSA:authentication-authorization", "NIST:4.3.1"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			if v, _ := c.get("authorization-mode"); has(list(v), "ABAC") {
				return "authorization-mode", "--authorization-mode includes ABAC"
			}
			if _, ok := c.get("authorization-policy-file"); ok {
				return "authorization-policy-file", "--authorization-policy-file configures ABAC"
			}
			return "", ""
		}},
	{id: "CP-ADMISSION-PLUGINS", title: "NodeRestriction admission is off or AlwaysAdmit is on", severity: finding.High,
		rationale:   "Without NodeRestriction a compromised kubelet can modify any Node and Pod; AlwaysAdmit disables admission control altogether.",
		remediation: "Include NodeRestriction in --enable-admission-plugins and never AlwaysAdmit.",
		refs:        []string{"CIS:1.2.10", "CIS:1.2.14", "NSA:admission-control", "NIST:4.3.2"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			v, _ := c.get("enable-admission-plugins")
			switch {
			case has(list(v), "AlwaysAdmit"):
				return "enable-admission-plugins", "--enable-admission-plugins includes AlwaysAdmit"
			case !has(list(v), "NodeRestriction"):
				return "enable-admission-plugins", "--enable-admission-plugins lacks NodeRestriction"
			}
			if d, _ := c.get("disable-admission-plugins"); has(list(d), "NodeRestriction") {
				return "disable-admission-plugins", "--disable-admission-plugins includes NodeRestriction"
			}
			return "", ""
		}},
	{id: "CP-ENCRYPTION-AT-REST", title: "Secrets are not encrypted at rest", severity: finding.High,
		rationale:   "Without an encryption provider, Secrets are stored in etcd in plain text: a backup or a disk snapshot of etcd reveals every credential.",
		remediation: "Configure --encryption-provider-config with a KMS v2 provider (or aescbc/secretbox) for secrets.",
		refs:        []string{"CIS:1.2.27", "CIS:1.2.28", "NSA:secrets", "NIST:4.1.4"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			return missing(c, "encryption-provider-config")
		}},
	{id: "CP-AUDIT-LOG", title: "API server audit logging is off", severity: finding.Medium,
		rationale:   "Without an audit log or audit webhook, nobody can tell who did what in the cluster, and intrusions go unseen.",
		remediation: "Set --audit-policy-file with --audit-log-path (and retention flags) or --audit-webhook-config-file.",
		refs:        []string{"CIS:1.2.16", "NSA:logging", "NIST:4.3.5", "MITRE:T1562"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			_, log := c.get("audit-log-path")
			_, hook := c.get("audit-webhook-config-file")
			if !log && !hook {
				return "audit-log-path", "neither --audit-log-path nor --audit-webhook-config-file is set"
			}
			return "", ""
		}},
	{id: "CP-PROFILING", title: "Profiling endpoint is on", severity: finding.Low,
		rationale:   "The /debug/pprof endpoints reveal program internals and can be used to exhaust resources.",
		remediation: "Start the component with --profiling=false.",
		refs:        []string{"CIS:1.2.15", "CIS:1.3.2", "CIS:1.4.1", "NIST:4.4.3"}, appliesTo: []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"},
		bad: func(c *component) (string, string) {
			if v, _ := c.get("profiling"); v != "false" {
				return "profiling", "--profiling is not false"
			}
			return "", ""
		}},
	{id: "CP-ETCD-CLIENT-TLS", title: "API server talks to etcd without TLS client certificates", severity: finding.High,
		rationale:   "etcd holds every object of the cluster; the API server must prove its identity to etcd and verify etcd's with TLS.",
		remediation: "Set --etcd-certfile, --etcd-keyfile and --etcd-cafile.",
		refs:        []string{"CIS:1.2.23", "CIS:1.2.26", "NSA:tls", "NIST:4.3.1"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			return missing(c, "etcd-certfile", "etcd-keyfile", "etcd-cafile")
		}},
	{id: "CP-KUBELET-TLS", title: "API server does not authenticate to or verify kubelets", severity: finding.High,
		rationale:   "Without a client certificate the API server cannot use kubelet authentication; without the kubelet CA it cannot detect a man in the middle on exec, logs and port-forward.",
		remediation: "Set --kubelet-client-certificate, --kubelet-client-key and --kubelet-certificate-authority.",
		refs:        []string{"CIS:1.2.4", "CIS:1.2.5", "NSA:tls", "NIST:4.3.1"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			return missing(c, "kubelet-client-certificate", "kubelet-client-key", "kubelet-certificate-authority")
		}},
	{id: "CP-SERVICE-ACCOUNT-TOKENS", title: "ServiceAccount tokens are not verified against live accounts or keys", severity: finding.Medium,
		rationale:   "Without --service-account-lookup, tokens of deleted ServiceAccounts keep working; without a key file the API server cannot verify tokens signed by a rotated key.",
		remediation: "Keep --service-account-lookup=true (the default) and set --service-account-key-file.",
		refs:        []string{"CIS:1.2.21", "CIS:1.2.22", "NSA:authentication", "NIST:4.1.4"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			if v, _ := c.get("service-account-lookup"); v == "false" {
				return "service-account-lookup", "--service-account-lookup is false"
			}
			return missing(c, "service-account-key-file")
		}},
	{id: "CP-INSECURE-PORT", title: "API server serves without TLS or authentication", severity: finding.Critical,
		rationale:   "The insecure port bypasses authentication and authorization entirely; anything that reaches it is cluster-admin.",
		remediation: "Remove --insecure-port and --insecure-bind-address (or set --insecure-port=0 on old releases).",
		refs:        []string{"NSA:tls", "NIST:4.3.1", "MITRE:T1190"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			if v, ok := c.get("insecure-port"); ok && v != "0" {
				return "insecure-port", "--insecure-port=" + v + " serves the API without TLS or authentication"
			}
			if _, ok := c.get("insecure-bind-address"); ok {
				return "insecure-bind-address", "--insecure-bind-address is set"
			}
			return "", ""
		}},
	{id: "CP-WEAK-TLS-CIPHERS", title: "Weak TLS cipher suites allowed", severity: finding.Medium,
		rationale:   "CBC-mode, RC4 and 3DES suites are vulnerable to known attacks on TLS; the Go defaults are strong, explicit lists often are not.",
		remediation: "Remove --tls-cipher-suites to use the Go defaults, or list only ECDHE suites with AES-GCM or ChaCha20-Poly1305.",
		refs:        []string{"CIS:1.2.29", "NSA:tls", "NIST:4.3.1"}, appliesTo: []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"},
		bad: func(c *component) (string, string) {
			name := "tls-cipher-suites"
			if c.name == "etcd" {
				name = "cipher-suites"
			}
			v, _ := c.get(name)
			for _, s := range list(v) {
				if strings.Contains(s, "CBC") || strings.Contains(s, "RC4") || strings.Contains(s, "3DES") {
					return name, "--" + name + " allows " + s
				}
			}
			return "", ""
		}},
	{id: "CP-EXTERNAL-AUTHENTICATION", title: "No OIDC or other third-party authentication configured", severity: finding.Info,
		rationale:   "Without OIDC or a webhook authenticator, people authenticate with client certificates that cannot be revoked, or with static tokens.",
		remediation: "Configure --oidc-issuer-url (or --authentication-config) against the organisation's identity provider.",
		refs:        []string{"CIS:3.1.1", "NSA:authentication", "NIST:4.3.1"}, appliesTo: []string{"kube-apiserver"},
		bad: func(c *component) (string, string) {
			for _, n := range []string{"oidc-issuer-url", "authentication-config", "authentication-token-webhook-config-file"} {
				if _, ok := c.get(n); ok {
					return "", ""
				}
			}
			return "oidc-issuer-url", "no --oidc-issuer-url, --authentication-config or authentication webhook"
		}},
	{id: "CP-CONTROLLER-CREDENTIALS", title: "Controllers share the controller manager's credentials", severity: finding.Medium,
		rationale:   "Without --use-service-account-credentials every controller acts with the controller manager's broad identity instead of its own least-privilege ServiceAccount.",
		remediation: "Start kube-controller-manager with --use-service-account-credentials=true.",
		refs:        []string{"CIS:1.3.3", "NSA:authentication-authorization", "NIST:4.3.1"}, appliesTo: []string{"kube-controller-manager"},
		bad: func(c *component) (string, string) {
			if v, _ := c.get("use-service-account-credentials"); v != "true" {
				return "use-service-account-credentials", "--use-service-account-credentials is not true"
			}
			return "", ""
		}},
	{id: "CP-BIND-ADDRESS", title: "Controller manager or scheduler listens beyond localhost", severity: finding.Medium,
		rationale:   "Their health, metrics and debug endpoints need no remote access; listening on all interfaces exposes them to the node network.",
		remediation: "Set --bind-address=127.0.0.1.",
		refs:        []string{"CIS:1.3.7", "CIS:1.4.2", "NIST:4.3.3"}, appliesTo: []string{"kube-controller-manager", "kube-scheduler"},
		bad: func(c *component) (string, string) {
			if v, _ := c.get("bind-address"); v != "127.0.0.1" && v != "::1" && v != "localhost" {
				return "bind-address", "--bind-address is not 127.0.0.1"
			}
			return "", ""
		}},
	{id: "CP-ETCD-TLS", title: "etcd serves clients or peers without TLS", severity: finding.High,
		rationale:   "etcd holds every Secret; clients and cluster peers must use TLS with certificates from a dedicated CA.",
		remediation: "Set --cert-file and --key-file, --peer-cert-file and --peer-key-file, and never --auto-tls or --peer-auto-tls.",
		refs:        []string{"CIS:2.1", "CIS:2.3", "CIS:2.4", "CIS:2.6", "NSA:tls", "NIST:4.3.1"}, appliesTo: []string{"etcd"},
		bad: func(c *component) (string, string) {
			if f, problem := missing(c, "cert-file", "key-file", "peer-cert-file", "peer-key-file"); f != "" {
				return f, problem
			}
			for _, n := range []string{"auto-tls", "peer-auto-tls"} {
				if v, _ := c.get(n); v == "true" {
					return n, "--" + n + " uses self-signed certificates"
				}
			}
			return "", ""
		}},
	{id: "CP-ETCD-CLIENT-AUTH", title: "etcd does not require client certificates", severity: finding.High,
		rationale:   "Without client certificate authentication anyone who reaches etcd's port reads and writes the whole cluster state.",
		remediation: "Set --client-cert-auth=true and --peer-client-cert-auth=true with --trusted-ca-file and --peer-trusted-ca-file.",
		refs:        []string{"CIS:2.2", "CIS:2.5", "NSA:authentication", "NIST:4.3.1"}, appliesTo: []string{"etcd"},
		bad: func(c *component) (string, string) {
			for _, n := range []string{"client-cert-auth", "peer-client-cert-auth"} {
				if v, _ := c.get(n); v != "true" {
					return n, "--" + n + " is not true"
				}
			}
			return "", ""
		}},
}

// Controls returns the control-plane controls.
func Controls() []*control.Control {
	out := make([]*control.Control, 0, len(checks))
	for _, ck := range checks {
		out = append(out, &control.Control{
			ID: ck.id, Title: ck.title, Severity: ck.severity, Category: "control-plane",
			Rationale: ck.rationale, Remediation: ck.remediation, Refs: control.Refs(ck.refs...),
			WorkloadsOnly: true,
			Check: func(p *control.Pass) {
				for _, c := range components(p.Workload) {
					if !has(ck.appliesTo, c.name) {
						continue
					}
					if f, problem := ck.bad(c); f != "" {
						p.ReportContainer(c.c.Name, c.at(f), "%s: %s", c.name, problem)
					}
				}
			},
		})
	}
	return out
}
