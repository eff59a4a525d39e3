package userpolicy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gkapis "github.com/open-policy-agent/frameworks/constraint/pkg/apis"
	constraintclient "github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	gktypes "github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Gatekeeper's API groups: templates, and the constraints each template
// defines a kind of.
const (
	templatesGroup   = "templates.gatekeeper.sh"
	constraintsGroup = "constraints.gatekeeper.sh"
)

// RegoBudget bounds the review of one object (by all the constraints a
// client holds), as the CEL cost limit bounds a CEL policy.
var RegoBudget = 2 * time.Second

var gkScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := gkapis.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// gkTemplate is a ConstraintTemplate, decoded and checked.
type gkTemplate struct {
	ct *templates.ConstraintTemplate
	at object.Position
	// readsInventory: its Rego reads data.inventory, the objects
	// Gatekeeper replicates from the cluster.
	readsInventory bool
	// validator holds the template compiled with the engine that runs
	// it, to check its constraints against its schema while loading
	validator *constraintclient.Client
}

// gkConstraint is a Constraint with its template.
type gkConstraint struct {
	u    *unstructured.Unstructured
	tmpl *gkTemplate
	at   object.Position
	set  *Set
}

// gatekeeper holds what evaluates the set's constraints: those whose
// templates read no inventory by the client of the object's kind, those
// that read data.inventory by a client per inventory, built from their
// templates and constraints.
type gatekeeper struct {
	engines []string
	// key names the set's entries in the memos of inventories and passes
	key string
	// byKind holds, per API group and kind, a client with only the
	// constraints whose match.kinds may select that kind: Gatekeeper's
	// matcher decodes the object once per constraint it tries.
	byKind            sync.Map // schema.GroupKind -> *kindClient
	staticConstraints []*gkConstraint
	// the templates and constraints of the per-inventory clients
	invTemplates   []*templates.ConstraintTemplate
	invConstraints []*unstructured.Unstructured
}

// Engines says which of a template's code engines kubeguard runs when it
// carries more than one: Gatekeeper's default is its CEL engine
// (K8sNativeValidation), then Rego.
var Engines = []string{CELEngine, "Rego"}

// newGKClient returns a constraint framework client with Gatekeeper's
// Kubernetes target and the engines in the order of preference.
func newGKClient(engines []string) (*constraintclient.Client, error) {
	opts := []constraintclient.Opt{constraintclient.Targets(k8sTarget{&target.K8sValidationTarget{}}),
		constraintclient.EnforcementPoints("audit.gatekeeper.sh", "validation.gatekeeper.sh", "gator.gatekeeper.sh")}
	for _, e := range engines {
		switch e {
		case CELEngine:
			opts = append(opts, constraintclient.Driver(newCELDriver()))
		case "Rego":
			d, err := rego.New()
			if err != nil {
				return nil, err
			}
			opts = append(opts, constraintclient.Driver(d))
		}
	}
	return constraintclient.NewClient(opts...)
}

func isTemplate(o *object.Object) bool {
	return o.Ref.Group() == templatesGroup && o.Ref.Kind == "ConstraintTemplate"
}

func isConstraint(o *object.Object) bool { return o.Ref.Group() == constraintsGroup }

