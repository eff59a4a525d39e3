package webhook

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Mutation is one safe default the mutating endpoint can set. Every
// mutation only fills in what a pod spec leaves unset, never overrides an
// explicit choice, and produces no patch the second time (idempotent).
type Mutation struct {
	Name        string
	Description string
	apply       func(p *patcher, w *inventory.Workload)
}

// Mutations are the safe defaults, opt-in by name in .kubeguard.yaml
// (webhook.mutate).
var Mutations = []Mutation{
	{"seccompProfile", "set the pod's seccompProfile to RuntimeDefault", func(p *patcher, w *inventory.Workload) {
		p.setDefault(w.Field("securityContext.seccompProfile"), map[string]any{"type": "RuntimeDefault"})
	}},
	{"allowPrivilegeEscalation", "set allowPrivilegeEscalation: false on every container that is not privileged and does not add CAP_SYS_ADMIN (the API server rejects the combination)", func(p *patcher, w *inventory.Workload) {
		for _, c := range w.Containers {
			if c.Kind == inventory.Ephemeral || needsEscalation(c) {
				continue
			}
			p.setDefault(c.Field("securityContext.allowPrivilegeEscalation"), false)
		}
	}},
	{"dropCapabilities", "drop ALL capabilities on every container (added ones stay)", func(p *patcher, w *inventory.Workload) {
		for _, c := range w.Containers {
			if c.Kind != inventory.Ephemeral {
				p.appendDefault(c.Field("securityContext.capabilities.drop"), "ALL")
			}
		}
	}},
	{"runAsNonRoot", "set runAsNonRoot: true on the pod unless the pod or a container runs as UID 0 or opts out explicitly", func(p *patcher, w *inventory.Workload) {
		if sc := w.Spec.SecurityContext; sc != nil && (sc.RunAsNonRoot != nil || sc.RunAsUser != nil && *sc.RunAsUser == 0) {
			return
		}
		for _, c := range w.Containers {
			if sc := c.SecurityContext; sc != nil && (sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot || sc.RunAsUser != nil && *sc.RunAsUser == 0) {
				return
			}
		}
		p.setDefault(w.Field("securityContext.runAsNonRoot"), true)
	}},
	{"automountServiceAccountToken", "set automountServiceAccountToken: false on the pod", func(p *patcher, w *inventory.Workload) {
		p.setDefault(w.Field("automountServiceAccountToken"), false)
	}},
	{"readOnlyRootFilesystem", "set readOnlyRootFilesystem: true on every container", func(p *patcher, w *inventory.Workload) {
		for _, c := range w.Containers {
			if c.Kind != inventory.Ephemeral {
				p.setDefault(c.Field("securityContext.readOnlyRootFilesystem"), true)
			}
		}
	}},
}

// MutationNames lists the names of all mutations.
func MutationNames() []string {
	var out []string
	for _, m := range Mutations {
		out = append(out, m.Name)
	}
	return out
}

