package workload

import (
	"path"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// capName normalises a capability as the runtime does ("cap_sys_admin" is
// SYS_ADMIN).
func capName(c corev1.Capability) string {
	return strings.TrimPrefix(strings.ToUpper(string(c)), "CAP_")
}

// dangerous capabilities each amount to, or lead straight to, root on the
// node.
var dangerous = map[string]bool{
	"ALL": true, "SYS_ADMIN": true, "NET_ADMIN": true, "SYS_MODULE": true, "SYS_PTRACE": true,
	"SYS_RAWIO": true, "BPF": true, "PERFMON": true, "DAC_READ_SEARCH": true, "SYS_BOOT": true, "SYS_TIME": true,
}

var dangerousCaps = &control.Control{
	ID:       "CTR-DANGEROUS-CAPABILITIES",
	Title:    "Dangerous capability added",
	Severity: finding.Critical,
	Category: "workload",
	Rationale: "Capabilities such as SYS_ADMIN, SYS_MODULE, SYS_PTRACE, NET_ADMIN, BPF or DAC_READ_SEARCH let a " +
		"container load kernel modules, inspect other processes, reconfigure the node's network or read any file: " +
		"each is a known container escape.",
	Remediation:   "Remove the capability from securityContext.capabilities.add; if a tool truly needs it, run it in a dedicated, isolated node pool.",
	Refs:          control.Refs("CIS:5.2.9", "NSA:pod-security/capabilities", "NIST:4.4.3", "MITRE:T1611", "MITRE:T1068"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
				continue
			}
			for i, a := range c.SecurityContext.Capabilities.Add {
				if dangerous[capName(a)] {
					p.ReportContainer(c.Name, object.Index(c.Field("securityContext.capabilities.add"), i),
						"%s %q adds capability %s", c.Kind, c.Name, capName(a))
				}
			}
		}
	},
}

var netRaw = &control.Control{
	ID:       "CTR-NET-RAW",
	Title:    "NET_RAW capability not dropped",
	Severity: finding.Medium,
	Category: "workload",
	Rationale: "NET_RAW is granted by default by most runtimes; it lets a compromised container craft packets " +
		"for ARP and DNS spoofing against its neighbours.",
	Remediation:   "Add ALL (or at least NET_RAW) to securityContext.capabilities.drop.",
	Refs:          control.Refs("CIS:5.2.8", "NSA:pod-security/capabilities", "NIST:4.4.3", "MITRE:T1557"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		for _, c := range w.Containers {
			if w.Spec.SecurityContext != nil && w.Spec.SecurityContext.WindowsOptions != nil {
				continue // Windows has no Linux capabilities
			}
			var caps *corev1.Capabilities
			if c.SecurityContext != nil {
				caps = c.SecurityContext.Capabilities
			}
			dropped, added := false, -1
			if caps != nil {
				for _, d := range caps.Drop {
					dropped = dropped || capName(d) == "ALL" || capName(d) == "NET_RAW"
				}
				// The runtime drops first and adds after: an added NET_RAW
				// (or ALL) is granted whatever the drop list says.
				added = slices.IndexFunc(caps.Add, func(a corev1.Capability) bool { return capName(a) == "NET_RAW" || capName(a) == "ALL" })
			}
			switch {
			case added >= 0 && dropped:
				p.ReportContainer(c.Name, object.Index(c.Field("securityContext.capabilities.add"), added), "%s %q drops NET_RAW and adds it back", c.Kind, c.Name)
			case added >= 0:
				p.ReportContainer(c.Name, object.Index(c.Field("securityContext.capabilities.add"), added), "%s %q adds NET_RAW", c.Kind, c.Name)
			case !dropped:
				p.ReportContainer(c.Name, c.Field("securityContext.capabilities.drop"), "%s %q does not drop NET_RAW", c.Kind, c.Name)
			}
		}
	},
}

// sensitivePaths are host paths whose exposure gives away the node: a
// hostPath at or below one of them is reported. The paths in exactOnly
// are sensitive themselves, not everything beneath them.
var (
	sensitivePaths = []string{"/etc", "/proc", "/sys", "/boot", "/dev", "/root", "/var/lib/kubelet",
		"/var/lib/docker", "/var/lib/containerd", "/var/lib/etcd", "/etc/kubernetes",
		"/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd", "/run/containerd",
		"/var/run/crio", "/run/crio", "/var/run/cri-dockerd.sock", "/run/cri-dockerd.sock"}
	exactOnly = map[string]bool{"/": true, "/var": true, "/var/run": true, "/run": true, "/var/lib": true, "/home": true, "/usr": true}
)

