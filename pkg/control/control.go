// Package control defines the catalog model: a Control is metadata plus a
// check function that receives a Pass. The same control runs unchanged on
// files, on a live cluster and on admission requests; it never knows which.
package control

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/internal/intern"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Framework names a hardening framework a control serves.
type Framework string

const (
	CIS   Framework = "CIS"   // CIS Kubernetes Benchmark
	NSA   Framework = "NSA"   // NSA/CISA Kubernetes Hardening Guidance
	PSS   Framework = "PSS"   // Pod Security Standards
	NIST  Framework = "NIST"  // NIST SP 800-190
	MITRE Framework = "MITRE" // MITRE ATT&CK for containers
	// CISDocker is the CIS Docker Benchmark (section 4: images and build files).
	CISDocker Framework = "CIS-Docker"
)

// Frameworks lists every framework, for help text and validation.
var Frameworks = []Framework{CIS, CISDocker, NSA, PSS, NIST, MITRE}

// Ref points at one item of a framework, e.g. {CIS, "5.2.2"} or
// {PSS, "baseline"}.
type Ref struct {
	Framework Framework `json:"framework"`
	ID        string    `json:"id"`
}

func (r Ref) String() string { return string(r.Framework) + " " + r.ID }

// RefKeys returns a control's references as FRAMEWORK:ID, the form
// configurations name them in.
func (c *Control) RefKeys() []string {
	out := make([]string, len(c.Refs))
	for i, r := range c.Refs {
		out[i] = string(r.Framework) + ":" + r.ID
	}
	return out
}

// Refs builds references from "FRAMEWORK:id" strings, e.g.
// Refs("CIS:5.2.2", "MITRE:T1611").
func Refs(refs ...string) []Ref {
	out := make([]Ref, 0, len(refs))
	for _, s := range refs {
		f, id, _ := strings.Cut(s, ":")
		out = append(out, Ref{Framework: Framework(f), ID: id})
	}
	return out
}

// Scope says what a check needs to see.
type Scope int

const (
	// ObjectScope checks look at one object at a time. They run while
	// input streams in, in parallel.
	ObjectScope Scope = iota
	// InventoryScope checks also read other objects (a ServiceAccount
	// referenced by a pod, NetworkPolicies selecting it); they run once the
	// whole inventory is known.
	InventoryScope
)

// Control is one entry of the catalog.
type Control struct {
	ID          string
	Title       string
	Severity    finding.Severity
	Category    string
	Rationale   string
	Remediation string
	Refs        []Ref
	Scope       Scope
	// WorkloadsOnly controls are only run on objects carrying a pod spec.
	WorkloadsOnly bool
	// Kinds, when set, are the only object kinds the control runs on
	// (Workloads: any object with a pod spec). The engine selects controls
	// per kind once, so a scan does not call every control on every
	// object.
	Kinds []string
	// FileKinds are kinds the control checks only in manifests, never in
	// a live cluster or at admission: a Secret holding data belongs in
	// the cluster, but not in git.
	FileKinds []string
	// ClusterOnly controls answer questions only a running cluster can
	// (a Node's addresses, a legacy token Secret the API server holds):
	// they run on objects read from a cluster, not on manifests.
	ClusterOnly bool
	// Reads, for cross-object controls, lists the kinds the check reads
	// from the inventory (Workloads for any object with a pod spec), so
	// that a controller re-evaluates an object when one of them changes.
	// Reads stay within the checked object's namespace (a Namespace's own
	// name for a Namespace) and cluster-scoped kinds, unless
	// ReadsAllNamespaces. A cross-object control without Reads is
	// re-evaluated on any change.
	Reads              []string
	ReadsAllNamespaces bool
	// ReadsContent are kinds whose whole content the check reads: the
	// inventory otherwise keeps only the identity and metadata of kinds
	// no built-in cross-object control reads, and of workloads what their
	// pod view holds. AnyKind keeps every object whole (a team's policy
	// reads the object it judges as the API server would see it).
	ReadsContent []string
	// SelfContained cross-object controls still answer from the object
	// alone when there is nothing else to read (a webhook without a
	// cluster inventory): what they read only ever clears a finding.
	SelfContained bool
	// NamespaceWide controls speak of a whole namespace. Without the
	// Namespace object in the input their finding hangs on a stable
	// anchor (the namespace's first workload by kind and name), whose
	// annotations cannot suppress it: one team's annotation must not
	// silence a namespace's finding, only the configuration (or the
	// Namespace's own annotation) can.
	NamespaceWide bool
	// External controls are reported by a front door that reads
	// something other than Kubernetes objects (image contents, audit
	// events): the engine never runs them on objects, but they share its
	// catalog, severities and suppressions. Their Kinds name what the
	// front door checks (ImageKind, AuditEventKind), so that a checklist
	// counts them only where that front door ran.
	External bool
	// CEL, when set, is the control as a ValidatingAdmissionPolicy
	// expression over a workload (see package policy): for clusters that
	// enforce without a webhook. The e2e tests hold it to the same verdicts
	// as Check.
	CEL   string
	Check func(*Pass)
	// Prepare, when set, builds what Check needs that is slow to build
	// (a compiled rule set). Engines start it in the background as they
	// are created, so that it overlaps with reading input or with a
	// webhook's start rather than delaying the first check. It must be
	// safe to call more than once and concurrently with Check.
	Prepare func()
}

