package node

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// runtimeConfig is a container runtime's configuration file, decoded.
type runtimeConfig struct {
	runtime, file string
	tree          map[string]any
}

// containerd's configuration (versions 2 and 3 alike: settings are found
// by name, wherever the version nests them), k3s's and RKE2's generated
// one, CRI-O's with its drop-ins, and the containers registries file
// CRI-O reads.
var (
	containerdConfigs = []string{"/etc/containerd/config.toml", "/var/lib/rancher/k3s/agent/etc/containerd/config.toml", "/var/lib/rancher/rke2/agent/etc/containerd/config.toml"}
	containerdHosts   = []string{"/etc/containerd/certs.d", "/var/lib/rancher/k3s/agent/etc/containerd/certs.d", "/var/lib/rancher/rke2/agent/etc/containerd/certs.d"}
	crioConfigs       = []string{"/etc/crio/crio.conf"}
	crioDropIns       = []string{"/etc/crio/crio.conf.d"}
	registriesConfs   = []string{"/etc/containers/registries.conf"}
)

// runtimeConfigs reads the runtime configuration files present, once
// for all the checks that judge them; a file that does not decode is an
// error the checks report.
func (f *facts) runtimeConfigs() ([]runtimeConfig, error) {
	if f.runtime == nil {
		cfgs, err := f.readRuntimeConfigs()
		f.runtime = &runtimeRead{cfgs, err}
	}
	return f.runtime.cfgs, f.runtime.err
}

