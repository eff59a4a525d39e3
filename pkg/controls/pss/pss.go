// Package pss provides one control per Pod Security Standards check. The
// decision comes from the reference implementation,
// k8s.io/pod-security-admission, so kubeguard agrees exactly with what the
// Pod Security admission controller of the chosen version would enforce.
package pss

import (
	"fmt"
	"strings"

	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

type meta struct {
	title, rationale, remediation string
	severity                      finding.Severity
	refs                          []control.Ref
}

var refs = control.Refs

// catalog holds kubeguard's metadata for every check of the reference
// implementation. A test fails when the module gains a check missing here.
var catalog = map[string]meta{
	"privileged": {"Privileged container",
		"A privileged container has every capability and direct access to host devices; escaping to the node is trivial.",
		"Remove securityContext.privileged or set it to false.",
		finding.Critical, refs("CIS:5.2.2", "NSA:pod-security/privileged", "NIST:4.4.3", "MITRE:T1611")},
	"hostNamespaces": {"Host namespaces shared",
		"hostNetwork, hostPID and hostIPC give the pod the node's network stack, process table or IPC; it can sniff traffic, signal host processes or read their memory.",
		"Remove hostNetwork, hostPID and hostIPC or set them to false.",
		finding.High, refs("CIS:5.2.3", "CIS:5.2.4", "CIS:5.2.5", "NSA:pod-security/host-namespaces", "NIST:4.4.3", "MITRE:T1611")},
	"capabilities_baseline": {"Non-default capability added",
		"Capabilities beyond the container runtime's default set (SYS_ADMIN, NET_ADMIN, ...) grant kernel privileges that lead to node compromise.",
		"Remove the capability from securityContext.capabilities.add; add only what the baseline level allows.",
		finding.High, refs("CIS:5.2.9", "NSA:pod-security/capabilities", "NIST:4.4.3", "MITRE:T1611")},
	"hostPathVolumes": {"hostPath volume",
		"A hostPath volume exposes the node's filesystem to the pod: credentials, the container runtime socket, kubelet data.",
		"Replace the hostPath volume with emptyDir, a ConfigMap, a Secret or a PersistentVolumeClaim.",
		finding.High, refs("CIS:5.2.12", "NSA:pod-security/host-path", "NIST:4.4.3", "MITRE:T1611")},
	"hostPorts": {"Host port",
		"A hostPort binds the container directly on the node's interface, bypassing Services and NetworkPolicies and limiting scheduling.",
		"Remove hostPort and expose the container through a Service.",
		finding.Medium, refs("CIS:5.2.13", "NSA:network-separation", "NIST:4.4.2")},
	"hostProbesAndHostLifecycle": {"Probe or lifecycle hook targets another host",
		"A probe or lifecycle handler with a host field makes the kubelet connect to an arbitrary address: a server-side request forgery from the node.",
		"Remove the host field from httpGet and tcpSocket handlers so they target the pod itself.",
		finding.Medium, refs("NIST:4.4.3", "MITRE:T1090")},
	"appArmorProfile": {"AppArmor profile overridden",
		"Setting the AppArmor profile to Unconfined (or an unknown value) removes the mandatory access control that confines the container.",
		"Use appArmorProfile.type RuntimeDefault or Localhost, or leave it unset.",
		finding.Medium, refs("NSA:pod-security/mac", "NIST:4.4.3", "MITRE:T1611")},
	"seLinuxOptions": {"Custom SELinux options",
		"A custom SELinux type, user or role can run the container outside the confining container_t domain.",
		"Remove seLinuxOptions.user and role, and use a container type (container_t, container_init_t, container_kvm_t, container_engine_t) or none.",
		finding.Medium, refs("NSA:pod-security/mac", "NIST:4.4.3", "MITRE:T1611")},
	"procMount": {"Unmasked /proc",
		"procMount Unmasked exposes kernel interfaces in /proc that the runtime normally masks.",
		"Remove securityContext.procMount or set it to Default.",
		finding.Medium, refs("NSA:pod-security/hardening", "NIST:4.4.3", "MITRE:T1611")},
	"procMount_restricted": {"Unmasked /proc (restricted)",
		"procMount Unmasked exposes kernel interfaces in /proc that the runtime normally masks; the restricted level forbids it even in user namespaces.",
		"Remove securityContext.procMount or set it to Default.",
		finding.Medium, refs("NSA:pod-security/hardening", "NIST:4.4.3")},
	"seccompProfile_baseline": {"Seccomp disabled",
		"seccompProfile Unconfined lets the container call every system call, the largest kernel attack surface.",
		"Set seccompProfile.type to RuntimeDefault (or Localhost) at pod level and remove Unconfined.",
		finding.Medium, refs("CIS:5.7.2", "NSA:pod-security/hardening", "NIST:4.4.3", "MITRE:T1611")},
	"seccompProfile_restricted": {"Seccomp profile not set",
		"Without RuntimeDefault or a Localhost profile the container runs unconfined on most runtimes.",
		"Set spec.securityContext.seccompProfile.type: RuntimeDefault on the pod (or on every container).",
		finding.Low, refs("CIS:5.7.2", "NSA:pod-security/hardening", "NIST:4.4.3")},
	"sysctls": {"Unsafe sysctl",
		"Sysctls outside the safe set are not namespaced or can disable security mechanisms for every pod on the node.",
		"Remove the sysctl, or set it on nodes deliberately dedicated to this workload.",
		finding.Medium, refs("NIST:4.4.3")},
	"windowsHostProcess": {"Windows HostProcess container",
		"A HostProcess container runs directly on the Windows node with host privileges.",
		"Remove windowsOptions.hostProcess or set it to false.",
		finding.High, refs("CIS:5.2.11", "NSA:pod-security/privileged", "NIST:4.4.3", "MITRE:T1611")},
	"allowPrivilegeEscalation": {"Privilege escalation allowed",
		"Unless allowPrivilegeEscalation is false, setuid binaries and file capabilities can give a process more privileges than its parent.",
		"Set securityContext.allowPrivilegeEscalation: false on every container.",
		finding.Medium, refs("CIS:5.2.6", "NSA:pod-security/privilege-escalation", "NIST:4.4.3", "MITRE:T1548")},
	"capabilities_restricted": {"Capabilities not dropped",
		"The restricted level requires dropping ALL capabilities and adding back only NET_BIND_SERVICE; default capabilities such as NET_RAW enable spoofing and sniffing.",
		"Set securityContext.capabilities.drop: [ALL] and add only NET_BIND_SERVICE when needed.",
		finding.Medium, refs("CIS:5.2.8", "CIS:5.2.10", "NSA:pod-security/capabilities", "NIST:4.4.3")},
	"restrictedVolumes": {"Volume type not allowed by restricted",
		"Only ephemeral and projected volume types and claims are allowed: others mount node or network storage directly and bypass storage access control.",
		"Use configMap, secret, projected, downwardAPI, emptyDir, ephemeral, csi, image or persistentVolumeClaim volumes.",
		finding.Medium, refs("NSA:pod-security/host-path", "NIST:4.4.3")},
	"runAsNonRoot": {"Container may run as root",
		"Without runAsNonRoot: true (at pod level, or on every container) the kubelet starts the container as whatever user the image says, usually root. A non-zero runAsUser does not satisfy the restricted level: the Pod Security Standards ask for runAsNonRoot, except for pods in a user namespace (hostUsers: false).",
		"Set securityContext.runAsNonRoot: true at pod level (containers inherit it) and use an image with a non-root USER.",
		finding.Medium, refs("CIS:5.2.7", "NSA:pod-security/non-root", "NIST:4.4.3", "MITRE:T1611")},
	"runAsUser": {"Container runs as UID 0",
		"runAsUser: 0 explicitly runs the container as root.",
		"Set runAsUser to a non-zero UID (10000 or above avoids host users).",
		finding.High, refs("CIS:5.2.7", "NSA:pod-security/non-root", "NIST:4.4.3", "MITRE:T1611")},
}

// idOverrides keeps IDs readable where mechanical conversion would not.
var idOverrides = map[string]string{
	"appArmorProfile":            "PSS-APPARMOR-PROFILE",
	"seLinuxOptions":             "PSS-SELINUX-OPTIONS",
	"hostProbesAndHostLifecycle": "PSS-HOST-PROBES-LIFECYCLE",
}

// ControlID returns the kubeguard control ID of a PSS check ID:
// hostNamespaces -> PSS-HOST-NAMESPACES.
// Newest is the newest Pod Security Standards version the linked
// k8s.io/pod-security-admission knows (its release, v0.N -> v1.N; a test
// holds the two together). A newer --pss-version would silently evaluate
// as this one.
var Newest = api.MajorMinorVersion(1, 37)

func ControlID(check string) string {
	if id, ok := idOverrides[check]; ok {
		return id
	}
	var b strings.Builder
	b.WriteString("PSS-")
	for i, r := range check {
		switch {
		case r == '_':
			b.WriteByte('-')
		case r >= 'A' && r <= 'Z':
			if i > 0 && check[i-1] != '_' {
				b.WriteByte('-')
			}
			b.WriteRune(r)
		default:
			b.WriteRune(r - 'a' + 'A')
		}
	}
	return b.String()
}

// Controls returns one control per Pod Security check for the given policy
// version (api.LatestVersion() for the newest).
func Controls(version api.Version) ([]*control.Control, error) {
	var out []*control.Control
	for _, chk := range policy.DefaultChecks() {
		m, ok := catalog[string(chk.ID)]
		if !ok {
			return nil, fmt.Errorf("pod security check %q has no kubeguard metadata", chk.ID)
		}
		fn := checkFor(chk, version)
		if fn == nil {
			continue // check does not exist yet at this version
		}
		loc := locators[string(chk.ID)]
		out = append(out, &control.Control{
			ID:            ControlID(string(chk.ID)),
			Title:         m.title,
			Severity:      m.severity,
			Category:      "pod-security",
			Rationale:     m.rationale,
			Remediation:   m.remediation,
			Refs:          append(refs("PSS:"+string(chk.Level)), m.refs...),
			WorkloadsOnly: true,
			CEL:           celChecks[string(chk.ID)],
			Check:         func(p *control.Pass) { run(p, fn, loc) },
		})
	}
	return out, nil
}

// Level returns the PSS level (baseline or restricted) of a control, or "".
func Level(c *control.Control) string {
	if l := c.RefsFor(control.PSS); len(l) > 0 {
		return l[0]
	}
	return ""
}

func checkFor(chk policy.Check, v api.Version) policy.CheckPodFn {
	var fn policy.CheckPodFn
	for _, vc := range chk.Versions {
		if !v.Latest() && v.Older(vc.MinimumVersion) {
			break
		}
		fn = vc.CheckPod
	}
	return fn
}

func run(p *control.Pass, fn policy.CheckPodFn, loc locator) {
	w := p.Workload
	res := fn(&w.Meta, &w.Spec)
	if res.Allowed {
		return
	}
	reason := res.ForbiddenReason
	// Attribute the failure with the reference implementation itself: the
	// pod without containers, then the pod with one container at a time.
	type hit struct{ container, path, detail string }
	var hits []hit
	seen := map[string]bool{}
	add := func(container string, paths []string, detail string) {
		for _, path := range paths {
			if !seen[path] {
				seen[path] = true
				hits = append(hits, hit{container, path, detail})
			}
		}
	}
	pod := fn(&w.Meta, w.Isolated(-1))
	if !pod.Allowed {
		add("", orDefault(loc(w, nil, res.ForbiddenDetail), w.SpecPath), pod.ForbiddenDetail)
	}
	for i := range w.Containers {
		c := &w.Containers[i]
		// A container is at fault only when adding it changes the verdict;
		// a pod-level violation alone is reported once, at pod level.
		r := res // a pod of one container is that container in isolation
		if len(w.Containers) > 1 {
			r = fn(&w.Meta, w.Isolated(i))
		}
		if !r.Allowed && (pod.Allowed || r.ForbiddenDetail != pod.ForbiddenDetail) {
			add(c.Name, orDefault(loc(w, c, res.ForbiddenDetail), c.Path), r.ForbiddenDetail)
		}
	}
	if len(hits) == 0 {
		add("", []string{w.SpecPath}, res.ForbiddenDetail)
	}
	for _, h := range hits {
		msg := reason
		detail := strings.TrimSpace(strings.Trim(strings.TrimSpace(h.detail), ","))
		switch {
		case detail != "":
			msg = reason + ": " + detail
		case h.container != "":
			msg = fmt.Sprintf("%s: container %q", reason, h.container)
		}
		p.ReportContainer(h.container, h.path, "%s", msg)
	}
}

func orDefault(paths []string, def string) []string {
	if len(paths) == 0 {
		return []string{def}
	}
	return paths
}
