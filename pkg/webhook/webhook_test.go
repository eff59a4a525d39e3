package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
)

func newHandler(t *testing.T, cat *control.Catalog, wc config.Webhook) *Handler {
	t.Helper()
	if cat == nil {
		var err error
		if cat, err = controls.Catalog(controls.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Engine: eng, Config: &wc, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func post(h http.Handler, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/validate?timeout=10s", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func review(t *testing.T, req *admissionv1.AdmissionRequest) string {
	b, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMalformedReviewIs400(t *testing.T) {
	h := newHandler(t, nil, config.Webhook{}).Validate()
	for name, body := range map[string]string{
		"not json":      "{",
		"wrong kind":    `{"apiVersion":"v1","kind":"Pod"}`,
		"no request":    `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
		"no uid":        `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`,
		"too large":     `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","x":"` + strings.Repeat("a", DefaultMaxBody) + `"}`,
		"request array": `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[]}`,
	} {
		w := post(h, body)
		if w.Code != http.StatusBadRequest || w.Body.Len() == 0 {
			t.Errorf("%s: HTTP %d %q, want 400 with a message", name, w.Code, w.Body.String())
		}
	}
}

func decodeResponse(t *testing.T, w *httptest.ResponseRecorder) *admissionv1.AdmissionResponse {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("bad response %q: %v", w.Body.String(), err)
	}
	if out.Response.UID != "test" {
		t.Errorf("response uid %q, want the request's", out.Response.UID)
	}
	return out.Response
}

func podRequest(t *testing.T, p *corev1.Pod) string { return review(t, request(t, p)) }

func TestModesAndExemptions(t *testing.T) {
	wc := config.Webhook{DefaultMode: config.Audit, Rules: []config.ModeRule{
		{Controls: []string{"PSS-PRIVILEGED"}, Mode: config.Enforce},
		{Severities: []finding.Severity{finding.Critical, finding.High}, Mode: config.Warn},
	}}
	wc.Exempt.Namespaces = []string{"kube-*"}
	wc.Exempt.Groups = []string{"system:nodes"}
	h := newHandler(t, nil, wc)
	priv := hardenedPod("apps", "p")
	priv.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
	priv.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil

	resp := decodeResponse(t, post(h.Validate(), podRequest(t, priv)))
	if resp.Allowed || resp.Result.Code != http.StatusForbidden || !strings.Contains(resp.Result.Message, "[PSS-PRIVILEGED]") {
		t.Fatalf("privileged pod: %+v", resp)
	}

	// Other critical and high findings warn; the rest are audited.
	hostNet := hardenedPod("apps", "h")
	hostNet.Spec.HostNetwork = true
	resp = decodeResponse(t, post(h.Validate(), podRequest(t, hostNet)))
	if !resp.Allowed || len(resp.Warnings) == 0 || !strings.Contains(strings.Join(resp.Warnings, "\n"), "[PSS-HOST-NAMESPACES]") {
		t.Fatalf("hostNetwork pod: %+v", resp)
	}

	sys := priv.DeepCopy()
	sys.Namespace = "kube-system"
	if resp := decodeResponse(t, post(h.Validate(), podRequest(t, sys))); !resp.Allowed {
		t.Errorf("exempt namespace denied: %+v", resp.Result)
	}
	req := request(t, priv)
	req.UserInfo.Groups = []string{"system:authenticated", "system:nodes"}
	if resp := decodeResponse(t, post(h.Validate(), review(t, req))); !resp.Allowed {
		t.Errorf("exempt group denied: %+v", resp.Result)
	}
	req = request(t, priv)
	req.Operation = admissionv1.Delete
	if resp := decodeResponse(t, post(h.Validate(), review(t, req))); !resp.Allowed {
		t.Errorf("DELETE denied: %+v", resp.Result)
	}
}

func TestSuppressionAppliesAtAdmission(t *testing.T) {
	h := newHandler(t, nil, config.Webhook{DefaultMode: config.Audit, Rules: []config.ModeRule{{Categories: []string{"pod-security"}, Mode: config.Enforce}}})
	p := hardenedPod("apps", "p")
	p.Spec.HostNetwork = true
	resp := decodeResponse(t, post(h.Validate(), podRequest(t, p)))
	if resp.Allowed {
		t.Fatal("hostNetwork pod admitted in enforce mode")
	}
	p.Annotations = map[string]string{"kubeguard.io/ignore": "PSS-HOST-NAMESPACES", "kubeguard.io/ignore-reason": "node agent"}
	resp = decodeResponse(t, post(h.Validate(), podRequest(t, p)))
	if !resp.Allowed {
		t.Fatalf("suppressed finding denied: %s", resp.Result.Message)
	}
}

func TestSecretDataIsNotAFindingAtAdmission(t *testing.T) {
	h := newHandler(t, nil, config.Webhook{DefaultMode: config.Enforce})
	s := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db", "namespace": "apps"},
		"stringData": map[string]any{"password": "hunter2-but-much-longer-9f8e7d"}}
	raw, _ := json.Marshal(s)
	req := &admissionv1.AdmissionRequest{UID: "test", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Secret"}, Namespace: "apps",
		Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}}
	if resp := decodeResponse(t, post(h.Validate(), review(t, req))); !resp.Allowed {
		t.Fatalf("a Secret in the cluster is where credentials belong: %s", resp.Result.Message)
	}
}

func panicking(sleep time.Duration) *control.Catalog {
	return control.NewCatalog(&control.Control{ID: "TEST-BROKEN", Title: "broken", Severity: finding.High, Category: "test",
		Rationale: "r", Remediation: "r", Refs: control.Refs("NIST:4.1.1"), WorkloadsOnly: true,
		Check: func(*control.Pass) {
			if sleep > 0 {
				time.Sleep(sleep)
				return
			}
			panic("boom")
		}})
}

func TestFailuresFollowFailurePolicy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cat   *control.Catalog
		fp    string
		allow bool
	}{
		{"panic, Ignore", panicking(0), "Ignore", true},
		{"panic, Fail", panicking(0), "Fail", false},
		{"timeout, Ignore", panicking(time.Second), "Ignore", true},
		{"timeout, Fail", panicking(time.Second), "Fail", false},
	} {
		h := newHandler(t, tc.cat, config.Webhook{DefaultMode: config.Enforce, FailurePolicy: tc.fp})
		resp := decodeResponse(t, post(h.Validate(), podRequest(t, hardenedPod("apps", "p"))))
		if resp.Allowed != tc.allow {
			t.Errorf("%s: allowed=%v, want %v (%+v)", tc.name, resp.Allowed, tc.allow, resp)
		}
		if tc.allow && len(resp.Warnings) == 0 {
			t.Errorf("%s: admitted without saying kubeguard could not evaluate", tc.name)
		}
	}
}

