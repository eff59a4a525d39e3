// Package reliability holds controls on availability rather than security
// (category reliability, low severity by default), so security users can
// filter them out with --category or the configuration.
package reliability

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Controls returns the reliability controls.
func Controls() []*control.Control {
	return []*control.Control{liveness, readiness, probePort, singleReplica, noPDB, selectorMismatch, duplicateEnv}
}

// serving reports whether the object runs long-lived, replicated pods
// (not a Job, CronJob or bare batch pod).
func serving(p *control.Pass) bool {
	return p.Workload != nil && !p.Workload.Batch(p.Object.Kind)
}

func probeControl(id, name string, get func(c *corev1.Container) *corev1.Probe, rationale string) *control.Control {
	return &control.Control{
		ID: id, Title: strings.ToUpper(name[:1]) + name[1:] + " probe missing", Severity: finding.Low, Category: "reliability",
		Rationale:     rationale,
		Remediation:   "Add a " + name + "Probe (httpGet, tcpSocket, grpc or exec) to the container.",
		Refs:          control.Refs("NIST:4.4.4"),
		WorkloadsOnly: true,
		Check: func(p *control.Pass) {
			if !serving(p) {
				return
			}
			for _, c := range p.Workload.Containers {
				if c.Kind == inventory.Regular && get(c.Container) == nil {
					p.ReportContainer(c.Name, c.Field(name+"Probe"), "%s %q has no %s probe", c.Kind, c.Name, name)
				}
			}
		},
	}
}

var (
	liveness = probeControl("REL-LIVENESS-PROBE", "liveness", func(c *corev1.Container) *corev1.Probe { return c.LivenessProbe },
		"Without a liveness probe a hung process keeps its pod Running forever; the kubelet restarts only what it can see is dead.")
	readiness = probeControl("REL-READINESS-PROBE", "readiness", func(c *corev1.Container) *corev1.Probe { return c.ReadinessProbe },
		"Without a readiness probe traffic reaches the container as soon as it starts, and keeps reaching it when it cannot serve.")
)

var probePort = &control.Control{
	ID:            "REL-PROBE-PORT",
	Title:         "Probe uses a port name the container does not declare",
	Severity:      finding.Low,
	Category:      "reliability",
	Rationale:     "A probe on a named port the container does not declare always fails, so the pod never becomes ready or is restarted in a loop. Numeric ports work undeclared and are not reported.",
	Remediation:   "Declare the port under ports with that name, or probe a declared port.",
	Refs:          control.Refs("NIST:4.4.4"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			named := map[string]bool{}
			for _, port := range c.Ports {
				named[port.Name] = true
			}
			for _, pr := range []struct {
				field string
				probe *corev1.Probe
			}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
				if pr.probe == nil {
					continue
				}
				var port *intstr.IntOrString
				var sub string
				switch {
				case pr.probe.HTTPGet != nil:
					port, sub = &pr.probe.HTTPGet.Port, "httpGet.port"
				case pr.probe.TCPSocket != nil:
					port, sub = &pr.probe.TCPSocket.Port, "tcpSocket.port"
				default:
					continue
				}
				// A numeric port works whether or not it is declared (ports are
				// informational); a name must resolve.
				if name := port.StrVal; port.Type == intstr.String && name != "" && !named[name] {
					p.ReportContainer(c.Name, c.Field(pr.field+"."+sub), "%s %q probes port %q, which it does not declare", c.Kind, c.Name, name)
				}
			}
		}
	},
}

