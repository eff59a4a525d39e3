package userpolicy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// A template with both engines, each saying which it is, so a test can
// tell which one ran.
const labelsTemplate = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
  annotations: {metadata.gatekeeper.sh/title: Required Labels, description: Objects must carry the labels the team asks for.}
spec:
  crd:
    spec:
      names: {kind: K8sRequiredLabels}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            labels: {type: array, items: {type: string}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8srequiredlabels
      violation[{"msg": msg}] {
        required := input.parameters.labels[_]
        not input.review.object.metadata.labels[required]
        msg := sprintf("rego: missing label %v", [required])
      }
    code:
    - engine: K8sNativeValidation
      source:
        validations:
        - expression: "variables.params.labels.all(l, has(variables.anyObject.metadata.labels) && l in variables.anyObject.metadata.labels)"
          messageExpression: "'cel: missing one of ' + variables.params.labels.join(', ')"
    - engine: Rego
      source:
        rego: |
          package k8srequiredlabels
          violation[{"msg": msg}] {
            required := input.parameters.labels[_]
            not input.review.object.metadata.labels[required]
            msg := sprintf("rego: missing label %v", [required])
          }
`

const labelsConstraint = `---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: need-owner
  annotations: {kubeguard.io/severity: high, kubeguard.io/frameworks: "NSA:resource-policies"}
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
    namespaceSelector: {matchExpressions: [{key: team, operator: Exists}]}
    excludedNamespaces: [kube-*]
  parameters: {labels: [owner]}
`

const gkObjects = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: scratch}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, labels: {owner: shop-team}}
spec: {replicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: toy, namespace: scratch}
spec: {replicas: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
`

func scanWith(t *testing.T, engines []string, policies, objects string) (map[string][]string, []*control.Control) {
	t.Helper()
	set, diags := LoadEngines(decode(t, policies), engines)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	ctls := set.Controls()
	cat, err := controls.Catalog(controls.Options{Extra: ctls})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(file, []byte(objects), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs, _ := object.Expand([]string{file}, nil)
	res := eng.ScanInputs(inputs)
	out := map[string][]string{}
	for _, f := range res.Findings {
		if strings.HasPrefix(f.ControlID, "GK-") {
			at := fmt.Sprintf("%s:%d:%d", filepath.Base(f.Position.File), f.Position.Line, f.Position.Column)
			out[f.Object.Kind+"/"+f.Object.Name] = append(out[f.Object.Kind+"/"+f.Object.Name], f.ControlID+": "+f.Message+" @"+at)
		}
	}
	return out, ctls
}

// A constraint is a control: matched as Gatekeeper matches (kinds,
// namespaceSelector), its message from the engine Gatekeeper prefers,
// at the object's line; its annotations give its metadata.
func TestConstraint(t *testing.T) {
	for _, tc := range []struct {
		engines []string
		prefix  string
	}{{Engines, "cel: missing one of owner"}, {[]string{"Rego"}, "rego: missing label owner"}} {
		got, ctls := scanWith(t, tc.engines, labelsTemplate+labelsConstraint, gkObjects)
		want := map[string][]string{"Deployment/web": {"GK-K8SREQUIREDLABELS-NEED-OWNER: " + tc.prefix + " @objects.yaml:9:1"}}
		if !equalFindings(got, want) {
			t.Errorf("engines %v: got %v, want %v", tc.engines, got, want)
		}
		c := ctls[0]
		if c.Severity != finding.High || c.Title != "Required Labels (constraint need-owner)" ||
			c.Rationale != "Objects must carry the labels the team asks for." || len(c.Refs) != 1 || c.Refs[0].ID != "resource-policies" {
			t.Errorf("control metadata: %+v", c)
		}
	}
}

func equalFindings(got, want map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			return false
		}
	}
	return true
}

