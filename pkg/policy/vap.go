// Package policy exports kubeguard controls as native Kubernetes admission
// policy: ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
// objects, for clusters that want enforcement with no webhook at all.
package policy

import (
	"fmt"
	"sort"
	"strings"

	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
)

// Variables give every expression the pod spec of any workload kind, so
// one policy covers Pods and their controllers alike.
var Variables = []admregv1.Variable{
	{Name: "spec", Expression: "object.kind == 'Pod' ? object.spec : " +
		"(object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)"},
	{Name: "containers", Expression: "variables.spec.containers + " +
		"(has(variables.spec.initContainers) ? variables.spec.initContainers : []) + " +
		"(has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : [])"},
	{Name: "windows", Expression: "has(variables.spec.os) && variables.spec.os.name == 'windows'"},
	{Name: "userns", Expression: "has(variables.spec.hostUsers) && variables.spec.hostUsers == false"},
}

// workloadRules match the kinds that carry a pod spec, as the webhook's
// do.
var workloadRules = []admregv1.NamedRuleWithOperations{
	rule("", "pods", "replicationcontrollers"),
	rule("apps", "deployments", "statefulsets", "daemonsets", "replicasets"),
	rule("batch", "jobs", "cronjobs"),
}

func rule(group string, resources ...string) admregv1.NamedRuleWithOperations {
	return admregv1.NamedRuleWithOperations{RuleWithOperations: admregv1.RuleWithOperations{
		Operations: []admregv1.OperationType{admregv1.Create, admregv1.Update},
		Rule:       admregv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: resources},
	}}
}

// Options configure the export.
type Options struct {
	// Webhook supplies modes (enforce -> Deny, warn -> Warn, audit ->
	// Audit) and exempt namespaces, as for the webhook.
	Webhook *config.Webhook
}

// Export returns a policy and a binding for every control with a CEL
// form. Controls whose mode is audit-only still get a binding with the
// Audit action, so results show in the API server's audit log.
func Export(cat *control.Catalog, opts Options) []any {
	wc := opts.Webhook
	if wc == nil {
		wc = &config.Webhook{}
		wc.Validate()
	}
	var out []any
	for _, c := range cat.All() {
		if c.CEL == "" {
			continue
		}
		name := "kubeguard-" + strings.ToLower(c.ID)
		pol := &admregv1.ValidatingAdmissionPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "kubeguard"},
				Annotations: map[string]string{"kubeguard.io/control": c.ID, "kubeguard.io/severity": c.Severity.String()}},
			Spec: admregv1.ValidatingAdmissionPolicySpec{
				FailurePolicy:    ptr.To(admregv1.Fail),
				MatchConstraints: &admregv1.MatchResources{ResourceRules: workloadRules},
				Variables:        Variables,
				Validations: []admregv1.Validation{{
					Expression: c.CEL,
					Message:    fmt.Sprintf("[%s] %s. Fix: %s", c.ID, c.Title, c.Remediation),
					Reason:     ptr.To(metav1.StatusReasonForbidden),
				}},
			},
		}
		bind := &admregv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "kubeguard"}},
			Spec: admregv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        name,
				ValidationActions: actions(wc.ModeFor(c.ID, c.Category, c.Severity)),
				MatchResources:    &admregv1.MatchResources{NamespaceSelector: namespaceSelector(wc)},
			},
		}
		out = append(out, pol, bind)
	}
	return out
}

func actions(m config.Mode) []admregv1.ValidationAction {
	switch m {
	case config.Enforce:
		return []admregv1.ValidationAction{admregv1.Deny}
	case config.Warn:
		return []admregv1.ValidationAction{admregv1.Warn, admregv1.Audit}
	}
	return []admregv1.ValidationAction{admregv1.Audit}
}

// namespaceSelector leaves out kube-system and the exempt namespaces that
// are plain names (label selectors have no globs), plus the webhook's own
// namespace selector.
func namespaceSelector(wc *config.Webhook) *metav1.LabelSelector {
	excluded := map[string]bool{"kube-system": true}
	for _, n := range wc.Exempt.Namespaces {
		if !strings.ContainsAny(n, "*?[") {
			excluded[n] = true
		}
	}
	var names []string
	for n := range excluded {
		names = append(names, n)
	}
	sort.Strings(names)
	sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: names}}}
	if s := wc.NamespaceSelector; s != nil {
		sel.MatchLabels = s.MatchLabels
		sel.MatchExpressions = append(sel.MatchExpressions, s.MatchExpressions...)
	}
	return sel
}

// Manifest returns an exported object as it should be written: without the
// empty status and creation timestamp the typed form always carries.
func Manifest(o any) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return m, nil
}
