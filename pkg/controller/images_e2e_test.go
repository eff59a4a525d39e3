package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/image"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// The controller scans the digests pods run in the background, writes
// their vulnerabilities into the PolicyReport, and matches again when
// the database is rebuilt.
func TestE2EControllerScansImages(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(rc)
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	installCRDs(t, dyn)

	host := imagetest.Registry(t, false)
	d := imagetest.Push(t, host+"/acme/shop:1.0", imagetest.Shop(t), authn.Anonymous)
	dbDir := filepath.Join(t.TempDir(), "db")
	db := imagetest.DB(t, dbDir, "DSA-3029-1.json") // nginx only, to begin with
	bg := imagescan.NewBackground(imagescan.New(imagescan.Options{Load: image.Options{Insecure: true}, DB: db}), 10, 2, dbDir, nil)
	bg.DBPoll = 200 * time.Millisecond
	bg.Start(ctx)

	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	w := live.NewWatcher(dyn, metadata.NewForConfigOrDie(rc), discovery.NewDiscoveryClientForConfigOrDie(rc), live.WatchOptions{Secrets: true})
	ctl := controller.New(controller.Options{Engine: eng, Report: report.Report{Tool: "kubeguard", Catalog: cat}, Images: bg,
		Client: client, Dynamic: dyn, Watcher: w, Identity: "images", Namespace: "kube-system", Interval: 300 * time.Millisecond,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 300 * time.Millisecond})
	go ctl.Run(ctx)

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ctl-images"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := client.CoreV1().Pods("ctl-images").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "shop", Image: host + "/acme/shop:1.0"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "shop", Image: host + "/acme/shop:1.0", ImageID: host + "/acme/shop@" + d.String(), Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	if _, err := client.CoreV1().Pods("ctl-images").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	vulns := func() int {
		rep, err := dyn.Resource(controller.PolicyReports).Namespace("ctl-images").Get(ctx, report.ReportName, metav1.GetOptions{})
		if err != nil {
			return -1
		}
		n := 0
		results, _, _ := unstructured.NestedSlice(rep.Object, "results")
		for _, res := range results {
			if res.(map[string]any)["policy"] == "IMG-VULN" {
				n++
			}
		}
		return n
	}
	took := waitFor(t, "the pod's image vulnerabilities in its report", 30*time.Second, func() bool { return vulns() == 2 })
	t.Logf("vulnerabilities of a new digest reported after %s", took.Round(10*time.Millisecond))

	time.Sleep(10 * time.Millisecond) // a later modification time than the first build
	imagetest.DB(t, dbDir, "DSA-3029-1.json", "GHSA-p6mc-m468-83gw.json", "GO-2021-0053.json")
	now := time.Now()
	os.Chtimes(filepath.Join(dbDir, "meta.json"), now, now)
	took = waitFor(t, "a rebuilt database matched again", 30*time.Second, func() bool { return vulns() == 4 })
	t.Logf("a rebuilt database reached the reports after %s", took.Round(10*time.Millisecond))
}
