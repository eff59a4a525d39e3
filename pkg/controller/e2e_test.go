package controller_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/report"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

func TestE2EControllerKeepsReportsCurrentWithOneLeader(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 200, 200
	client := kubernetes.NewForConfigOrDie(rc)
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()

	installCRDs(t, dyn)

	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	start := func(id string) (*controller.Controller, context.CancelFunc) {
		cctx, cancel := context.WithCancel(ctx)
		w := live.NewWatcher(dyn, metadata.NewForConfigOrDie(rc), discovery.NewDiscoveryClientForConfigOrDie(rc), live.WatchOptions{Secrets: true})
		ctl := controller.New(controller.Options{Engine: eng, Report: report.Report{Tool: "kubeguard", Catalog: cat},
			Client: client, Dynamic: dyn, Watcher: w, Identity: id, Namespace: "default", Interval: 300 * time.Millisecond,
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 300 * time.Millisecond})
		go ctl.Run(cctx)
		return ctl, cancel
	}
	a, stopA := start("replica-a")
	b, stopB := start("replica-b")
	defer stopA()
	defer stopB()
	waitFor(t, "a leader", 20*time.Second, func() bool { return a.Leader() || b.Leader() })
	follower, stopLeader := b, stopA
	if b.Leader() {
		follower, stopLeader = a, stopB
	}
	time.Sleep(time.Second)
	if follower.Leader() {
		t.Fatal("two leaders")
	}

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ctl",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ctl"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "nginx:latest", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}}}
	}
	// policies returns the controls the namespace's report lists for an
	// object.
	policies := func(name string) map[string]bool {
		out := map[string]bool{}
		r, err := dyn.Resource(controller.PolicyReports).Namespace("ctl").Get(ctx, report.ReportName, metav1.GetOptions{})
		if err != nil {
			return out
		}
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		for _, res := range results {
			resources, _, _ := unstructured.NestedSlice(res.(map[string]any), "resources")
			for _, rr := range resources {
				if n, _ := rr.(map[string]any)["name"].(string); n == name {
					out[res.(map[string]any)["policy"].(string)] = true
				}
			}
		}
		return out
	}
	reported := func(name string) bool { return len(policies(name)) > 0 }
	if _, err := client.CoreV1().Pods("ctl").Create(ctx, pod("bad"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "report for a new pod", 20*time.Second, func() bool { return reported("bad") })
	t.Logf("PolicyReport showed the new pod after %s", took.Round(10*time.Millisecond))

	// A new NetworkPolicy re-evaluates the pods it selects (and the
	// namespace's default-deny check), not the rest of the cluster.
	leader := b
	if a.Leader() {
		leader = a
	}
	other := pod("other")
	other.Labels = map[string]string{"app": "other"}
	if _, err := client.CoreV1().Pods("ctl").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "report for the other pod", 20*time.Second, func() bool { return policies("other")["NET-NO-INGRESS-POLICY"] })
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ctl"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	runs := leader.Evaluations()
	if _, err := client.NetworkingV1().NetworkPolicies("ctl").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, "the selected pod isolated for ingress", 20*time.Second, func() bool {
		return !policies("other")["NET-NO-INGRESS-POLICY"]
	})
	if !policies("bad")["NET-NO-INGRESS-POLICY"] {
		t.Error("the pod the policy does not select lost its finding")
	}
	t.Logf("the policy took effect after %s and %d evaluation(s); the last evaluated %d objects",
		took.Round(10*time.Millisecond), leader.Evaluations()-runs, leader.LastEvaluated())
	if n := leader.LastEvaluated(); n == 0 || n > 3 {
		t.Errorf("the NetworkPolicy's evaluation covered %d objects; want the policy, the pod it selects and the namespace", n)
	}

	// An expired certificate, read through the cache that keeps only
	// certificates.
	ca, err := tlsutil.NewCA("e2e-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.Issue(tlsutil.Leaf{CommonName: "old.example.com", Server: true, Validity: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets("ctl").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "old-tls"},
		Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "expired certificate reported", 20*time.Second, func() bool { return policies("old-tls")["SECRET-TLS-EXPIRED"] })

	if err := client.CoreV1().Pods("ctl").Delete(ctx, "bad", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "results of a deleted pod removed", 20*time.Second, func() bool { return !reported("bad") })
	if follower.Evaluations() != 0 {
		t.Errorf("the follower evaluated %d times", follower.Evaluations())
	}

	stopLeader()
	took = waitFor(t, "failover", 20*time.Second, func() bool { return follower.Leader() })
	t.Logf("failover after %s", took.Round(10*time.Millisecond))
	if _, err := client.CoreV1().Pods("ctl").Create(ctx, pod("bad2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "report from the new leader", 20*time.Second, func() bool { return reported("bad2") })
}

// installCRDs installs the PolicyReport CRDs and waits until they are
// served.
func installCRDs(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	for _, f := range []string{"wgpolicyk8s.io_policyreports.yaml", "wgpolicyk8s.io_clusterpolicyreports.yaml"} {
		if err := testcluster.InstallCRD(dyn, "../../deploy/crds/"+f); err != nil {
			t.Fatal(err)
		}
	}
}
