// Package workload holds container and pod hardening controls beyond the
// Pod Security Standards.
package workload

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Controls returns the workload controls.
func Controls() []*control.Control {
	return []*control.Control{
		readOnlyRootFS, lowUID, rootGroup, cpuRequest, memoryRequest, cpuLimit, memoryLimit,
		dangerousCaps, netRaw, hostPathSensitive, hostPathWritable, hostAliases, shareProcessNS,
		privilegedPort, noSecurityProfile, hostUsers, sudo,
	}
}

var readOnlyRootFS = &control.Control{
	ID:       "CTR-READONLY-ROOTFS",
	Title:    "Root filesystem is writable",
	Severity: finding.Medium,
	Category: "workload",
	Rationale: "A writable root filesystem lets an attacker who gains code execution drop tools and modify " +
		"binaries or configuration; an immutable filesystem limits persistence.",
	Remediation:   "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the application must write (for example /tmp).",
	Refs:          control.Refs("CIS:5.7.3", "NSA:pod-security/immutable-fs", "NIST:4.4.3", "MITRE:T1525"),
	WorkloadsOnly: true,
	CEL: `variables.containers.all(c, has(c.securityContext) && has(c.securityContext.readOnlyRootFilesystem) && ` +
		`c.securityContext.readOnlyRootFilesystem == true)`,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				p.ReportContainer(c.Name, c.Field("securityContext.readOnlyRootFilesystem"),
					"%s %q does not set readOnlyRootFilesystem: true", c.Kind, c.Name)
			}
		}
	},
}

// lowUID honours pod-level settings: a container without its own runAsUser
// inherits the pod's, and the finding then points at the pod-level line.
var lowUID = &control.Control{
	ID:       "CTR-LOW-UID",
	Title:    "UID or GID below 10000",
	Severity: finding.Low,
	Category: "workload",
	Rationale: "UIDs and GIDs below 10000 commonly exist on the node; if the container escapes, it acts as that " +
		"host user. Root (0) is covered by PSS-RUN-AS-USER and CTR-ROOT-GROUP.",
	Remediation:   "Set runAsUser and runAsGroup to 10000 or above, at pod level or per container.",
	Refs:          control.Refs("NSA:pod-security/non-root", "NIST:4.4.3"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		for _, c := range w.Containers {
			if s := w.RunAsUser(c); s.Set() && *s.Value > 0 && *s.Value < 10000 {
				p.ReportContainer(c.Name, s.Path, "%s %q runs as UID %d", c.Kind, c.Name, *s.Value)
			}
			if s := w.RunAsGroup(c); s.Set() && *s.Value > 0 && *s.Value < 10000 {
				p.ReportContainer(c.Name, s.Path, "%s %q runs with GID %d", c.Kind, c.Name, *s.Value)
			}
		}
	},
}

var rootGroup = &control.Control{
	ID:       "CTR-ROOT-GROUP",
	Title:    "Container runs with the root group",
	Severity: finding.Medium,
	Category: "workload",
	Rationale: "GID 0 (as primary group, fsGroup or supplemental group) grants access to every file the root " +
		"group may read or write, on the image and on shared volumes. Without runAsGroup the process takes the " +
		"image's group, which is root for most images.",
	Remediation:   "Set runAsGroup (at pod level, or on every container) and fsGroup to a non-zero GID and remove 0 from supplementalGroups.",
	Refs:          control.Refs("CIS:5.2.7", "NSA:pod-security/non-root", "NIST:4.4.3", "MITRE:T1611"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		w := p.Workload
		windows := w.Spec.OS != nil && w.Spec.OS.Name == corev1.Windows ||
			w.Spec.SecurityContext != nil && w.Spec.SecurityContext.WindowsOptions != nil
		for _, c := range w.Containers {
			switch s := w.RunAsGroup(c); {
			case s.Set() && *s.Value == 0:
				p.ReportContainer(c.Name, s.Path, "%s %q runs with GID 0", c.Kind, c.Name)
			case !s.Set() && !windows:
				// Without runAsGroup the primary group is the image's
				// user's, and root's (0) when the image names none.
				p.ReportContainer(c.Name, c.Field("securityContext.runAsGroup"), "%s %q sets no runAsGroup: it runs with the image's group, root unless the image says otherwise", c.Kind, c.Name)
			}
		}
		if sc := w.Spec.SecurityContext; sc != nil {
			if sc.FSGroup != nil && *sc.FSGroup == 0 {
				p.Report(w.Field("securityContext.fsGroup"), "pod sets fsGroup: 0")
			}
			for i, g := range sc.SupplementalGroups {
				if g == 0 {
					p.Report(object.Index(w.Field("securityContext.supplementalGroups"), i), "pod adds supplemental group 0")
				}
			}
		}
	},
}
