package engine

import (
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Admission is the verdict input for one object under admission.
type Admission struct {
	Findings    []finding.Finding
	Diagnostics []object.Diagnostic
	// Rejected lists the values the API server's validation would refuse
	// ("path: why"): the object cannot be judged as its kind.
	Rejected []string
	// Workload is the object's pod spec as the controls read it (nil
	// when it carries none), for callers that judge its containers
	// further.
	Workload *inventory.Workload
}

// Admit evaluates one object as it would be stored: every per-object
// control, and, when base is not nil, the cross-object controls against
// base (the live inventory of the cluster) with the object added or
// replaced, so their findings (Scope InventoryScope) are only as right as
// base is current. Only findings on the object itself are returned; the
// cost does not grow with the size of base beyond what the controls look
// up.
func (e *Engine) Admit(o *object.Object, base *inventory.Inventory) *Admission {
	w := e.newWorker()
	w.live = true
	e.object(w, o, false)
	res := &Admission{}
	if len(w.entries) == 1 {
		en := w.entries[0]
		res.Workload = en.Workload
		var inv *inventory.Inventory
		if base != nil {
			inv = inventory.Overlay(base, en.Object, en.Workload)
		} else {
			inv = inventory.New() // only SelfContained controls run on it
			inv.Add(en.Object, en.Workload)
		}
		for _, c := range e.controlsFor(true, o.Kind, en.Workload != nil) {
			if !c.Skips(o.Kind, true) && (base != nil || c.SelfContained) {
				e.run(w, c, en.Object, en.Workload, inv, w.anns[en.Object])
			}
		}
	}
	for _, c := range w.findings {
		res.Findings = append(res.Findings, c...)
	}
	res.Diagnostics, res.Rejected = w.diags, w.rejected
	return res
}