// loadTemplate decodes a ConstraintTemplate and compiles it, as
// Gatekeeper does before it creates the template's constraint kind.
func loadTemplate(o *object.Object, engines []string) (*gkTemplate, error) {
	u := &unstructured.Unstructured{Object: o.Content}
	typed, err := gkScheme.New(u.GroupVersionKind())
	if err != nil {
		return nil, fmt.Errorf("ConstraintTemplate %s: %v", o.Ref.Name, err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Content, typed, true); err != nil {
		return nil, fmt.Errorf("ConstraintTemplate %s: %v", o.Ref.Name, err)
	}
	v, ok := typed.(interface {
		ToVersionless() (*templates.ConstraintTemplate, error)
	})
	if !ok {
		return nil, fmt.Errorf("ConstraintTemplate %s: %s is not a template version kubeguard reads", o.Ref.Name, o.Ref.APIVersion)
	}
	ct, err := v.ToVersionless()
	if err != nil {
		return nil, fmt.Errorf("ConstraintTemplate %s: %v", o.Ref.Name, err)
	}
	kind := ct.Spec.CRD.Spec.Names.Kind
	if !strings.EqualFold(kind, ct.Name) {
		return nil, fmt.Errorf("ConstraintTemplate %s: its name must be its constraint kind (%s) in lower case", ct.Name, kind)
	}
	i := slices.IndexFunc(engines, func(e string) bool { return carries(ct, e) })
	if i < 0 {
		return nil, fmt.Errorf("ConstraintTemplate %s carries no code for the engines %v", ct.Name, engines)
	}
	t := &gkTemplate{ct: ct, at: o.Source}
	// every engine's code is compiled, not only the one that will run:
	// a broken engine is broken wherever the template goes
	for _, e := range []string{CELEngine, "Rego"} {
		if !carries(ct, e) {
			continue
		}
		c, err := newGKClient([]string{e})
		if err != nil {
			return nil, err
		}
		if _, err := c.AddTemplate(context.Background(), ct); err != nil {
			return nil, &positionedError{codeAt(o, e, err), fmt.Errorf("ConstraintTemplate %s does not compile (%s): %v", ct.Name, e, err)}
		}
		if e == engines[i] {
			t.validator = c
		}
	}
	for _, tg := range ct.Spec.Targets {
		for _, src := range append([]string{tg.Rego}, tg.Libs...) {
			t.readsInventory = t.readsInventory || strings.Contains(src, "data.inventory")
		}
		for _, code := range tg.Code {
			if code.Engine == "Rego" && code.Source != nil {
				t.readsInventory = t.readsInventory || strings.Contains(fmt.Sprint(code.Source.Value), "data.inventory")
			}
		}
	}
	return t, nil
}

// positionedError is an error in a part of an object, at that part.
type positionedError struct {
	at  object.Position
	err error
}

func (e *positionedError) Error() string { return e.err.Error() }

// celField is the field the first CEL compilation error names.
var celField = regexp.MustCompile(`(validations|variables)\[(\d+)\](\.expression|\.messageExpression)?: `)

// regoLine is the line OPA gives an error in a module.
var regoLine = regexp.MustCompile(`template:(\d+):`)

// codeAt is where an engine's code is in a template: its field, and for
// Rego the line of the module an error names. The legacy rego field,
// when set, is the Rego that is compiled.
func codeAt(o *object.Object, engine string, err error) object.Position {
	path := ""
	targets, _, _ := unstructured.NestedSlice(o.Content, "spec", "targets")
	for i, tg := range targets {
		m, _ := tg.(map[string]any)
		if legacy, _ := m["rego"].(string); engine == "Rego" && legacy != "" {
			path = fmt.Sprintf("spec.targets[%d].rego", i)
			break
		}
		code, _ := m["code"].([]any)
		for j, c := range code {
			if cm, _ := c.(map[string]any); cm["engine"] == engine {
				path = fmt.Sprintf("spec.targets[%d].code[%d].source", i, j)
				if engine == "Rego" {
					path += ".rego"
				}
				break
			}
		}
	}
	if m := celField.FindStringSubmatch(err.Error()); m != nil && engine == CELEngine && path != "" {
		path += fmt.Sprintf(".%s[%s]%s", m[1], m[2], m[3])
	}
	at := o.Locate(path)
	if m := regoLine.FindStringSubmatch(err.Error()); m != nil && engine == "Rego" && at != o.Source {
		// a block scalar starts on the line after its key
		if n, _ := strconv.Atoi(m[1]); n > 0 {
			at.Line += n
		}
	}
	return at
}

// carries says whether a template has code for an engine (the legacy
// rego field being Rego).
func carries(ct *templates.ConstraintTemplate, engine string) bool {
	for _, tg := range ct.Spec.Targets {
		if engine == "Rego" && tg.Rego != "" {
			return true
		}
		for _, c := range tg.Code {
			if c.Engine == engine {
				return true
			}
		}
	}
	return false
}

// loadGatekeeper turns templates and constraints into the set's
// constraints; a template that does not compile, a constraint without
// its template or against its schema are diagnostics naming them.
func (s *Set) loadGatekeeper(tmpls, cons []*object.Object) []object.Diagnostic {
	if len(tmpls) == 0 && len(cons) == 0 {
		return nil
	}
	var diags []object.Diagnostic
	errorAt := func(o *object.Object, err error) {
		diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityError, Message: err.Error()})
	}
	gk := &gatekeeper{engines: s.engines}
	gk.key = fmt.Sprintf("userpolicy/gatekeeper/%p", gk)
	byKind := map[string]*gkTemplate{}
	for _, o := range tmpls {
		t, err := loadTemplate(o, s.engines)
		if pe, ok := err.(*positionedError); ok {
			diags = append(diags, object.Diagnostic{Pos: pe.at, Severity: object.SeverityError, Message: pe.Error()})
			continue
		}
		if err != nil {
			errorAt(o, err)
			continue
		}
		kind := t.ct.Spec.CRD.Spec.Names.Kind
		if prev := byKind[kind]; prev != nil {
			diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityWarning,
				Message: fmt.Sprintf("ConstraintTemplate %s is defined again (first at %s); this one is used", t.ct.Name, prev.at)})
		}
		byKind[kind] = t
	}
	for _, t := range byKind {
		if t.readsInventory {
			gk.invTemplates = append(gk.invTemplates, t.ct)
		}
	}
	at := map[string]int{}
	for _, o := range cons {
		t := byKind[o.Ref.Kind]
		if t == nil {
			errorAt(o, fmt.Errorf("%s %s: no ConstraintTemplate defines the kind %s", o.Ref.Kind, o.Ref.Name, o.Ref.Kind))
			continue
		}
		c := &gkConstraint{u: &unstructured.Unstructured{Object: o.Content}, tmpl: t, at: o.Source, set: s}
		if _, err := t.validator.AddConstraint(context.Background(), c.u); err != nil {
			errorAt(o, fmt.Errorf("%s %s: %v", o.Ref.Kind, o.Ref.Name, err))
			continue
		}
		// kind and name are a constraint's identity in a cluster: the
		// last one read wins, as kubectl apply would make it
		key := o.Ref.Kind + "/" + o.Ref.Name
		if i, dup := at[key]; dup {
			diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityWarning,
				Message: fmt.Sprintf("%s %s is defined again (first at %s); this one is used", o.Ref.Kind, o.Ref.Name, s.constraints[i].at)})
			s.constraints[i] = c
			continue
		}
		at[key] = len(s.constraints)
		s.constraints = append(s.constraints, c)
	}
	for _, c := range s.constraints {
		if c.tmpl.readsInventory {
			gk.invConstraints = append(gk.invConstraints, c.u)
		} else {
			gk.staticConstraints = append(gk.staticConstraints, c)
		}
	}
	for _, t := range byKind {
		t.validator = nil // loading is done
	}
	s.gk = gk
	return diags
}

