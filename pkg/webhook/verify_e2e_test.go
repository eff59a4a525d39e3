package webhook

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	admregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

// The real API server calls the webhook, which verifies images against
// ClusterImagePolicy objects: an unsigned image is denied, a signed one
// admitted and stored pinned to its digest, a warn-mode policy warns,
// and a cached success admits while the registry is down.
func TestE2EVerifyImages(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := kubernetes.NewForConfigOrDie(rc)
	dyn := dynamic.NewForConfigOrDie(rc)
	rec := &warningRecorder{}
	wrc := rest.CopyConfig(rc)
	wrc.WarningHandler = rec
	warned := kubernetes.NewForConfigOrDie(wrc)

	// registry, behind a switch that takes it down
	reg := imagetest.NewProxy(t, imagetest.Registry(t, false))
	host := reg.Host
	ss := sigtest.New(t)
	const issuer, identity = "https://token.actions.githubusercontent.com", "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
	push := func(repo string, signed bool) string {
		ref := host + "/" + repo + ":1.0"
		h := imagetest.Push(t, ref, imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "etc/" + repo, Body: []byte(repo)})}), authn.Anonymous)
		if signed {
			d, _ := name.NewDigest(host+"/"+repo+"@"+h.String(), name.Insecure)
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
		}
		return ref
	}
	signed, unsigned, trial := push("acme/shop", true), push("acme/tool", false), push("trial/app", false)

	// the CRD, as deploy/crds ships it
	if err := testcluster.InstallCRD(dyn, "../../deploy/crds/kubeguard.io_clusterimagepolicies.yaml"); err != nil {
		t.Fatal(err)
	}
	cips := dyn.Resource(imageverify.GVR)
	strict := metav1.CreateOptions{FieldValidation: "Strict"}
	cip := func(manifest string) error {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
			t.Fatal(err)
		}
		_, err := cips.Create(ctx, &u, strict)
		return err
	}
	authority := `
  authorities:
  - name: release-ci
    keyless: {issuer: "` + issuer + `", subject: "` + identity + `"}`
	for _, bad := range []struct{ manifest, want string }{
		{"apiVersion: kubeguard.io/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: both}\nspec:\n  images: [\"**\"]\n  authorities:\n  - key: {pem: x}\n    keyless: {issuer: i, subject: s}\n",
			"an authority is either a key or a keyless identity"},
		{"apiVersion: kubeguard.io/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: typo}\nspec:\n  imagez: [\"**\"]\n" + authority + "\n",
			`unknown field "spec.imagez"`},
		{"apiVersion: kubeguard.io/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: mode}\nspec:\n  images: [\"**\"]\n  mode: block\n" + authority + "\n",
			`Unsupported value: "block"`},
	} {
		if err := cip(bad.manifest); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("invalid ClusterImagePolicy: %v, want %q", err, bad.want)
		}
	}
	for _, m := range []string{
		"apiVersion: kubeguard.io/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: e2e-acme}\nspec:\n  images: [\"" + host + "/acme/**\"]\n" + authority + "\n",
		"apiVersion: kubeguard.io/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: e2e-trial}\nspec:\n  images: [\"" + host + "/trial/**\"]\n  mode: warn\n" + authority + "\n",
	} {
		if err := cip(m); err != nil {
			t.Fatal(err)
		}
	}

	// the webhook, its policies read from the cluster
	rootFile := ss.WriteTrustedRoot(t, t.TempDir())
	base := config.ImageVerify{TrustedRoot: rootFile}
	ps, err := imageverify.Compile(base, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := imageverify.New(ps, imageverify.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	go imageverify.Watch(ctx, dyn, v, &imageverify.Source{Base: base}, 200*time.Millisecond, slog.New(slog.DiscardHandler))
	waitUntil(t, "the cluster's policies loaded", func() bool { return len(v.Policies().List) >= 2 })
	cache, err := imageverify.NewCache(v, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Engine: eng, Config: &config.Webhook{DefaultMode: config.Audit, FailurePolicy: "Fail"}, Verify: cache})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := tlsutil.NewCA("e2e-verify-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(tlsutil.Leaf{CommonName: "kubeguard", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go Serve(ctx, l, ServerOptions{Handler: h, TLS: tlsutil.ServerConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }), ShutdownGrace: time.Second})
	const ns = "e2e-verify"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fail, none := admregv1.Fail, admregv1.SideEffectClassNone
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	rules := []admregv1.RuleWithOperations{{Operations: []admregv1.OperationType{admregv1.Create},
		Rule: admregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}
	url := "https://" + l.Addr().String()
	if _, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admregv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeguard-e2e-verify"}, Webhooks: []admregv1.MutatingWebhook{{
			Name: "mutate.kubeguard.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			ClientConfig: admregv1.WebhookClientConfig{URL: ptr.To(url + "/mutate"), CABundle: ca.CertPEM}, NamespaceSelector: sel, Rules: rules}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeguard-e2e-verify"}, Webhooks: []admregv1.ValidatingWebhook{{
			Name: "validate.kubeguard.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			ClientConfig: admregv1.WebhookClientConfig{URL: ptr.To(url + "/validate"), CABundle: ca.CertPEM}, NamespaceSelector: sel, Rules: rules}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bg := context.Background()
		client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(bg, "kubeguard-e2e-verify", metav1.DeleteOptions{})
		client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(bg, "kubeguard-e2e-verify", metav1.DeleteOptions{})
	})
	pods := warned.CoreV1().Pods(ns)
	create := func(podName, image string) (*corev1.Pod, error) {
		p := hardenedPod(ns, podName)
		p.Spec.Containers[0].Image = image
		return pods.Create(ctx, p, metav1.CreateOptions{})
	}
	// the webhook is called once the API server has its configuration
	waitUntil(t, "webhook active", func() bool {
		_, err := create("probe-"+time.Now().Format("150405.000000"), unsigned)
		return err != nil && strings.Contains(err.Error(), "IMG-SIGNATURE")
	})

	_, err = create("unsigned", unsigned)
	if err == nil || !strings.Contains(err.Error(), "[IMG-SIGNATURE] image "+unsigned) || !strings.Contains(err.Error(), "fails policy e2e-acme: no signature is attached") {
		t.Fatalf("an unsigned image: %v", err)
	}
	p, err := create("signed", signed)
	if err != nil {
		t.Fatalf("a signed image: %v", err)
	}
	res, err := cache.Check(ctx, signed)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Spec.Containers[0].Image; got != signed+"@"+res.Digest {
		t.Fatalf("stored image %s, want it pinned to %s", got, res.Digest)
	}
	rec.take()
	if _, err := create("trial", trial); err != nil {
		t.Fatalf("a warn-mode policy: %v", err)
	}
	if w := rec.take(); len(w) != 1 || !strings.Contains(w[0], "[IMG-SIGNATURE] image "+trial) {
		t.Fatalf("warnings %q, want the trial policy's", w)
	}

	reg.Down(true)
	before := v.Requests()
	p, err = create("signed-again", signed)
	if err != nil || p.Spec.Containers[0].Image != signed+"@"+res.Digest {
		t.Fatalf("a cached success with the registry down: %v", err)
	}
	if v.Requests() != before {
		t.Errorf("%d registry requests for a cached image", v.Requests()-before)
	}
	if _, err := create("never-seen", host+"/acme/new:1.0"); err == nil || !strings.Contains(err.Error(), "could not be verified") {
		t.Fatalf("an image never verified, registry down, failurePolicy Fail: %v", err)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
