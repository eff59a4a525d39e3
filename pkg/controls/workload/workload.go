// Package workload holds container and pod hardening controls beyond the
// Pod Security Standards.
package workload

import (
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Controls returns the workload controls.
func Controls() []*control.Control {
	return []*control.Control{readOnlyRootFS, lowUID}
}

var readOnlyRootFS = &control.Control{
	ID:       "CTR-READONLY-ROOTFS",
	Title:    "Root filesystem is writable",
	Severity: finding.Medium,
	Category: "workload",
	Rationale: "A writable root filesystem lets an attacker who gains code execution drop tools and modify " +
		"binaries or configuration; an immutable filesystem limits persistence.",
	Remediation:   "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the application must write (for example /tmp).",
	Refs:          control.Refs("NSA:pod-security/immutable-fs", "NIST:4.4.3", "MITRE:T1525"),
	WorkloadsOnly: true,
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
		"host user. Root (0) is covered by PSS-RUN-AS-USER.",
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
