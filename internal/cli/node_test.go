package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/deploy"
	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
)

func TestNode(t *testing.T) {
	code, out, errOut := run(t, "", "node", "--root", "../../examples/node/kubeadm", "--benchmark", "cis-1.12", "-o", "json")
	if code == ExitError {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Checklists []struct {
			Benchmark string
			Target    struct{ Kind, Name string }
			Sections  []struct {
				ID      string
				Results []struct{ ID, Status, Detail, Control string }
			}
		}
		Findings []struct {
			ControlID string
			Object    struct{ Kind, Name string }
			Position  struct {
				File string
				Line int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Checklists) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	c := rep.Checklists[0]
	got := map[string]string{}
	for _, s := range c.Sections {
		for _, r := range s.Results {
			got[r.ID] = r.Status
		}
	}
	if c.Benchmark != "cis-1.12" || c.Target.Kind != "Node" || c.Target.Name != "worker-1" || len(got) != 36 ||
		got["4.2.1"] != "pass" || got["4.2.14"] != "warn" || got["4.3.1"] != "not applicable" {
		t.Errorf("%s %v: %v", c.Benchmark, c.Target, got)
	}
	// a finding per failed or warning item, on the Node, where it is fixed
	findings := map[string]string{}
	for _, f := range rep.Findings {
		if f.Object.Kind != "Node" || f.Object.Name != "worker-1" {
			t.Errorf("%s on %v", f.ControlID, f.Object)
		}
		findings[f.ControlID] = fmt.Sprintf("%s:%d", f.Position.File, f.Position.Line)
	}
	want := map[string]string{"CIS-4.1.1": "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf:0", "CIS-4.1.5": "/etc/kubernetes/kubelet.conf:0",
		"CIS-4.1.9": "/var/lib/kubelet/config.yaml:0", "CIS-4.2.9": "/var/lib/kubelet/config.yaml:0", "CIS-4.2.12": "/var/lib/kubelet/config.yaml:0",
		"CIS-4.2.13": "/var/lib/kubelet/config.yaml:0", "CIS-4.2.14": "/var/lib/kubelet/config.yaml:0"}
	if fmt.Sprint(findings) != fmt.Sprint(want) {
		t.Errorf("findings %v\nwant %v", findings, want)
	}
	// the configuration suppresses as everywhere: the item says so, and
	// the finding no longer fails the run
	dir := t.TempDir()
	cfg := dir + "/kubeguard.yaml"
	os.WriteFile(cfg, []byte("exclude:\n- controls: [CIS-4.1.*]\n  reason: the image bakes these files in\n"), 0o644)
	code, out, _ = run(t, "", "node", "--root", "../../examples/node/kubeadm", "--benchmark", "cis-1.12", "--config", cfg, "--fail-on", "medium")
	if code != ExitOK || !strings.Contains(out, "(suppressed: the image bakes these files in)") {
		t.Errorf("suppressed: exit %d\n%s", code, out)
	}
	// no version to detect, an unknown benchmark, no kubelet: exit 2
	for _, args := range [][]string{
		{"node", "--root", "../../examples/node/kubeadm"},
		{"node", "--root", "../../examples/node/kubeadm", "--benchmark", "cis-1.5"},
		{"node", "--root", "../../examples/insecure", "--benchmark", "cis-1.12"},
	} {
		if code, _, errOut := run(t, "", args...); code != ExitError || !strings.Contains(errOut, "kubeguard:") {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
}

// On the machine running the test cluster, node reads the real
// kube-apiserver, controller manager and etcd processes the harness
// started, and its verdicts follow the flags they run with.
func TestE2ENodeControlPlane(t *testing.T) {
	testcluster.Shared(t)
	type result struct {
		status string
		read   []string
	}
	var got map[string]result
	var missing string
	// the flags of the very process each verdict read (another test
	// binary's cluster may stop meanwhile: then read again)
	var argsErr error
	argsOf := func(id string) map[string]string {
		r := got[id]
		var pid int
		if len(r.read) != 1 {
			argsErr = fmt.Errorf("%s read %v", id, r.read)
			return nil
		}
		if _, err := fmt.Sscanf(r.read[0], "process %d", &pid); err != nil {
			argsErr = fmt.Errorf("%s read %q, not a process", id, r.read[0])
			return nil
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			argsErr = err
			return nil
		}
		out := map[string]string{}
		for _, a := range strings.Split(strings.TrimRight(string(data), "\x00"), "\x00") {
			if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok {
				out[name] = value
			}
		}
		return out
	}
	var api, cm, etcd map[string]string
	for attempt := 0; attempt < 3; attempt++ {
		code, out, errOut := run(t, "", "node", "--benchmark", "cis-1.12", "-o", "json")
		if code == ExitError {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rep struct {
			Checklists []struct {
				Notes    []string
				Sections []struct {
					Results []struct {
						ID, Status, Detail string
						Read               []string
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Checklists) != 1 {
			t.Fatalf("%v: %s", err, out)
		}
		got, missing = map[string]result{}, strings.Join(rep.Checklists[0].Notes, "; ")
		for _, s := range rep.Checklists[0].Sections {
			for _, r := range s.Results {
				got[r.ID] = result{r.Status, r.Read}
			}
		}
		argsErr = nil
		api, cm, etcd = argsOf("1.2.2"), argsOf("1.3.3"), argsOf("2.1")
		if argsErr == nil {
			break
		}
	}
	if argsErr != nil {
		t.Fatal(argsErr)
	}
	if !strings.Contains(missing, "section 4 not checked") || got["4.2.1"].status != "" {
		t.Errorf("the test machine runs no kubelet, yet section 4 ran: %q", missing)
	}
	verdict := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "fail"
	}
	_, token := api["token-auth-file"]
	_, audit := api["audit-log-path"]
	for id, want := range map[string]string{
		"1.2.2":  verdict(!token),
		"1.2.7":  verdict(strings.Contains(api["authorization-mode"], "Node")),
		"1.2.12": verdict(!strings.Contains(api["disable-admission-plugins"], "ServiceAccount")),
		"1.2.15": verdict(api["profiling"] == "false"),
		"1.2.16": verdict(audit),
		"1.2.25": verdict(api["client-ca-file"] != ""),
		"1.3.3":  verdict(cm["use-service-account-credentials"] != "false"),
		"1.3.5":  verdict(cm["root-ca-file"] != ""),
		"2.1":    verdict(etcd["cert-file"] != "" && etcd["key-file"] != ""),
	} {
		if got[id].status != want {
			t.Errorf("%s: %s, want %s (from the process's flags)", id, got[id].status, want)
		}
	}
	// the harness's choices, as a reader of its code knows them
	if got["1.2.2"].status != "fail" || got["1.2.12"].status != "fail" || got["1.3.3"].status != "fail" || got["2.1"].status != "fail" {
		t.Errorf("token file, ServiceAccount admission off, shared controller credentials and plain-HTTP etcd: %v %v %v %v",
			got["1.2.2"], got["1.2.12"], got["1.3.3"], got["2.1"])
	}
}

// cluster --nodes reads each node's configz through the API server's
// node proxy; a node whose kubelet does not answer is a diagnostic and
// the others are still checked. The API server here is a stand-in
// serving those paths alone (a unit test: the e2e cluster has no
// kubelet).
func TestClusterNodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/nodes/worker-1/proxy/configz":
			fmt.Fprint(w, `{"kubeletconfig":{"authentication":{"anonymous":{"enabled":true},"x509":{"clientCAFile":"/etc/kubernetes/pki/ca.crt"}},"authorization":{"mode":"Webhook"},"readOnlyPort":0}}`)
		default:
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes \"worker-2\" is forbidden","reason":"Forbidden","code":403}`, http.StatusForbidden)
		}
	}))
	defer srv.Close()
	nodeObj := func(name, version string) *object.Object {
		return object.New(map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": name},
			"status": map[string]any{"nodeInfo": map[string]any{"kubeletVersion": version}}}, object.Position{}, nil)
	}
	_, eng, err := newEngine(nil, "latest", engine.Options{Live: true})
	if err != nil {
		t.Fatal(err)
	}
	lists, fs, diags := clusterNodes(context.Background(), &rest.Config{Host: srv.URL}, &clusterFlags{}, eng,
		[]*object.Object{nodeObj("worker-1", "v1.33.2"), nodeObj("worker-2", "v1.30.1"), nodeObj("old", "v1.26.0")})
	if len(lists) != 1 || lists[0].Target.Name != "worker-1" || lists[0].Benchmark != "cis-1.12" {
		t.Fatalf("checklists: %+v", lists)
	}
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ControlID+" "+f.Object.Name)
	}
	if !slices.Contains(ids, "CIS-4.2.1 worker-1") || len(diags) != 2 {
		t.Errorf("findings %v, diagnostics %v", ids, diags)
	}
	msgs := fmt.Sprint(diags)
	if !strings.Contains(msgs, "node worker-2: reading the kubelet's configz") || !strings.Contains(msgs, "needs get on nodes/proxy") ||
		!strings.Contains(msgs, "node old: kubelet Kubernetes 1.26 is covered by an earlier CIS benchmark") {
		t.Errorf("diagnostics: %s", msgs)
	}
}

// On the real API server, a Node whose kubelet does not answer is an
// input error that names the node, and the rest of the scan is reported.
func TestE2EClusterNodesUnreachable(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	createNode(t, kubernetes.NewForConfigOrDie(rc), "e2e-unreachable-node", corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.33.2"},
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 1}}})
	code, out, errOut := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "--nodes", "-n", "default", "-o", "json", "--fail-on", "none")
	if code != ExitError || !strings.Contains(errOut, "node e2e-unreachable-node: reading the kubelet's configz") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
	var rep struct{ Findings []any }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Errorf("the report is still written: %v", err)
	}
}

// node --write-report stores the node's checklist as its
// ClusterPolicyReport on the real API server, replaced by the next run;
// without --benchmark the version comes from the Node's kubelet.
func TestE2ENodeWriteReport(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	installReportCRD(t, dyn)
	createNode(t, kubernetes.NewForConfigOrDie(rc), "worker-1", corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.30.4"}})
	write := func(extra ...string) *unstructured.Unstructured {
		t.Helper()
		errOut := runWriting(t, append([]string{"node", "--root", "../../examples/node/kubeadm", "--kubeconfig", c.Kubeconfig, "--write-report", "--node-name", "worker-1"}, extra...)...)
		if !strings.Contains(errOut, "wrote ClusterPolicyReport kubeguard-node-worker-1") {
			t.Fatal(errOut)
		}
		r, err := dyn.Resource(controller.ClusterPolicyReports).Get(context.Background(), "kubeguard-node-worker-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := write()
	results, _, _ := unstructured.NestedSlice(r.Object, "results")
	summary, _, _ := unstructured.NestedMap(r.Object, "summary")
	if r.GetLabels()["kubeguard.io/benchmark"] != "cis-1.11" || len(results) != 37 || fmt.Sprint(summary["fail"]) != "3" {
		t.Errorf("report: %v, %d results, summary %v", r.GetLabels(), len(results), summary)
	}
	scope, _, _ := unstructured.NestedString(r.Object, "scope", "name")
	if scope != "worker-1" {
		t.Errorf("scope %q", scope)
	}
	// suppressed in the configuration: skipped, with why, in place
	dir := t.TempDir()
	os.WriteFile(dir+"/kubeguard.yaml", []byte("exclude:\n- controls: [CIS-4.1.*]\n  reason: baked into the image\n"), 0o644)
	r2 := write("--config", dir+"/kubeguard.yaml", "--benchmark", "cis-1.12")
	summary, _, _ = unstructured.NestedMap(r2.Object, "summary")
	if r2.GetUID() != r.GetUID() || r2.GetLabels()["kubeguard.io/benchmark"] != "cis-1.12" || fmt.Sprint(summary["fail"]) != "0" || fmt.Sprint(summary["skip"]) != "14" {
		t.Errorf("replaced report: uid %s->%s, %v, summary %v", r.GetUID(), r2.GetUID(), r2.GetLabels(), summary)
	}
}

// The chart's node checker, on the real API server: its objects are
// accepted as rendered (strict field validation), and what its
// ServiceAccount may do is enough to write its node's report and to read
// its Node's release, and no more.
func TestE2ENodeDaemonSetObjects(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	rendered, err := deploy.Render("kg", "kg-e2e", map[string]any{"node": map[string]any{"enabled": true}})
	if err != nil {
		t.Fatal(err)
	}
	var created []*unstructured.Unstructured
	defer func() {
		for i := len(created) - 1; i >= 0; i-- {
			testcluster.Resource(dyn, created[i]).Delete(ctx, created[i].GetName(), metav1.DeleteOptions{})
		}
	}()
	for _, doc := range strings.Split(rendered, "\n---\n") {
		if !strings.Contains(doc, "# Source: kubeguard/templates/node.yaml") {
			continue
		}
		objs, err := testcluster.Objects(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			if _, err := testcluster.Resource(dyn, u).Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
				t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
			}
			created = append(created, u)
		}
	}
	kinds := map[string]int{}
	for _, u := range created {
		kinds[u.GetKind()]++
	}
	if kinds["DaemonSet"] != 1 || kinds["ClusterRole"] != 1 || kinds["Namespace"] != 1 {
		t.Fatalf("created %v", kinds)
	}

	installReportCRD(t, dyn)
	createNode(t, cs, "e2e-ds-node", corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.33.1"}})

	// the DaemonSet's identity, through a kubeconfig that impersonates it
	sa := "system:serviceaccount:kg-e2e-node:kg-node"
	kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range kc.AuthInfos {
		a.Impersonate, a.ImpersonateGroups = sa, []string{"system:serviceaccounts", "system:serviceaccounts:kg-e2e-node", "system:authenticated"}
	}
	imp := t.TempDir() + "/kubeconfig"
	if err := clientcmd.WriteToFile(*kc, imp); err != nil {
		t.Fatal(err)
	}
	runWriting(t, "node", "--root", "../../examples/node/kubeadm", "--kubeconfig", imp, "--write-report", "--node-name", "e2e-ds-node")
	r, err := dyn.Resource(controller.ClusterPolicyReports).Get(ctx, "kubeguard-node-e2e-ds-node", metav1.GetOptions{})
	if err != nil || r.GetLabels()["kubeguard.io/benchmark"] != "cis-1.12" {
		t.Fatalf("report: %v %v", err, r)
	}
	defer dyn.Resource(controller.ClusterPolicyReports).Delete(ctx, r.GetName(), metav1.DeleteOptions{})
	// and no more than that
	impCS := kubernetes.NewForConfigOrDie(impersonating(rc, sa))
	for _, ra := range []authorizationv1.ResourceAttributes{
		{Verb: "delete", Group: "wgpolicyk8s.io", Resource: "clusterpolicyreports"},
		{Verb: "list", Resource: "nodes"},
		{Verb: "get", Resource: "nodes", Subresource: "proxy"},
		{Verb: "get", Resource: "secrets", Namespace: "kube-system"},
		{Verb: "create", Resource: "pods", Namespace: "kg-e2e-node"},
	} {
		rv, err := impCS.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rv.Status.Allowed {
			t.Errorf("the node checker may %s %s %s", ra.Verb, ra.Resource, ra.Subresource)
		}
	}
}

// createNode creates a Node with a status and deletes it when the test
// ends.
func createNode(t *testing.T, cs kubernetes.Interface, name string, status corev1.NodeStatus) {
	t.Helper()
	ctx := context.Background()
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}) })
	n.Status = status
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// installReportCRD creates the ClusterPolicyReport CRD unless it exists.
func installReportCRD(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	crds, err := os.ReadFile("../../deploy/crds/wgpolicyk8s.io_clusterpolicyreports.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := testcluster.Objects(string(crds))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range objs {
		if _, err := testcluster.Resource(dyn, u).Create(context.Background(), u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// runWriting runs a command that writes reports, again while a new CRD
// is being established; it fails the test on an error.
func runWriting(t *testing.T, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, errOut := run(t, "", args...)
		if code == ExitError && strings.Contains(errOut, "could not find the requested resource") && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		if code == ExitError {
			t.Fatalf("%v: %s", args, errOut)
		}
		return errOut
	}
}
