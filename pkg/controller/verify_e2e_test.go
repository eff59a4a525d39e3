package controller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// The controller verifies the digests pods run and keeps the policies
// they fail in the PolicyReport; an image signed later leaves the report
// once its cached failure expires, without any object changing.
func TestE2EControllerVerifiesImages(t *testing.T) {
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

	const issuer, identity = "https://token.actions.githubusercontent.com", "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
	host := imagetest.Registry(t, false)
	ss := sigtest.New(t)
	push := func(repo string) name.Digest {
		h := imagetest.Push(t, host+"/acme/"+repo+":1.0", imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "id", Body: []byte(repo)})}), authn.Anonymous)
		d, _ := name.NewDigest(host+"/acme/"+repo+"@"+h.String(), name.Insecure)
		return d
	}
	signed, later := push("shop"), push("tool")
	sigtest.PushTag(t, signed, ".sig", ss.KeylessSignature(t, signed, identity, issuer, time.Time{}))

	vcfg := config.ImageVerify{TrustedRoot: ss.WriteTrustedRoot(t, t.TempDir()), Cache: config.VerifyCache{FailureTTL: 300 * time.Millisecond},
		Policies: []config.ImagePolicy{{Name: "acme", Images: []string{host + "/acme/**"},
			Authorities: []config.Authority{{Name: "release-ci", Keyless: &config.Keyless{Issuer: issuer, Subject: identity}}}}}}
	ps, err := imageverify.Compile(vcfg, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := imageverify.New(ps, imageverify.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := imageverify.NewCache(v, vcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	w := live.NewWatcher(dyn, metadata.NewForConfigOrDie(rc), discovery.NewDiscoveryClientForConfigOrDie(rc), live.WatchOptions{Secrets: true})
	ctl := controller.New(controller.Options{Engine: eng, Report: report.Report{Tool: "kubeguard", Catalog: cat}, Verify: cache,
		Client: client, Dynamic: dyn, Watcher: w, Identity: "verify", Namespace: "kube-system", Interval: 300 * time.Millisecond,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 300 * time.Millisecond})
	go ctl.Run(ctx)

	const ns = "ctl-verify"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []name.Digest{signed, later} {
		repo := d.Context().RepositoryStr()[len("acme/"):]
		pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: repo},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: host + "/acme/" + repo + ":1.0"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: host + "/acme/" + repo + ":1.0", ImageID: d.String()}}
		if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	failing := func() []string {
		rep, err := dyn.Resource(controller.PolicyReports).Namespace(ns).Get(ctx, report.ReportName, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		var out []string
		results, _, _ := unstructured.NestedSlice(rep.Object, "results")
		for _, res := range results {
			r := res.(map[string]any)
			if r["policy"] != "IMG-SIGNATURE" {
				continue
			}
			resources, _, _ := unstructured.NestedSlice(r, "resources")
			for _, rr := range resources {
				out = append(out, rr.(map[string]any)["name"].(string)+": "+r["message"].(string))
			}
		}
		return out
	}
	took := waitFor(t, "the unsigned pod in its report", 30*time.Second, func() bool {
		f := failing()
		return len(f) == 1 && strings.HasPrefix(f[0], "tool: ") && strings.Contains(f[0], "fails policy acme: no signature is attached")
	})
	t.Logf("an unsigned running image reported after %s", took.Round(10*time.Millisecond))

	sigtest.PushTag(t, later, ".sig", ss.KeylessSignature(t, later, identity, issuer, time.Time{}))
	took = waitFor(t, "the image signed later leaves the report", 30*time.Second, func() bool {
		_, err := dyn.Resource(controller.PolicyReports).Namespace(ns).Get(ctx, report.ReportName, metav1.GetOptions{})
		return err == nil && len(failing()) == 0
	})
	t.Logf("a signature attached later reached the report after %s", took.Round(10*time.Millisecond))
}
