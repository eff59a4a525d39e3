// Package engine runs the catalog over an inventory. It is the one engine
// behind every front door: files and stdin here, clusters and admission
// requests through ScanObjects.
package engine

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubeguard/kubeguard/internal/intern"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Options configure an engine.
type Options struct {
	Catalog *control.Catalog
	Config  *config.Config // nil for defaults
	Limits  object.Limits
	// Workers is the number of parallel workers; 0 means GOMAXPROCS.
	Workers int
	// Now is the time suppressions are checked against; zero means now.
	Now time.Time
	// Live says the objects come from a cluster: controls skip the kinds
	// they check only in manifests and run those that need a cluster.
	Live bool
	// OneScope resolves references between all objects of a scan, not
	// within each input's scope (a chart, a kustomization, a path given).
	OneScope bool
	// Namespace is where manifests without metadata.namespace go, as
	// kubectl's -n; "" means default.
	Namespace string
	// ParseOnly reads and decodes the input and counts the objects,
	// without running controls or keeping anything (the baseline the
	// benchmarks compare against).
	ParseOnly bool
}

// Engine evaluates controls. It is safe for concurrent use.
type Engine struct {
	checked, found atomic.Int64 // Progress
	cat            *control.Catalog
	cfg            *config.Config
	lim            object.Limits
	workers        int
	now            time.Time
	parse          bool
	live           bool
	namespace      string
	oneScope       bool
	// namespaceWide are the IDs of the NamespaceWide controls.
	namespaceWide map[string]bool
	// whole are the kinds an enabled control reads in full (ReadsContent),
	// which the inventory keeps unslimmed.
	whole    map[string]bool
	objectCs []*control.Control
	invCs    []*control.Control
	selected sync.Map // selection -> []*control.Control, see controlsFor
	severity map[string]finding.Severity
	on       map[string]bool // enabled controls
	// messages keeps one copy of each finding message: findings live to
	// the end of a scan, and a large one repeats a few thousand messages
	// hundreds of thousands of times (the corpus: 9,200 distinct of
	// 297,000, 0.7 of 21 MB). Each worker's pass formats into a buffer
	// and looks the text up here, so a known message costs no allocation.
	messages *intern.Table
}

// New validates the configuration against the catalog: an unknown control
// ID anywhere is an error, never a silent no-op.
func New(opts Options) (*Engine, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	if cfg.Path != "" {
		if err := cfg.ValidateIDs(func(id string) bool { return len(opts.Catalog.Match(id)) > 0 }); err != nil {
			return nil, err
		}
	} else if err := opts.Catalog.Validate(cfg.IDs()); err != nil {
		return nil, err
	}
	e := &Engine{cat: opts.Catalog, cfg: cfg, lim: opts.Limits, workers: opts.Workers, now: opts.Now,
		parse: opts.ParseOnly, live: opts.Live, severity: map[string]finding.Severity{}, on: map[string]bool{}, messages: intern.New(), namespaceWide: map[string]bool{}, whole: map[string]bool{}}
	if e.workers <= 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	e.oneScope = opts.OneScope
	if e.namespace = opts.Namespace; e.namespace == "" {
		e.namespace = "default"
	}
	if e.now.IsZero() {
		e.now = time.Now()
	}
	on := enabled(opts.Catalog, cfg)
	for _, c := range opts.Catalog.All() {
		if !on[c.ID] {
			continue
		}
		e.on[c.ID] = true
		if c.External {
			continue
		}
		if c.NamespaceWide {
			e.namespaceWide[c.ID] = true
		}
		for _, k := range c.ReadsContent {
			e.whole[k] = true
		}
		if c.Scope == control.InventoryScope {
			e.invCs = append(e.invCs, c)
		} else {
			e.objectCs = append(e.objectCs, c)
		}
		// Rule sets that are slow to build are built while the caller
		// reads input (or a webhook starts), not by the first check that
		// needs them.
		if c.Prepare != nil {
			go c.Prepare()
		}
	}
	// exact IDs override patterns, whatever the map's order
	for _, exact := range []bool{false, true} {
		for id, s := range cfg.Severity {
			if _, ok := opts.Catalog.Get(id); ok == exact {
				for _, c := range opts.Catalog.Match(id) {
					e.severity[c.ID] = s
				}
			}
		}
	}
	return e, nil
}

