// Package userpolicy turns a team's own policies into controls of the
// catalog: ValidatingAdmissionPolicies with their bindings and parameter
// objects, evaluated with the API server's own CEL admission library, so
// that a policy judges a manifest in CI as the cluster would judge it at
// admission.
package userpolicy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	celplugin "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/matching"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Annotations on a ValidatingAdmissionPolicy that describe it as a
// control; without them the control is named after the policy.
const (
	AnnotationID          = "kubeguard.io/id"
	AnnotationTitle       = "kubeguard.io/title"
	AnnotationSeverity    = "kubeguard.io/severity"
	AnnotationRemediation = "kubeguard.io/remediation"
	AnnotationRationale   = "kubeguard.io/rationale"
	// AnnotationFrameworks lists references as FRAMEWORK:ID, comma
	// separated (CIS:5.2.2, NSA:pod-security).
	AnnotationFrameworks = "kubeguard.io/frameworks"
)

// policy is a compiled ValidatingAdmissionPolicy and its bindings.
type policy struct {
	vap      *admissionregistrationv1.ValidatingAdmissionPolicy
	bindings []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	compiled *compiled
	at       object.Position
}

// Set is the policies read from manifests, and the objects their
// bindings may name as parameters.
type Set struct {
	policies    []*policy
	constraints []*gkConstraint
	gk          *gatekeeper
	engines     []string
	params      []*object.Object
	// live are the bindings read from a cluster rather than a file
	live map[*admissionregistrationv1.ValidatingAdmissionPolicyBinding]bool
}

var vapGV = admissionregistrationv1.SchemeGroupVersion.String()

// Load reads the ValidatingAdmissionPolicies and their bindings among
// objects (the others may serve as parameters). A policy that does not
// decode or compile, a binding without its policy, and a policy without a
// binding (which the API server never evaluates) are diagnostics.
func Load(objs []*object.Object) (*Set, []object.Diagnostic) { return LoadEngines(objs, Engines) }

// LoadEngines is Load with Gatekeeper templates run by the first of
// engines they carry code for.
func LoadEngines(objs []*object.Object, engines []string) (*Set, []object.Diagnostic) {
	s := &Set{live: map[*admissionregistrationv1.ValidatingAdmissionPolicyBinding]bool{}, engines: engines}
	var diags []object.Diagnostic
	byName := map[string]*policy{}
	var bindings, tmpls, cons []*object.Object
	for _, o := range objs {
		switch {
		case isTemplate(o):
			tmpls = append(tmpls, o)
		case isConstraint(o):
			cons = append(cons, o)
		case o.Ref.APIVersion == vapGV && o.Ref.Kind == "ValidatingAdmissionPolicy":
			var vap admissionregistrationv1.ValidatingAdmissionPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Content, &vap); err != nil {
				diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityError, Message: fmt.Sprintf("ValidatingAdmissionPolicy %s: %v", o.Ref.Name, err)})
				continue
			}
			defaultPolicy(&vap)
			c, err := compile(&vap)
			p := &policy{vap: &vap, compiled: c, at: o.Source}
			if err != nil {
				diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityError, Message: fmt.Sprintf("ValidatingAdmissionPolicy %s does not compile: %v", vap.Name, err)})
				continue
			}
			if prev := byName[vap.Name]; prev != nil {
				diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityWarning,
					Message: fmt.Sprintf("ValidatingAdmissionPolicy %s is defined again (first at %s); this one is used", vap.Name, prev.at)})
				s.policies = slices.DeleteFunc(s.policies, func(q *policy) bool { return q == prev })
			}
			byName[vap.Name] = p
			s.policies = append(s.policies, p)
			diags = append(diags, checkAnnotations(&vap, o.Source)...)
		case o.Ref.APIVersion == vapGV && o.Ref.Kind == "ValidatingAdmissionPolicyBinding":
			bindings = append(bindings, o)
		default:
			s.params = append(s.params, o)
		}
	}
	for _, o := range bindings {
		var b admissionregistrationv1.ValidatingAdmissionPolicyBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Content, &b); err != nil {
			diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityError, Message: fmt.Sprintf("ValidatingAdmissionPolicyBinding %s: %v", o.Ref.Name, err)})
			continue
		}
		defaultBinding(&b)
		p := byName[b.Spec.PolicyName]
		if p == nil {
			diags = append(diags, object.Diagnostic{Pos: o.Source, Severity: object.SeverityError,
				Message: fmt.Sprintf("ValidatingAdmissionPolicyBinding %s binds policy %q, which is not among the policies read", b.Name, b.Spec.PolicyName)})
			continue
		}
		p.bindings = append(p.bindings, &b)
		s.live[&b] = o.Source.File == ""
	}
	for _, p := range s.policies {
		if len(p.bindings) == 0 {
			diags = append(diags, object.Diagnostic{Pos: p.at, Severity: object.SeverityWarning,
				Message: fmt.Sprintf("ValidatingAdmissionPolicy %s has no binding: the API server never evaluates it, nor does kubeguard", p.vap.Name)})
		}
	}
	diags = append(diags, s.loadGatekeeper(tmpls, cons)...)
	return s, diags
}

