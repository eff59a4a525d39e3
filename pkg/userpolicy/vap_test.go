package userpolicy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
)

func decode(t *testing.T, yaml string) []*object.Object {
	t.Helper()
	var objs []*object.Object
	diags := object.SplitBytes("p.yaml", []byte(yaml), func(d object.Document) {
		o, ds := object.Decode(d, object.DefaultLimits)
		if len(ds) > 0 {
			t.Fatal(ds)
		}
		objs = append(objs, o...)
	})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return objs
}

const maxReplicas = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: max-replicas
  annotations: {kubeguard.io/severity: high, kubeguard.io/frameworks: "NSA:resource-policies"}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "object.spec.replicas <= int(params.data.max)"
    message: too many replicas
`

// Policies become controls with their annotations; what the API server
// would never evaluate, or cannot, is said.
func TestLoad(t *testing.T) {
	set, diags := Load(decode(t, maxReplicas+`---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-replicas}
spec:
  policyName: max-replicas
  validationActions: [Deny]
  paramRef: {name: limits, namespace: default}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: orphan}
spec:
  policyName: nowhere
  validationActions: [Warn]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: unbound
  annotations: {kubeguard.io/severity: urgent, kubeguard.io/frameworks: "SOC2:cc6"}
spec:
  validations:
  - expression: "true"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: broken}
spec:
  validations:
  - expression: "object.spec.replicas >"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bad-audit}
spec:
  validations:
  - expression: "true"
  auditAnnotations:
  - {key: replicas, valueExpression: "object.spec.replicas"}
`))
	msgs := ""
	for _, d := range diags {
		msgs += d.Message + "\n"
	}
	for _, want := range []string{`binds policy "nowhere", which is not among the policies read`, "ValidatingAdmissionPolicy unbound has no binding",
		"ValidatingAdmissionPolicy broken does not compile", "ValidatingAdmissionPolicy bad-audit does not compile: auditAnnotations[0].valueExpression", `kubeguard.io/severity: unknown severity "urgent"`, `"SOC2:cc6" is not FRAMEWORK:ID`} {
		if !strings.Contains(msgs, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, msgs)
		}
	}
	ctls := set.Controls()
	if len(ctls) != 1 || ctls[0].ID != "VAP-MAX-REPLICAS" || ctls[0].Severity.String() != "high" || len(ctls[0].Refs) != 1 || ctls[0].Refs[0].String() != "NSA resource-policies" {
		t.Fatalf("controls: %+v", ctls)
	}
}

// scan evaluates the policies of the first manifests on the objects of
// the second with the engine, and returns control: message per object.
func scan(t *testing.T, policies, objects string) map[string][]string {
	t.Helper()
	set, diags := Load(decode(t, policies))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	cat, err := controls.Catalog(controls.Options{Extra: set.Controls()})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	// from a file, as scan reads it: the engine owns the objects, and
	// slims them once per-object controls are done
	file := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(file, []byte(objects), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs, _ := object.Expand([]string{file}, nil)
	res := eng.ScanInputs(inputs)
	out := map[string][]string{}
	for _, f := range res.Findings {
		if _, ok := set.byID(f.ControlID); ok {
			out[f.Object.Name] = append(out[f.Object.Name], f.ControlID+": "+f.Message)
		}
	}
	return out
}

const deployments = `apiVersion: apps/v1
kind: Deployment
metadata: {name: big, namespace: default, labels: {tier: web}}
spec: {replicas: 9}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: small, namespace: default}
spec: {replicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: big-batch, namespace: default, labels: {tier: batch}}
spec: {replicas: 20}
`

// Parameters found by name, missing ones denied unless the binding
// allows it; match conditions; failure policy on evaluation errors.
func TestEvaluate(t *testing.T) {
	binding := func(extra string) string {
		return `---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-replicas}
spec:
  policyName: max-replicas
  validationActions: [Deny]
  paramRef: {name: limits, namespace: default` + extra + `}
`
	}
	limits := "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits, namespace: default}\ndata: {max: \"5\"}\n"
	got := scan(t, maxReplicas+binding("")+limits, deployments)
	if len(got["big"]) != 1 || got["big"][0] != "VAP-MAX-REPLICAS: too many replicas (Deny, binding max-replicas)" || len(got["small"]) != 0 || len(got["big-batch"]) != 1 {
		t.Errorf("with params: %v", got)
	}
	got = scan(t, maxReplicas+binding(""), deployments)
	if len(got["small"]) != 1 || !strings.Contains(got["small"][0], "no parameter ConfigMap limits was read, and the binding denies without one") {
		t.Errorf("missing params: %v", got)
	}
	if got = scan(t, maxReplicas+binding(", parameterNotFoundAction: Allow"), deployments); len(got) != 0 {
		t.Errorf("missing params allowed: %v", got)
	}

	// a match condition leaves batch workloads out
	withCondition := strings.Replace(maxReplicas, "  validations:", "  matchConditions:\n  - name: not-batch\n    expression: \"!has(object.metadata.labels) || object.metadata.labels['tier'] != 'batch'\"\n  validations:", 1)
	if got = scan(t, withCondition+binding("")+limits, deployments); len(got["big"]) != 1 || len(got["big-batch"]) != 0 {
		t.Errorf("match condition: %v", got)
	}

	// a parameter that is not a number: an error, which Fail turns into
	// a denial and Ignore into nothing
	bad := "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits, namespace: default}\ndata: {max: \"five\"}\n"
	if got = scan(t, maxReplicas+binding("")+bad, deployments); len(got["small"]) != 1 {
		t.Errorf("Fail on error: %v", got)
	}
	ignore := strings.Replace(maxReplicas, "spec:\n  paramKind", "spec:\n  failurePolicy: Ignore\n  paramKind", 1)
	if got = scan(t, ignore+binding("")+bad, deployments); len(got) != 0 {
		t.Errorf("Ignore on error: %v", got)
	}
}

// byID finds a policy by its control ID.
func (s *Set) byID(id string) (*policy, bool) {
	for _, p := range s.policies {
		if ID(p.vap) == id {
			return p, true
		}
	}
	return nil, false
}

// A policy sees the object whole, as the API server does: the pod
// template of a Deployment too, which the inventory otherwise keeps only
// as its pod view.
func TestWholeObject(t *testing.T) {
	got := scan(t, `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-latest}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))"
    message: an image is tagged latest
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: no-latest}
spec: {policyName: no-latest, validationActions: [Warn]}
`, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  template:
    spec:
      containers:
      - {name: web, image: "nginx:latest", resources: {limits: {cpu: "1"}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  template:
    spec:
      containers:
      - {name: api, image: "api:1.2"}
`)
	if len(got["web"]) != 1 || got["web"][0] != "VAP-NO-LATEST: an image is tagged latest (Warn, binding no-latest)" || len(got["api"]) != 0 {
		t.Errorf("%v", got)
	}
}
