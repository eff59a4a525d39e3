package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

const secretValue = "s3cr3t-Value-that-must-never-show-9f8e7d6c"

// posture is what the cluster scan test seeds. The ReplicaSet and Pod are
// owned by the Deployment (their uids are filled in at creation).
var posture = `apiVersion: v1
kind: Namespace
metadata: {name: e2e-posture, labels: {pod-security.kubernetes.io/enforce: privileged}}
---
apiVersion: v1
kind: Namespace
metadata: {name: e2e-restricted, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: insecure, namespace: e2e-posture}
spec:
  replicas: 1
  selector: {matchLabels: {app: insecure}}
  template:
    metadata: {labels: {app: insecure}}
    spec:
      hostNetwork: true
      containers:
      - name: app
        image: nginx:latest
        securityContext: {privileged: true}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ci, namespace: e2e-posture}
---
apiVersion: v1
kind: Secret
metadata: {name: ci-token, namespace: e2e-posture, annotations: {kubernetes.io/service-account.name: ci}}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: e2e-posture}
stringData: {password: ` + secretValue + `}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: e2e-fail-open}
webhooks:
- name: pods.e2e.example.com
  failurePolicy: Ignore
  admissionReviewVersions: [v1]
  sideEffects: None
  objectSelector: {matchLabels: {e2e-never: "set"}}
  clientConfig: {url: "https://127.0.0.1:1/validate"}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
`

func apply(t *testing.T, dyn dynamic.Interface, manifests string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	objs, err := testcluster.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range objs {
		ri := testcluster.Resource(dyn, u)
		var created *unstructured.Unstructured
		var err error
		deadline := time.Now().Add(20 * time.Second)
		for {
			created, err = ri.Create(context.Background(), u, metav1.CreateOptions{})
			// A ServiceAccount's token Secret waits for the account to be
			// seen; a new CRD is served after a moment.
			if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "not found") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		out[u.GetKind()+"/"+u.GetName()] = created
	}
	return out
}

type jsonOut struct {
	Findings []struct {
		ControlID string
		Object    struct{ Kind, Namespace, Name, UID string }
	}
}

func findings(t *testing.T, out string) map[string][]string {
	t.Helper()
	var r jsonOut
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	by := map[string][]string{}
	for _, f := range r.Findings {
		k := f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name
		by[k] = append(by[k], f.ControlID)
	}
	for k := range by {
		sort.Strings(by[k])
	}
	return by
}

func TestE2EClusterPosture(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	objs := apply(t, dyn, posture)
	dep := objs["Deployment/insecure"]
	owned := fmt.Sprintf(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: insecure-1
  namespace: e2e-posture
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: insecure, uid: %s, controller: true}]
spec:
  selector: {matchLabels: {app: insecure}}
  template:
    metadata: {labels: {app: insecure}}
    spec: {hostNetwork: true, containers: [{name: app, image: "nginx:latest", securityContext: {privileged: true}}]}