// Result is what a scan found.
type Result struct {
	// Findings holds every finding, suppressed ones included, sorted by
	// position. They point into the chunks the workers filled: a large
	// scan has hundreds of thousands, and copying them into one array
	// would hold them in memory twice.
	Findings    []*finding.Finding
	Diagnostics []object.Diagnostic
	Objects     int
	Inputs      int
	// Folded counts the objects of a cluster dump left out because their
	// controller is in the input too (see fold).
	Folded    int
	Inventory *inventory.Inventory
	// Evaluated, after a Rescan, holds the objects whose findings were
	// computed, and by which controls; nil after a full scan.
	Evaluated map[*object.Object]Evaluation
}

// Evaluation says which controls a Rescan ran on an object: all of them
// (a changed object), or some cross-object ones (a dependant).
type Evaluation struct {
	All      bool
	Controls map[string]bool
}

func (ev Evaluation) ran(id string) bool { return ev.All || ev.Controls[id] }

// HasErrors reports whether any input could not be analysed.
func (r *Result) HasErrors() bool {
	for _, d := range r.Diagnostics {
		if d.Severity == object.SeverityError {
			return true
		}
	}
	return false
}

// Catalog returns the engine's catalog.
func (e *Engine) Catalog() *control.Catalog { return e.cat }

type worker struct {
	entries []inventory.Entry
	anns    map[*object.Object][]annSuppression
	// findings are kept in fixed-size chunks: large scans report hundreds
	// of thousands, and growing one slice would copy them over and over.
	findings [][]finding.Finding
	diags    []object.Diagnostic
	// rejected are the values of the object the API server would reject
	// ("path: why"), for an admission answer.
	rejected []string
	// found counts the findings added; spans holds, for each entry, the
	// findings its object's checks added (see fold).
	found  int
	spans  [][2]int
	parsed int  // objects decoded in ParseOnly mode
	live   bool // objects come from a cluster or admission, not files
	// deferred workers leave every control to finish, which knows by then
	// which objects a Rescan evaluates.
	deferred bool

	// One pass and one report function per worker, reset for each check:
	// a scan runs millions of checks.
	pass    control.Pass
	curAnns []annSuppression
	report  func(finding.Finding)
}

func (e *Engine) newWorker() *worker {
	w := &worker{anns: map[*object.Object][]annSuppression{}, live: e.live}
	w.pass.Now = e.now
	w.pass.Messages = e.messages
	w.report = func(f finding.Finding) {
		if s, ok := e.severity[f.ControlID]; ok {
			f.Severity = s
		}
		anns := w.curAnns
		if e.namespaceWide[f.ControlID] && f.Object.Kind != "Namespace" {
			anns = nil // see control.Control.NamespaceWide
		}
		e.suppress(&f, anns)
		w.add(f)
	}
	return w
}

// Chunks start small (an admission request has a handful of findings and
// a fresh 1024-finding chunk per request would dominate its cost) and
// double up to chunkSize.
const (
	firstChunk = 16
	chunkSize  = 1024
)

func (w *worker) add(f finding.Finding) {
	if n := len(w.findings); n == 0 || len(w.findings[n-1]) == cap(w.findings[n-1]) {
		size := firstChunk
		if n > 0 {
			size = min(2*cap(w.findings[n-1]), chunkSize)
		}
		w.findings = append(w.findings, make([]finding.Finding, 0, size))
	}
	last := &w.findings[len(w.findings)-1]
	*last = append(*last, f)
	w.found++
}

// fold drops the objects of a cluster dump (kubectl get -o json) whose
// controller the input holds too, with their findings: those repeat what
// is reported on the controller's pod template, and kubeguard cluster
// leaves such objects out the same way. Hand-written manifests have no
// uids and fold nothing. It returns how many objects were folded.
func fold(ws []*worker) int {
	uids := inventory.Owners(func(yield func(*object.Object) bool) {
		for _, w := range ws {
			for _, en := range w.entries {
				if !yield(en.Object) {
					return
				}
			}
		}
	})
	if len(uids) == 0 {
		return 0
	}
	n := 0
	for _, w := range ws {
		n += w.fold(uids)
	}
	return n
}

// fold drops the worker's objects whose controller is one of owners, and
// their findings.
func (w *worker) fold(owners map[string]bool) int {
	var drop [][2]int // spans of findings, in order
	entries := w.entries[:0]
	for i, en := range w.entries {
		if inventory.Folded(en.Object, owners) {
			drop = append(drop, w.spans[i])
			delete(w.anns, en.Object)
			continue
		}
		entries = append(entries, en)
	}
	// spans of kept objects count dropped findings: fold runs once
	w.entries, w.spans = entries, nil
	if len(drop) == 0 {
		return 0
	}
	idx, d := 0, 0
	for ci, c := range w.findings {
		kept := c[:0]
		for _, f := range c {
			for d < len(drop) && idx >= drop[d][1] {
				d++
			}
			if d == len(drop) || idx < drop[d][0] {
				kept = append(kept, f)
			}
			idx++
		}
		w.findings[ci] = kept
	}
	return len(drop)
}