func lookupMutations(names []string) ([]Mutation, error) {
	var out []Mutation
	for _, n := range names {
		i := slices.IndexFunc(Mutations, func(m Mutation) bool { return m.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("webhook.mutate: unknown mutation %q (want one of %s)", n, strings.Join(MutationNames(), ", "))
		}
		out = append(out, Mutations[i])
	}
	return out, nil
}

func needsEscalation(c inventory.Container) bool {
	sc := c.SecurityContext
	if sc == nil {
		return false
	}
	if sc.Privileged != nil && *sc.Privileged {
		return true
	}
	if sc.Capabilities != nil {
		for _, a := range sc.Capabilities.Add {
			if s := strings.ToUpper(string(a)); s == "SYS_ADMIN" || s == "CAP_SYS_ADMIN" || s == "ALL" {
				return true
			}
		}
	}
	return false
}

// PatchOp is one JSON Patch (RFC 6902) operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// patcher applies defaults to an unstructured object and records the JSON
// Patch that does the same, so that later mutations see earlier ones.
type patcher struct {
	root map[string]any
	ops  []PatchOp
}

// setDefault sets the field at path to value when it is unset (absent or
// null). Missing parents are created in the same operation.
func (p *patcher) setDefault(path string, value any) {
	elems := object.Elems(path)
	cur := p.root
	ptr := ""
	for i, e := range elems {
		if e.IsIdx {
			return // container paths are resolved below, by index
		}
		ptr += "/" + escape(e.Key)
		next, ok := cur[e.Key]
		if i == len(elems)-1 {
			if ok && next != nil {
				return
			}
			cur[e.Key] = value
			p.ops = append(p.ops, PatchOp{"add", ptr, value})
			return
		}
		if !ok || next == nil {
			v := nest(elems[i+1:], value)
			cur[e.Key] = v
			p.ops = append(p.ops, PatchOp{"add", ptr, v})
			return
		}
		switch n := next.(type) {
		case map[string]any:
			cur = n
		case []any:
			// A list step: the next element must be its index.
			if i+1 >= len(elems) || !elems[i+1].IsIdx || elems[i+1].Index >= len(n) {
				return
			}
			m, ok := n[elems[i+1].Index].(map[string]any)
			if !ok {
				return
			}
			ptr += "/" + strconv.Itoa(elems[i+1].Index)
			rest := append([]object.PathElem{}, elems[i+2:]...)
			sub := &patcher{root: m}
			sub.setDefault(join(rest), value)
			for _, op := range sub.ops {
				p.ops = append(p.ops, PatchOp{op.Op, ptr + op.Path, op.Value})
			}
			return
		default:
			return // not an object: leave invalid input to validation
		}
	}
}

// appendDefault makes sure the list at path contains item.
func (p *patcher) appendDefault(path, item string) {
	v, ok := object.Get(p.root, path)
	l, isList := v.([]any)
	if !ok || v == nil {
		p.setDefault(path, []any{item})
		return
	}
	if !isList || slices.ContainsFunc(l, func(e any) bool { s, _ := e.(string); return strings.EqualFold(s, item) }) {
		return
	}
	l = append(l, item)
	setAt(p.root, path, l)
	p.ops = append(p.ops, PatchOp{"add", pointer(path) + "/-", item})
}

func setAt(root map[string]any, path string, v any) {
	elems := object.Elems(path)
	var cur any = root
	for i, e := range elems {
		last := i == len(elems)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[e.Key] = v
				return
			}
			cur = c[e.Key]
		case []any:
			if last {
				c[e.Index] = v
				return
			}
			cur = c[e.Index]
		}
	}
}

func nest(elems []object.PathElem, value any) any {
	if len(elems) == 0 {
		return value
	}
	return map[string]any{elems[0].Key: nest(elems[1:], value)}
}

func join(elems []object.PathElem) string {
	path := ""
	for _, e := range elems {
		if e.IsIdx {
			path = object.Index(path, e.Index)
		} else {
			path = object.Key(path, e.Key)
		}
	}
	return path
}

// pointer converts a field path to a JSON pointer.
func pointer(path string) string {
	var b strings.Builder
	for _, e := range object.Elems(path) {
		b.WriteByte('/')
		if e.IsIdx {
			b.WriteString(strconv.Itoa(e.Index))
		} else {
			b.WriteString(escape(e.Key))
		}
	}
	return b.String()
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// mutate applies mutations to the pod spec of o and returns the patch.
// Windows pods are left alone: the API server rejects most Linux security
// settings on them.
func mutate(o *object.Object, w *inventory.Workload, ms []Mutation) []PatchOp {
	if w == nil || w.Spec.OS != nil && w.Spec.OS.Name == "windows" {
		return nil
	}
	p := &patcher{root: o.Content}
	for _, m := range ms {
		m.apply(p, w)
	}
	return p.ops
}