// The kinds External controls check, as reports list them.
const (
	ImageKind      = "Image"
	AuditEventKind = "AuditEvent"
	// NodeHostKind is a node's host (its files, processes and kernel), as
	// kubeguard node reads it; the findings are about the Node.
	NodeHostKind = "NodeHost"
)

// In Reads, Workloads stands for every object that carries a pod spec,
// AnyKind for every kind.
const (
	Workloads = inventory.AnyWorkload
	AnyKind   = "*"
)

// DependsOn reports whether the findings of the control on an object in
// namespace checkedNS can change when an object of kind in namespace ns
// changes (workload: it carries a pod spec). checkedNS is "" for a
// cluster-scoped object, which depends on every namespace.
func (c *Control) DependsOn(kind string, workload bool, ns, checkedNS string) bool {
	if c.Scope != InventoryScope {
		return false
	}
	if c.Reads == nil {
		return true
	}
	if !slices.Contains(c.Reads, kind) && !slices.Contains(c.Reads, AnyKind) && !(workload && slices.Contains(c.Reads, Workloads)) {
		return false
	}
	return c.ReadsAllNamespaces || ns == "" || checkedNS == "" || ns == checkedNS
}

// OnlyInFiles reports whether the control skips objects of kind outside
// of manifests.
func (c *Control) OnlyInFiles(kind string) bool { return slices.Contains(c.FileKinds, kind) }

// Skips reports whether the control does not run on an object of kind
// read from a cluster (live) or from files.
func (c *Control) Skips(kind string, live bool) bool {
	if live {
		return c.OnlyInFiles(kind)
	}
	return c.ClusterOnly
}

// RefsFor returns the ids of framework f this control maps to.
func (c *Control) RefsFor(f Framework) []string {
	var out []string
	for _, r := range c.Refs {
		if r.Framework == f {
			out = append(out, r.ID)
		}
	}
	return out
}

// Pass is what a check receives: one object, its workload view if it has
// a pod spec, the inventory, and a way to report.
type Pass struct {
	Control   *Control
	Object    *object.Object
	Workload  *inventory.Workload // nil unless the object carries a pod spec
	Inventory *inventory.Inventory
	// Now is the time of the scan, for checks on dates (certificates);
	// zero means the wall clock.
	Now time.Time
	// Messages, when set, keeps one copy of each formatted finding
	// message: a large scan formats a few thousand distinct messages
	// hundreds of thousands of times, into buf.
	Messages *intern.Table
	buf      []byte
	report   func(finding.Finding)
	// memo is ObjectMemo's, kept while the pass stays on memoOf
	memoOf *object.Object
	memo   map[string]any
}

// ObjectMemo returns what build computes for key on the current object,
// computing it once while the engine runs one control after another on
// that object (it does so per worker): controls that share an expensive
// evaluation of the object (a team's constraints, reviewed together)
// compute it once. A value is recomputed if the object comes back later.
func (p *Pass) ObjectMemo(key string, build func() any) any {
	if p.memoOf != p.Object {
		p.memoOf, p.memo = p.Object, nil
	}
	if v, ok := p.memo[key]; ok {
		return v
	}
	v := build()
	if p.memo == nil {
		p.memo = map[string]any{}
	}
	p.memo[key] = v
	return v
}

// NewPass is used by the engine and by tests.
func NewPass(c *Control, o *object.Object, w *inventory.Workload, inv *inventory.Inventory, report func(finding.Finding)) *Pass {
	return &Pass{Control: c, Object: o, Workload: w, Inventory: inv, report: report}
}

// Reset points a pass at another control and object, so that the engine
// reuses one pass per worker instead of allocating one per check; the
// time, the message table and the buffer stay. A check must not keep its
// pass.
// Clock is the time of the scan, or the present when the pass was made
// without one.
func (p *Pass) Clock() time.Time {
	if p.Now.IsZero() {
		return time.Now()
	}
	return p.Now
}