// checkAnnotations says which of a policy's kubeguard.io annotations
// cannot be used: the control then falls back to its default.
func checkAnnotations(vap *admissionregistrationv1.ValidatingAdmissionPolicy, at object.Position) []object.Diagnostic {
	var out []object.Diagnostic
	if v := vap.Annotations[AnnotationSeverity]; v != "" {
		if _, err := finding.ParseSeverity(v); err != nil {
			out = append(out, object.Diagnostic{Pos: at, Severity: object.SeverityWarning,
				Message: fmt.Sprintf("ValidatingAdmissionPolicy %s: %s: %v; the control is medium", vap.Name, AnnotationSeverity, err)})
		}
	}
	for _, r := range strings.Split(vap.Annotations[AnnotationFrameworks], ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		fw, id, ok := strings.Cut(r, ":")
		if !ok || id == "" || !slices.Contains(control.Frameworks, control.Framework(fw)) {
			out = append(out, object.Diagnostic{Pos: at, Severity: object.SeverityWarning,
				Message: fmt.Sprintf("ValidatingAdmissionPolicy %s: %s: %q is not FRAMEWORK:ID with a framework of %v; left out", vap.Name, AnnotationFrameworks, r, control.Frameworks)})
		}
	}
	return out
}

// defaultPolicy and defaultBinding set the defaults the API server gives
// these objects when they are created: every namespace and object
// selected, Equivalent matching, any scope, failure policy Fail.
func defaultPolicy(vap *admissionregistrationv1.ValidatingAdmissionPolicy) {
	if vap.Spec.FailurePolicy == nil {
		fail := admissionregistrationv1.Fail
		vap.Spec.FailurePolicy = &fail
	}
	if vap.Spec.MatchConstraints == nil {
		vap.Spec.MatchConstraints = &admissionregistrationv1.MatchResources{}
	}
	defaultMatch(vap.Spec.MatchConstraints)
}

func defaultBinding(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	if b.Spec.MatchResources != nil {
		defaultMatch(b.Spec.MatchResources)
	}
	if r := b.Spec.ParamRef; r != nil && r.ParameterNotFoundAction == nil {
		deny := admissionregistrationv1.DenyAction
		r.ParameterNotFoundAction = &deny
	}
}

func defaultMatch(m *admissionregistrationv1.MatchResources) {
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
	if m.MatchPolicy == nil {
		eq := admissionregistrationv1.Equivalent
		m.MatchPolicy = &eq
	}
	for _, rules := range [][]admissionregistrationv1.NamedRuleWithOperations{m.ResourceRules, m.ExcludeResourceRules} {
		for i := range rules {
			if rules[i].Scope == nil {
				all := admissionregistrationv1.AllScopes
				rules[i].Scope = &all
			}
		}
	}
}

// compiled is a policy's expressions, compiled as the API server's
// validating admission plugin compiles them.
type compiled struct {
	validations, messages celplugin.ConditionEvaluator
	matcher               matchconditions.Matcher
	failurePolicy         admissionregistrationv1.FailurePolicyType
}

// The expressions of a policy, as the CEL library takes them.
type (
	validation  struct{ expression, message string }
	messageExpr string
	variable    struct{ name, expression string }
)

func (v *validation) GetExpression() string    { return v.expression }
func (v *validation) ReturnTypes() []*cel.Type { return []*cel.Type{cel.BoolType} }
func (m messageExpr) GetExpression() string    { return string(m) }
func (m messageExpr) ReturnTypes() []*cel.Type { return []*cel.Type{cel.StringType} }