func TestMutationIsSafeAndIdempotent(t *testing.T) {
	d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "registry.example.com/app:1", SecurityContext: &corev1.SecurityContext{
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"NET_RAW"}}}},
			{Name: "agent", Image: "registry.example.com/agent:1", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}},
			{Name: "root", Image: "registry.example.com/root:1", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)}},
		}}}}}
	raw, _ := json.Marshal(d)
	o, err := object.FromJSON(raw, object.Position{})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := inventory.ExtractWorkload(o)
	ops := mutate(o, w, Mutations)
	patch, _ := json.Marshal(ops)
	got := string(patch)
	for _, want := range []string{
		`{"op":"add","path":"/spec/template/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}`,
		`{"op":"add","path":"/spec/template/spec/containers/0/securityContext/capabilities/drop/-","value":"ALL"}`,
		`{"op":"add","path":"/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation","value":false}`,
		`{"op":"add","path":"/spec/template/spec/automountServiceAccountToken","value":false}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("patch lacks %s\n%s", want, got)
		}
	}
	// Never escalation=false on a privileged container (the API server
	// rejects it), never runAsNonRoot when a container runs as UID 0.
	for _, bad := range []string{`containers/1/securityContext/allowPrivilegeEscalation`, `runAsNonRoot`} {
		if strings.Contains(got, bad) {
			t.Errorf("patch sets %s:\n%s", bad, got)
		}
	}
	// The patched object needs no second patch.
	w2, _ := inventory.ExtractWorkload(o)
	if again := mutate(o, w2, Mutations); len(again) != 0 {
		t.Errorf("second pass patched: %+v", again)
	}
}

// An object that does not decode as its kind cannot be judged: it is
// denied with the fields at fault, whatever the failure policy.
func TestUndecodableObjectIsDenied(t *testing.T) {
	h := newHandler(t, nil, config.Webhook{DefaultMode: config.Enforce}).Validate()
	raw := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},` +
		`"spec":{"securityContext":{"runAsUser":"0"},"containers":[{"name":"c","image":"i:1","ports":[{"containerPort":1.5}]}]}}`
	req := &admissionv1.AdmissionRequest{UID: "test", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Operation: admissionv1.Create, Namespace: "shop", Name: "p"}
	req.Object.Raw = []byte(raw)
	resp := decodeResponse(t, post(h, review(t, req)))
	if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(resp.Result.Message, `spec.securityContext.runAsUser: expected an integer, got string "0"`) ||
		!strings.Contains(resp.Result.Message, "spec.containers[0].ports[0].containerPort: expected an integer, got number 1.5") {
		t.Errorf("response %+v %+v", resp, resp.Result)
	}
}

