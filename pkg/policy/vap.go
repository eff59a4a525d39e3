// Package policy exports kubeguard controls as native Kubernetes admission
// policy: ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
// objects, for clusters that want enforcement with no webhook at all.
package policy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
	// Config supplies the webhook's modes (enforce -> Deny, warn -> Warn,
	// audit -> Audit), exemptions and selectors, the exclusions and
	// whether annotations may suppress, as the webhook reads them.
	Config *config.Config
}

// suppressions lists the annotation maps of the object and its pod
// template that carry a kubeguard suppression the webhook honours for a
// whole object: with a reason and without an expiry (CEL has no clock).
var suppressions = admregv1.Variable{Name: "kubeguardSuppressions", Expression: "[" +
	"object.metadata.?annotations.orValue({}), " +
	"object.spec.?template.?metadata.?annotations.orValue({}), " +
	"object.spec.?jobTemplate.?spec.?template.?metadata.?annotations.orValue({})" +
	"].filter(a, 'kubeguard.io/ignore' in a && a[?'kubeguard.io/ignore-reason'].orValue('').trim() != '' && " +
	"!('kubeguard.io/ignore-until' in a))"}

// quote writes s as a CEL string literal.
func quote(s string) string { return strconv.Quote(s) }

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// globRegexp turns a path.Match pattern into an anchored RE2 expression
// with the same meaning on names without "/".
func globRegexp(glob string) string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(glob[i:], ']')
			class := glob[i+1 : i+j]
			if strings.HasPrefix(class, "^") {
				class = "^" + regexp.QuoteMeta(class[1:])
			} else {
				class = regexp.QuoteMeta(class)
			}
			b.WriteString("[" + class + "]")
			i += j
		case '\\':
			i++
			if i < len(glob) {
				b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String() + "$"
}

func anyGlob(value string, globs []string) string {
	parts := make([]string, len(globs))
	for i, g := range globs {
		parts[i] = value + ".matches(" + quote(globRegexp(g)) + ")"
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

// exemptions are the webhook's exempt users, groups and namespaces as
// match conditions: the policy does not apply to such requests at all.
func exemptions(wc *config.Webhook) []admregv1.MatchCondition {
	var out []admregv1.MatchCondition
	if len(wc.Exempt.Users) > 0 {
		out = append(out, admregv1.MatchCondition{Name: "kubeguard-exempt-users",
			Expression: "!(request.userInfo.username in " + quoteList(wc.Exempt.Users) + ")"})
	}
	if len(wc.Exempt.Groups) > 0 {
		out = append(out, admregv1.MatchCondition{Name: "kubeguard-exempt-groups",
			Expression: "!request.userInfo.?groups.orValue([]).exists(g, g in " + quoteList(wc.Exempt.Groups) + ")"})
	}
	if len(wc.Exempt.Namespaces) > 0 {
		out = append(out, admregv1.MatchCondition{Name: "kubeguard-exempt-namespaces",
			Expression: "!" + anyGlob("request.namespace", wc.Exempt.Namespaces)})
	}
	return out
}

// excluded returns a CEL condition that holds when a configuration
// exclusion covers the control on the object, or an error for an
// exclusion CEL cannot state (an expiry date: CEL has no clock).
func excluded(cfg *config.Config, id string) (string, error) {
	var parts []string
	for i, x := range cfg.Exclude {
		if len(x.Controls) > 0 && !slices.ContainsFunc(x.Controls, func(c string) bool { return c == "*" || strings.EqualFold(c, id) }) {
			continue
		}
		if !x.Expires.IsZero() {
			return "", fmt.Errorf("%s: exclude[%d] expires on %s, which a ValidatingAdmissionPolicy cannot express (it has no clock); remove the date or export without it", cfg.Path, i, x.Expires)
		}
		var conds []string
		if len(x.Namespaces) > 0 {
			conds = append(conds, anyGlob("request.namespace", x.Namespaces))
		}
		if len(x.Kinds) > 0 {
			lower := make([]string, len(x.Kinds))
			for j, k := range x.Kinds {
				lower[j] = strings.ToLower(k)
			}
			conds = append(conds, "object.kind.lowerAscii() in "+quoteList(lower))
		}
		if len(x.Names) > 0 {
			conds = append(conds, anyGlob("object.metadata.?name.orValue(request.name)", x.Names))
		}
		if len(conds) == 0 {
			conds = []string{"true"}
		}
		parts = append(parts, "("+strings.Join(conds, " && ")+")")
	}
	return strings.Join(parts, " || "), nil
}

// Export returns a policy and a binding for every control with a CEL
// form. Controls whose mode is audit-only still get a binding with the
// Audit action, so results show in the API server's audit log. Everything
// the webhook honours is stated in the policies (exempt users, groups and
// namespace globs, the namespace and object selectors, exclusions, and
// annotation suppressions unless forbidden); what CEL cannot state is an
// error naming it.
func Export(cat *control.Catalog, opts Options) ([]any, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	wc := &cfg.Webhook
	if err := wc.Validate(); err != nil {
		return nil, err
	}
	var out []any
	for _, c := range cat.All() {
		if c.CEL == "" {
			continue
		}
		expr := c.CEL
		if !cfg.ForbidAnnotationSuppressions {
			expr = "variables.kubeguardSuppressions.exists(a, a['kubeguard.io/ignore'].split(',').exists(s, s.trim() == " + quote(c.ID) + ")) || (" + expr + ")"
		}
		x, err := excluded(cfg, c.ID)
		if err != nil {
			return nil, err
		}
		if x != "" {
			expr = "(" + x + ") || (" + expr + ")"
		}
		name := "kubeguard-" + strings.ToLower(c.ID)
		pol := &admregv1.ValidatingAdmissionPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "kubeguard"},
				Annotations: map[string]string{"kubeguard.io/control": c.ID, "kubeguard.io/severity": c.Severity.String()}},
			Spec: admregv1.ValidatingAdmissionPolicySpec{
				FailurePolicy:    ptr.To(admregv1.Fail),
				MatchConstraints: &admregv1.MatchResources{ResourceRules: workloadRules},
				MatchConditions:  exemptions(wc),
				Variables:        append(append([]admregv1.Variable{}, Variables...), suppressions),
				Validations: []admregv1.Validation{{
					Expression: expr,
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
				ValidationActions: actions(wc.ModeFor(c.ID, c.Category, c.Severity, c.RefKeys())),
				MatchResources:    &admregv1.MatchResources{NamespaceSelector: namespaceSelector(wc), ObjectSelector: wc.ObjectSelector},
			},
		}
		out = append(out, pol, bind)
	}
	return out, nil
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
// are plain names (globs are match conditions), plus the webhook's own
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