`, dep.GetUID())
	rs := apply(t, dyn, owned)["ReplicaSet/insecure-1"]
	apply(t, dyn, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: insecure-1-abcde
  namespace: e2e-posture
  labels: {app: insecure}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: insecure-1, uid: %s, controller: true}]
spec: {hostNetwork: true, containers: [{name: app, image: "nginx:latest", securityContext: {privileged: true}}]}
`, rs.GetUID()))

	// TLS Secrets: expired, due for renewal, fresh. Their private keys
	// are Secret values like any other.
	ca, err := tlsutil.NewCA("e2e-ca", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for name, validity := range map[string]time.Duration{"tls-old": -48 * time.Hour, "tls-soon": 10 * 24 * time.Hour, "tls-fresh": 365 * 24 * time.Hour} {
		crt, key, err := ca.Issue(tlsutil.Leaf{CommonName: name + ".example.com", Server: true, Validity: validity})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, strings.Split(string(key), "\n")[1])
		apply(t, dyn, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: e2e-posture}\ntype: kubernetes.io/tls\n"+
			"data: {tls.crt: %s, tls.key: %s}\n", name, base64.StdEncoding.EncodeToString(crt), base64.StdEncoding.EncodeToString(key)))
	}

	code, out, errOut := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-n", "e2e-posture", "-o", "json", "--fail-on", "critical")
	if code != ExitFindings {
		t.Fatalf("exit %d (want 1 for critical findings): %s", code, errOut)
	}
	live := findings(t, out)
	var parsed jsonOut
	json.Unmarshal([]byte(out), &parsed)
	for _, f := range parsed.Findings {
		if f.Object.Kind == "Deployment" && f.Object.Name == "insecure" && f.Object.UID != string(dep.GetUID()) {
			t.Errorf("finding %s on the Deployment has uid %q, want %q", f.ControlID, f.Object.UID, dep.GetUID())
		}
	}

	// The Deployment gets exactly what scan finds in its manifest, minus
	// what only files are checked for; its ReplicaSet and Pod are folded
	// into it.
	dir := t.TempDir()
	path := filepath.Join(dir, "posture.yaml")
	os.WriteFile(path, []byte(posture), 0o600)
	_, fileOut, _ := run(t, "", "scan", path, "-o", "json", "--fail-on", "critical")
	files := findings(t, fileOut)
	key := "Deployment/e2e-posture/insecure"
	if strings.Join(live[key], ",") != strings.Join(files[key], ",") || len(live[key]) < 5 {
		t.Errorf("Deployment findings differ:\ncluster %v\nfiles   %v", live[key], files[key])
	}
	for _, k := range []string{"ReplicaSet/e2e-posture/insecure-1", "Pod/e2e-posture/insecure-1-abcde"} {
		if len(live[k]) > 0 {
			t.Errorf("%s reported (%v); it belongs to the Deployment", k, live[k])
		}
	}

	// A dump of the same objects (kubectl get ns,deploy,rs,pods -o json)
	// is scanned as the cluster is: the ReplicaSet and Pod fold into the
	// Deployment, which gets the cluster's findings.
	ns, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(context.Background(), "e2e-posture", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dump := []any{ns.Object}
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "apps", Version: "v1", Resource: "deployments"}, {Group: "apps", Version: "v1", Resource: "replicasets"}, {Version: "v1", Resource: "pods"},
	} {
		list, err := dyn.Resource(gvr).Namespace("e2e-posture").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range list.Items {
			dump = append(dump, it.Object)
		}
	}
	data, _ := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": dump}, "", "    ")
	os.WriteFile(filepath.Join(dir, "dump.json"), data, 0o600)
	_, dumpOut, _ := run(t, "", "scan", filepath.Join(dir, "dump.json"), "-o", "json", "--fail-on", "critical")
	dumped := findings(t, dumpOut)
	if strings.Join(dumped[key], ",") != strings.Join(live[key], ",") {
		t.Errorf("Deployment findings differ:\ncluster %v\ndump    %v", live[key], dumped[key])
	}
	var summary struct{ Summary struct{ Objects, Folded int } }
	json.Unmarshal([]byte(dumpOut), &summary)
	// the dump's Namespace is judged as the live one
	if got, want := strings.Join(dumped["Namespace//e2e-posture"], ","), strings.Join(live["Namespace//e2e-posture"], ","); got != want || !strings.Contains(got, "NS-NO-POD-SECURITY") {
		t.Errorf("Namespace in the dump: %v, live: %v", got, want)
	}
	if len(dumped) != 2 || summary.Summary.Objects != 2 || summary.Summary.Folded != len(dump)-2 || len(dump) < 4 {
		t.Errorf("dump of %d objects: findings on %v, summary %+v; want the Namespace and the Deployment, the rest folded", len(dump), dumped, summary.Summary)
	}
	for k, want := range map[string]string{
		"Secret/e2e-posture/ci-token":                   "SA-LEGACY-TOKEN",
		"ValidatingWebhookConfiguration//e2e-fail-open": "WEBHOOK-FAIL-OPEN",
		"Secret/e2e-posture/tls-old":                    "SECRET-TLS-EXPIRED",
		"Secret/e2e-posture/tls-soon":                   "SECRET-TLS-EXPIRING",
		"Secret/e2e-posture/tls-fresh":                  "",
	} {
		if got := strings.Join(live[k], ","); got != want && !(want == "WEBHOOK-FAIL-OPEN" && strings.Contains(got, want)) {
			t.Errorf("%s: %v, want %s", k, live[k], want)
		}
	}
	if got := live["Secret/e2e-posture/db"]; len(got) > 0 {
		t.Errorf("a Secret with data in a cluster is no finding: %v", got)
	}
	if got := strings.Join(live["Namespace//e2e-posture"], ","); got != "NET-NO-DEFAULT-DENY,NS-NO-POD-SECURITY" {
		t.Errorf("privileged namespace: %v, want NET-NO-DEFAULT-DENY,NS-NO-POD-SECURITY", got)
	}
	if got := live["Namespace//e2e-restricted"]; got != nil {
		t.Errorf("restricted namespace reported: %v", got)
	}

	// A static pod's mirror is owned by its Node, and checked on its own:
	// the control-plane flags are read from it.
	node := apply(t, dyn, `apiVersion: v1
kind: Node
metadata: {name: e2e-node}`)["Node/e2e-node"]
	apply(t, dyn, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver-e2e-node
  namespace: kube-system
  ownerReferences: [{apiVersion: v1, kind: Node, name: e2e-node, uid: %s, controller: true}]
spec:
  nodeName: e2e-node
  hostNetwork: true
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.37.2
    command: [kube-apiserver, --anonymous-auth=true, --authorization-mode=AlwaysAllow]
`, node.GetUID()))
	_, out, _ = run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-n", "kube-system", "-o", "json", "--fail-on", "critical")
	cp := strings.Join(findings(t, out)["Pod/kube-system/kube-apiserver-e2e-node"], ",")
	for _, id := range []string{"CP-ANONYMOUS-AUTH", "CP-AUTHORIZATION-MODE"} {
		if !strings.Contains(cp, id) {
			t.Errorf("mirror pod of kube-apiserver: %s, want %s", cp, id)
		}
	}

	// Secret values never leave the cluster, in any format.
	for _, format := range []string{"table", "json", "sarif", "junit", "policyreport"} {
		_, out, errOut := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-o", format)
		for _, v := range append(keys, secretValue) {
			if strings.Contains(out+errOut, v) {
				t.Errorf("-o %s prints a Secret value", format)
			}
		}
	}

	// PolicyReports: written, replaced on the next run, removed when a
	// namespace has no findings left.
	crds, _ := os.ReadFile("../../deploy/crds/wgpolicyk8s.io_policyreports.yaml")
	ccrds, _ := os.ReadFile("../../deploy/crds/wgpolicyk8s.io_clusterpolicyreports.yaml")
	apply(t, dyn, string(crds)+"\n---\n"+string(ccrds))
	apply(t, dyn, `apiVersion: v1
kind: Namespace
metadata: {name: e2e-transient}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: leaky, namespace: e2e-transient}
data: {DB_PASSWORD: "pw-`+secretValue+`"}`)
	writeAndCount := func() map[string]int {
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, _, errOut := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "--write-reports", "--fail-on", "critical", "-o", "json")
			if code == ExitError && strings.Contains(errOut, "the server could not find the requested resource") && time.Now().Before(deadline) {
				time.Sleep(300 * time.Millisecond) // the CRDs are being established
				continue
			}
			if code == ExitError {
				t.Fatalf("--write-reports: %s", errOut)
			}
			break
		}
		list, err := dyn.Resource(controller.PolicyReports).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubeguard"})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, r := range list.Items {
			n, _, _ := unstructured.NestedInt64(r.Object, "summary", "fail")
			results, _, _ := unstructured.NestedSlice(r.Object, "results")
			if int(n) != len(results) {
				t.Errorf("%s: summary.fail %d, %d results", r.GetNamespace(), n, len(results))
			}
			counts[r.GetNamespace()] = int(n)
		}
		return counts
	}
	first := writeAndCount()
	if first["e2e-posture"] == 0 || first["e2e-transient"] == 0 {
		t.Fatalf("reports after the first run: %v", first)
	}
	if err := dyn.Resource(configMaps).Namespace("e2e-transient").Delete(context.Background(), "leaky", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	second := writeAndCount()
	if _, ok := second["e2e-transient"]; ok {
		t.Errorf("stale report of e2e-transient kept: %v", second)
	}
	if second["e2e-posture"] != first["e2e-posture"] {
		t.Errorf("e2e-posture report changed without a change: %d -> %d", first["e2e-posture"], second["e2e-posture"])
	}
	cpr, err := dyn.Resource(controller.ClusterPolicyReports).Get(context.Background(), report.ReportName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ClusterPolicyReport: %v", err)
	}
	if results, _, _ := unstructured.NestedSlice(cpr.Object, "results"); len(results) == 0 {
		t.Error("ClusterPolicyReport has no results (the fail-open webhook at least)")
	}
}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// Lists are paginated, and Snapshot hands every object of its result to
// emit exactly once.
func TestE2ESnapshotPaginates(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	manifests := "apiVersion: v1\nkind: Namespace\nmetadata: {name: e2e-pages}\n"
	for i := range 7 {
		manifests += fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: e2e-pages}\n", i)
	}
	apply(t, dynamic.NewForConfigOrDie(rc), manifests)
	defer func(n int64) { live.PageSize = n }(live.PageSize)
	live.PageSize = 3

	var mu sync.Mutex
	emitted := map[string]int{}
	objs, st, err := live.Snapshot(context.Background(), rc, "e2e-pages", func(objs []*object.Object) {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range objs {
			emitted[o.Ref.String()]++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cms := 0
	for _, o := range objs {
		if o.Kind == "ConfigMap" && strings.HasPrefix(o.Name, "cm-") {
			cms++
		}
		if emitted[o.Ref.String()] != 1 {
			t.Errorf("%s emitted %d times", o.Ref, emitted[o.Ref.String()])
		}
	}
	if cms != 7 || len(emitted) != len(objs) {
		t.Errorf("%d of 7 ConfigMaps listed; %d objects emitted, %d returned", cms, len(emitted), len(objs))
	}
	// Every kind takes a request; the ConfigMaps take three pages of 3.
	if min := len(live.PostureKinds) + 3 + 2; st.Requests < min {
		t.Errorf("%d list requests, want at least %d: lists are not paginated", st.Requests, min)
	}
}

// Backups on the real API server, with Velero's published CRDs: the
// controls judge the objects' statuses, the recovery report says what
// protects each namespace holding state, and the findings reach the
// PolicyReports.
func TestE2EClusterBackup(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	var crds []string
	for _, f := range []string{"schedules", "backups", "restores", "backupstoragelocations"} {
		data, err := os.ReadFile("testdata/velero/velero.io_" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, string(data))
	}
	for _, u := range mustObjects(t, strings.Join(crds, "\n---\n")) {
		if _, err := testcluster.Resource(dyn, u).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	objs := mustObjects(t, `apiVersion: v1