// auditValue is an auditAnnotation's valueExpression: a string, or null
// for no annotation.
type auditValue string

func (a auditValue) GetExpression() string    { return string(a) }
func (a auditValue) ReturnTypes() []*cel.Type { return []*cel.Type{cel.StringType, cel.NullType} }
func (v *variable) GetExpression() string     { return v.expression }
func (v *variable) ReturnTypes() []*cel.Type  { return []*cel.Type{cel.AnyType, cel.DynType} }
func (v *variable) GetName() string           { return v.name }

// celSource is what a CEL policy is compiled from: a
// ValidatingAdmissionPolicy's spec, or the K8sNativeValidation code of a
// Gatekeeper template.
type celSource struct {
	name            string
	variables       []variable
	matchConditions []admissionregistrationv1.MatchCondition
	validations     []admissionregistrationv1.Validation
	// auditAnnotations are compiled, so that one the API server would
	// refuse is an error; their values are not evaluated
	auditAnnotations []admissionregistrationv1.AuditAnnotation
	failurePolicy    admissionregistrationv1.FailurePolicyType
	hasParams        bool
	// builtinVariables come first in variables and are not the
	// policy's own: errors number the policy's from 0
	builtinVariables int
	// paramsInVariablesOnly hides params from all but the variables, as
	// Gatekeeper does: its templates read variables.params.
	paramsInVariablesOnly bool
}

// compile compiles a policy's variables, match conditions, validations
// and message expressions with params and the authorizer declared. The
// API server refuses a policy whose expressions do not compile, so an
// error is returned for those.
func compile(vap *admissionregistrationv1.ValidatingAdmissionPolicy) (*compiled, error) {
	src := celSource{name: vap.Name, matchConditions: vap.Spec.MatchConditions, validations: vap.Spec.Validations,
		auditAnnotations: vap.Spec.AuditAnnotations, failurePolicy: *vap.Spec.FailurePolicy, hasParams: vap.Spec.ParamKind != nil}
	for _, v := range vap.Spec.Variables {
		src.variables = append(src.variables, variable{v.Name, v.Expression})
	}
	return src.compile()
}

func (src *celSource) compile() (*compiled, error) {
	vars := celplugin.OptionalVariableDeclarations{HasParams: src.hasParams, HasAuthorizer: true}
	exprVars := vars
	messageVars := celplugin.OptionalVariableDeclarations{HasParams: src.hasParams}
	if src.paramsInVariablesOnly {
		exprVars.HasParams, messageVars.HasParams = false, false
	}
	compiler, err := celplugin.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return nil, err
	}
	var errs []string
	note := func(what string, r celplugin.CompilationResult) {
		if r.Error != nil {
			errs = append(errs, what+": "+r.Error.Detail)
		}
	}
	for i := range src.variables {
		what := fmt.Sprintf("variables[%d]", i-src.builtinVariables)
		if i < src.builtinVariables {
			what = "built-in variable " + src.variables[i].name
		}
		note(what, compiler.CompileAndStoreVariable(&src.variables[i], vars, environment.StoredExpressions))
	}
	fp := src.failurePolicy
	c := &compiled{failurePolicy: fp}
	if mc := src.matchConditions; len(mc) > 0 {
		exprs := make([]celplugin.ExpressionAccessor, len(mc))
		for i := range mc {
			exprs[i] = (*matchconditions.MatchCondition)(&mc[i])
			note(fmt.Sprintf("matchConditions[%d]", i), compiler.CompileCELExpression(exprs[i], exprVars, environment.StoredExpressions))
		}
		c.matcher = matchconditions.NewMatcher(compiler.CompileCondition(exprs, exprVars, environment.StoredExpressions), &fp, "policy", "validate", src.name)
	}
	validations := make([]celplugin.ExpressionAccessor, len(src.validations))
	messages := make([]celplugin.ExpressionAccessor, len(src.validations))
	for i, v := range src.validations {
		validations[i] = &validation{v.Expression, v.Message}
		note(fmt.Sprintf("validations[%d].expression", i), compiler.CompileCELExpression(validations[i], exprVars, environment.StoredExpressions))
		if v.MessageExpression != "" {
			messages[i] = messageExpr(v.MessageExpression)
			note(fmt.Sprintf("validations[%d].messageExpression", i), compiler.CompileCELExpression(messages[i], messageVars, environment.StoredExpressions))
		}
	}
	for i, a := range src.auditAnnotations {
		note(fmt.Sprintf("auditAnnotations[%d].valueExpression", i), compiler.CompileCELExpression(auditValue(a.ValueExpression), exprVars, environment.StoredExpressions))
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	c.validations = compiler.CompileCondition(validations, exprVars, environment.StoredExpressions)
	c.messages = compiler.CompileCondition(messages, messageVars, environment.StoredExpressions)
	return c, nil
}