// ConstraintID is the control ID of a constraint: its kubeguard.io/id
// annotation, else GK-, its kind and its name.
func ConstraintID(u *unstructured.Unstructured) string {
	if id := u.GetAnnotations()[AnnotationID]; id != "" {
		return id
	}
	return "GK-" + strings.ToUpper(u.GetKind()+"-"+u.GetName())
}

func (s *Set) gkControl(c *gkConstraint) *control.Control {
	a := c.u.GetAnnotations()
	ta := c.tmpl.ct.GetAnnotations()
	sev := finding.Medium
	if v, err := finding.ParseSeverity(a[AnnotationSeverity]); err == nil {
		sev = v
	}
	title := a[AnnotationTitle]
	if title == "" {
		title = ta["metadata.gatekeeper.sh/title"]
		if title == "" {
			title = c.u.GetKind()
		}
		title += " (constraint " + c.u.GetName() + ")"
	}
	rationale := a[AnnotationRationale]
	if rationale == "" {
		rationale = strings.TrimSpace(ta["description"])
	}
	if rationale == "" {
		rationale = "The team's Gatekeeper constraint " + c.u.GetKind() + "/" + c.u.GetName() + ", evaluated as Gatekeeper evaluates it."
	}
	remediation := a[AnnotationRemediation]
	if remediation == "" {
		remediation = "Change the object so that the constraint holds (see each finding's message)."
	}
	ctl := &control.Control{ID: ConstraintID(c.u), Title: title, Severity: sev, Category: "policy", Rationale: rationale,
		Remediation: remediation, Refs: parseRefs(a[AnnotationFrameworks]), Scope: control.InventoryScope,
		Reads: []string{"Namespace"}, ReadsAllNamespaces: true,
		Check: c.check}
	ctl.ReadsContent = []string{control.AnyKind}
	if c.tmpl.readsInventory {
		ctl.Reads = nil // every kind
	}
	return ctl
}