// collect moves the findings and diagnostics of workers into res, sorted.
// Large scans report hundreds of thousands of findings: each worker's are
// sorted as pointers in parallel and merged; the findings themselves stay
// where the workers put them.
func collect(res *Result, ws ...*worker) {
	total := 0
	for _, w := range ws {
		for _, c := range w.findings {
			total += len(c)
		}
	}
	runs := make([][]*finding.Finding, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		res.Diagnostics = append(res.Diagnostics, w.diags...)
		chunks := w.findings
		w.findings, w.diags = nil, nil
		sortRun := func() {
			n := 0
			for _, c := range chunks {
				n += len(c)
			}
			run := make([]*finding.Finding, 0, n)
			for _, c := range chunks {
				for j := range c {
					run = append(run, &c[j])
				}
			}
			slices.SortFunc(run, finding.Compare)
			runs[i] = run
		}
		if total < parallelFindings {
			sortRun() // an admission request: goroutines would cost more
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sortRun()
		}()
	}
	wg.Wait()
	for len(runs) > 1 {
		var next [][]*finding.Finding
		for i := 0; i < len(runs); i += 2 {
			if i+1 == len(runs) {
				next = append(next, runs[i])
			} else {
				next = append(next, merge(runs[i], runs[i+1]))
			}
		}
		runs = next
	}
	if len(runs) == 1 {
		res.Findings = runs[0]
	}
}

// parallelFindings is how many findings make collecting them in parallel
// worth it.
const parallelFindings = 4096