// denial is a validation that fails, or an evaluation error under
// failurePolicy Fail.
type denial struct{ message string }

// evaluate judges one request with one parameter, as the API server's
// validator does: match conditions, then every validation, the message
// of a failed one from its messageExpression (a single line), else its
// message, else its expression.
func (c *compiled) evaluate(ctx context.Context, gvr schema.GroupVersionResource, attr *admission.VersionedAttributes, params runtime.Object, ns *corev1.Namespace) []denial {
	onError := func(err error) []denial {
		if c.failurePolicy == admissionregistrationv1.Ignore {
			return nil
		}
		return []denial{{err.Error()}}
	}
	if c.matcher != nil {
		m := c.matcher.Match(ctx, attr, params, nil)
		if m.Error != nil {
			return onError(m.Error)
		}
		if !m.Matches {
			return nil
		}
	}
	req := celplugin.CreateAdmissionRequest(attr.Attributes, metav1.GroupVersionResource(gvr), metav1.GroupVersionKind(attr.VersionedKind))
	nsObj := celplugin.CreateNamespaceObject(ns)
	results, remaining, err := c.validations.ForInput(ctx, attr, req, celplugin.OptionalVariableBindings{VersionedParams: params}, nsObj, celconfig.RuntimeCELCostBudget)
	if err != nil {
		return onError(err)
	}
	// message expressions only for a failed validation: they run in an
	// activation of their own, which computes the variables again
	var messages []celplugin.EvaluationResult
	if slices.ContainsFunc(results, func(r celplugin.EvaluationResult) bool { return r.Error == nil && r.EvalResult != celtypes.True }) {
		messages, _, _ = c.messages.ForInput(ctx, attr, req, celplugin.OptionalVariableBindings{VersionedParams: params}, nsObj, remaining)
	}
	var out []denial
	for i, r := range results {
		if r.Error != nil {
			out = append(out, onError(r.Error)...)
			continue
		}
		if r.EvalResult == celtypes.True {
			continue
		}
		v := r.ExpressionAccessor.(*validation)
		var msg string
		if i < len(messages) && messages[i].Error == nil && messages[i].EvalResult != nil {
			if s, ok := messages[i].EvalResult.Value().(string); ok && !strings.Contains(s, "\n") && len(s) <= celconfig.MaxEvaluatedMessageExpressionSizeBytes {
				msg = strings.TrimSpace(s)
			}
		}
		if msg == "" {
			msg = strings.TrimSpace(v.message)
		}
		if msg == "" {
			msg = "failed expression: " + strings.TrimSpace(v.expression)
		}
		out = append(out, denial{msg})
	}
	return out
}

// criteria is what matches a request: a policy's constraints or a
// binding's resources.
type criteria struct {
	m *admissionregistrationv1.MatchResources
}

func (c criteria) GetParsedNamespaceSelector() (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(c.m.NamespaceSelector)
}
func (c criteria) GetParsedObjectSelector() (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(c.m.ObjectSelector)
}
func (c criteria) GetMatchResources() admissionregistrationv1.MatchResources { return *c.m }

// Controls returns a control per bound policy.
func (s *Set) Controls() []*control.Control {
	var out []*control.Control
	for _, p := range s.policies {
		if len(p.bindings) == 0 {
			continue
		}
		out = append(out, s.control(p))
	}
	for _, c := range s.constraints {
		out = append(out, s.gkControl(c))
	}
	return out
}

// ID is the control ID of a policy: its kubeguard.io/id annotation, else
// VAP- and its name.
func ID(vap *admissionregistrationv1.ValidatingAdmissionPolicy) string {
	if id := vap.Annotations[AnnotationID]; id != "" {
		return id
	}
	return "VAP-" + strings.ToUpper(vap.Name)
}

