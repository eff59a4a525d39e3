package cli

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
)

const dashboardWorkloads = `apiVersion: v1
kind: Namespace
metadata: {name: dash-web}
---
apiVersion: v1
kind: Namespace
metadata: {name: dash-vault}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: storefront, namespace: dash-web}
spec:
  selector: {matchLabels: {app: storefront}}
  template:
    metadata: {labels: {app: storefront}}
    spec:
      containers: [{name: web, image: "nginx:latest", securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Service
metadata: {name: storefront, namespace: dash-web}
spec:
  type: LoadBalancer
  selector: {app: storefront}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: dash-vault}
spec:
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      volumes: [{name: docker, hostPath: {path: /var/run/docker.sock}}]
      containers: [{name: ledger, image: "ledger:1", volumeMounts: [{name: docker, mountPath: /var/run/docker.sock}]}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer, namespace: dash-web}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reports, namespace: dash-web}
rules: [{apiGroups: [wgpolicyk8s.io], resources: [policyreports], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer-reports, namespace: dash-web}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reports}
subjects: [{kind: ServiceAccount, name: viewer, namespace: dash-web}]
`

// The dashboard as a person uses it: kubeguard cluster writes
// PolicyReports to the test harness's API server (and its own HTML
// report says what reaches the workloads), kubeguard dashboard
// serves them, and in Chromium a viewer allowed one namespace is shown
// the sign-in form, pastes a token and sees that namespace's findings
// only, with no console error and no request elsewhere; when new reports
// are written the page says so.
func TestE2EDashboardInChromium(t *testing.T) {
	chromium(t) // before the cluster: skipped without a browser
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	for _, f := range []string{"wgpolicyk8s.io_policyreports.yaml", "wgpolicyk8s.io_clusterpolicyreports.yaml"} {
		if err := testcluster.InstallCRD(dyn, "../../deploy/crds/"+f); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, dyn, dashboardWorkloads)
	for _, ns := range []string{"dash-web", "dash-vault"} {
		if code, _, errs := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-n", ns, "--write-reports", "--fail-on", "none", "-o", "json"); code != ExitOK {
			t.Fatalf("cluster --write-reports -n %s: exit %d %s", ns, code, errs)
		}
	}
	// the cluster's own HTML report knows what reaches the storefront
	if code, page, errs := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-n", "dash-web", "--fail-on", "none", "-o", "html"); code != ExitOK ||
		!strings.Contains(page, "<li>LoadBalancer Service/dash-web/storefront accepts connections from any address</li>") {
		t.Errorf("cluster -o html: exit %d, the worst risks do not say the storefront is exposed %s", code, errs)
	}
	tok, err := kubernetes.NewForConfigOrDie(rc).CoreV1().ServiceAccounts("dash-web").CreateToken(context.Background(), "viewer", &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- MainContext(ctx, []string{"dashboard", "--kubeconfig", c.Kubeconfig, "--listen", addr}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("dashboard exited %d: %s", code, stderr.String())
		}
	}()
	url := "http://" + addr + "/"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard did not come up: %s", stderr.String())
		}
	}

	b := newBrowser(t)
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#token")))
	if got := eval[string](t, b, `document.querySelector("form").getAttribute("action")`); got != "/login" {
		t.Fatalf("the page without a token is not the sign-in form (form action %q)", got)
	}
	do(chromedp.SendKeys(chromedp.CSS("#token"), tok.Status.Token), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#groups details")))
	objects := eval[[]string](t, b, `[...new Set(JSON.parse(document.getElementById("data").textContent).findings.map(f => f.object))]`)
	levels := eval[[]string](t, b, `[...document.querySelectorAll("#pss tbody tr")].map(tr => tr.cells[0].textContent + " " + tr.cells[1].textContent)`)
	if !slices.Contains(objects, "Deployment/dash-web/storefront") || strings.Contains(strings.Join(objects, " "), "dash-vault") {
		t.Errorf("the viewer of dash-web sees %v", objects)
	}
	// the privileged container leaves dash-web at privileged
	if strings.Join(levels, "; ") != "dash-web privileged" {
		t.Errorf("Pod Security by namespace: %v", levels)
	}
	screenshot(t, b, "dashboard.png", false)

	// the page follows the controller: once new reports are written it
	// says so, and a reload shows them
	apply(t, dyn, `apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: dash-web}
spec:
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers: [{name: checkout, image: "checkout:1", securityContext: {privileged: true}}]
`)
	if hidden := eval[bool](t, b, `document.getElementById("follow").hidden`); !hidden {
		t.Fatal("the page says the reports changed before they did")
	}
	if code, _, errs := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-n", "dash-web", "--write-reports", "--fail-on", "none", "-o", "json"); code != ExitOK {
		t.Fatalf("cluster --write-reports: exit %d %s", code, errs)
	}
	do(chromedp.WaitVisible(chromedp.CSS("#follow")), chromedp.Click(chromedp.CSS("#follow a")), chromedp.WaitVisible(chromedp.CSS("#groups details")))
	objects = eval[[]string](t, b, `[...new Set(JSON.parse(document.getElementById("data").textContent).findings.map(f => f.object))]`)
	if !slices.Contains(objects, "Deployment/dash-web/checkout") {
		t.Errorf("after the reload the page shows %v", objects)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("console errors: %v", b.errors)
	}
	for _, r := range b.requests {
		if !strings.HasPrefix(r, url) {
			t.Errorf("the page made a request elsewhere: %s", r)
		}
	}
}
