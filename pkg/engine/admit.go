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
	// CrossObject holds the IDs of the inventory-scope controls that ran:
	// their answer depends on the live inventory, so a caller whose
	// inventory is not in sync must not deny on their findings.
	CrossObject map[string]bool
}

// Admit evaluates one object as it would be stored: every per-object
// control, and, when base is not nil, the cross-object controls against
// base (the live inventory of the cluster) with the object added or
// replaced. Only findings on the object itself are returned; the cost does
// not grow with the size of base beyond what the controls look up.
func (e *Engine) Admit(o *object.Object, base *inventory.Inventory) *Admission {
	w := e.newWorker()
	w.live = true
	e.object(w, o, false)
	res := &Admission{}
	if base != nil && len(w.entries) == 1 {
		en := w.entries[0]
		inv := inventory.Overlay(base, en.Object, en.Workload)
		cs := e.controlsFor(true, o.Kind, en.Workload != nil)
		for _, c := range cs {
			if !c.Skips(o.Kind, true) {
				e.run(w, c, en.Object, en.Workload, inv, w.anns[en.Object])
			}
		}
		if len(cs) > 0 {
			res.CrossObject = map[string]bool{}
			for _, c := range cs {
				res.CrossObject[c.ID] = true
			}
		}
	}
	for _, c := range w.findings {
		res.Findings = append(res.Findings, c...)
	}
	res.Diagnostics = w.diags
	return res
}