// replicatedKinds keep a number of identical pods running.
var replicatedKinds = []string{"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}

// replicas returns the replica count (1 when unset, the API default) and
// whether it could be read. The controls that call it run on
// replicatedKinds only.
func replicas(p *control.Pass) (int64, bool) {
	if p.Workload == nil {
		return 0, false
	}
	v, ok := object.Get(p.Object.Content, "spec.replicas")
	if !ok {
		return 1, true
	}
	n, isInt := v.(int64)
	return n, isInt
}

type target struct{ namespace, kind, name string }

// autoscaled reports whether an HPA of the input scales the object. The
// targets of all HPAs are read once per inventory.
func autoscaled(p *control.Pass) bool {
	targets := p.Inventory.Memo("reliability.hpaTargets", []string{"HorizontalPodAutoscaler"}, func(inv *inventory.Inventory) any {
		m := map[target]bool{}
		for _, e := range inv.OfKind("HorizontalPodAutoscaler") {
			ref, _ := object.Get(e.Object.Content, "spec.scaleTargetRef")
			r, _ := ref.(map[string]any)
			kind, _ := r["kind"].(string)
			name, _ := r["name"].(string)
			m[target{e.Object.Namespace, kind, name}] = true
		}
		return m
	}).(map[target]bool)
	return targets[target{p.Object.Namespace, p.Object.Kind, p.Object.Name}]
}

// pdbSelectors returns the selectors of the PodDisruptionBudgets of each
// namespace, converted once per inventory.
func pdbSelectors(inv *inventory.Inventory) map[string][]labels.Selector {
	return inv.Memo("reliability.pdbSelectors", []string{"PodDisruptionBudget"}, func(inv *inventory.Inventory) any {
		m := map[string][]labels.Selector{}
		for _, e := range inv.OfKind("PodDisruptionBudget") {
			pdb, ok := inventory.As[policyv1.PodDisruptionBudget](e.Object)
			if !ok || pdb.Spec.Selector == nil {
				continue
			}
			if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil {
				m[e.Object.Namespace] = append(m[e.Object.Namespace], sel)
			}
		}
		return m
	}).(map[string][]labels.Selector)
}

var singleReplica = &control.Control{
	ID:          "REL-SINGLE-REPLICA",
	Title:       "Single replica",
	Severity:    finding.Low,
	Category:    "reliability",
	Rationale:   "One replica means downtime on every rollout, node drain and pod failure.",
	Remediation: "Run at least two replicas (or let a HorizontalPodAutoscaler with minReplicas >= 2 manage them).",
	Refs:        control.Refs("NIST:4.4.4"),
	Scope:       control.InventoryScope,
	Reads:       []string{"HorizontalPodAutoscaler"},
	Kinds:       replicatedKinds,
	Check: func(p *control.Pass) {
		n, ok := replicas(p)
		if !ok || n != 1 || autoscaled(p) {
			return
		}
		p.Report("spec.replicas", "%s runs a single replica", p.Object.Kind)
	},
}

var noPDB = &control.Control{
	ID:          "REL-NO-PDB",
	Title:       "No PodDisruptionBudget for a replicated workload",
	Severity:    finding.Low,
	Category:    "reliability",
	Rationale:   "Without a PodDisruptionBudget a node drain or cluster upgrade may evict every replica at once.",
	Remediation: "Add a PodDisruptionBudget with maxUnavailable: 1 (or minAvailable) selecting the pods.",
	Refs:        control.Refs("NIST:4.4.4"),
	Scope:       control.InventoryScope,
	Reads:       []string{"HorizontalPodAutoscaler", "PodDisruptionBudget"},
	Kinds:       replicatedKinds,
	Check: func(p *control.Pass) {
		n, ok := replicas(p)
		if !ok || n < 2 && !autoscaled(p) {
			return
		}
		for _, sel := range pdbSelectors(p.Inventory)[p.Object.Namespace] {
			if sel.Matches(labels.Set(p.Workload.Meta.Labels)) {
				return
			}
		}
		p.Report("spec.replicas", "no PodDisruptionBudget of the input selects the pods of this %s", p.Object.Kind)
	},
}

var selectorMismatch = &control.Control{
	ID:          "REL-SELECTOR-MISMATCH",
	Title:       "Selector does not match the pod template",
	Severity:    finding.Low,
	Category:    "reliability",
	Rationale:   "A controller whose selector does not match its own pod template labels is rejected by the API server (apps/v1) or never sees its pods.",
	Remediation: "Make spec.selector match spec.template.metadata.labels.",
	Refs:        control.Refs("NIST:4.4.4"),
	Kinds:       append([]string{"DaemonSet", "Job"}, replicatedKinds...),
	Check: func(p *control.Pass) {
		if p.Workload == nil {
			return
		}
		v, ok := object.Get(p.Object.Content, "spec.selector")
		if !ok {
			return
		}
		m, _ := v.(map[string]any)
		var ls metav1.LabelSelector
		if _, new := m["matchLabels"]; new || m["matchExpressions"] != nil {
			sel, ok := inventory.As[metav1.LabelSelector](object.New(m, object.Position{}, nil))
			if !ok {
				return
			}
			ls = *sel
		} else {
			ls.MatchLabels = object.StringMap(m) // ReplicationController: a plain label map
		}
		sel, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil || sel.Empty() {
			return
		}
		if !sel.Matches(labels.Set(p.Workload.Meta.Labels)) {
			p.Report("spec.selector", "selector %s does not match the template labels %s", sel, labels.Set(p.Workload.Meta.Labels))
		}
	},
}

var duplicateEnv = &control.Control{
	ID:            "REL-DUPLICATE-ENV",
	Title:         "Duplicate environment variable",
	Severity:      finding.Low,
	Category:      "reliability",
	Rationale:     "When a variable is listed twice the last entry silently wins; the first is dead configuration that misleads readers and reviewers.",
	Remediation:   "Remove the duplicate entry.",
	Refs:          control.Refs("NIST:4.1.2"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			seen := map[string]bool{}
			for i, e := range c.Env {
				if seen[e.Name] {
					p.ReportContainer(c.Name, object.Index(c.Field("env"), i), "%s %q sets %s more than once", c.Kind, c.Name, e.Name)
				}
				seen[e.Name] = true
			}
		}
	},
}
