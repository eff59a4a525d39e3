package controller_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
)

// The controller keeps a team's policies in the reports, and evaluates
// again what a change touches: the object itself, and every object a
// policy judges when its parameter changes.
func TestE2EControllerKeepsTeamPolicies(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(rc)
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	installCRDs(t, dyn)

	set, diags := userpolicy.LoadFiles([]string{"../../examples/policies/policies.yaml"})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	cat, err := controls.Catalog(controls.Options{Extra: set.Controls()})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := live.NewWatcher(dyn, metadata.NewForConfigOrDie(rc), discovery.NewDiscoveryClientForConfigOrDie(rc), live.WatchOptions{})
	ctl := controller.New(controller.Options{Engine: eng, Report: report.Report{Tool: "kubeguard", Catalog: cat},
		Client: client, Dynamic: dyn, Watcher: w, Identity: "policies", Namespace: "default", Interval: 300 * time.Millisecond,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 300 * time.Millisecond})
	go ctl.Run(cctx)

	for _, ns := range []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "ctl-shop", Labels: map[string]string{"env": "prod"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "policy-params"}}} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	limit := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "replica-limit", Namespace: "policy-params"}, Data: map[string]string{"maxReplicas": "5"}}
	if _, err := client.CoreV1().ConfigMaps("policy-params").Create(ctx, limit, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "ctl-shop", Labels: map[string]string{"team": "payments"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](8), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/checkout:1"}}}}}}
	if d, err = client.AppsV1().Deployments("ctl-shop").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	limited := func() bool {
		r, err := dyn.Resource(controller.PolicyReports).Namespace("ctl-shop").Get(ctx, report.ReportName, metav1.GetOptions{})
		if err != nil {
			return false
		}
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		for _, res := range results {
			if res.(map[string]any)["policy"] == "VAP-REPLICA-LIMIT" {
				return true
			}
		}
		return false
	}
	waitFor(t, "the replica limit reported", 20*time.Second, limited)

	// the object changes: evaluated again
	d.Spec.Replicas = ptr.To[int32](3)
	if _, err := client.AppsV1().Deployments("ctl-shop").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the finding gone with 3 replicas", 20*time.Second, func() bool { return !limited() })

	// its parameter changes, in another namespace: evaluated again too
	limit.Data["maxReplicas"] = "2"
	if _, err := client.CoreV1().ConfigMaps("policy-params").Update(ctx, limit, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "the finding back with a limit of 2", 20*time.Second, limited)
	t.Logf("a changed parameter took effect after %s", took.Round(10*time.Millisecond))
}