// Without rules or a default mode the webhook does what Pod Security
// Admission users expect: baseline enforced, restricted (and the rest)
// warned. Long lists of violations are capped.
func TestSafeDefaultsAndCaps(t *testing.T) {
	var wc config.Webhook
	if err := wc.Validate(); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, nil, wc).Validate()
	var ctrs []corev1.Container
	for i := range 60 {
		ctrs = append(ctrs, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "registry.example.com/a:1",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}})
	}
	priv := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{HostPID: true, Containers: ctrs}}
	resp := decodeResponse(t, post(h, podRequest(t, priv)))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "[PSS-PRIVILEGED]") || !strings.Contains(resp.Result.Message, "... and ") ||
		strings.Count(resp.Result.Message, "\n- [") != maxListed || len(resp.Warnings) != maxListed+1 ||
		!strings.HasPrefix(resp.Warnings[maxListed], "... and ") {
		t.Errorf("privileged pod: allowed=%v, %d warnings, message:\n%s", resp.Allowed, len(resp.Warnings), resp.Result.Message)
	}
	// only restricted-level violations (runAsNonRoot unset, capabilities
	// not dropped): admitted with warnings
	restricted := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/a:1"}}}}
	resp = decodeResponse(t, post(h, podRequest(t, restricted)))
	if !resp.Allowed || !slices.ContainsFunc(resp.Warnings, func(w string) bool { return strings.Contains(w, "[PSS-RUN-AS-NON-ROOT]") }) {
		t.Errorf("restricted-only pod: allowed=%v warnings %v", resp.Allowed, resp.Warnings)
	}
	// a configured default mode keeps its meaning
	wc = config.Webhook{DefaultMode: config.Warn}
	wc.Validate()
	if resp := decodeResponse(t, post(newHandler(t, nil, wc).Validate(), podRequest(t, priv))); !resp.Allowed {
		t.Error("defaultMode warn denied")
	}
}

// Evaluations that outlive their deadline keep their slot; requests that
// find every slot busy are answered per the failure policy within their
// own deadline instead of piling up more work.
func TestOverloadIsShedWithinTheDeadline(t *testing.T) {
	eng, err := engine.New(engine.Options{Catalog: panicking(time.Second), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	wc := config.Webhook{DefaultMode: config.Enforce, FailurePolicy: "Ignore"}
	wc.Validate()
	h, err := New(Options{Engine: eng, Config: &wc, Timeout: 100 * time.Millisecond, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	body := podRequest(t, hardenedPod("apps", "p"))
	first := decodeResponse(t, post(h.Validate(), body))
	start := time.Now()
	second := decodeResponse(t, post(h.Validate(), body))
	took := time.Since(start)
	if !strings.Contains(strings.Join(first.Warnings, " "), "timed out") {
		t.Errorf("first: %+v", first)
	}
	if !second.Allowed || !strings.Contains(strings.Join(second.Warnings, " "), "overloaded") || took > 500*time.Millisecond {
		t.Errorf("second after %v: %+v", took, second)
	}
}

type staticInventory struct{ inv *inventory.Inventory }

func (s staticInventory) Snapshot() (*inventory.Inventory, bool) { return s.inv, true }

// A team's policy says what admission does with its violations (a
// binding's validationActions, a constraint's enforcementAction) unless a
// rule of the configuration names the control.
func TestTeamPolicyActions(t *testing.T) {
	const policies = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sowner}
spec:
  crd: {spec: {names: {kind: K8sOwner}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8sowner
      violation[{"msg": "no owner label"}] { not input.review.object.metadata.labels.owner }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sOwner
metadata: {name: deny-me}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sOwner
metadata: {name: warn-me}
spec: {enforcementAction: warn}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sOwner
metadata: {name: dry-me}
spec: {enforcementAction: dryrun}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: owner}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}
  validations: [{expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels", message: no owner}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: owner}
spec: {policyName: owner, validationActions: [Warn, Audit]}
`
	var objs []*object.Object
	object.SplitBytes("policies.yaml", []byte(policies), func(d object.Document) {
		o, _ := object.Decode(d, object.DefaultLimits)
		objs = append(objs, o...)
	})
	set, diags := userpolicy.Load(objs)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	cat, err := controls.Catalog(controls.Options{Extra: set.Controls()})
	if err != nil {
		t.Fatal(err)
	}
	verdict := func(wc config.Webhook) *admissionv1.AdmissionResponse {
		eng, err := engine.New(engine.Options{Catalog: cat, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		h, err := New(Options{Engine: eng, Config: &wc, Inventory: staticInventory{inventory.New()}, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return decodeResponse(t, post(h.Validate(), podRequest(t, hardenedPod("apps", "p"))))
	}
	resp := verdict(config.Webhook{DefaultMode: config.Audit})
	warnings := strings.Join(resp.Warnings, "\n")
	if resp.Allowed || !strings.Contains(resp.Result.Message, "[GK-K8SOWNER-DENY-ME]") || strings.Contains(resp.Result.Message, "WARN-ME") {
		t.Errorf("deny: %+v", resp.Result)
	}
	for _, want := range []string{"[GK-K8SOWNER-WARN-ME]", "[VAP-OWNER]"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %s: %q", want, warnings)
		}
	}
	if strings.Contains(warnings+resp.Result.Message, "DRY-ME") {
		t.Errorf("dryrun constraint reached the response: %q %s", warnings, resp.Result.Message)
	}
	// a rule naming the control wins over the constraint's own action
	resp = verdict(config.Webhook{DefaultMode: config.Audit, Rules: []config.ModeRule{{Controls: []string{"GK-K8SOWNER-DENY-ME"}, Mode: config.Warn}}})
	if !resp.Allowed || !strings.Contains(strings.Join(resp.Warnings, "\n"), "[GK-K8SOWNER-DENY-ME]") {
		t.Errorf("rule over action: %+v %q", resp.Result, resp.Warnings)
	}
}