// merge merges two sorted runs of findings.
func merge(a, b []*finding.Finding) []*finding.Finding {
	out := make([]*finding.Finding, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if finding.Compare(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// ScanInputs reads inputs (files, stdin) and evaluates every control. One
// goroutine splits the inputs into documents; workers decode them and run
// per-object controls while reading continues, so memory stays close to
// the retained inventory and both cores work even on a single large file.
func (e *Engine) ScanInputs(inputs []object.Input) *Result {
	docs := make(chan object.Batch, 64)
	var readDiags []object.Diagnostic
	go func() {
		defer close(docs)
		for _, in := range inputs {
			if in.IsRendered() {
				if len(in.Objects) > 0 {
					docs <- object.Batch{File: in.Name, Objects: in.Objects, Scope: in.Scope}
				}
				for _, d := range in.Rendered {
					// A rendered template may hold several documents.
					var parts []object.Document
					readDiags = append(readDiags, object.SplitBytes(d.File, d.Data, func(p object.Document) {
						p.Line += d.Line - 1
						p.Origin = d.Origin
						parts = append(parts, p)
					})...)
					if len(parts) > 0 {
						docs <- object.Batch{File: d.File, Line: d.Line, Docs: parts, Scope: in.Scope}
					}
				}
				continue
			}
			readDiags = append(readDiags, in.Split(e.lim, func(b object.Batch) {
				b.Scope = in.Scope
				docs <- b
			})...)
		}
	}()
	// The items of a large List (kubectl get -o json) come out of one
	// document: the worker that decoded them hands parts of them to the
	// others, without ever blocking, and checks what nobody took before it
	// reads on. parts closes once no worker reads documents any more.
	parts := make(chan []*object.Object, 256)
	var reading sync.WaitGroup
	reading.Add(e.workers)
	go func() {
		reading.Wait()
		close(parts)
	}()
	ws := make([]*worker, e.workers)
	var wg sync.WaitGroup
	for i := range ws {
		w := e.newWorker()
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			check := func(objs []*object.Object) {
				for _, o := range objs {
					e.object(w, o, true)
				}
			}
			for in := docs; in != nil; {
				select {
				case part := <-parts:
					check(part)
				case b, ok := <-in:
					if !ok {
						in = nil
						break
					}
					objs, diags := object.DecodeBatch(b, e.lim)
					w.diags = append(w.diags, diags...)
					for _, o := range objs {
						o.Scope = b.Scope
					}
				share:
					for e.workers > 1 && len(objs) > 2*listPart {
						select {
						case parts <- objs[len(objs)-listPart:]:
							objs = objs[:len(objs)-listPart]
						default:
							break share
						}
					}
					check(objs)
					for more := true; more; {
						select {
						case part := <-parts:
							check(part)
						default:
							more = false
						}
					}
				}
			}
			reading.Done()
			for part := range parts {
				check(part)
			}
		}()
	}
	wg.Wait()
	folded := fold(ws)
	res := e.finish(ws, nil)
	res.Inputs, res.Folded = len(inputs), folded
	res.Diagnostics = append(readDiags, res.Diagnostics...)
	object.SortDiagnostics(res.Diagnostics)
	return res
}

// listPart is how many objects of a List a worker hands to another at a
// time: enough to be worth the handover, few enough to balance the load.
const listPart = 128

// ScanObjects evaluates every control over objects that are already decoded
// (from a cluster, with Options.Live).
func (e *Engine) ScanObjects(objs []*object.Object) *Result {
	return e.finish(e.prepare(objs, false), nil)
}

// prepare runs objects through the workers: contiguous chunks, one per
// worker, keep the inventory in input order.
func (e *Engine) prepare(objs []*object.Object, deferred bool) []*worker {
	chunk := max(1, (len(objs)+e.workers-1)/e.workers)
	var ws []*worker
	var wg sync.WaitGroup
	for start := 0; start < len(objs) || start == 0; start += chunk {
		part := objs[start:min(start+chunk, len(objs))]
		w := e.newWorker()
		w.deferred = deferred
		ws = append(ws, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, o := range part {
				e.object(w, o, false)
			}
		}()
		if len(objs) == 0 {
			break
		}
	}
	wg.Wait()
	return ws
}

// object runs the per-object controls and keeps the object for the
// inventory, slimmed when the engine owns it (it decoded it itself).
func (e *Engine) object(w *worker, o *object.Object, own bool) {
	defer func() {
		// Hostile input must never take the scan (or a webhook) down.
		if r := recover(); r != nil {
			w.diags = append(w.diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityError,
				Message: fmt.Sprintf("%s: internal error: %v", o.Ref, r)})
		}
	}()
	if e.parse {
		w.parsed++ // the baseline only decodes; it keeps nothing
		return
	}
	// A manifest without a namespace is applied to the default (or the
	// given) namespace, as kubectl does; references resolve there, and no
	// report names a namespace "". The content is left as written.
	if o.Namespace == "" && o.Native == nil && o.Kind != "" && !object.ClusterScoped(o.Ref) {
		o.Namespace = e.namespace
	}
	first := w.found
	wl, err := inventory.ExtractWorkload(o)
	var fieldErrs inventory.FieldErrors
	if errors.As(err, &fieldErrs) {
		// The API server would reject these values: input errors at
		// their fields; the rest of the object is analysed without them.
		for _, f := range fieldErrs {
			w.rejected = append(w.rejected, f.String())
			d := object.Diagnostic{Pos: o.Locate(f.Path), Severity: object.SeverityError,
				Message: fmt.Sprintf("%s: %s: %s (the API server rejects it; analysed without it)", o.Ref, f.Path, f.Message)}
			if f.Placeholder {
				d.Severity = object.SeverityWarning
				d.Message = fmt.Sprintf("%s: %s: %s is a template placeholder, not a value (analysed without it; scan the file after substitution)", o.Ref, f.Path, f.Message)
			}
			w.diags = append(w.diags, d)
		}
	} else if err != nil {
		// kubectl would refuse such an object; say so, but analyse what
		// could be read.
		w.diags = append(w.diags, object.Diagnostic{Pos: o.Locate(""), Severity: object.SeverityWarning,
			Message: fmt.Sprintf("%s: %v", o.Ref, err)})
	}
	// A policy the API server rejects never takes effect: say where, and
	// the network model leaves it out instead of guessing.
	for _, f := range netpol.Validate(o) {
		w.rejected = append(w.rejected, f.String())
		w.diags = append(w.diags, object.Diagnostic{Pos: o.Locate(f.Path), Severity: object.SeverityError,
			Message: fmt.Sprintf("%s: %s: %s (the API server rejects it; the policy is left out)", o.Ref, f.Path, f.Message)})
	}
	// An engine without controls (the rbac and netpol commands' reader)
	// reports nothing to suppress, so it leaves suppressions to scan,
	// whose catalog knows the IDs.
	var anns []annSuppression
	if len(e.objectCs)+len(e.invCs) > 0 {
		var diags []object.Diagnostic
		anns, diags = e.annotationSuppressions(o, wl)
		w.diags = append(w.diags, diags...)
		if len(anns) > 0 {
			w.anns[o] = anns
		}
	}
	if !w.deferred {
		e.objectControls(w, o, wl, anns)
		if locatedInside[o.Kind] {
			o.CompactUnlessSmall(anchors(wl), 4096)
		} else {
			o.Compact(anchors(wl))
		}
	}
	if own && !e.whole[control.AnyKind] && (wl != nil || !e.whole[o.Kind]) {
		inventory.Slim(o, wl)
	}
	w.entries = append(w.entries, inventory.Entry{Object: o, Workload: wl})
	w.spans = append(w.spans, [2]int{first, w.found})
	e.checked.Add(1)
	e.found.Add(int64(w.found - first))
}

// Progress says how many objects the engine has checked so far and how
// many findings their object-scoped controls reported (cross-object
// controls report at the end); for progress lines, safe to call at any
// time.
func (e *Engine) Progress() (objects, findings int64) {
	return e.checked.Load(), e.found.Load()
}

func (e *Engine) objectControls(w *worker, o *object.Object, wl *inventory.Workload, anns []annSuppression) {
	for _, c := range e.controlsFor(false, o.Kind, wl != nil) {
		if !c.Skips(o.Kind, w.live) {
			e.run(w, c, o, wl, nil, anns)
		}
	}
}

type selection struct {
	inventoryScope bool
	kind           string
	workload       bool
}

// controlsFor returns the controls of a list that apply to objects of a
// kind, selected once per kind.
func (e *Engine) controlsFor(inventoryScope bool, kind string, workload bool) []*control.Control {
	key := selection{inventoryScope, kind, workload}
	if v, ok := e.selected.Load(key); ok {
		return v.([]*control.Control)
	}
	list := e.objectCs
	if inventoryScope {
		list = e.invCs
	}
	var out []*control.Control
	for _, c := range list {
		if c.AppliesTo(kind, workload) {
			out = append(out, c)
		}
	}
	e.selected.Store(key, out)
	return out
}

func (e *Engine) run(w *worker, c *control.Control, o *object.Object, wl *inventory.Workload, inv *inventory.Inventory, anns []annSuppression) {
	defer func() {
		// A control must never take the scan down; report it as an
		// input problem with the object instead.
		if r := recover(); r != nil {
			w.diags = append(w.diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityError,
				Message: fmt.Sprintf("control %s failed on %s: %v", c.ID, o.Ref, r)})
		}
	}()
	w.curAnns = anns
	w.pass.Reset(c, o, wl, inv, w.report)
	c.Check(&w.pass)
}

