package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
)

// cluster --images scans what the pods run, by the digest in their
// status, pulled with the pods' own image pull secret.
func TestE2EClusterImages(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	db := testDB(t)
	host := imagetest.Registry(t, true)
	img := imagetest.Shop(t)
	d := imagetest.Push(t, host+"/acme/shop:1.0", img, &authn.Basic{Username: "user", Password: "password"})
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the machine has no credentials: the pull secret must serve
	auth := base64.StdEncoding.EncodeToString([]byte("user:password"))
	apply(t, dynamic.NewForConfigOrDie(rc), fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: e2e-images}
---
apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: e2e-images}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"%[1]s":{"auth":"%[2]s"}}}'
---
apiVersion: v1
kind: Pod
metadata: {name: shop, namespace: e2e-images}
spec:
  imagePullSecrets: [{name: regcred}]
  containers:
  - {name: shop, image: "%[1]s/acme/shop:1.0"}
---
apiVersion: v1
kind: Pod
metadata: {name: idle, namespace: e2e-images}
spec:
  containers:
  - {name: idle, image: "%[1]s/acme/idle:1.0"}
`, host, auth))
	// the kubelet's part: report what was pulled
	cs := kubernetes.NewForConfigOrDie(rc)
	pod, err := cs.CoreV1().Pods("e2e-images").Get(context.Background(), "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "shop", Image: host + "/acme/shop:1.0", ImageID: host + "/acme/shop@" + d.String(), Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	if _, err := cs.CoreV1().Pods("e2e-images").UpdateStatus(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-n", "e2e-images", "--images", "--db", db, "--insecure-registry",
		"--controls", "IMG-VULN", "-o", "json", "--fail-on", "high")
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	by := findings(t, out)
	if got := by["Pod/e2e-images/shop"]; len(got) != 4 {
		t.Errorf("the running pod: %v\n%s", got, errs)
	}
	if got := by["Pod/e2e-images/idle"]; len(got) != 0 {
		t.Errorf("a pod that runs nothing yet: %v", got)
	}
}

// With a long queue the controller's scanner reads images in Kubernetes
// Jobs, at most Max at a time, and matches the inventories they leave.
// The test cluster has no kubelet: the test runs each Job's command as
// the Job's pod would, with the test's kubeconfig.
func TestE2EImageScanJobs(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-scan-jobs"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := imagetest.Registry(t, false)
	refs := []string{host + "/acme/shop:1.0", host + "/acme/xen:3.11", host + "/acme/missing:1.0"}
	imagetest.Push(t, refs[0], imagetest.Shop(t), authn.Anonymous)
	imagetest.Push(t, refs[1], imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.Alpine311("4.13.2-r0")...), CreatedBy: "ADD"}), authn.Anonymous)
	db := imagetest.DB(t, filepath.Join(t.TempDir(), "db"))
	bg := imagescan.NewBackground(imagescan.New(imagescan.Options{DB: db}), 10, 1, "", nil)
	bg.UseJobs(&imagescan.Jobs{Client: cs, Namespace: "e2e-scan-jobs", Image: "kubeguard:test", Max: 2, Threshold: 0, Poll: 100 * time.Millisecond, Insecure: true})
	bg.Start(ctx)
	bg.Want(refs)

	ran := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		done := 0
		for _, ref := range refs {
			if _, _, ok := bg.Result(ref); ok {
				done++
			}
		}
		if done == len(refs) || time.Now().After(deadline) {
			break
		}
		jobs, err := cs.BatchV1().Jobs("e2e-scan-jobs").List(ctx, metav1.ListOptions{LabelSelector: imagescan.JobLabel})
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, j := range jobs.Items {
			if !ran[j.Name] {
				pending++
			}
		}
		if pending > 2 {
			t.Fatalf("%d Jobs running at once, want at most 2", pending)
		}
		for _, j := range jobs.Items {
			if ran[j.Name] {
				continue
			}
			ran[j.Name] = true
			spec := j.Spec.Template.Spec
			if spec.RestartPolicy != corev1.RestartPolicyNever || spec.Containers[0].Image != "kubeguard:test" {
				t.Errorf("job %s: %+v", j.Name, spec)
			}
			args := append(append([]string{}, spec.Containers[0].Args...), "--kubeconfig", c.Kubeconfig)
			run(t, "", args...) // the pod's part
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(ran) != 3 {
		t.Errorf("%d Jobs ran, want 3", len(ran))
	}
	count := func(ref string) int {
		res, err, ok := bg.Result(ref)
		if !ok || err != nil || len(res) != 1 {
			t.Errorf("%s: %v %v", ref, ok, err)
			return -1
		}
		return len(res[0].Matches)
	}
	if n := count(refs[0]); n != 4 {
		t.Errorf("shop: %d vulnerabilities, want 4", n)
	}
	if n := count(refs[1]); n != 1 {
		t.Errorf("xen: %d vulnerabilities, want 1", n)
	}
	if _, err, ok := bg.Result(refs[2]); !ok || err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Errorf("a missing image: %v %v", ok, err)
	}
	// the Jobs and their ConfigMaps are removed once read
	waitFor := time.Now().Add(10 * time.Second)
	for {
		jobs, _ := cs.BatchV1().Jobs("e2e-scan-jobs").List(ctx, metav1.ListOptions{LabelSelector: imagescan.JobLabel})
		cms, _ := cs.CoreV1().ConfigMaps("e2e-scan-jobs").List(ctx, metav1.ListOptions{LabelSelector: imagescan.JobLabel})
		if len(jobs.Items)+len(cms.Items) == 0 {
			break
		}
		if time.Now().After(waitFor) {
			t.Errorf("left behind: %d jobs, %d configmaps", len(jobs.Items), len(cms.Items))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}
