// Package inventory holds the set of objects under analysis, indexed by
// kind, namespace and name, with the pod spec of every workload extracted
// once. Cross-object controls read it.
package inventory

import (
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Entry is one object of the inventory with its workload view.
type Entry struct {
	Object   *object.Object
	Workload *Workload
}

type key struct{ kind, namespace, name string }

// Inventory is built once and then read concurrently.
type Inventory struct {
	entries []Entry
	byKey   map[key]int
	byKind  map[string][]int
	kindNS  map[key]bool // kind and namespace present (name empty)
}

// New returns an empty inventory.
func New() *Inventory {
	return &Inventory{byKey: map[key]int{}, byKind: map[string][]int{}, kindNS: map[key]bool{}}
}

// Add records an object. Later objects with the same kind, namespace and
// name shadow earlier ones in lookups.
func (inv *Inventory) Add(o *object.Object, w *Workload) {
	i := len(inv.entries)
	inv.entries = append(inv.entries, Entry{o, w})
	inv.byKey[key{o.Kind, o.Namespace, o.Name}] = i
	inv.byKind[o.Kind] = append(inv.byKind[o.Kind], i)
	inv.kindNS[key{o.Kind, o.Namespace, ""}] = true
}

// Len returns the number of objects.
func (inv *Inventory) Len() int { return len(inv.entries) }

// Entries returns every entry in input order.
func (inv *Inventory) Entries() []Entry { return inv.entries }

// Get returns the object of a kind with a namespace and name.
func (inv *Inventory) Get(kind, namespace, name string) (Entry, bool) {
	i, ok := inv.byKey[key{kind, namespace, name}]
	if !ok {
		return Entry{}, false
	}
	return inv.entries[i], true
}

// OfKind returns every object of a kind.
func (inv *Inventory) OfKind(kind string) []Entry {
	idx := inv.byKind[kind]
	out := make([]Entry, len(idx))
	for i, j := range idx {
		out[i] = inv.entries[j]
	}
	return out
}

// HasKindIn reports whether the input holds any object of kind in
// namespace. Cross-object controls use it to stay quiet about references
// the input cannot answer (a ServiceAccount defined elsewhere).
func (inv *Inventory) HasKindIn(kind, namespace string) bool {
	return inv.kindNS[key{kind, namespace, ""}]
}