// anchors are the paths whose positions survive compaction: the places
// cross-object findings point at. The list depends only on where the pod
// spec sits, so one list serves every workload of a shape.
func anchors(wl *inventory.Workload) []string {
	key := ""
	if wl != nil {
		// containers' resources and probes are anchors too: the
		// resource controls read the namespace's LimitRange and the probe
		// controls its Services, so they report once the inventory is
		// known, on the field that is missing
		key = wl.SpecPath + "|" + wl.MetaPath + "|" + strconv.Itoa(len(wl.Spec.InitContainers)) + "|" +
			strconv.Itoa(len(wl.Spec.Containers)) + "|" + strconv.Itoa(len(wl.Spec.EphemeralContainers))
	}
	if v, ok := anchorLists.Load(key); ok {
		return v.([]string)
	}
	a := []string{"", "metadata", "metadata.name", "metadata.namespace", "spec", "spec.selector", "spec.replicas",
		"spec.podSelector", "spec.scaleTargetRef.name"}
	if wl != nil {
		a = append(a, wl.SpecPath, wl.MetaPath, wl.MetaPath+".labels", wl.Field("serviceAccountName"),
			wl.Field("serviceAccount"), wl.Field("automountServiceAccountToken"))
		for _, c := range wl.Containers {
			a = append(a, c.Field("resources.requests.cpu"), c.Field("resources.requests.memory"),
				c.Field("resources.limits.cpu"), c.Field("resources.limits.memory"), c.Field("livenessProbe"), c.Field("readinessProbe"), c.Field("image"))
		}
	}
	v, _ := anchorLists.LoadOrStore(key, a)
	return v.([]string)
}

var anchorLists sync.Map // SpecPath|MetaPath -> []string

