package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/dashboard"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// Against the test harness's API server: PolicyReports in two
// namespaces, a viewer allowed to list those of one. The viewer's token
// shows that namespace's findings only; no token, or a token the API
// server does not accept, is refused.
func TestE2EDashboard(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(rc)
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	for _, f := range []string{"wgpolicyk8s.io_policyreports.yaml", "wgpolicyk8s.io_clusterpolicyreports.yaml"} {
		if err := testcluster.InstallCRD(dyn, "../../deploy/crds/"+f); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"dash-shop", "dash-payments"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := func(ns, name string) object.Ref {
		return object.Ref{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: name}
	}
	rep := &report.Report{Tool: "kubeguard", Catalog: cat, Live: true, Findings: []*finding.Finding{
		{ControlID: "PSS-PRIVILEGED", Severity: finding.Critical, Object: pod("dash-shop", "storefront"), Path: "spec.containers[0].securityContext.privileged", Message: "privileged: container \"web\" must not set securityContext.privileged=true"},
		{ControlID: "PSS-HOST-PATH-VOLUMES", Severity: finding.High, Object: pod("dash-payments", "ledger"), Path: "spec.volumes[0].hostPath", Message: "hostPath volume \"docker\""},
	}}
	if _, err := controller.WriteReports(ctx, dyn, rep, "", nil); err != nil {
		t.Fatal(err)
	}
	// the viewer may list the PolicyReports of dash-shop only
	if _, err := client.CoreV1().ServiceAccounts("dash-shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "viewer"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().Roles("dash-shop").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reports"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"wgpolicyk8s.io"}, Resources: []string{"policyreports"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().RoleBindings("dash-shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "viewer-reports"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reports"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "viewer", Namespace: "dash-shop"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := client.CoreV1().ServiceAccounts("dash-shop").CreateToken(ctx, "viewer", &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// the reports are read from a watch, as the command serves them
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ds := &dashboard.Server{Client: client, Dynamic: dyn, Catalog: cat}
	if err := ds.Start(sctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ds.Handler())
	defer srv.Close()
	get := func(token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, page := get(tok.Status.Token)
	if code != http.StatusOK || !strings.Contains(page, "Pod/dash-shop/storefront") || strings.Contains(page, "ledger") || strings.Contains(page, "dash-payments") {
		t.Fatalf("the viewer of dash-shop: %d, page shows storefront %v, ledger %v", code, strings.Contains(page, "storefront"), strings.Contains(page, "ledger"))
	}
	if !strings.Contains(page, `<div class="card" id="open"><b>1</b>`) {
		t.Error("the viewer's page does not count one open finding")
	}
	// a reader of every namespace's reports sees both; an account that may
	// list none sees neither
	if _, err := client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "dash-auditor"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "dash-reports"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"wgpolicyk8s.io"}, Resources: []string{"policyreports", "clusterpolicyreports"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dash-auditor"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "dash-reports"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "dash-auditor", Namespace: "default"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for sa, want := range map[string]bool{"dash-auditor": true, "default": false} {
		tk, err := client.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa, &authnv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		code, page := get(tk.Status.Token)
		if code != http.StatusOK || strings.Contains(page, "Pod/dash-shop/storefront") != want || strings.Contains(page, "Pod/dash-payments/ledger") != want {
			t.Errorf("default/%s: %d, storefront %v, ledger %v, want both %v", sa, code, strings.Contains(page, "storefront"), strings.Contains(page, "ledger"), want)
		}
	}
	for _, bad := range []string{"", "not-a-token"} {
		if code, page := get(bad); code != http.StatusUnauthorized || strings.Contains(page, "storefront") || !strings.Contains(page, `action="/login"`) {
			t.Errorf("token %q: %d", bad, code)
		}
	}
	// the login form sets the token as a cookie, as a browser would send it
	jar := &cookieJar{}
	cl := &http.Client{Jar: jar}
	resp, err := cl.PostForm(srv.URL+"/login", url.Values{"token": {tok.Status.Token}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Pod/dash-shop/storefront") {
		t.Errorf("after the login form: %d", resp.StatusCode)
	}
}

// cookieJar keeps the cookies of one host.
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.cookies = append(j.cookies, cs...) }
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie          { return j.cookies }
