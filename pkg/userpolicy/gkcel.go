package userpolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	gktypes "github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"github.com/open-policy-agent/opa/v1/storage"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
)

// CELEngine is the engine name of a template's CEL code.
const CELEngine = "K8sNativeValidation"

// The variables Gatekeeper binds before a template's own: the object (the
// old one on a delete) and the constraint's parameters.
var gkVariables = []variable{
	{"anyObject", `has(request.operation) && request.operation == "DELETE" && object == null ? oldObject : object`},
	{"params", `!has(params.spec) ? null : !has(params.spec.parameters) ? null : params.spec.parameters`},
}

// celCode is the source of a template's K8sNativeValidation code.
type celCode struct {
	Validations []admissionregistrationv1.Validation `json:"validations"`
	// Gatekeeper reads matchCondition; matchConditions is accepted too.
	MatchCondition  []admissionregistrationv1.MatchCondition   `json:"matchCondition"`
	MatchConditions []admissionregistrationv1.MatchCondition   `json:"matchConditions"`
	Variables       []admissionregistrationv1.Variable         `json:"variables"`
	FailurePolicy   *admissionregistrationv1.FailurePolicyType `json:"failurePolicy"`
	GenerateVAP     *bool                                      `json:"generateVAP"`
}

// celDriver evaluates the K8sNativeValidation code of templates with the
// API server's CEL admission library, the constraint as the parameter
// object, as Gatekeeper's CEL engine does.
type celDriver struct {
	mu       sync.RWMutex
	compiled map[string]*compiled
}

var _ drivers.Driver = (*celDriver)(nil)

func newCELDriver() *celDriver { return &celDriver{compiled: map[string]*compiled{}} }

func (d *celDriver) Name() string { return CELEngine }

func (d *celDriver) AddTemplate(_ context.Context, ct *templates.ConstraintTemplate) error {
	var src *templates.Anything
	for _, tg := range ct.Spec.Targets {
		for _, code := range tg.Code {
			if code.Engine == CELEngine {
				src = code.Source
			}
		}
	}
	if src == nil {
		return fmt.Errorf("template %s has no %s code", ct.Name, CELEngine)
	}
	raw, err := json.Marshal(src.Value)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var code celCode
	if err := dec.Decode(&code); err != nil {
		return fmt.Errorf("%s code: %v", CELEngine, err)
	}
	cs := celSource{name: ct.Name, validations: code.Validations, matchConditions: append(code.MatchCondition, code.MatchConditions...),
		failurePolicy: admissionregistrationv1.Fail, hasParams: true, paramsInVariablesOnly: true, builtinVariables: len(gkVariables)}
	if fp := code.FailurePolicy; fp != nil {
		if *fp != admissionregistrationv1.Fail && *fp != admissionregistrationv1.Ignore {
			return fmt.Errorf("%s code: failurePolicy %q is neither Fail nor Ignore", CELEngine, *fp)
		}
		cs.failurePolicy = *fp
	}
	cs.variables = append(cs.variables, gkVariables...)
	for _, v := range code.Variables {
		if strings.HasPrefix(v.Name, "gatekeeper_internal_") || v.Name == "params" || v.Name == "anyObject" {
			return fmt.Errorf("%s code: variable name %q is reserved", CELEngine, v.Name)
		}
		cs.variables = append(cs.variables, variable{v.Name, v.Expression})
	}
	c, err := cs.compile()
	if err != nil {
		return fmt.Errorf("%s code: %v", CELEngine, err)
	}
	d.mu.Lock()
	d.compiled[ct.Name] = c
	d.mu.Unlock()
	return nil
}

func (d *celDriver) RemoveTemplate(_ context.Context, ct *templates.ConstraintTemplate) error {
	d.mu.Lock()
	delete(d.compiled, ct.Name)
	d.mu.Unlock()
	return nil
}

func (d *celDriver) AddConstraint(context.Context, *unstructured.Unstructured) error    { return nil }
func (d *celDriver) RemoveConstraint(context.Context, *unstructured.Unstructured) error { return nil }
func (d *celDriver) AddData(context.Context, string, storage.Path, any) error           { return nil }
func (d *celDriver) RemoveData(context.Context, string, storage.Path) error             { return nil }
func (d *celDriver) Dump(context.Context) (string, error)                               { return "", nil }
func (d *celDriver) GetDescriptionForStat(string) (string, error)                       { return "", errors.New("no stats") }

func (d *celDriver) Query(ctx context.Context, tgt string, constraints []*unstructured.Unstructured, review any, opts ...reviews.ReviewOpt) (*drivers.QueryResponse, error) {
	cfg := &reviews.ReviewCfg{}
	for _, o := range opts {
		o(cfg)
	}
	r, ok := review.(*decodedReview)
	if !ok {
		return nil, fmt.Errorf("%s cannot read a review of type %T", CELEngine, review)
	}
	gvk := schema.GroupVersionKind(r.Kind)
	attr, err := admission.NewVersionedAttributes(objectAttributes(r.source, gvk), gvk, objectInterfaces)
	if err != nil {
		return nil, err
	}
	var ns *corev1.Namespace
	if cfg.Namespace != nil {
		ns = &corev1.Namespace{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(cfg.Namespace, ns); err != nil {
			ns = nil
		}
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	var results []*gktypes.Result
	for _, con := range constraints {
		c := d.compiled[strings.ToLower(con.GetKind())]
		if c == nil {
			return nil, fmt.Errorf("no %s template for constraint kind %s", CELEngine, con.GetKind())
		}
		for _, den := range c.evaluate(ctx, attr.GetResource(), attr, con, ns) {
			results = append(results, &gktypes.Result{Target: tgt, Msg: den.message, Constraint: con})
		}
	}
	return &drivers.QueryResponse{Results: results}, nil
}