// parseRefs reads a kubeguard.io/frameworks annotation, leaving out
// what is not FRAMEWORK:ID (Load says so).
func parseRefs(v string) []control.Ref {
	var refs []control.Ref
	for _, r := range strings.Split(v, ",") {
		fw, id, ok := strings.Cut(strings.TrimSpace(r), ":")
		if ok && id != "" && slices.Contains(control.Frameworks, control.Framework(fw)) {
			refs = append(refs, control.Ref{Framework: control.Framework(fw), ID: id})
		}
	}
	return refs
}

// inventoryClient is the client of the constraints that read
// data.inventory, with the inventory's objects added as Gatekeeper
// replicates a cluster's. An object under admission is not among them,
// as it is not yet in Gatekeeper's cache.
func (gk *gatekeeper) inventoryClient(engines []string, inv *inventory.Inventory) (*constraintclient.Client, error) {
	type built struct {
		cl  *constraintclient.Client
		err error
	}
	// the sentinel kind makes an overlay (an object under admission)
	// share its base's client
	b := inv.Memo(gk.key, []string{"\x00"}, func(inv *inventory.Inventory) any {
		cl, err := newGKClient(engines)
		if err != nil {
			return built{err: err}
		}
		ctx := context.Background()
		for _, t := range gk.invTemplates {
			if _, err := cl.AddTemplate(ctx, t); err != nil {
				return built{err: err}
			}
		}
		for _, c := range gk.invConstraints {
			if _, err := cl.AddConstraint(ctx, c); err != nil {
				return built{err: err}
			}
		}
		for _, e := range inv.Entries() {
			if e.Object.Content == nil {
				continue
			}
			if _, err := cl.AddData(ctx, &unstructured.Unstructured{Object: e.Object.Content}); err != nil {
				return built{err: fmt.Errorf("adding %s to data.inventory: %v", e.Object.Ref, err)}
			}
		}
		return built{cl: cl}
	}).(built)
	return b.cl, b.err
}

type kindClient struct {
	once sync.Once
	cl   *constraintclient.Client // nil: no constraint may select the kind
	err  error
}

// forKind returns the client of the constraints that may select objects
// of a group and kind, nil if there are none.
func (gk *gatekeeper) forKind(gkind schema.GroupKind) (*constraintclient.Client, error) {
	v, _ := gk.byKind.LoadOrStore(gkind, &kindClient{})
	kc := v.(*kindClient)
	kc.once.Do(func() {
		var cands []*gkConstraint
		for _, c := range gk.staticConstraints {
			if mayMatchKind(c.u, gkind) {
				cands = append(cands, c)
			}
		}
		if len(cands) == 0 {
			return
		}
		cl, err := newGKClient(gk.engines)
		if err != nil {
			kc.err = err
			return
		}
		ctx := context.Background()
		added := map[*gkTemplate]bool{}
		for _, c := range cands {
			if !added[c.tmpl] {
				added[c.tmpl] = true
				if _, err := cl.AddTemplate(ctx, c.tmpl.ct); err != nil {
					kc.err = err
					return
				}
			}
			if _, err := cl.AddConstraint(ctx, c.u); err != nil {
				kc.err = err
				return
			}
		}
		kc.cl = cl
	})
	return kc.cl, kc.err
}

// mayMatchKind says whether a constraint's match.kinds can select a
// group and kind, as Gatekeeper reads them: no (or an empty list of)
// kinds select every kind, an empty or "*" list of groups or kinds any.
func mayMatchKind(u *unstructured.Unstructured, gkind schema.GroupKind) bool {
	kinds, _, err := unstructured.NestedSlice(u.Object, "spec", "match", "kinds")
	if err != nil || len(kinds) == 0 {
		return true
	}
	includes := func(list []any, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if s, _ := x.(string); s == "*" || s == v {
				return true
			}
		}
		return false
	}
	for _, k := range kinds {
		m, _ := k.(map[string]any)
		groups, _ := m["apiGroups"].([]any)
		names, _ := m["kinds"].([]any)
		if includes(groups, gkind.Group) && includes(names, gkind.Kind) {
			return true
		}
	}
	return false
}

// reviewed is the outcome of reviewing one object against a client's
// constraints.
type reviewed struct {
	results []*gktypes.Result
	err     error
}