// A template that reads data.inventory sees the scan's objects, and at
// admission the cluster's, not the object under review.
func TestInventory(t *testing.T) {
	tmpl := `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8suniqueservicename}
spec:
  crd: {spec: {names: {kind: K8sUniqueServiceName}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8suniqueservicename
      violation[{"msg": msg}] {
        input.review.kind.kind == "Deployment"
        other := data.inventory.namespace[ns]["v1"]["Service"][name]
        name == input.review.object.metadata.name
        ns == input.review.object.metadata.namespace
        msg := sprintf("a Service is named %v too", [name])
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sUniqueServiceName
metadata: {name: no-clash}
`
	got, ctls := scanWith(t, Engines, tmpl, gkObjects)
	want := map[string][]string{"Deployment/web": {"GK-K8SUNIQUESERVICENAME-NO-CLASH: a Service is named web too @objects.yaml:9:1"}}
	if !equalFindings(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// at admission: the base inventory is the cluster's
	base := inventory.New()
	for _, o := range decode(t, gkObjects) {
		base.Add(o, nil)
	}
	cat, _ := controls.Catalog(controls.Options{Extra: ctls})
	eng, _ := engine.New(engine.Options{Catalog: cat, Live: true})
	for name, want := range map[string]int{"web": 1, "other": 0} {
		o := decode(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: "+name+", namespace: shop}\nspec: {replicas: 1}\n")[0]
		n := 0
		for _, f := range eng.Admit(o, base).Findings {
			if f.ControlID == ctls[0].ID {
				n++
			}
		}
		if n != want {
			t.Errorf("admission of %s: %d findings, want %d", name, n, want)
		}
	}
}

// What cannot be evaluated says so, naming the template or constraint:
// Rego or CEL that does not compile, a constraint without its template
// or against its schema. A Rego runtime error and a budget overrun are
// findings of the constraint, never silence.
func TestGatekeeperErrors(t *testing.T) {
	for name, tc := range map[string]struct{ policies, want, at string }{
		"rego syntax": {strings.Replace(labelsTemplate, "      violation[{\"msg\": msg}] {\n        required", "      violation[{\"msg\": msg}] {\n        )(\n        required", 1),
			"ConstraintTemplate k8srequiredlabels does not compile (Rego)", ")("},
		"cel type":    {strings.Replace(labelsTemplate, "'cel: missing one of ' +", "1 +", 1), "ConstraintTemplate k8srequiredlabels does not compile (K8sNativeValidation)", "messageExpression:"},
		"no template": {strings.TrimPrefix(labelsConstraint, "---\n"), "K8sRequiredLabels need-owner: no ConstraintTemplate defines the kind K8sRequiredLabels", ""},
		"schema":      {labelsTemplate + strings.Replace(labelsConstraint, "labels: [owner]", "labels: owner", 1), "K8sRequiredLabels need-owner:", ""},
		"reserved variable": {strings.Replace(labelsTemplate, "        validations:", "        variables: [{name: params, expression: '1'}]\n        validations:", 1),
			`variable name "params" is reserved`, ""},
	} {
		_, diags := Load(decode(t, tc.policies))
		if len(diags) != 1 || !strings.Contains(diags[0].Message, tc.want) || diags[0].Pos.Line == 0 {
			t.Errorf("%s: got %v, want one error containing %q at a line", name, diags, tc.want)
			continue
		}
		// an error in code is at the line that holds it
		if tc.at != "" {
			want := 1 + strings.Count(tc.policies[:strings.Index(tc.policies, tc.at)], "\n")
			if diags[0].Pos.Line != want {
				t.Errorf("%s: error at line %d, want %d (%q)", name, diags[0].Pos.Line, want, tc.at)
			}
		}
	}

	conflict := `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sconflict}
spec:
  crd: {spec: {names: {kind: K8sConflict}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8sconflict
      x := 1 { true }
      x := 2 { true }
      violation[{"msg": msg}] { x > 0; msg := "never" }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sConflict
metadata: {name: c}
spec: {match: {kinds: [{apiGroups: [""], kinds: [Service]}]}}
`
	got, _ := scanWith(t, Engines, conflict, gkObjects)
	if f := got["Service/web"]; len(f) != 1 || !strings.Contains(f[0], "eval_conflict_error") {
		t.Errorf("runtime error: got %v", got)
	}

	slow := strings.NewReplacer("k8sconflict", "k8sslow", "K8sConflict", "K8sSlow").Replace(conflict)
	slow = strings.Replace(slow, "      x := 1 { true }\n      x := 2 { true }\n      violation[{\"msg\": msg}] { x > 0; msg := \"never\" }",
		"      violation[{\"msg\": msg}] { n := count([x | x := numbers.range(1, 50000000)[_]]); n < 0; msg := \"never\" }", 1)
	defer func(b time.Duration) { RegoBudget = b }(RegoBudget)
	RegoBudget = 50 * time.Millisecond
	got, _ = scanWith(t, Engines, slow, gkObjects)
	if f := got["Service/web"]; len(f) != 1 || !strings.Contains(f[0], "exceeded its budget of 50ms") {
		t.Errorf("budget: got %v", got)
	}
}

// A CEL validation over its cost limit is an evaluation error, which
// the failure policy turns into a violation (Fail) or nothing (Ignore).
func TestCELCost(t *testing.T) {
	expensive := strings.Replace(labelsTemplate,
		`"variables.params.labels.all(l, has(variables.anyObject.metadata.labels) && l in variables.anyObject.metadata.labels)"`,
		`"[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, [1,2,3,4,5,6,7,8,9,10].all(g, string(a+b+c+d+e+f+g).size() > 0)))))))"`, 1)
	got, _ := scanWith(t, Engines, expensive+labelsConstraint, gkObjects)
	for _, k := range []string{"Deployment/web", "Deployment/api"} {
		if f := got[k]; len(f) != 1 || !strings.Contains(f[0], "cost") {
			t.Errorf("%s: got %v, want a cost-limit violation", k, f)
		}
	}
	ignore := strings.Replace(expensive, "        validations:", "        failurePolicy: Ignore\n        validations:", 1)
	if got, _ := scanWith(t, Engines, ignore+labelsConstraint, gkObjects); len(got) != 0 {
		t.Errorf("failurePolicy Ignore: got %v", got)
	}
}

const libraryDir = "../../../shared/corpus/k8s/gatekeeper-library/library"

// Every case of the gatekeeper-library suites gives what upstream
// expects, run through the engine's admission path, with each engine.
func TestGatekeeperLibrary(t *testing.T) {
	suites, _ := filepath.Glob(filepath.Join(libraryDir, "*", "*", "suite.yaml"))
	if len(suites) != 49 {
		t.Fatalf("%d suites under %s, want 49", len(suites), libraryDir)
	}
	eval := func(ctls []*control.Control, o *object.Object, base *inventory.Inventory) ([]finding.Finding, []object.Diagnostic) {
		cat, err := controls.Catalog(controls.Options{Extra: ctls})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(engine.Options{Catalog: cat, Live: true})
		if err != nil {
			t.Fatal(err)
		}
		adm := eng.Admit(o, base)
		return adm.Findings, adm.Diagnostics
	}
	for _, engines := range [][]string{Engines, {"Rego"}} {
		passed := 0
		for _, file := range suites {
			s, err := LoadGatorSuite(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range s.Run(engines, eval) {
				if r.Err != nil || r.Skipped {
					t.Errorf("%v %s %s/%s: skipped %v, %v", engines, file, r.Test, r.Case, r.Skipped, r.Err)
					continue
				}
				passed++
			}
		}
		if passed != 270 {
			t.Errorf("engines %v: %d cases passed, want all 270", engines, passed)
		}
	}
}

// A constraint is tried only on the kinds its match.kinds may select.
func TestMayMatchKind(t *testing.T) {
	con := func(kinds string) *unstructured.Unstructured {
		o := decode(t, "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K\nmetadata: {name: c}\nspec: {match: {"+kinds+"}}\n")[0]
		return &unstructured.Unstructured{Object: o.Content}
	}
	pod, deploy := schema.GroupKind{Kind: "Pod"}, schema.GroupKind{Group: "apps", Kind: "Deployment"}
	for _, tc := range []struct {
		kinds     string
		pod, apps bool
	}{
		{"", true, true},
		{"kinds: []", true, true},
		{`kinds: [{apiGroups: [""], kinds: [Pod]}]`, true, false},
		{`kinds: [{apiGroups: ["*"], kinds: [Deployment]}]`, false, true},
		{`kinds: [{kinds: ["*"]}]`, true, true},
		{`kinds: [{apiGroups: [apps]}]`, false, true},
		{`kinds: [{apiGroups: [""], kinds: [Pod]}, {apiGroups: [apps], kinds: [Deployment]}]`, true, true},
	} {
		if got := mayMatchKind(con(tc.kinds), pod); got != tc.pod {
			t.Errorf("%s on Pod: %v", tc.kinds, got)
		}
		if got := mayMatchKind(con(tc.kinds), deploy); got != tc.apps {
			t.Errorf("%s on Deployment: %v", tc.kinds, got)
		}
	}
}
