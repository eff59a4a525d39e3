package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	templatesv1 "github.com/open-policy-agent/frameworks/constraint/pkg/apis/templates/v1"
	constraintclient "github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego"
	gktarget "github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
)

// The team's ValidatingAdmissionPolicies judge manifests in scan as the
// real API server judges them at admission: the example policies are
// installed on the test cluster, each Deployment of the example app (and
// one that breaks the replica limit alone) is created there with dryRun,
// and the objects the API server denies are exactly those kubeguard
// reports, the API server's message (it names the first policy that
// denies) among kubeguard's.
func TestE2EPoliciesAgreeWithAPIServer(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	policies, _ := os.ReadFile("../../examples/policies/policies.yaml")
	app, _ := os.ReadFile("../../examples/policies/app.yaml")
	ns := `apiVersion: v1
kind: Namespace
metadata: {name: policy-params}
`
	// checkout, labelled: only the replica limit denies it
	labelled := strings.Replace(string(app), "name: checkout\n  namespace: shop\n", "name: checkout-labelled\n  namespace: shop\n  labels: {team: payments}\n", 1)
	if !strings.Contains(labelled, "checkout-labelled") {
		t.Fatal("the example app changed: no checkout Deployment to label")
	}
	appFile := t.TempDir() + "/app.yaml"
	os.WriteFile(appFile, []byte(string(app)+"\n---\n"+extractDoc(labelled, "checkout-labelled")), 0o644)
	all, _ := os.ReadFile(appFile)
	var deployments []map[string]any
	for _, u := range mustObjects(t, ns+"---\n"+string(policies)+"\n---\n"+string(all)) {
		if u.GetKind() == "Deployment" {
			deployments = append(deployments, u.Object)
			continue
		}
		ri := testcluster.Resource(dyn, u)
		if _, err := ri.Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		defer ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{})
	}

	// the API server's verdicts, once its policy informers have synced
	apiDenied := map[string]string{}
	start := time.Now()
	defer func() {
		t.Logf("the API server's policies took effect after %s", time.Since(start).Round(time.Millisecond))
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		apiDenied = map[string]string{}
		for _, obj := range deployments {
			u := mustObjects(t, mustJSON(t, obj))[0]
			_, err := testcluster.Resource(dyn, u).Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				apiDenied[u.GetNamespace()+"/"+u.GetName()] = err.Error()
			}
		}
		if strings.Contains(apiDenied["shop/checkout"], "team label") && strings.Contains(apiDenied["shop/checkout-labelled"], "more than the limit") || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}

	// kubeguard's, from the same files
	code, out, errOut := run(t, "", "scan", appFile, "--policies", "../../examples/policies/policies.yaml",
		"--controls", "TEAM-LABEL,VAP-*", "-o", "json", "--fail-on", "none")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			Object  struct{ Namespace, Name string }
			Message string
			Also    []struct{ Message string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	ours := map[string][]string{}
	for _, f := range rep.Findings {
		k := f.Object.Namespace + "/" + f.Object.Name
		ours[k] = append(ours[k], f.Message)
		for _, a := range f.Also {
			ours[k] = append(ours[k], a.Message)
		}
	}
	keys := func(m map[string]string) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	var ourKeys []string
	for k := range ours {
		ourKeys = append(ourKeys, k)
	}
	sort.Strings(ourKeys)
	if strings.Join(keys(apiDenied), ",") != strings.Join(ourKeys, ",") || len(ourKeys) == 0 {
		t.Fatalf("denied by the API server: %v\nreported by kubeguard: %v", apiDenied, ours)
	}
	for k, msgs := range ours {
		found := false
		for _, m := range msgs {
			// the validation's own message, before kubeguard's note of
			// the binding
			text, _, _ := strings.Cut(m, " (Deny")
			found = found || strings.Contains(apiDenied[k], text)
		}
		if !found {
			t.Errorf("%s: kubeguard says %q, the API server %q", k, msgs, apiDenied[k])
		}
	}
	if len(ours["shop/checkout"]) != 2 || len(ours["shop/checkout-labelled"]) != 1 {
		t.Errorf("both policies deny checkout, the replica limit alone its labelled copy: %v", ours)
	}
}

