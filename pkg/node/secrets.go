package node

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
)

// verdict is a check's result, when a helper already knows it.
type verdict struct {
	status Status
	detail string
	read   []string
}

// apiserverFile reads the file an API server flag names. When there is
// no API server, no such flag (unset says what follows) or no readable
// file, v is the check's verdict.
func apiserverFile(f *facts, flag, unset string) (path string, data []byte, read []string, v *verdict) {
	if f.apiserver.args == nil {
		return "", nil, nil, &verdict{NotApplicable, "no API server on this node", nil}
	}
	path = flags(f.apiserver.args)[flag]
	if path == "" {
		return "", nil, nil, &verdict{Fail, "--" + flag + " is not set: " + unset, []string{f.apiserver.source}}
	}
	read = []string{f.apiserver.source, path}
	data, err := f.host.ReadFile(path)
	if err != nil {
		return "", nil, nil, &verdict{Fail, fmt.Sprintf("%s: %v", path, err), read}
	}
	return path, data, read, nil
}

// encryptionProviders is 1.2.28: the first provider for Secrets in the
// API server's EncryptionConfiguration encrypts (aescbc, kms, secretbox,
// and aesgcm, which the benchmark leaves out as it needs rotation every
// 200,000 writes); identity first stores them in plain text.
func encryptionProviders(f *facts) (Status, string, []string) {
	p, data, read, v := apiserverFile(f, "encryption-provider-config", "Secrets are stored unencrypted")
	if v != nil {
		return v.status, v.detail, v.read
	}
	cfg, err := decode(data)
	if err != nil {
		return Fail, fmt.Sprintf("%s: %v", p, err), read
	}
	resources, _ := cfg["resources"].([]any)
	for _, r := range resources {
		m, _ := r.(map[string]any)
		names, _ := m["resources"].([]any)
		if !slices.ContainsFunc(names, func(n any) bool { return n == "secrets" || n == "*.*" || n == "*." }) {
			continue
		}
		providers, _ := m["providers"].([]any)
		if len(providers) == 0 {
			return Fail, p + " lists no provider for secrets", read
		}
		first, _ := providers[0].(map[string]any)
		var name string
		for k := range first {
			name = k
		}
		keys := 0
		if pm, ok := first[name].(map[string]any); ok {
			if ks, ok := pm["keys"].([]any); ok {
				keys = len(ks)
			}
		}
		detail := fmt.Sprintf("%s encrypts secrets first with %s", p, name)
		if keys > 0 {
			detail += fmt.Sprintf(" (%d keys)", keys)
		}
		if st, err := f.host.Stat(p); err == nil && st.Exists {
			// the file's modification time stands for its keys' age
			detail += fmt.Sprintf(", written %d days ago", int(f.now.Sub(st.Modified).Hours()/24))
		}
		switch name {
		case "kms", "secretbox", "aescbc":
			if name == "aescbc" {
				detail += "; upstream no longer recommends aescbc: prefer kms v2 or secretbox"
			}
			return Pass, detail, read
		case "identity":
			return Fail, p + " stores secrets unencrypted (identity is the first provider)", read
		}
		return Fail, detail + ", not one of aescbc, kms, secretbox", read
	}
	return Fail, p + " has no entry for secrets", read
}

// auditPolicy is 3.2.2: the policy named by --audit-policy-file, checked
// as audit-policy check does.
func auditPolicy(f *facts) (Status, string, []string) {
	p, data, read, v := apiserverFile(f, "audit-policy-file", "nothing is audited")
	if v != nil {
		return v.status, v.detail, v.read
	}
	res, err := auditpolicy.CheckPolicy(data)
	if err != nil {
		return Fail, fmt.Sprintf("%s: %v", p, err), read
	}
	var bad []string
	for _, r := range res {
		if r.Status == "blind" || r.Status == "exposes" {
			bad = append(bad, r.Status+": "+r.Request)
		}
	}
	if len(bad) > 0 {
		return Fail, fmt.Sprintf("%s: %s (kubeguard audit-policy check %s)", p, strings.Join(bad, "; "), p), read
	}
	return Pass, p + " logs what the audit rules need and keeps credentials at Metadata", read
}

func manual(id, title, how string) check {
	return check{id: id, title: title, remediation: how, manual: true, run: func(f *facts) (Status, string, []string) {
		return Manual, "a person checks: " + how, nil
	}}
}

var controlPlaneConfig = group{"3", "Control Plane Configuration", []check{
	manual("3.1.1", "client certificate authentication is not used for users", "kubectl get csr, and the users of kubeconfigs issued from the cluster CA; give people OIDC instead"),
	manual("3.1.2", "service account token authentication is not used for users", "kubeguard audit detect (AUD-ANOMALY-AGENT: kubectl on a workload's token)"),
	manual("3.1.3", "bootstrap token authentication is not used for users", "kubectl get secrets -n kube-system --field-selector type=bootstrap.kubernetes.io/token"),
	flagCheck("3.2.1", "a minimal audit policy is created", false, apiserverOf, "API server",
		"Create an audit policy (kubeguard audit-policy generate) and pass it with --audit-policy-file", set("audit-policy-file")),
	{id: "3.2.2", title: "the audit policy covers key security concerns", remediation: "kubeguard audit-policy generate, or fix what kubeguard audit-policy check reports", run: auditPolicy},
}}
