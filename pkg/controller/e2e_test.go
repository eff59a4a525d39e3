package controller_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/report"
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

	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, f := range []string{"wgpolicyk8s.io_policyreports.yaml", "wgpolicyk8s.io_clusterpolicyreports.yaml"} {
		data, err := os.ReadFile("../../deploy/crds/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(crds).Create(ctx, &u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	waitFor(t, "report CRDs served", 30*time.Second, func() bool {
		_, err := dyn.Resource(controller.PolicyReports).List(ctx, metav1.ListOptions{})
		return err == nil
	})

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
		w := live.NewWatcher(dyn, metadata.NewForConfigOrDie(rc), discovery.NewDiscoveryClientForConfigOrDie(rc), 0)
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
	reported := func(name string) bool {
		r, err := dyn.Resource(controller.PolicyReports).Namespace("ctl").Get(ctx, report.ReportName, metav1.GetOptions{})
		if err != nil {
			return false
		}
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		for _, res := range results {
			resources, _, _ := unstructured.NestedSlice(res.(map[string]any), "resources")
			for _, rr := range resources {
				if n, _ := rr.(map[string]any)["name"].(string); n == name {
					return true
				}
			}
		}
		return false
	}
	if _, err := client.CoreV1().Pods("ctl").Create(ctx, pod("bad"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "report for a new pod", 20*time.Second, func() bool { return reported("bad") })
	t.Logf("PolicyReport showed the new pod after %s", took.Round(10*time.Millisecond))

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