// extractDoc returns the YAML document of a manifest stream that names
// an object.
func extractDoc(stream, name string) string {
	for _, d := range strings.Split(stream, "\n---\n") {
		if strings.Contains(d, "name: "+name+"\n") {
			return d
		}
	}
	return ""
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// cluster --cluster-policies judges the objects a cluster already holds
// with its own policies, which admission applied only when each object
// was written: objects created before the policies are found.
func TestE2EClusterOwnPolicies(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	create := func(manifests string) {
		t.Helper()
		for _, u := range mustObjects(t, manifests) {
			ri := testcluster.Resource(dyn, u)
			_, err := ri.Create(ctx, u, metav1.CreateOptions{})
			// the policies of another test leave the API server's cache
			// a moment after they are deleted
			for deadline := time.Now().Add(15 * time.Second); err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy") && time.Now().Before(deadline); {
				time.Sleep(300 * time.Millisecond)
				_, err = ri.Create(ctx, u, metav1.CreateOptions{})
			}
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
			}
			t.Cleanup(func() { ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{}) })
		}
	}
	app, _ := os.ReadFile("../../examples/policies/app.yaml")
	policies, _ := os.ReadFile("../../examples/policies/policies.yaml")
	// namespaces of their own: the other test's are being deleted
	create(strings.NewReplacer("name: shop\n", "name: e2e-own-shop\n", "namespace: shop\n", "namespace: e2e-own-shop\n",
		"name: sandbox\n", "name: e2e-own-sandbox\n", "namespace: sandbox\n", "namespace: e2e-own-sandbox\n").Replace(string(app)))
	create("apiVersion: v1\nkind: Namespace\nmetadata: {name: e2e-own-params}\n---\n" + strings.ReplaceAll(string(policies), "namespace: policy-params", "namespace: e2e-own-params"))

	code, out, errOut := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "--cluster-policies", "-n", "e2e-own-shop", "-o", "json",
		"--controls", "TEAM-LABEL,VAP-*", "--fail-on", "none")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := findings(t, out)
	if strings.Join(got["Deployment/e2e-own-shop/checkout"], ",") != "TEAM-LABEL,VAP-REPLICA-LIMIT" || len(got["Deployment/e2e-own-shop/cart"]) != 0 {
		t.Errorf("findings: %v", got)
	}
	// each policy's finding is a problem of its own
	var rep struct {
		Findings []struct {
			ControlID string
			Also      []struct{ ControlID string }
		}
	}
	json.Unmarshal([]byte(out), &rep)
	if len(rep.Findings) != 2 || len(rep.Findings[0].Also)+len(rep.Findings[1].Also) != 0 {
		t.Errorf("both policies on checkout: %s", out)
	}
}

// A configuration names its policies, relative to itself; they judge
// the inputs it applies to.
func TestPoliciesFromConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"app.yaml", "policies.yaml"} {
		data, err := os.ReadFile("../../examples/policies/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dir+"/policy", 0o755)
		target := dir + "/" + f
		if f == "policies.yaml" {
			target = dir + "/policy/" + f
		}
		os.WriteFile(target, data, 0o644)
	}
	os.WriteFile(dir+"/.kubeguard.yaml", []byte("policies: [policy]\nexclude:\n- controls: [TEAM-LABEL]\n  reason: labels come with the next release\n"), 0o644)
	code, out, errOut := run(t, "", "scan", dir+"/app.yaml", "--controls", "TEAM-LABEL,VAP-*", "-o", "json", "--fail-on", "low")
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			ControlID string
			Object    struct{ Name string }
		}
	}
	json.Unmarshal([]byte(out), &rep)
	if len(rep.Findings) != 1 || rep.Findings[0].ControlID != "VAP-REPLICA-LIMIT" || rep.Findings[0].Object.Name != "checkout" {
		t.Errorf("%s", out)
	}
	// without the configuration, the policies are unknown controls
	if code, _, errOut := run(t, "", "scan", "../../examples/policies/app.yaml", "--controls", "TEAM-LABEL"); code != ExitError || !strings.Contains(errOut, "TEAM-LABEL") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// test: a case that does not get what it expects fails (exit 1) and
