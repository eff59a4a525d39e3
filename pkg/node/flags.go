package node

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// op tests a flag's value.
type op int

const (
	opSet      op = iota // set, to anything but empty
	opEq                 // equals value
	opNotEq              // set and not value
	opHas                // a comma list containing value
	opNotHas             // a comma list without value
	opGte                // a number at least value
	opNotSet             // not given at all
	opSubsetOf           // every element of the comma list in value
)

// flagTest is one test of a component's flag; unset is the verdict when
// the flag is absent (Pass when the default is safe).
type flagTest struct {
	flag  string
	op    op
	value string
	unset Status
}

func (t flagTest) eval(args map[string]string) (Status, string) {
	v, ok := args[t.flag]
	if !ok {
		if t.op == opNotSet {
			return Pass, "--" + t.flag + " is not set"
		}
		return t.unset, "--" + t.flag + " is not set"
	}
	got := fmt.Sprintf("--%s is %q", t.flag, v)
	list := strings.Split(v, ",")
	good := false
	switch t.op {
	case opSet:
		good = v != ""
	case opEq:
		good = strings.EqualFold(v, t.value)
	case opNotEq:
		good = !strings.EqualFold(v, t.value)
	case opHas:
		good = slices.Contains(list, t.value)
	case opNotHas:
		good = !slices.Contains(list, t.value)
	case opGte:
		n, err1 := strconv.Atoi(v)
		want, _ := strconv.Atoi(t.value)
		good = err1 == nil && n >= want
	case opNotSet:
		good = false
	case opSubsetOf:
		allowed := strings.Split(t.value, ",")
		good = true
		for _, x := range list {
			good = good && slices.Contains(allowed, strings.TrimSpace(x))
		}
	}
	if good {
		return Pass, got
	}
	return Fail, got
}

// flagCheck is a benchmark item on a component's flags: every test must
// pass.
func flagCheck(id, title string, scored bool, c func(f *facts) component, what, remediation string, tests ...flagTest) check {
	return check{id: id, title: title, scored: scored, remediation: remediation, run: func(f *facts) (Status, string, []string) {
		comp := c(f)
		if comp.args == nil {
			return NotApplicable, "no " + what + " on this node", nil
		}
		args := flags(comp.args)
		st, details := Pass, []string{}
		for _, t := range tests {
			s, d := t.eval(args)
			details = append(details, d)
			if s != Pass && st == Pass {
				st = s
			}
		}
		return st, strings.Join(details, "; "), []string{comp.source}
	}, at: func(f *facts) (object.Position, string) {
		// the manifest is where a flag is fixed, even when the process
		// started from it was read
		comp := c(f)
		args := flags(comp.args)
		for _, t := range tests {
			if s, _ := t.eval(args); s != Pass {
				if comp.manifest == "" {
					return object.Position{}, "--" + t.flag
				}
				if at := f.host.position(comp.manifest, "--"+t.flag); at.Line > 0 {
					return at, "--" + t.flag
				}
				return f.host.position(comp.manifest, "spec.containers"), "spec.containers" // where the missing flag goes
			}
		}
		return object.Position{}, ""
	}}
}

func set(flag string) flagTest                  { return flagTest{flag, opSet, "", Fail} }
func eq(flag, v string, unset Status) flagTest  { return flagTest{flag, opEq, v, unset} }
func has(flag, v string, unset Status) flagTest { return flagTest{flag, opHas, v, unset} }
func nothas(flag, v string) flagTest            { return flagTest{flag, opNotHas, v, Pass} }
func gte(flag, v string) flagTest               { return flagTest{flag, opGte, v, Fail} }

const apiserverRestart = "Edit the API server's pod specification (/etc/kubernetes/manifests/kube-apiserver.yaml): "