func (s *Set) control(p *policy) *control.Control {
	a := p.vap.Annotations
	sev := finding.Medium
	if v, err := finding.ParseSeverity(a[AnnotationSeverity]); err == nil {
		sev = v
	}
	title := a[AnnotationTitle]
	if title == "" {
		title = "ValidatingAdmissionPolicy " + p.vap.Name
	}
	rationale := a[AnnotationRationale]
	if rationale == "" {
		rationale = "The team's ValidatingAdmissionPolicy " + p.vap.Name + ", evaluated as the API server evaluates it at admission."
	}
	remediation := a[AnnotationRemediation]
	if remediation == "" {
		remediation = "Change the object so that the policy's validations hold (see each finding's message)."
	}
	c := &control.Control{ID: ID(p.vap), Title: title, Severity: sev, Category: "policy", Rationale: rationale,
		Remediation: remediation, Refs: parseRefs(a[AnnotationFrameworks]), Scope: control.InventoryScope, Reads: []string{"Namespace"}, ReadsAllNamespaces: true,
		Check: func(pass *control.Pass) { s.check(p, pass) }}
	// it judges the object whole, and reads its parameters
	c.ReadsContent = []string{control.AnyKind}
	if k := p.vap.Spec.ParamKind; k != nil {
		c.Reads = append(c.Reads, k.Kind)
	}
	return c
}

var objectInterfaces = admission.NewObjectInterfacesFromScheme(runtime.NewScheme())

func policyMatcher(inv *inventory.Inventory) *matching.Matcher {
	return inv.Memo("userpolicy/matcher", []string{"Namespace"}, func(inv *inventory.Inventory) any {
		idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
		for _, e := range inv.OfKind("Namespace") {
			var ns corev1.Namespace
			if runtime.DefaultUnstructuredConverter.FromUnstructured(e.Object.Content, &ns) == nil {
				idx.Add(&ns)
			}
		}
		return matching.NewMatcher(listersv1.NewNamespaceLister(idx), nil)
	}).(*matching.Matcher)
}

// check evaluates a policy on an object as a CREATE of it would be
// judged: the policy's match constraints, then each binding's match
// resources and parameters.
func (s *Set) check(p *policy, pass *control.Pass) {
	o := pass.Object
	gv, err := schema.ParseGroupVersion(o.Ref.APIVersion)
	if err != nil {
		return
	}
	attr := objectAttributes(o, gv.WithKind(o.Ref.Kind))
	m := policyMatcher(pass.Inventory)
	ok, matchedGVR, matchedGVK, err := m.Matches(attr, objectInterfaces, criteria{p.vap.Spec.MatchConstraints})
	if err != nil {
		pass.Report("", "policy %s cannot be matched against the object: %v", p.vap.Name, err)
		return
	}
	if !ok {
		return
	}
	nsObj := namespaceOf(o, pass.Inventory)
	versioned, err := admission.NewVersionedAttributes(attr, matchedGVK, objectInterfaces)
	if err != nil {
		pass.Report("", "policy %s cannot read the object: %v", p.vap.Name, err)
		return
	}
	for _, b := range p.bindings {
		if b.Spec.MatchResources != nil {
			if ok, _, _, err := m.Matches(attr, objectInterfaces, criteria{b.Spec.MatchResources}); err != nil || !ok {
				continue
			}
		}
		params, missing := s.paramsFor(p.vap, b, o.Ref.Namespace, pass.Inventory)
		if missing != "" {
			pass.ReportAction(bindingAction(b), "%s (binding %s)", missing, b.Name)
			continue
		}
		for _, param := range params {
			for _, d := range p.compiled.evaluate(context.Background(), matchedGVR, versioned, param, nsObj) {
				pass.ReportAction(bindingAction(b), "%s (%s, binding %s)", d.message, actions(b), b.Name)
			}
		}
	}
}

// bindingAction is what the API server does with a binding's failed
// validation: deny if Deny is among its actions, else warn if Warn is,
// else only audit.
func bindingAction(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) string {
	switch {
	case slices.Contains(b.Spec.ValidationActions, admissionregistrationv1.Deny):
		return finding.ActionDeny
	case slices.Contains(b.Spec.ValidationActions, admissionregistrationv1.Warn):
		return finding.ActionWarn
	}
	return finding.ActionAudit
}

func actions(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) string {
	var out []string
	for _, a := range b.Spec.ValidationActions {
		out = append(out, string(a))
	}
	return strings.Join(out, ", ")
}