func (f *facts) readRuntimeConfigs() ([]runtimeConfig, error) {
	var files []runtimeConfig
	add := func(runtime, p string) error {
		data, err := f.host.ReadFile(p)
		if err != nil {
			return nil // absent
		}
		tree := map[string]any{}
		if _, err := toml.Decode(string(data), &tree); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		files = append(files, runtimeConfig{runtime, p, tree})
		return nil
	}
	for _, p := range containerdConfigs {
		if err := add("containerd", p); err != nil {
			return nil, err
		}
	}
	for _, dir := range containerdHosts {
		for _, p := range f.host.under(dir, false, func(n string) bool { return n == "hosts.toml" }) {
			if err := add("containerd", p); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range crioConfigs {
		if err := add("CRI-O", p); err != nil {
			return nil, err
		}
	}
	for _, dir := range crioDropIns {
		entries, _ := os.ReadDir(f.host.path(dir))
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".conf") {
				if err := add("CRI-O", path.Join(dir, e.Name())); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, p := range registriesConfs {
		if err := add("containers", p); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// setting is a key found in a decoded TOML tree, with its dotted path.
type setting struct {
	path  string
	value any
}

// find lists the settings named name anywhere in the tree, in path
// order.
func find(tree map[string]any, name string) []setting {
	var out []setting
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, sub := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if k == name {
					out = append(out, setting{p, sub})
				}
				walk(p, sub)
			}
		case []map[string]any:
			for i, sub := range x {
				walk(fmt.Sprintf("%s[%d]", prefix, i), sub)
			}
		}
	}
	walk("", tree)
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// runtimeCheck judges the runtime's files: bad lists what is wrong in
// one file, with the key of the first problem to point at.
func runtimeCheck(id, control, title string, sev finding.Severity, rationale, remediation string, refs []string,
	bad func(c runtimeConfig) (problems []string, key string)) check {
	return check{id: id, control: control, severity: sev, scored: true, title: title, rationale: rationale, remediation: remediation, refs: refs,
		run: func(f *facts) (Status, string, []string) {
			cfgs, err := f.runtimeConfigs()
			if err != nil {
				return Fail, err.Error(), nil
			}
			if len(cfgs) == 0 {
				return NotApplicable, "no containerd or CRI-O configuration in " + strings.Join(slices.Concat(containerdConfigs, crioConfigs), ", "), nil
			}
			var problems, read []string
			for _, c := range cfgs {
				read = append(read, c.file)
				ps, _ := bad(c)
				for _, p := range ps {
					problems = append(problems, c.file+": "+p)
				}
			}
			if len(problems) > 0 {
				return Fail, strings.Join(problems, "; "), read
			}
			return Pass, "nothing such in " + strings.Join(read, ", "), read
		},
		at: func(f *facts) (object.Position, string) {
			cfgs, _ := f.runtimeConfigs()
			for _, c := range cfgs {
				if ps, key := bad(c); len(ps) > 0 {
					line, col := f.host.locateKey(c.file, key)
					return object.Position{File: c.file, Line: line, Column: col}, key
				}
			}
			return object.Position{}, ""
		}}
}

func isTrue(v any) bool { b, ok := v.(bool); return ok && b }

// dangerousCapabilities are the capabilities no runtime should grant
// every container by default.
var dangerousCapabilities = []string{"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH", "BPF", "PERFMON", "NET_RAW"}

var runtimeChecks = []check{
	runtimeCheck("K.7", "NODE-RUNTIME-CONFINEMENT-OFF", "the container runtime does not turn off AppArmor or seccomp for containers", finding.High,
		"A runtime set to skip AppArmor or to run containers unconfined by seccomp ignores the profiles pods ask for and the kubelet's seccomp default.",
		"Remove disable_apparmor = true from containerd's CRI plugin, and apparmor_profile or seccomp_profile = \"unconfined\" from CRI-O's [crio.runtime]; restart the runtime",
		[]string{"NSA:pod-security/mac", "NIST:4.4.3", "MITRE:T1611"},
		func(c runtimeConfig) ([]string, string) {
			var out []string
			key := ""
			for _, s := range find(c.tree, "disable_apparmor") {
				if isTrue(s.value) {
					out, key = append(out, s.path+" is true"), "disable_apparmor"
				}
			}
			for _, name := range []string{"apparmor_profile", "seccomp_profile", "unset_seccomp_profile"} {
				for _, s := range find(c.tree, name) {
					if v, _ := s.value.(string); v == "unconfined" {
						out = append(out, s.path+` is "unconfined"`)
						if key == "" {
							key = name
						}
					}
				}
			}
			return out, key
		}),
	runtimeCheck("K.8", "NODE-RUNTIME-PRIVILEGED-DEFAULTS", "the container runtime grants no dangerous capability by default", finding.High,
		"Capabilities the runtime adds to every container reach pods that never asked for them, and Pod Security admission does not see them.",
		"Remove the capability from CRI-O's default_capabilities (crio.runtime) and restart CRI-O; pods that need it request it",
		[]string{"NSA:pod-security/capabilities", "NIST:4.4.3", "MITRE:T1611"},
		func(c runtimeConfig) ([]string, string) {
			var out []string
			for _, s := range find(c.tree, "default_capabilities") {
				caps, _ := s.value.([]any)
				for _, x := range caps {
					name := strings.TrimPrefix(strings.ToUpper(fmt.Sprint(x)), "CAP_")
					if slices.Contains(dangerousCapabilities, name) {
						out = append(out, s.path+" adds "+name)
					}
				}
			}
			return out, "default_capabilities"
		}),
	runtimeCheck("K.9", "NODE-REGISTRY-PLAIN-HTTP", "the container runtime pulls images only over verified TLS", finding.High,
		"An image pulled over plain HTTP, or over TLS whose certificate is not verified, can be replaced on the way: the node then runs what an attacker chose.",
		"Give registry mirrors https endpoints with a trusted CA (ca in hosts.toml), and remove skip_verify, insecure_skip_verify and insecure = true",
		[]string{"NSA:image-scanning", "NIST:4.1.5", "MITRE:T1557"},
		func(c runtimeConfig) ([]string, string) {
			var out []string
			key := ""
			note := func(s, k string) {
				out = append(out, s)
				if key == "" {
					key = k
				}
			}
			for _, name := range []string{"skip_verify", "insecure_skip_verify", "insecure"} {
				for _, s := range find(c.tree, name) {
					if isTrue(s.value) {
						note(s.path+" is true", name)
					}
				}
			}
			for _, name := range []string{"endpoint", "server"} {
				for _, s := range find(c.tree, name) {
					urls, _ := s.value.([]any)
					if v, ok := s.value.(string); ok {
						urls = []any{v}
					}
					for _, u := range urls {
						if strings.HasPrefix(fmt.Sprint(u), "http://") {
							note(s.path+" is "+fmt.Sprint(u), name)
						}
					}
				}
			}
			if hosts, ok := c.tree["host"].(map[string]any); ok { // hosts.toml's [host."URL"]
				for u := range hosts {
					if strings.HasPrefix(u, "http://") {
						note(`host."`+u+`" is plain HTTP`, u)
					}
				}
			}
			// registries.conf v1: [registries.insecure] registries = [...]
			if r, ok := c.tree["registries"].(map[string]any); ok {
				if in, ok := r["insecure"].(map[string]any); ok {
					if l, _ := in["registries"].([]any); len(l) > 0 {
						note(fmt.Sprintf("registries.insecure lists %v", l), "registries")
					}
				}
			}
			return out, key
		}),
}