// locatedInside are the kinds whose cross-object findings point at fields
// no anchor covers (rules[3].verbs[0], subjects[1], an Ingress backend):
// they keep their positions unless they are large.
var locatedInside = map[string]bool{"Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true, "Ingress": true}

// finish builds the inventory and runs the cross-object controls. With a
// plan (a Rescan), it runs only the controls the plan selects, once the
// inventory is known.
func (e *Engine) finish(ws []*worker, plan func(*inventory.Inventory) map[*object.Object]Evaluation) *Result {
	res := &Result{}
	var entries []inventory.Entry
	anns := map[*object.Object][]annSuppression{}
	for _, w := range ws {
		entries = append(entries, w.entries...)
		for o, a := range w.anns {
			anns[o] = a
		}
	}
	// Workers deliver objects in any order; index them in input order
	// (objects without a position, from a cluster, by reference) so that
	// results do not depend on scheduling.
	slices.SortStableFunc(entries, func(x, y inventory.Entry) int {
		a, b := x.Object.Source, y.Object.Source
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Column, b.Column); c != 0 {
			return c // the items of a List on one line
		}
		if a.File != "" {
			return 0
		}
		return x.Object.Ref.Compare(y.Object.Ref)
	})
	inv := inventory.NewSized(len(entries))
	for _, en := range entries {
		inv.Add(en.Object, en.Workload)
	}
	res.Inventory = inv
	res.Objects = inv.Len()
	scopeOf := e.scopes(inv)
	for _, w := range ws {
		res.Objects += w.parsed
	}
	if plan != nil {
		res.Evaluated = plan(inv)
		var sel []inventory.Entry
		for _, en := range entries {
			if _, ok := res.Evaluated[en.Object]; ok {
				sel = append(sel, en)
			}
		}
		entries = sel
	}
	if (len(e.invCs) > 0 || plan != nil) && !e.parse && len(entries) > 0 {
		chunk := (len(entries) + e.workers - 1) / e.workers
		pws := make([]*worker, 0, e.workers)
		var wg sync.WaitGroup
		for start := 0; start < len(entries); start += chunk {
			part := entries[start:min(start+chunk, len(entries))]
			w := e.newWorker()
			pws = append(pws, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, en := range part {
					ev := Evaluation{All: true}
					if plan != nil {
						ev = res.Evaluated[en.Object]
						if ev.All {
							e.objectControls(w, en.Object, en.Workload, anns[en.Object])
						}
					}
					for _, c := range e.controlsFor(true, en.Object.Kind, en.Workload != nil) {
						if ev.ran(c.ID) && !c.Skips(en.Object.Kind, w.live) {
							e.run(w, c, en.Object, en.Workload, scopeOf(en.Object), anns[en.Object])
						}
					}
				}
			}()
		}
		wg.Wait()
		ws = append(ws, pws...)
	}
	collect(res, ws...)
	object.SortDiagnostics(res.Diagnostics)
	return res
}

// scopes returns, for each object, the inventory its cross-object controls
// read: the objects of its scope (see object.Object.Scope), or all of
// them when there is one scope or the engine was asked for one.
func (e *Engine) scopes(all *inventory.Inventory) func(*object.Object) *inventory.Inventory {
	one := func(*object.Object) *inventory.Inventory { return all }
	if e.oneScope {
		return one
	}
	if _, invs := inventory.ByScope(all); len(invs) > 1 {
		return func(o *object.Object) *inventory.Inventory { return invs[o.Scope] }
	}
	return one
}

// Stream evaluates objects while they are still being read (a cluster
// scan lists kinds concurrently): Add runs the per-object controls on the
// engine's workers, Finish the cross-object controls once all are in.
type Stream struct {
	e  *Engine
	in chan []*object.Object
	ws []*worker
	wg sync.WaitGroup
}

// Stream starts workers for objects that are already decoded (from a
// cluster, with Options.Live).
func (e *Engine) Stream() *Stream {
	s := &Stream{e: e, in: make(chan []*object.Object, 64)}
	for range e.workers {
		w := e.newWorker()
		s.ws = append(s.ws, w)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for objs := range s.in {
				for _, o := range objs {
					e.object(w, o, false)
				}
			}
		}()
	}
	return s
}

// Add hands objects to the workers; it is safe for concurrent use.
func (s *Stream) Add(objs []*object.Object) {
	if len(objs) > 0 {
		s.in <- objs
	}
}

// Finish waits for the objects added and evaluates the cross-object
// controls.
func (s *Stream) Finish() *Result {
	close(s.in)
	s.wg.Wait()
	return s.e.finish(s.ws, nil)
}
