package workload

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
)

// Resource controls check init containers too: the pod's effective request
// is the larger of the biggest init container and the sum of the others,
// so an unbounded init container can starve the node while it runs.
// Ephemeral containers cannot declare resources and are skipped.

func resourceControl(id, title string, sev finding.Severity, kind string, res corev1.ResourceName, rationale, remediation string, refs ...string) *control.Control {
	request, limit := inventory.CPURequest, inventory.CPULimit
	if res == corev1.ResourceMemory {
		request, limit = inventory.MemoryRequest, inventory.MemoryLimit
	}
	want := limit // a request left out defaults to the limit
	if kind == "requests" {
		want |= request
	}
	return &control.Control{
		ID: id, Title: title, Severity: sev, Category: "workload",
		Rationale: rationale, Remediation: remediation, Refs: control.Refs(refs...), WorkloadsOnly: true,
		Scope: control.InventoryScope, Reads: []string{"LimitRange"}, SelfContained: true,
		Check: func(p *control.Pass) {
			if defaulted(p.Inventory, p.Object.Namespace, kind, res) {
				return // the namespace's LimitRange fills it in at admission
			}
			for _, c := range p.Workload.Containers {
				if c.Kind != inventory.Ephemeral && c.Declared&want == 0 {
					p.ReportContainer(c.Name, c.Field("resources."+kind+"."+string(res)), "%s %q sets no %s %s", c.Kind, c.Name, res, kind[:len(kind)-1])
				}
			}
		},
	}
}

// defaulted reports whether a LimitRange of the namespace gives containers
// a default for the resource, as the LimitRanger admission plugin applies
// it: a default limit comes from default or max, a default request from
// defaultRequest, default, max or min (the API server's defaulting of
// LimitRange items).
func defaulted(inv *inventory.Inventory, ns, kind string, res corev1.ResourceName) bool {
	set := limitDefaults(inv)[ns]
	bit := inventory.CPULimit
	switch {
	case kind == "requests" && res == corev1.ResourceCPU:
		bit = inventory.CPURequest
	case kind == "requests":
		bit = inventory.MemoryRequest
	case res == corev1.ResourceMemory:
		bit = inventory.MemoryLimit
	}
	return set&bit != 0
}

// limitDefaults are, per namespace, the requests and limits its
// LimitRanges default; built once per inventory.
func limitDefaults(inv *inventory.Inventory) map[string]inventory.ResourceSet {
	return inv.Memo("workload.limitDefaults", []string{"LimitRange"}, func(inv *inventory.Inventory) any {
		out := map[string]inventory.ResourceSet{}
		for _, e := range inv.OfKind("LimitRange") {
			lr, ok := inventory.As[corev1.LimitRange](e.Object)
			if !ok {
				continue
			}
			for _, it := range lr.Spec.Limits {
				if it.Type != corev1.LimitTypeContainer {
					continue
				}
				for _, r := range []struct {
					res          corev1.ResourceName
					request, lim inventory.ResourceSet
				}{{corev1.ResourceCPU, inventory.CPURequest, inventory.CPULimit}, {corev1.ResourceMemory, inventory.MemoryRequest, inventory.MemoryLimit}} {
					_, d := it.Default[r.res]
					_, mx := it.Max[r.res]
					_, dr := it.DefaultRequest[r.res]
					_, mn := it.Min[r.res]
					if d || mx {
						out[e.Object.Namespace] |= r.lim | r.request
					}
					if dr || mn {
						out[e.Object.Namespace] |= r.request
					}
				}
			}
		}
		return out
	}).(map[string]inventory.ResourceSet)
}

var (
	cpuRequest = resourceControl("CTR-CPU-REQUEST", "CPU request missing", finding.Low, "requests", corev1.ResourceCPU,
		"Without a CPU request the scheduler cannot place the pod sensibly and the container gets the least CPU under contention.",
		"Set resources.requests.cpu to the CPU the container needs in normal operation.",
		"NSA:resource-policies", "NIST:4.4.3", "MITRE:T1499")
	memoryRequest = resourceControl("CTR-MEMORY-REQUEST", "Memory request missing", finding.Low, "requests", corev1.ResourceMemory,
		"Without a memory request the pod may be placed on a node that cannot hold it and is the first to be evicted.",
		"Set resources.requests.memory to the memory the container needs in normal operation.",
		"NSA:resource-policies", "NIST:4.4.3", "MITRE:T1499")
	cpuLimit = resourceControl("CTR-CPU-LIMIT", "CPU limit missing", finding.Low, "limits", corev1.ResourceCPU,
		"A container without a CPU limit can use every core of the node; a compromised or runaway container then "+
			"degrades its neighbours (denial of service, cryptomining).",
		"Set resources.limits.cpu, or enforce a default with a LimitRange in the namespace.",
		"NSA:resource-policies", "NIST:4.4.3", "MITRE:T1496")
	memoryLimit = resourceControl("CTR-MEMORY-LIMIT", "Memory limit missing", finding.Medium, "limits", corev1.ResourceMemory,
		"A container without a memory limit can exhaust the node's memory, triggering OOM kills of other workloads "+
			"and of node components.",
		"Set resources.limits.memory, or enforce a default with a LimitRange in the namespace.",
		"NSA:resource-policies", "NIST:4.4.3", "MITRE:T1499")
)
