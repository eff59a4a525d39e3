// Package inventory holds the set of objects under analysis, indexed by
// kind, namespace and name, with the pod spec of every workload extracted
// once. Cross-object controls read it.
package inventory

import (
	"slices"
	"sync"

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

	memoMu sync.Mutex
	memo   map[string]*memoEntry

	// parent is set on an overlay: the inventory of a cluster seen with one
	// object added or replaced (an admission request). Lookups read the
	// overlay's own entries first and the parent's, minus the replaced
	// object, after them.
	parent *Inventory
	own    key
	ownW   bool
}

type memoEntry struct {
	once sync.Once
	v    any
}

// New returns an empty inventory.
func New() *Inventory { return NewSized(0) }

// NewSized returns an empty inventory with room for n objects, so that
// building a large one does not rehash its index again and again.
func NewSized(n int) *Inventory {
	return &Inventory{entries: make([]Entry, 0, n), byKey: make(map[key]int, n), byKind: map[string][]int{}, kindNS: map[key]bool{}}
}

// ByScope splits an inventory by its objects' Scope (see object.Object):
// cross-object analysis resolves references within one scope. Scopes
// come in the order they first appear. With one scope it is inv itself,
// so what was memoized on it is not worked out again.
func ByScope(inv *Inventory) (scopes []string, invs map[string]*Inventory) {
	entries := inv.Entries()
	count := map[string]int{}
	for _, en := range entries {
		if count[en.Object.Scope] == 0 {
			scopes = append(scopes, en.Object.Scope)
		}
		count[en.Object.Scope]++
	}
	if len(scopes) == 1 {
		return scopes, map[string]*Inventory{scopes[0]: inv}
	}
	invs = make(map[string]*Inventory, len(count))
	for sc, n := range count {
		invs[sc] = NewSized(n)
	}
	for _, en := range entries {
		invs[en.Object.Scope].Add(en.Object, en.Workload)
	}
	return scopes, invs
}

// Overlay returns base with o added, replacing any object of the same
// kind, namespace and name, without copying base: an admission webhook
// evaluates every request against the live inventory of a cluster this
// way. Lookups by key and kind cost what they cost on base; only Entries
// walks it all. Memos whose kinds do not include o's are shared with
// base.
func Overlay(base *Inventory, o *object.Object, w *Workload) *Inventory {
	inv := New()
	inv.Add(o, w)
	inv.parent, inv.own, inv.ownW = base, key{o.Kind, o.Namespace, o.Name}, w != nil
	return inv
}

// parentEntries returns the parent's entries at idx without the one the
// overlay replaces.
func (inv *Inventory) parentEntries(idx []int, out []Entry) []Entry {
	for _, i := range idx {
		e := inv.parent.entries[i]
		if (key{e.Object.Kind, e.Object.Namespace, e.Object.Name}) != inv.own {
			out = append(out, e)
		}
	}
	return out
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
func (inv *Inventory) Len() int {
	if inv.parent != nil {
		n := inv.parent.Len() + len(inv.entries)
		if _, ok := inv.parent.byKey[inv.own]; ok {
			n--
		}
		return n
	}
	return len(inv.entries)
}

// Entries returns every entry in input order.
func (inv *Inventory) Entries() []Entry {
	if inv.parent == nil {
		return inv.entries
	}
	all := make([]int, len(inv.parent.entries))
	for i := range all {
		all[i] = i
	}
	return inv.parentEntries(all, append([]Entry{}, inv.entries...))
}

// Get returns the object of a kind with a namespace and name.
func (inv *Inventory) Get(kind, namespace, name string) (Entry, bool) {
	k := key{kind, namespace, name}
	i, ok := inv.byKey[k]
	if !ok {
		if inv.parent != nil && k != inv.own {
			return inv.parent.Get(kind, namespace, name)
		}
		return Entry{}, false
	}
	return inv.entries[i], true
}

// All returns every object of a kind with a namespace and name. Inputs
// that hold several variants of one application (an install.yaml and a
// namespace-install.yaml) define the same object more than once; checks
// that conclude something is missing must look at all of them.
func (inv *Inventory) All(kind, namespace, name string) []Entry {
	var out []Entry
	for _, i := range inv.byKind[kind] {
		if o := inv.entries[i].Object; o.Namespace == namespace && o.Name == name {
			out = append(out, inv.entries[i])
		}
	}
	if inv.parent != nil && (key{kind, namespace, name}) != inv.own {
		out = append(out, inv.parent.All(kind, namespace, name)...)
	}
	return out
}

// OfKind returns every object of a kind.
func (inv *Inventory) OfKind(kind string) []Entry {
	idx := inv.byKind[kind]
	out := make([]Entry, len(idx))
	for i, j := range idx {
		out[i] = inv.entries[j]
	}
	if inv.parent != nil {
		out = inv.parentEntries(inv.parent.byKind[kind], out)
	}
	return out
}

// HasKindIn reports whether the input holds any object of kind in
// namespace. Cross-object controls use it to stay quiet about references
// the input cannot answer (a ServiceAccount defined elsewhere).
func (inv *Inventory) HasKindIn(kind, namespace string) bool {
	if inv.kindNS[key{kind, namespace, ""}] {
		return true
	}
	return inv.parent != nil && inv.parent.HasKindIn(kind, namespace)
}

// AnyWorkload in the kinds of a memo means it depends on every workload,
// whatever its kind.
const AnyWorkload = "*workload"

// Memo returns the value build computes for key, computing it once per
// inventory. Cross-object controls use it for the indexes they share (the
// NetworkPolicies of each namespace, the resolved RBAC model), so that a
// check per object does not rescan the inventory. kinds are the kinds the
// value is computed from (nil: all objects); an overlay whose object is of
// none of them shares the value of its base.
func (inv *Inventory) Memo(key string, kinds []string, build func(*Inventory) any) any {
	if inv.parent != nil && kinds != nil && !slices.Contains(kinds, inv.own.kind) &&
		!(inv.ownW && slices.Contains(kinds, AnyWorkload)) {
		return inv.parent.Memo(key, kinds, build)
	}
	inv.memoMu.Lock()
	if inv.memo == nil {
		inv.memo = map[string]*memoEntry{}
	}
	e, ok := inv.memo[key]
	if !ok {
		e = &memoEntry{}
		inv.memo[key] = e
	}
	inv.memoMu.Unlock()
	e.once.Do(func() { e.v = build(inv) })
	return e.v
}

// As converts an object into its typed API form (a Service, a
// NetworkPolicy, a Role), or reports false when the content does not fit
// the type. Controls of kinds other than workloads convert on demand: those
// kinds are few, and only the controls that read them pay for it.
func As[T any](o *object.Object) (*T, bool) {
	var t T
	if err := convertTo(o.Content, &t); err != nil {
		return nil, false
	}
	return &t, true
}

// NamespaceLabels returns the labels of a namespace: its Namespace
// object's in inv, else the one label the API server sets on every
// namespace; none for "" (cluster-scoped). inv may be nil.
func NamespaceLabels(inv *Inventory, ns string) map[string]string {
	if ns == "" {
		return map[string]string{}
	}
	if inv != nil {
		if e, ok := inv.Get("Namespace", "", ns); ok {
			return e.Object.Metadata("labels")
		}
	}
	return map[string]string{"kubernetes.io/metadata.name": ns}
}
