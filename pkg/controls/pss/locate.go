package pss

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// A locator names the fields that make a pod (c == nil) or one of its
// containers fail a Pod Security check. Whether the check fails is always
// decided by the reference implementation; locators only find the line.
// detail is the implementation's message for the whole pod, which names
// forbidden values (sysctl names, for example).
type locator func(w *inventory.Workload, c *inventory.Container, detail string) []string

func sc(c *inventory.Container) *corev1.SecurityContext {
	if c.SecurityContext == nil {
		return &corev1.SecurityContext{}
	}
	return c.SecurityContext
}

func podSC(w *inventory.Workload) *corev1.PodSecurityContext {
	if w.Spec.SecurityContext == nil {
		return &corev1.PodSecurityContext{}
	}
	return w.Spec.SecurityContext
}

var locators = map[string]locator{
	"privileged": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c != nil {
			return []string{c.Field("securityContext.privileged")}
		}
		return nil
	},
	"hostNamespaces": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		var out []string
		if w.Spec.HostNetwork {
			out = append(out, w.Field("hostNetwork"))
		}
		if w.Spec.HostPID {
			out = append(out, w.Field("hostPID"))
		}
		if w.Spec.HostIPC {
			out = append(out, w.Field("hostIPC"))
		}
		return out
	},
	"capabilities_baseline": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		return capAdds(c, func(cap string) bool { return !baselineCaps[cap] })
	},
	"capabilities_restricted": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c == nil {
			return nil
		}
		out := capAdds(c, func(cap string) bool { return cap != "NET_BIND_SERVICE" })
		dropsAll := false
		if caps := sc(c).Capabilities; caps != nil {
			for _, d := range caps.Drop {
				dropsAll = dropsAll || d == "ALL"
			}
		}
		if !dropsAll {
			out = append(out, c.Field("securityContext.capabilities.drop"))
		}
		return out
	},
	"hostPathVolumes": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		return volumes(w, func(v corev1.Volume) string {
			if v.HostPath != nil {
				return "hostPath"
			}
			return ""
		})
	},
	"restrictedVolumes": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		return volumes(w, restrictedVolumeType)
	},
	"hostPorts": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c == nil {
			return nil
		}
		var out []string
		for i, p := range c.Ports {
			if p.HostPort != 0 {
				out = append(out, object.Index(c.Field("ports"), i)+".hostPort")
			}
		}
		return out
	},
	"hostProbesAndHostLifecycle": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c == nil {
			return nil
		}
		var out []string
		probe := func(name string, h *corev1.ProbeHandler) {
			if h == nil {
				return
			}
			if h.HTTPGet != nil && h.HTTPGet.Host != "" {
				out = append(out, c.Field(name+".httpGet.host"))
			}
			if h.TCPSocket != nil && h.TCPSocket.Host != "" {
				out = append(out, c.Field(name+".tcpSocket.host"))
			}
		}
		for name, p := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
			if p != nil {
				probe(name, &p.ProbeHandler)
			}
		}
		if l := c.Lifecycle; l != nil {
			for name, h := range map[string]*corev1.LifecycleHandler{"lifecycle.postStart": l.PostStart, "lifecycle.preStop": l.PreStop} {
				if h != nil {
					probe(name, &corev1.ProbeHandler{HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket})
				}
			}
		}
		return out
	},
	"appArmorProfile": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		bad := func(p *corev1.AppArmorProfile) bool {
			return p != nil && p.Type != corev1.AppArmorProfileTypeRuntimeDefault && p.Type != corev1.AppArmorProfileTypeLocalhost
		}
		if c != nil {
			var out []string
			if bad(sc(c).AppArmorProfile) {
				out = append(out, c.Field("securityContext.appArmorProfile.type"))
			}
			if v, ok := w.Meta.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+c.Name]; ok && v != "runtime/default" && !strings.HasPrefix(v, "localhost/") {
				out = append(out, object.Key(w.MetaPath+".annotations", corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+c.Name))
			}
			return out
		}
		if bad(podSC(w).AppArmorProfile) {
			return []string{w.Field("securityContext.appArmorProfile.type")}
		}
		return nil
	},
	"seLinuxOptions": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c != nil {
			return []string{c.Field("securityContext.seLinuxOptions")}
		}
		return []string{w.Field("securityContext.seLinuxOptions")}
	},
	"procMount":            procMount,
	"procMount_restricted": procMount,
	"seccompProfile_baseline": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c != nil {
			if p := sc(c).SeccompProfile; p != nil && p.Type == corev1.SeccompProfileTypeUnconfined {
				return []string{c.Field("securityContext.seccompProfile.type")}
			}
			return nil
		}
		if p := podSC(w).SeccompProfile; p != nil && p.Type == corev1.SeccompProfileTypeUnconfined {
			return []string{w.Field("securityContext.seccompProfile.type")}
		}
		return nil
	},
	"seccompProfile_restricted": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c == nil {
			if podSC(w).SeccompProfile != nil {
				return []string{w.Field("securityContext.seccompProfile.type")}
			}
			return []string{w.Field("securityContext")}
		}
		s := w.SeccompProfile(*c)
		if !s.Set() {
			return []string{c.Field("securityContext.seccompProfile")}
		}
		return []string{s.Path + ".type"}
	},
	"sysctls": func(w *inventory.Workload, c *inventory.Container, detail string) []string {
		if c != nil {
			return nil
		}
		forbidden := map[string]bool{}
		for _, n := range strings.Split(detail, ", ") {
			forbidden[strings.TrimSpace(n)] = true
		}
		var out []string
		for i, s := range podSC(w).Sysctls {
			if forbidden[s.Name] {
				out = append(out, object.Index(w.Field("securityContext.sysctls"), i))
			}
		}
		return out
	},
	"windowsHostProcess": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c != nil {
			return []string{c.Field("securityContext.windowsOptions.hostProcess")}
		}
		return []string{w.Field("securityContext.windowsOptions.hostProcess")}
	},
	"allowPrivilegeEscalation": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c == nil {
			return nil
		}
		return []string{c.Field("securityContext.allowPrivilegeEscalation")}
	},
	"runAsNonRoot": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c == nil {
			return []string{w.Field("securityContext.runAsNonRoot")}
		}
		if s := w.RunAsNonRoot(*c); s.Set() {
			return []string{s.Path}
		}
		return []string{c.Field("securityContext.runAsNonRoot")}
	},
	"runAsUser": func(w *inventory.Workload, c *inventory.Container, _ string) []string {
		if c == nil {
			return []string{w.Field("securityContext.runAsUser")}
		}
		return []string{w.RunAsUser(*c).Path}
	},
}