// check reports the constraint's violations on an object, as
// Gatekeeper's audit (or, for an object under admission, its webhook)
// finds them. The object is reviewed once for all the constraints of a
// client, by the first of them the engine runs.
func (c *gkConstraint) check(pass *control.Pass) {
	o := pass.Object
	if o.Content == nil {
		return
	}
	gk := c.set.gk
	var r reviewed
	if !c.tmpl.readsInventory {
		r = pass.ObjectMemo(gk.key, func() any {
			cl, err := gk.forKind(schema.GroupKind{Group: o.Ref.Group(), Kind: o.Ref.Kind})
			if cl == nil || err != nil {
				return reviewed{err: err}
			}
			res, err := review(cl, o, namespaceOf(o, pass.Inventory))
			return reviewed{res, err}
		}).(reviewed)
	} else {
		r = pass.ObjectMemo(fmt.Sprintf("%s/%p", gk.key, pass.Inventory), func() any {
			cl, err := gk.inventoryClient(c.set.engines, pass.Inventory)
			if err != nil {
				return reviewed{err: err}
			}
			res, err := review(cl, o, namespaceOf(o, pass.Inventory))
			return reviewed{res, err}
		}).(reviewed)
	}
	if r.err != nil {
		pass.Report("", "constraint %s/%s cannot be evaluated: %v", c.u.GetKind(), c.u.GetName(), r.err)
		return
	}
	for _, res := range r.results {
		if res.Constraint != nil && res.Constraint.GetKind() == c.u.GetKind() && res.Constraint.GetName() == c.u.GetName() {
			pass.ReportAction(enforcementAction(res), "%s", res.Msg)
		}
	}
}

// enforcementAction is what Gatekeeper's webhook does with a violation:
// a constraint's enforcementAction (deny by default), or for scoped
// ones the actions for its webhook enforcement point.
func enforcementAction(res *gktypes.Result) string {
	actions := []string{res.EnforcementAction}
	if res.EnforcementAction == "scoped" {
		actions = res.ScopedEnforcementActions
	}
	switch {
	case slices.Contains(actions, "deny") || slices.Contains(actions, ""):
		return finding.ActionDeny
	case slices.Contains(actions, "warn"):
		return finding.ActionWarn
	}
	return finding.ActionAudit
}

// review evaluates an object, with the request it came with if any
// (else as Gatekeeper's audit reviews a cached object: no operation).
func review(cl *constraintclient.Client, o *object.Object, ns *corev1.Namespace) ([]*gktypes.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), RegoBudget)
	defer cancel()
	var opts []reviews.ReviewOpt
	if ns != nil {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ns)
		if err != nil {
			return nil, err
		}
		opts = append(opts, reviews.Namespace(m))
	}
	in, err := newDecodedReview(o, ns)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Review(ctx, in, opts...)
	// the Rego engine turns an evaluation error into a violation whose
	// message is the error, as Gatekeeper denies on one
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("evaluation exceeded its budget of %v", RegoBudget)
	}
	if err != nil {
		return nil, err
	}
	results := resp.Results()
	slices.SortStableFunc(results, func(a, b *gktypes.Result) int { return strings.Compare(a.Msg, b.Msg) })
	return results, nil
}

// newDecodedReview is the admission request of an object: the one it
// came with, else a review of it as it stands.
func newDecodedReview(o *object.Object, ns *corev1.Namespace) (*decodedReview, error) {
	u := &unstructured.Unstructured{Object: o.Content}
	gvk := u.GroupVersionKind()
	r := &decodedReview{source: o, object: u, namespace: ns}
	r.Kind = metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	r.Name, r.Namespace = o.Ref.Name, o.Ref.Namespace
	raw, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	r.Object.Raw = raw
	if q := o.Request; q != nil {
		r.isAdmission = true
		r.Operation, r.SubResource, r.DryRun = admissionv1.Operation(q.Operation), q.SubResource, &q.DryRun
		r.UserInfo.Username, r.UserInfo.Groups, r.UserInfo.UID = q.User, q.Groups, q.UID
		if q.OldObject != nil {
			r.oldObject = &unstructured.Unstructured{Object: q.OldObject}
			if r.OldObject.Raw, err = r.oldObject.MarshalJSON(); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// namespaceOf is the namespace of an object for namespaceSelector: from
// the inventory, else one with only the label the API server gives
// every namespace.
func namespaceOf(o *object.Object, inv *inventory.Inventory) *corev1.Namespace {
	if o.Ref.Namespace == "" {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Ref.Namespace,
		Labels: map[string]string{corev1.LabelMetadataName: o.Ref.Namespace}}}
	if inv != nil {
		if e, ok := inv.Get("Namespace", "", o.Ref.Namespace); ok && e.Object.Content != nil {
			_ = runtime.DefaultUnstructuredConverter.FromUnstructured(e.Object.Content, ns)
		}
	}
	return ns
}