var apiServerChecks = group{"1.2", "API Server", slices.Concat([]check{
	flagCheck("1.2.1", "--anonymous-auth is false", false, apiserverOf, "API server", apiserverRestart+"--anonymous-auth=false", eq("anonymous-auth", "false", Fail)),
	flagCheck("1.2.2", "--token-auth-file is not set", true, apiserverOf, "API server", apiserverRestart+"remove --token-auth-file", flagTest{"token-auth-file", opNotSet, "", Pass}),
	flagCheck("1.2.3", "DenyServiceExternalIPs is enabled", false, apiserverOf, "API server", apiserverRestart+"add DenyServiceExternalIPs to --enable-admission-plugins", has("enable-admission-plugins", "DenyServiceExternalIPs", Fail)),
	flagCheck("1.2.4", "--kubelet-client-certificate and --kubelet-client-key are set", true, apiserverOf, "API server", apiserverRestart+"set both to the API server's kubelet client certificate", set("kubelet-client-certificate"), set("kubelet-client-key")),
	flagCheck("1.2.5", "--kubelet-certificate-authority is set", true, apiserverOf, "API server", apiserverRestart+"set --kubelet-certificate-authority to the kubelets' CA", set("kubelet-certificate-authority")),
	flagCheck("1.2.6", "--authorization-mode is not AlwaysAllow", true, apiserverOf, "API server", apiserverRestart+"--authorization-mode=Node,RBAC", flagTest{"authorization-mode", opNotHas, "AlwaysAllow", Fail}),
	flagCheck("1.2.7", "--authorization-mode includes Node", true, apiserverOf, "API server", apiserverRestart+"--authorization-mode=Node,RBAC", has("authorization-mode", "Node", Fail)),
	flagCheck("1.2.8", "--authorization-mode includes RBAC", true, apiserverOf, "API server", apiserverRestart+"--authorization-mode=Node,RBAC", has("authorization-mode", "RBAC", Fail)),
	flagCheck("1.2.9", "admission plugin EventRateLimit is set", false, apiserverOf, "API server", apiserverRestart+"add EventRateLimit to --enable-admission-plugins with its --admission-control-config-file", has("enable-admission-plugins", "EventRateLimit", Fail)),
	flagCheck("1.2.10", "admission plugin AlwaysAdmit is not set", true, apiserverOf, "API server", apiserverRestart+"remove AlwaysAdmit from --enable-admission-plugins", nothas("enable-admission-plugins", "AlwaysAdmit")),
	flagCheck("1.2.11", "admission plugin AlwaysPullImages is set", false, apiserverOf, "API server", apiserverRestart+"add AlwaysPullImages to --enable-admission-plugins", has("enable-admission-plugins", "AlwaysPullImages", Fail)),
	flagCheck("1.2.12", "admission plugin ServiceAccount is set", true, apiserverOf, "API server", apiserverRestart+"remove ServiceAccount from --disable-admission-plugins", nothas("disable-admission-plugins", "ServiceAccount")),
	flagCheck("1.2.13", "admission plugin NamespaceLifecycle is set", true, apiserverOf, "API server", apiserverRestart+"remove NamespaceLifecycle from --disable-admission-plugins", nothas("disable-admission-plugins", "NamespaceLifecycle")),
	flagCheck("1.2.14", "admission plugin NodeRestriction is set", true, apiserverOf, "API server", apiserverRestart+"add NodeRestriction to --enable-admission-plugins", has("enable-admission-plugins", "NodeRestriction", Fail)),
	flagCheck("1.2.15", "--profiling is false", true, apiserverOf, "API server", apiserverRestart+"--profiling=false", eq("profiling", "false", Fail)),
	flagCheck("1.2.16", "--audit-log-path is set", true, apiserverOf, "API server", apiserverRestart+"set --audit-log-path (and an audit policy: kubeguard audit-policy generate)", set("audit-log-path")),
	flagCheck("1.2.17", "--audit-log-maxage is 30 or more", true, apiserverOf, "API server", apiserverRestart+"--audit-log-maxage=30", gte("audit-log-maxage", "30")),
	flagCheck("1.2.18", "--audit-log-maxbackup is 10 or more", true, apiserverOf, "API server", apiserverRestart+"--audit-log-maxbackup=10", gte("audit-log-maxbackup", "10")),
	flagCheck("1.2.19", "--audit-log-maxsize is 100 or more", true, apiserverOf, "API server", apiserverRestart+"--audit-log-maxsize=100", gte("audit-log-maxsize", "100")),
	{id: "1.2.20", manual: true, title: "--request-timeout is set as appropriate", remediation: apiserverRestart + "set --request-timeout as the cluster needs",
		run: func(f *facts) (Status, string, []string) {
			if f.apiserver.args == nil {
				return NotApplicable, "no API server on this node", nil
			}
			_, d := set("request-timeout").eval(flags(f.apiserver.args))
			return Manual, d + "; a person judges what is appropriate", []string{f.apiserver.source}
		}},
	flagCheck("1.2.21", "--service-account-lookup is true", true, apiserverOf, "API server", apiserverRestart+"remove --service-account-lookup=false", eq("service-account-lookup", "true", Pass)),
	flagCheck("1.2.22", "--service-account-key-file is set", true, apiserverOf, "API server", apiserverRestart+"set --service-account-key-file", set("service-account-key-file")),
	flagCheck("1.2.23", "--etcd-certfile and --etcd-keyfile are set", true, apiserverOf, "API server", apiserverRestart+"set both to the API server's etcd client certificate", set("etcd-certfile"), set("etcd-keyfile")),
	flagCheck("1.2.24", "--tls-cert-file and --tls-private-key-file are set", true, apiserverOf, "API server", apiserverRestart+"set both to the serving certificate", set("tls-cert-file"), set("tls-private-key-file")),
	flagCheck("1.2.25", "--client-ca-file is set", true, apiserverOf, "API server", apiserverRestart+"set --client-ca-file", set("client-ca-file")),
	flagCheck("1.2.26", "--etcd-cafile is set", true, apiserverOf, "API server", apiserverRestart+"set --etcd-cafile", set("etcd-cafile")),
	flagCheck("1.2.27", "--encryption-provider-config is set", false, apiserverOf, "API server", apiserverRestart+"set --encryption-provider-config to an EncryptionConfiguration", set("encryption-provider-config")),
	{id: "1.2.28", title: "encryption providers are appropriately configured", remediation: "Put kms (v2), secretbox or aescbc first for secrets in the EncryptionConfiguration; then rewrite every Secret (kubectl get secrets -A -o json | kubectl replace -f -)",
		run: encryptionProviders},
}, byVersion(map[string]check{
	"cis-1.10": apiserverCiphers(strongAPICiphers10),
	"cis-1.11": apiserverCiphers(strongAPICiphers10),
	"cis-1.12": apiserverCiphers(strongAPICiphers),
}), []check{
	only(flagCheck("1.2.30", "--service-account-extend-token-expiration is false", true, apiserverOf, "API server", apiserverRestart+"--service-account-extend-token-expiration=false", eq("service-account-extend-token-expiration", "false", Fail)), "cis-1.11", "cis-1.12"),
})}

