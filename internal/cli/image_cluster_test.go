package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/testcluster"
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