// paramsFor finds a binding's parameters among the objects under
// evaluation and those read with the policies, as the API server would: by name
// (in the object's namespace when the binding names none) or by
// selector. A policy without a paramKind gets one nil
// parameter. missing says why no parameter applies, unless the binding
// allows that (parameterNotFoundAction: Allow).
func (s *Set) paramsFor(vap *admissionregistrationv1.ValidatingAdmissionPolicy, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, ns string, inv *inventory.Inventory) ([]runtime.Object, string) {
	kind := vap.Spec.ParamKind
	if kind == nil {
		return []runtime.Object{nil}, ""
	}
	ref := b.Spec.ParamRef
	if ref == nil {
		return nil, fmt.Sprintf("policy %s has a paramKind but binding %s no paramRef", vap.Name, b.Name)
	}
	var out []runtime.Object
	// the objects under evaluation first: a live parameter wins over the
	// copy read with the policies
	var candidates []*object.Object
	seen := map[object.Ref]bool{}
	for _, e := range inv.OfKind(kind.Kind) {
		candidates = append(candidates, e.Object)
		seen[e.Object.Ref] = true
	}
	for _, o := range s.params {
		if !seen[o.Ref] {
			candidates = append(candidates, o)
		}
	}
	for _, o := range candidates {
		if o.Ref.APIVersion != kind.APIVersion || o.Ref.Kind != kind.Kind {
			continue
		}
		want := ref.Namespace
		if want == "" {
			want = ns
		}
		if o.Ref.Namespace != "" && o.Ref.Namespace != want {
			continue
		}
		switch {
		case ref.Name != "":
			if o.Ref.Name != ref.Name {
				continue
			}
		case ref.Selector != nil:
			sel, err := metav1.LabelSelectorAsSelector(ref.Selector)
			if err != nil || !sel.Matches(labels.Set(o.Metadata("labels"))) {
				continue
			}
		}
		out = append(out, &unstructured.Unstructured{Object: o.Content})
	}
	if len(out) == 0 {
		if ref.ParameterNotFoundAction != nil && *ref.ParameterNotFoundAction == admissionregistrationv1.AllowAction {
			return nil, ""
		}
		what := kind.Kind + " " + ref.Name
		if ref.Name == "" {
			what = kind.Kind + " matching the binding's selector"
		}
		return nil, fmt.Sprintf("no parameter %s was read, and the binding denies without one", what)
	}
	slices.SortFunc(out, func(a, b runtime.Object) int {
		return strings.Compare(a.(*unstructured.Unstructured).GetName(), b.(*unstructured.Unstructured).GetName())
	})
	return out, ""
}

// ParamRef is a parameter a binding read from a cluster names, with the
// kind its policy gives parameters: what the API server would fetch.
type ParamRef struct {
	Binding string
	Kind    admissionregistrationv1.ParamKind
	Ref     admissionregistrationv1.ParamRef
}

// LiveParamRefs lists the parameters the bindings read from a cluster
// name, for the caller to fetch (AddParams).
func (s *Set) LiveParamRefs() []ParamRef {
	var out []ParamRef
	for _, p := range s.policies {
		for _, b := range p.bindings {
			if s.live[b] && b.Spec.ParamRef != nil && p.vap.Spec.ParamKind != nil {
				out = append(out, ParamRef{Binding: b.Name, Kind: *p.vap.Spec.ParamKind, Ref: *b.Spec.ParamRef})
			}
		}
	}
	return out
}

// AddParams adds objects the bindings may name as parameters.
func (s *Set) AddParams(objs []*object.Object) { s.params = append(s.params, objs...) }

// LoadFiles reads policies, bindings and parameters from files or
// directories, with objs (a cluster's own), as Load does.
func LoadFiles(paths []string, objs ...*object.Object) (*Set, []object.Diagnostic) {
	var diags []object.Diagnostic
	if len(paths) > 0 {
		inputs, d := object.Expand(paths, nil)
		diags = d
		for _, in := range inputs {
			diags = append(diags, in.Split(object.DefaultLimits, func(b object.Batch) {
				o, d := object.DecodeBatch(b, object.DefaultLimits)
				objs = append(objs, o...)
				diags = append(diags, d...)
			})...)
		}
	}
	set, d := Load(objs)
	return set, append(diags, d...)
}