// strongAPICiphers are the API server suites cis-1.12 accepts (1.2.29);
// cis-1.10 and cis-1.11 also accept four CBC suites.
const strongAPICiphers = "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"

const strongAPICiphers10 = strongAPICiphers + ",TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"

func apiserverCiphers(allowed string) check {
	return flagCheck("1.2.29", "the API server only uses strong cryptographic ciphers", false, apiserverOf, "API server", apiserverRestart+"set --tls-cipher-suites to strong suites",
		flagTest{"tls-cipher-suites", opSubsetOf, allowed, Fail})
}

const cmRestart = "Edit the controller manager's pod specification (/etc/kubernetes/manifests/kube-controller-manager.yaml): "

var controllerManagerChecks = group{"1.3", "Controller Manager", []check{
	flagCheck("1.3.1", "--terminated-pod-gc-threshold is set", false, cmOf, "controller manager", cmRestart+"set --terminated-pod-gc-threshold", set("terminated-pod-gc-threshold")),
	flagCheck("1.3.2", "--profiling is false", true, cmOf, "controller manager", cmRestart+"--profiling=false", eq("profiling", "false", Fail)),
	flagCheck("1.3.3", "--use-service-account-credentials is true", true, cmOf, "controller manager", cmRestart+"--use-service-account-credentials=true", flagTest{"use-service-account-credentials", opNotEq, "false", Fail}),
	flagCheck("1.3.4", "--service-account-private-key-file is set", true, cmOf, "controller manager", cmRestart+"set --service-account-private-key-file", set("service-account-private-key-file")),
	flagCheck("1.3.5", "--root-ca-file is set", true, cmOf, "controller manager", cmRestart+"set --root-ca-file", set("root-ca-file")),
	flagCheck("1.3.6", "RotateKubeletServerCertificate is not false", true, cmOf, "controller manager", cmRestart+"remove RotateKubeletServerCertificate=false from --feature-gates", nothas("feature-gates", "RotateKubeletServerCertificate=false")),
	flagCheck("1.3.7", "--bind-address is 127.0.0.1", true, cmOf, "controller manager", cmRestart+"--bind-address=127.0.0.1", eq("bind-address", "127.0.0.1", Pass)),
}}

var schedulerChecks = group{"1.4", "Scheduler", []check{
	flagCheck("1.4.1", "--profiling is false", true, schedOf, "scheduler", "Edit the scheduler's pod specification: --profiling=false", eq("profiling", "false", Fail)),
	flagCheck("1.4.2", "--bind-address is 127.0.0.1", true, schedOf, "scheduler", "Edit the scheduler's pod specification: --bind-address=127.0.0.1", eq("bind-address", "127.0.0.1", Pass)),
}}

const etcdRestart = "Edit etcd's pod specification (/etc/kubernetes/manifests/etcd.yaml): "

var etcdChecks = group{"2", "Etcd Node Configuration", []check{
	flagCheck("2.1", "--cert-file and --key-file are set", true, etcdOf, "etcd", etcdRestart+"set both to etcd's serving certificate", set("cert-file"), set("key-file")),
	flagCheck("2.2", "--client-cert-auth is true", true, etcdOf, "etcd", etcdRestart+"--client-cert-auth=true", eq("client-cert-auth", "true", Fail)),
	flagCheck("2.3", "--auto-tls is not true", true, etcdOf, "etcd", etcdRestart+"remove --auto-tls=true", eq("auto-tls", "false", Pass)),
	flagCheck("2.4", "--peer-cert-file and --peer-key-file are set", true, etcdOf, "etcd", etcdRestart+"set both to etcd's peer certificate", set("peer-cert-file"), set("peer-key-file")),
	flagCheck("2.5", "--peer-client-cert-auth is true", true, etcdOf, "etcd", etcdRestart+"--peer-client-cert-auth=true", eq("peer-client-cert-auth", "true", Fail)),
	flagCheck("2.6", "--peer-auto-tls is not true", true, etcdOf, "etcd", etcdRestart+"remove --peer-auto-tls=true", eq("peer-auto-tls", "false", Pass)),
	flagCheck("2.7", "a unique certificate authority is used for etcd", false, etcdOf, "etcd", etcdRestart+"set --trusted-ca-file to a CA used for etcd only", set("trusted-ca-file")),
}}