// SensitiveHostPath reports whether a hostPath exposes a sensitive part of
// the node.
func SensitiveHostPath(p string) bool {
	p = path.Clean("/" + p)
	if exactOnly[p] {
		return true
	}
	for _, s := range sensitivePaths {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

var hostPathSensitive = &control.Control{
	ID:       "VOL-HOSTPATH-SENSITIVE",
	Title:    "Sensitive host path mounted",
	Severity: finding.Critical,
	Category: "workload",
	Rationale: "Mounting the node's root, /etc, /proc, /sys, /var/lib/kubelet or a container runtime socket " +
		"gives the container the node's credentials or control of every container on it.",
	Remediation:   "Remove the hostPath volume; use a ConfigMap, Secret, emptyDir, CSI volume or the downward API instead.",
	Refs:          control.Refs("CIS:5.2.12", "NSA:pod-security/host-path", "NIST:4.4.3", "MITRE:T1611", "MITRE:T1552"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		for i, v := range w.Spec.Volumes {
			if v.HostPath != nil && SensitiveHostPath(v.HostPath.Path) {
				p.Report(object.Index(w.Field("volumes"), i)+".hostPath.path", "volume %q mounts host path %s", v.Name, v.HostPath.Path)
			}
		}
	},
}

var hostPathWritable = &control.Control{
	ID:       "VOL-HOSTPATH-WRITABLE",
	Title:    "Host path mounted writable",
	Severity: finding.High,
	Category: "workload",
	Rationale: "A writable hostPath lets the container change files on the node, which survive the pod and can " +
		"plant binaries or configuration the node later runs.",
	Remediation:   "Set readOnly: true on every volumeMount of the hostPath volume, or remove the volume.",
	Refs:          control.Refs("CIS:5.2.12", "NSA:pod-security/host-path", "NIST:4.4.3", "MITRE:T1611"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		host := map[string]string{}
		for _, v := range w.Spec.Volumes {
			if v.HostPath != nil {
				host[v.Name] = v.HostPath.Path
			}
		}
		if len(host) == 0 {
			return
		}
		for _, c := range w.Containers {
			for i, m := range c.VolumeMounts {
				if hp, ok := host[m.Name]; ok && !m.ReadOnly {
					p.ReportContainer(c.Name, object.Index(c.Field("volumeMounts"), i),
						"%s %q mounts host path %s writable at %s", c.Kind, c.Name, hp, m.MountPath)
				}
			}
		}
	},
}

func podField(id, title string, sev finding.Severity, field string, set func(*corev1.PodSpec) bool, msg, rationale, remediation string, refs ...string) *control.Control {
	return &control.Control{
		ID: id, Title: title, Severity: sev, Category: "workload", Rationale: rationale, Remediation: remediation,
		Refs: control.Refs(refs...), WorkloadsOnly: true,
		Check: func(p *control.Pass) {
			if set(&p.Workload.Spec) {
				p.Report(p.Workload.Field(field), "%s", msg)
			}
		},
	}
}

var (
	hostAliases = podField("POD-HOST-ALIASES", "Pod overrides host name resolution", finding.Low, "hostAliases",
		func(s *corev1.PodSpec) bool { return len(s.HostAliases) > 0 },
		"pod sets hostAliases entries in /etc/hosts",
		"hostAliases rewrite /etc/hosts inside the pod, which can silently redirect traffic meant for real services "+
			"and hides name resolution from DNS-based monitoring.",
		"Remove hostAliases and publish the names through DNS (a Service or an ExternalName Service).",
		"NIST:4.4.3", "MITRE:T1565")
	shareProcessNS = podField("POD-SHARE-PROCESS-NAMESPACE", "Containers share one process namespace", finding.Medium, "shareProcessNamespace",
		func(s *corev1.PodSpec) bool { return s.ShareProcessNamespace != nil && *s.ShareProcessNamespace },
		"pod sets shareProcessNamespace: true",
		"With a shared process namespace every container sees and can signal the others' processes and read their "+
			"environment and filesystems through /proc, including secrets of sidecars.",
		"Remove shareProcessNamespace unless a debugging or sidecar pattern needs it.",
		"NSA:pod-security/hardening", "NIST:4.4.3")
	hostUsers = podField("POD-HOST-USERS", "Pod does not use a user namespace", finding.Info, "hostUsers",
		func(s *corev1.PodSpec) bool { return s.HostUsers == nil || *s.HostUsers },
		"pod does not set hostUsers: false",
		"With hostUsers: false the pod's UIDs are mapped to unprivileged host UIDs, so root in the container is not "+
			"root on the node: most container escapes lose their impact.",
		"Set hostUsers: false where the nodes support user namespaces (Kubernetes 1.33+, Linux 6.3+).",
		"NSA:pod-security/non-root", "NIST:4.4.3", "MITRE:T1611")
)

var privilegedPort = &control.Control{
	ID:       "CTR-PRIVILEGED-PORT",
	Title:    "Container listens on a privileged port",
	Severity: finding.Low,
	Category: "workload",
	Rationale: "Binding a port below 1024 needs root or NET_BIND_SERVICE inside the container; listening on a high " +
		"port lets the container drop every capability. The Service can still expose port 80 or 443.",
	Remediation:   "Listen on a port of 1024 or above and map it with the Service's port/targetPort.",
	Refs:          control.Refs("NSA:pod-security/non-root", "NIST:4.4.3"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			for i, port := range c.Ports {
				if port.ContainerPort > 0 && port.ContainerPort < 1024 {
					p.ReportContainer(c.Name, object.Index(c.Field("ports"), i)+".containerPort",
						"%s %q listens on privileged port %d", c.Kind, c.Name, port.ContainerPort)
				}
			}
		}
	},
}

var noSecurityProfile = &control.Control{
	ID:       "CTR-NO-SECURITY-PROFILE",
	Title:    "No seccomp, AppArmor or SELinux hardening",
	Severity: finding.Low,
	Category: "workload",
	Rationale: "Seccomp, AppArmor and SELinux each confine what a compromised process may do in the kernel. A " +
		"container with none of them relies on capabilities alone.",
	Remediation:   "Set securityContext.seccompProfile.type: RuntimeDefault (pod level covers every container), or an AppArmor or SELinux profile.",
	Refs:          control.Refs("CIS:5.7.2", "NSA:pod-security/mac", "NIST:4.4.3", "MITRE:T1611"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		if w.Spec.OS != nil && w.Spec.OS.Name == corev1.Windows {
			return
		}
		for _, c := range w.Containers {
			at := c.Field("securityContext.seccompProfile")
			if s := w.SeccompProfile(c); s.Set() {
				if s.Value.Type != corev1.SeccompProfileTypeUnconfined {
					continue
				}
				at = s.Path // point at the profile that turns seccomp off
			}
			if s := w.AppArmorProfile(c); s.Set() && s.Value.Type != corev1.AppArmorProfileTypeUnconfined {
				continue
			}
			if a := w.Meta.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+c.Name]; a != "" && a != corev1.DeprecatedAppArmorBetaProfileNameUnconfined {
				continue
			}
			if s := w.SELinuxOptions(c); s.Set() && s.Value.Type != "" && s.Value.Type != "spc_t" && s.Value.Type != "unconfined_t" {
				continue
			}
			p.ReportContainer(c.Name, at, "%s %q runs without a seccomp, AppArmor or SELinux profile", c.Kind, c.Name)
		}
	},
}

var sudoRE = regexp.MustCompile(`(^|[\s;&|/"'(])sudo(\s|$)`)

var sudo = &control.Control{
	ID:       "CTR-SUDO",
	Title:    "Container command uses sudo",
	Severity: finding.Medium,
	Category: "workload",
	Rationale: "sudo in a container command means the image ships a setuid escalation path and the process expects " +
		"to become root at runtime.",
	Remediation:   "Run the command as the intended user directly and remove sudo from the image.",
	Refs:          control.Refs("NSA:pod-security/non-root", "NIST:4.4.3", "MITRE:T1548"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			for _, f := range []struct {
				name string
				args []string
			}{{"command", c.Command}, {"args", c.Args}} {
				for i, a := range f.args {
					if sudoRE.MatchString(a) {
						p.ReportContainer(c.Name, object.Index(c.Field(f.name), i), "%s %q runs sudo", c.Kind, c.Name)
					}
				}
			}
		}
	},
}