func (p *Pass) Reset(c *Control, o *object.Object, w *inventory.Workload, inv *inventory.Inventory, report func(finding.Finding)) {
	*p = Pass{Control: c, Object: o, Workload: w, Inventory: inv, Now: p.Now, Messages: p.Messages, buf: p.buf, report: report,
		memoOf: p.memoOf, memo: p.memo}
}

// AppliesTo reports whether the control runs on an object of this kind,
// with or without a workload view.
func (c *Control) AppliesTo(kind string, workload bool) bool {
	if c.WorkloadsOnly && !workload {
		return false
	}
	if len(c.Kinds) == 0 {
		return true
	}
	for _, k := range c.Kinds {
		if k == kind || k == Workloads && workload {
			return true
		}
	}
	return false
}

// Report records a finding at the field path of the current object.
func (p *Pass) Report(path, format string, args ...any) {
	p.ReportContainer("", path, format, args...)
}

// ReportContainer records a finding about one container, so that
// suppressions can be scoped to it.
func (p *Pass) ReportContainer(container, path, format string, args ...any) {
	p.report(p.finding(container, path, format, args))
}

// ReportAction records a finding on the object as a whole with the
// admission action a team's policy asks for (finding.ActionDeny, ...).
func (p *Pass) ReportAction(action, format string, args ...any) {
	f := p.finding("", "", format, args)
	f.Action = action
	p.report(f)
}

func (p *Pass) finding(container, path, format string, args []any) finding.Finding {
	msg := format
	switch {
	case len(args) == 0:
	case p.Messages != nil:
		p.buf = fmt.Appendf(p.buf[:0], format, args...)
		msg = p.Messages.Bytes(p.buf)
	default:
		msg = fmt.Sprintf(format, args...)
	}
	return finding.Finding{
		ControlID: p.Control.ID,
		Severity:  p.Control.Severity,
		Object:    p.Object.Ref,
		Container: container,
		Path:      path,
		Position:  p.Object.Locate(path),
		ObjectAt:  p.Object.Source,
		Rendered:  p.Object.RenderedAt(path),
		Origin:    p.Object.Origin,
		Message:   msg,
	}
}

// Catalog is an ordered set of controls with unique IDs.
type Catalog struct {
	list []*Control
	byID map[string]*Control
}

// NewCatalog builds a catalog; it panics on duplicate or malformed
// controls because that is a programming error caught by every test run.
func NewCatalog(controls ...*Control) *Catalog {
	c := &Catalog{byID: map[string]*Control{}}
	for _, ctl := range controls {
		if ctl.ID == "" || (ctl.Check == nil) != ctl.External || ctl.External && len(ctl.Kinds) == 0 || ctl.Severity == 0 || ctl.Title == "" {
			panic(fmt.Sprintf("control %q is incomplete", ctl.ID))
		}
		if _, dup := c.byID[ctl.ID]; dup {
			panic("duplicate control " + ctl.ID)
		}
		c.byID[ctl.ID] = ctl
		c.list = append(c.list, ctl)
	}
	sort.SliceStable(c.list, func(i, j int) bool { return c.list[i].ID < c.list[j].ID })
	return c
}

// All returns the controls ordered by ID.
func (c *Catalog) All() []*Control { return c.list }

// Get returns the control with the given ID (case-insensitive).
func (c *Catalog) Get(id string) (*Control, bool) {
	ctl, ok := c.byID[id]
	if !ok {
		ctl, ok = c.byID[strings.ToUpper(id)]
	}
	return ctl, ok
}

// MatchID reports whether id matches pattern: an ID, or a glob such as
// PSS-* (case-insensitive), as flags, annotations and configurations name
// controls.
func MatchID(pattern, id string) bool {
	ok, _ := path.Match(strings.ToUpper(pattern), strings.ToUpper(id))
	return ok
}

// Match returns the controls whose ID matches pattern (see MatchID).
func (c *Catalog) Match(pattern string) []*Control {
	var out []*Control
	for _, ctl := range c.list {
		if MatchID(pattern, ctl.ID) {
			out = append(out, ctl)
		}
	}
	return out
}

// Validate returns an error naming every ID or pattern that matches no
// control.
func (c *Catalog) Validate(ids []string) error {
	var bad []string
	for _, id := range ids {
		if len(c.Match(id)) == 0 {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("unknown control ID %s (see `kubeguard controls`)", strings.Join(bad, ", "))
	}
	return nil
}
