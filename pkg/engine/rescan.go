package engine

import (
	"slices"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Change is an object added (Old nil), updated, or deleted (New nil) since
// the last evaluation.
type Change struct {
	Old, New *object.Object
}

// Rescan evaluates objs after changes to a set the engine evaluated before:
// it runs the controls only on the objects whose findings the changes can
// alter, while the inventory the cross-object controls read holds all of
// objs. A changed object gets every control; its dependants get the
// cross-object controls that read its kind (see control.Control.Reads),
// and for a NetworkPolicy only the workloads it selects, before or after
// the change, since a policy decides only about the pods it selects.
// Result.Evaluated says what ran; Carry completes the findings with the
// earlier ones of everything else.
func (e *Engine) Rescan(objs []*object.Object, changes []Change) *Result {
	return e.finish(e.prepare(objs, true), func(inv *inventory.Inventory) map[*object.Object]Evaluation {
		return e.affected(inv, changes)
	})
}

// Carry completes a Rescan's findings with those of an earlier evaluation
// (prev) on the objects it did not evaluate and that still exist, and
// sorts them. Objects are matched by reference.
func (r *Result) Carry(prev []*finding.Finding) {
	evaluated := map[object.Ref]Evaluation{}
	for o, ev := range r.Evaluated {
		evaluated[o.Ref] = ev
	}
	present := map[object.Ref]bool{}
	for _, en := range r.Inventory.Entries() {
		present[en.Object.Ref] = true
	}
	for _, f := range prev {
		if present[f.Object] && !evaluated[f.Object].ran(f.ControlID) {
			r.Findings = append(r.Findings, f)
		}
	}
	slices.SortFunc(r.Findings, finding.Compare)
}

// changed is what affected needs to know of one change.
type changed struct {
	kind, ns string
	workload bool
	// policies, for a NetworkPolicy, are its versions before and after.
	policies []*netpol.Policy
}

func (e *Engine) affected(inv *inventory.Inventory, changes []Change) map[*object.Object]Evaluation {
	out := map[*object.Object]Evaluation{}
	refs := map[object.Ref]bool{}
	var cs []changed
	seen := map[string]bool{} // changes of one kind and namespace that select nothing in particular read alike
	for _, ch := range changes {
		c := changed{}
		for _, o := range []*object.Object{ch.Old, ch.New} {
			if o == nil {
				continue
			}
			refs[o.Ref] = true
			c.kind, c.ns = o.Kind, o.Namespace
			if w, _ := inventory.ExtractWorkload(o); w != nil {
				c.workload = true
			}
			if p, ok := netpol.New(o); ok {
				c.policies = append(c.policies, p)
			}
		}
		key := c.kind + "/" + c.ns
		if c.workload {
			key += "/w"
		}
		if c.policies != nil || !seen[key] {
			seen[key] = true
			cs = append(cs, c)
		}
	}
	for _, en := range inv.Entries() {
		o := en.Object
		if refs[o.Ref] {
			out[o] = Evaluation{All: true}
			continue
		}
		checkedNS := o.Namespace
		if o.Kind == "Namespace" && o.Group() == "" {
			checkedNS = o.Name
		}
		var ids map[string]bool
		for _, c := range e.controlsFor(true, o.Kind, en.Workload != nil) {
			if slices.ContainsFunc(cs, func(ch changed) bool {
				return c.DependsOn(ch.kind, ch.workload, ch.ns, checkedNS) && selects(ch, en.Workload)
			}) {
				if ids == nil {
					ids = map[string]bool{}
				}
				ids[c.ID] = true
			}
		}
		if ids != nil {
			out[o] = Evaluation{Controls: ids}
		}
	}
	return out
}

// selects reports whether a change can matter to a workload: any change
// can, except a NetworkPolicy that selects the workload's pods neither
// before nor after.
func selects(ch changed, w *inventory.Workload) bool {
	if ch.policies == nil || w == nil {
		return true
	}
	return slices.ContainsFunc(ch.policies, func(p *netpol.Policy) bool { return p.Selects(w.Meta.Labels) })
}
