package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// The dashboard's answer to a viewer who may read everything, with
// 10,000 PolicyReport results in 20 namespaces on the test harness's API
// server: TokenReview and 21 SubjectAccessReviews (or their cached
// answers), the reports from the watch, and the page.
func BenchmarkDashboard10kResults(b *testing.B) {
	c := testcluster.Shared(b)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	rc.QPS, rc.Burst = 500, 500
	client := kubernetes.NewForConfigOrDie(rc)
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	for _, f := range []string{"wgpolicyk8s.io_policyreports.yaml", "wgpolicyk8s.io_clusterpolicyreports.yaml"} {
		if err := testcluster.InstallCRD(dyn, "../../deploy/crds/"+f); err != nil {
			b.Fatal(err)
		}
	}
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rep := &report.Report{Tool: "kubeguard", Catalog: cat, Live: true}
	ids := []string{"PSS-PRIVILEGED", "PSS-RUN-AS-NON-ROOT", "CTR-READONLY-ROOTFS", "CTR-MEMORY-LIMIT", "NET-NO-INGRESS-POLICY"}
	for i := range 10000 {
		ns := fmt.Sprintf("bench-dash-%d", i%20)
		if i < 20 {
			if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				b.Fatal(err)
			}
		}
		rep.Findings = append(rep.Findings, &finding.Finding{ControlID: ids[i%len(ids)], Severity: finding.Severity(1 + i%5),
			Object: object.Ref{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: fmt.Sprintf("app-%d", i/len(ids))}, Path: "spec", Message: "a finding"})
	}
	if _, err := controller.WriteReports(ctx, dyn, rep, "", nil); err != nil {
		b.Fatal(err)
	}
	sa := "bench-reader"
	client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: sa},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"wgpolicyk8s.io"}, Resources: []string{"policyreports", "clusterpolicyreports"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{})
	client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: sa},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: sa},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: "default"}}}, metav1.CreateOptions{})
	tok, err := client.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	// reviewed: every request reviews the token and each namespace;
	// cached: reloads within ReviewTTL reuse the reviews
	for _, run := range []struct {
		name string
		ttl  time.Duration
	}{{"reviewed", time.Nanosecond}, {"cached", 0}} {
		b.Run(run.name, func(b *testing.B) {
			ds := &dashboard.Server{Client: client, Dynamic: dyn, Catalog: cat, ReviewTTL: run.ttl}
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			if err := ds.Start(sctx); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(ds.Handler())
			defer srv.Close()
			get := func() int {
				req, _ := http.NewRequest("GET", srv.URL+"/", nil)
				req.Header.Set("Authorization", "Bearer "+tok.Status.Token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				return int(n)
			}
			size := get()
			b.ResetTimer()
			for range b.N {
				get()
			}
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}