kind: Namespace
metadata: {name: e2e-bk-shop}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orders, namespace: e2e-bk-shop}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Namespace
metadata: {name: e2e-bk-ledger}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: journal, namespace: e2e-bk-ledger}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Namespace
metadata: {name: e2e-velero}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: shop-daily, namespace: e2e-velero}
spec:
  schedule: "0 2 * * *"
  template:
    includedNamespaces: [e2e-bk-shop]
    ttl: 24h0m0s
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: shop-daily-good
  namespace: e2e-velero
  labels: {velero.io/schedule-name: shop-daily}
spec: {includedNamespaces: [e2e-bk-shop]}
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: shop-daily-bad
  namespace: e2e-velero
  labels: {velero.io/schedule-name: shop-daily}
spec: {includedNamespaces: [e2e-bk-shop]}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: e2e-velero}
spec:
  provider: aws
  objectStorage: {bucket: e2e}
  config: {region: eu-west-1}
---
apiVersion: velero.io/v1
kind: Restore
metadata: {name: drill, namespace: e2e-velero}
spec: {backupName: shop-daily-good, includedNamespaces: [e2e-bk-shop]}
`)
	statuses := map[string]map[string]any{
		"shop-daily-good": {"phase": "Completed", "startTimestamp": ts(30 * time.Hour), "completionTimestamp": ts(29 * time.Hour)},
		"shop-daily-bad":  {"phase": "PartiallyFailed", "errors": int64(2), "startTimestamp": ts(5 * time.Hour)},
		"drill":           {"phase": "Completed", "completionTimestamp": ts(10 * 24 * time.Hour)},
	}
	for _, u := range objs {
		ri := testcluster.Resource(dyn, u)
		st, withStatus := statuses[u.GetName()]
		if withStatus {
			u.Object["status"] = st
		}
		created, err := ri.Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"})
		for deadline := time.Now().Add(20 * time.Second); err != nil && strings.Contains(err.Error(), "could not find the requested resource") && time.Now().Before(deadline); {
			time.Sleep(300 * time.Millisecond) // the CRDs are being established
			created, err = ri.Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"})
		}
		if err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		defer ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{})
		// a CRD with a status subresource drops the status on create
		if _, kept := created.Object["status"]; withStatus && !kept {
			created.Object["status"] = st
			if _, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("status of %s: %v", u.GetName(), err)
			}
		}
	}

	code, out, errOut := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-o", "json", "--fail-on", "none", "--controls", "BACKUP-*")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := findings(t, out)
	for obj, want := range map[string]string{
		"Namespace//e2e-bk-ledger":                 "[BACKUP-NAMESPACE-UNCOVERED]",
		"Schedule/e2e-velero/shop-daily":           "[BACKUP-FAILED BACKUP-TTL-SHORT]",
		"BackupStorageLocation/e2e-velero/default": "[BACKUP-STORAGE-UNENCRYPTED]",
	} {
		if fmt.Sprint(got[obj]) != want {
			t.Errorf("%s: %v, want %s", obj, got[obj], want)
		}
	}
	if len(got["Namespace//e2e-bk-shop"]) > 0 || len(got["Cluster//cluster"]) > 0 {
		t.Errorf("covered namespace or tested restores reported: %v", got)
	}

	// in the policy reports
	prCRD, _ := os.ReadFile("../../deploy/crds/wgpolicyk8s.io_policyreports.yaml")
	for _, u := range mustObjects(t, string(prCRD)) {
		if _, err := testcluster.Resource(dyn, u).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	installReportCRD(t, dyn)
	runWriting(t, "cluster", "--kubeconfig", c.Kubeconfig, "--write-reports", "--fail-on", "none", "-o", "json")
	policies := func(r *unstructured.Unstructured) []string {
		var out []string
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		for _, x := range results {
			m := x.(map[string]any)
			res := m["resources"].([]any)[0].(map[string]any)
			out = append(out, fmt.Sprint(m["policy"], " ", res["kind"], "/", res["name"]))
		}
		return out
	}
	pr, err := dyn.Resource(controller.PolicyReports).Namespace("e2e-velero").Get(ctx, report.ReportName, metav1.GetOptions{})
	if err != nil || !slices.Contains(policies(pr), "BACKUP-FAILED Schedule/shop-daily") {
		t.Errorf("PolicyReport of e2e-velero: %v %v", err, pr)
	}
	cpr, err := dyn.Resource(controller.ClusterPolicyReports).Get(ctx, report.ReportName, metav1.GetOptions{})
	if err != nil || !slices.Contains(policies(cpr), "BACKUP-NAMESPACE-UNCOVERED Namespace/e2e-bk-ledger") {
		t.Errorf("ClusterPolicyReport: %v %v", err, cpr)
	}

	// the recovery report
	code, out, errOut = run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "--backup", "-o", "json")
	if code != ExitFindings || !strings.Contains(errOut, "BACKUP-FAILED") {
		t.Errorf("--backup: exit %d, stderr %s", code, errOut)
	}
	var recs []struct {
		Namespace, State, LastBackupName, LastRestoreName string
		CoveredBy                                         []string
	}
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	byNS := map[string]string{}
	for _, r := range recs {
		byNS[r.Namespace] = fmt.Sprintf("%s|%v|%s|%s", r.State, r.CoveredBy, r.LastBackupName, r.LastRestoreName)
	}
	if byNS["e2e-bk-shop"] != "1 PersistentVolumeClaim|[Schedule e2e-velero/shop-daily]|shop-daily-good|drill" ||
		byNS["e2e-bk-ledger"] != "1 PersistentVolumeClaim|[]||" {
		t.Errorf("recovery report: %v", byNS)
	}
	_, table, _ := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "--backup")
	if !strings.Contains(table, "e2e-bk-ledger") || !strings.Contains(table, "nothing") || !strings.Contains(table, "1 day ago (shop-daily-good)") {
		t.Errorf("recovery table:\n%s", table)
	}
}

func mustObjects(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testcluster.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}