// baselineCaps are the capabilities the baseline level allows adding.
var baselineCaps = map[string]bool{
	"AUDIT_WRITE": true, "CHOWN": true, "DAC_OVERRIDE": true, "FOWNER": true, "FSETID": true, "KILL": true,
	"MKNOD": true, "NET_BIND_SERVICE": true, "SETFCAP": true, "SETGID": true, "SETPCAP": true, "SETUID": true, "SYS_CHROOT": true,
}

func capAdds(c *inventory.Container, bad func(string) bool) []string {
	if c == nil || c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
		return nil
	}
	var out []string
	for i, a := range c.SecurityContext.Capabilities.Add {
		if bad(string(a)) {
			out = append(out, c.Field("securityContext.capabilities.add["+strconv.Itoa(i)+"]"))
		}
	}
	return out
}

func procMount(w *inventory.Workload, c *inventory.Container, _ string) []string {
	if c == nil {
		return nil
	}
	return []string{c.Field("securityContext.procMount")}
}

func volumes(w *inventory.Workload, typ func(corev1.Volume) string) []string {
	var out []string
	for i, v := range w.Spec.Volumes {
		if t := typ(v); t != "" {
			out = append(out, object.Index(w.Field("volumes"), i)+"."+t)
		}
	}
	return out
}

// restrictedVolumeType returns the source type of v when the restricted
// level does not allow it, for pointing at the line only.
func restrictedVolumeType(v corev1.Volume) string {
	s := v.VolumeSource
	switch {
	case s.ConfigMap != nil, s.CSI != nil, s.DownwardAPI != nil, s.EmptyDir != nil, s.Ephemeral != nil,
		s.PersistentVolumeClaim != nil, s.Projected != nil, s.Secret != nil, s.Image != nil:
		return ""
	case s.HostPath != nil:
		return "hostPath"
	case s.NFS != nil:
		return "nfs"
	case s.ISCSI != nil:
		return "iscsi"
	}
	return "name"
}