// says both; a case naming no object, or a broken suite, is an error
// (exit 2).
func TestPolicyTestRunner(t *testing.T) {
	code, out, errOut := run(t, "", "test", "../../examples/policies/policies_test.yaml")
	if code != ExitOK || !strings.Contains(out, "4 passed, 0 failed, 0 errors") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	suite := func(cases string) string {
		p := dir + "/t.yaml"
		os.WriteFile(p, []byte("apiVersion: kubeguard.io/v1\nkind: PolicyTest\nmetadata: {name: t}\nspec:\n  policies: ["+
			mustAbs(t, "../../examples/policies/policies.yaml")+"]\n  cases:\n"+cases), 0o644)
		return p
	}
	app := mustAbs(t, "../../examples/policies/app.yaml")
	code, out, _ = run(t, "", "test", suite("  - name: wrong\n    object: "+app+"\n    select: {name: checkout}\n    expect: [TEAM-LABEL]\n"))
	if code != ExitFindings || !strings.Contains(out, "FAIL  "+dir+"/t.yaml:7 wrong: want [TEAM-LABEL], got [TEAM-LABEL, VAP-REPLICA-LIMIT]") {
		t.Errorf("failing case: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", "test", suite("  - name: nobody\n    object: "+app+"\n    select: {name: nobody}\n    expect: []\n"))
	if code != ExitError || !strings.Contains(out, "ERROR") || !strings.Contains(out, "no object of") {
		t.Errorf("no object: exit %d\n%s", code, out)
	}
	code, _, errOut = run(t, "", "test", suite("  - name: no expectation\n    object: "+app+"\n"))
	if code != ExitError || !strings.Contains(errOut, "needs an object file and an expect list") {
		t.Errorf("no expect: exit %d\n%s", code, errOut)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// cluster --cluster-policies reads Gatekeeper's templates and the
// constraints of each template's kind from the cluster, with Gatekeeper's
// published ConstraintTemplate CRD and the constraint CRD generated as
// Gatekeeper generates it.
func TestE2EClusterGatekeeperPolicies(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	// create retries while the API server does not serve a new CRD's kind
	create := func(u *unstructured.Unstructured) {
		t.Helper()
		ri := testcluster.Resource(dyn, u)
		if u.GroupVersionKind().Group == "constraints.gatekeeper.sh" {
			// a constraint kind's plural is its lower-case kind
			ri = dyn.Resource(u.GroupVersionKind().GroupVersion().WithResource(strings.ToLower(u.GetKind())))
		}
		_, err := ri.Create(ctx, u, metav1.CreateOptions{})
		for deadline := time.Now().Add(30 * time.Second); err != nil && !apierrors.IsAlreadyExists(err) && time.Now().Before(deadline); {
			time.Sleep(300 * time.Millisecond)
			_, err = ri.Create(ctx, u, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	crd, _ := os.ReadFile("testdata/gatekeeper/constrainttemplate-customresourcedefinition.yaml")
	tmplYAML, _ := os.ReadFile("../../examples/policies/gatekeeper/template.yaml")
	constraintYAML, _ := os.ReadFile("../../examples/policies/gatekeeper/constraint.yaml")
	for _, u := range mustObjects(t, string(crd)) {
		create(u)
	}
	tmpl := mustObjects(t, string(tmplYAML))[0]
	create(tmpl)

	// the constraint kind's CRD, from the template, by the constraint
	// framework (what Gatekeeper's controller does)
	var v1t templatesv1.ConstraintTemplate
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl.Object, &v1t); err != nil {
		t.Fatal(err)
	}
	ct, err := v1t.ToVersionless()
	if err != nil {
		t.Fatal(err)
	}
	driver, err := rego.New()
	if err != nil {
		t.Fatal(err)
	}
	fc, err := constraintclient.NewClient(constraintclient.Targets(&gktarget.K8sValidationTarget{}), constraintclient.Driver(driver),
		constraintclient.EnforcementPoints("audit.gatekeeper.sh"))
	if err != nil {
		t.Fatal(err)
	}
	internalCRD, err := fc.CreateCRD(ctx, ct)
	if err != nil {
		t.Fatal(err)
	}
	var consCRD apiextensionsv1.CustomResourceDefinition
	if err := apiextensionsv1.Convert_apiextensions_CustomResourceDefinition_To_v1_CustomResourceDefinition(internalCRD, &consCRD, nil); err != nil {
		t.Fatal(err)
	}
	consCRD.APIVersion, consCRD.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
	crdU, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&consCRD)
	if err != nil {
		t.Fatal(err)
	}
	create(&unstructured.Unstructured{Object: crdU})
	constraint := mustObjects(t, string(constraintYAML))[0]
	create(constraint)

	app, _ := os.ReadFile("../../examples/policies/app.yaml")
	for _, u := range mustObjects(t, strings.NewReplacer("name: shop\n", "name: e2e-gk-shop\n", "namespace: shop\n", "namespace: e2e-gk-shop\n",
		"name: sandbox\n", "name: e2e-gk-sandbox\n", "namespace: sandbox\n", "namespace: e2e-gk-sandbox\n").Replace(string(app))) {
		create(u)
	}

	for _, ns := range []string{"e2e-gk-shop", "e2e-gk-sandbox"} {
		code, out, errOut := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "--cluster-policies", "-n", ns, "-o", "json",
			"--controls", "TEAM-MEMORY-LIMIT", "--fail-on", "none")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got := findings(t, out)
		want := map[string][]string{}
		if ns == "e2e-gk-shop" {
			// the constraint selects namespaces labelled env=prod
			want = map[string][]string{"Deployment/e2e-gk-shop/checkout": {"TEAM-MEMORY-LIMIT"}, "Deployment/e2e-gk-shop/cart": {"TEAM-MEMORY-LIMIT"}}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: findings %v, want %v", ns, got, want)
		}
	}
}
