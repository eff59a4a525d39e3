package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
)

const (
	sigIssuer   = "https://token.actions.githubusercontent.com"
	sigIdentity = "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
)

// signedRegistry is a loopback registry holding acme/shop:1.0 signed
// keyless by the release workflow, acme/api:1.0 signed with a key, and
// acme/tool:1.0 unsigned; dir holds the trusted root and the public key.
type signedRegistry struct {
	host, dir     string
	shop, keyed   name.Digest
	keyFile, root string
}

func newSignedRegistry(t *testing.T) *signedRegistry {
	r := &signedRegistry{host: imagetest.Registry(t, false), dir: t.TempDir()}
	ss := sigtest.New(t)
	key := sigtest.NewKey(t)
	r.root = ss.WriteTrustedRoot(t, r.dir)
	r.keyFile = filepath.Join(r.dir, "cosign.pub")
	if err := os.WriteFile(r.keyFile, []byte(key.PublicPEM(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	push := func(repo string) name.Digest {
		h := imagetest.Push(t, r.host+"/"+repo+":1.0", imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "etc/" + repo, Body: []byte(repo)})}), authn.Anonymous)
		d, _ := name.NewDigest(r.host+"/"+repo+"@"+h.String(), name.Insecure)
		return d
	}
	r.shop, r.keyed = push("acme/shop"), push("acme/api")
	push("acme/tool")
	sigtest.PushTag(t, r.shop, ".sig", ss.KeylessSignature(t, r.shop, sigIdentity, sigIssuer, time.Time{}))
	sigtest.PushTag(t, r.keyed, ".sig", key.KeySignature(t, r.keyed))
	return r
}

// config writes a .kubeguard.yaml whose policy trusts the release
// workflow for acme images, with the trusted root beside it.
func (r *signedRegistry) config(t *testing.T, dir string) string {
	cfg := fmt.Sprintf(`images:
  verify:
    trustedRoot: %[1]s
    policies:
    - name: acme-release
      images: ["%[2]s/acme/shop", "%[2]s/acme/tool"]
      authorities:
      - name: release-ci
        keyless:
          issuer: %[3]s
          subject: %[4]s
`, r.root, r.host, sigIssuer, sigIdentity)
	path := filepath.Join(dir, ".kubeguard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImageVerify(t *testing.T) {
	r := newSignedRegistry(t)
	cfg := r.config(t, t.TempDir())

	code, out, errs := run(t, "", "image", "verify", "--config", cfg, "--insecure-registry", r.host+"/acme/shop:1.0")
	if code != ExitOK || !strings.Contains(errs, "policy acme-release: signed by release-ci ("+sigIdentity+", issuer "+sigIssuer+")") {
		t.Fatalf("a signed image: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run(t, "", "image", "verify", "--config", cfg, "--insecure-registry", r.host+"/acme/tool:1.0", "-o", "json")
	if code != ExitFindings {
		t.Fatalf("an unsigned image: exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Findings []struct {
			ControlID string `json:"controlID"`
			Message   string `json:"message"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].ControlID != "IMG-SIGNATURE" || !strings.Contains(rep.Findings[0].Message, "fails policy acme-release: no signature is attached") {
		t.Fatalf("findings %+v", rep.Findings)
	}
	// a key on the command line, as cosign verify --key takes it
	code, out, errs = run(t, "", "image", "verify", "--key", r.keyFile, "--insecure-ignore-tlog", "--insecure-registry", r.keyed.String())
	if code != ExitOK || !strings.Contains(errs, "policy command-line: signed by command line") {
		t.Fatalf("a key signature: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run(t, "", "image", "verify", "--key", r.keyFile, "--insecure-ignore-tlog", "--insecure-registry", r.shop.String())
	if code != ExitFindings || !strings.Contains(out, "signed keyless by "+sigIdentity) {
		t.Fatalf("a keyless signature checked against a key: exit %d\n%s\n%s", code, out, errs)
	}
	// no policy matches, no policy at all, a registry that is not there
	if code, _, errs := run(t, "", "image", "verify", "--config", cfg, "--insecure-registry", "registry.example.com/x:1"); code != ExitError ||
		!strings.Contains(errs, "registry.example.com/x:1: error: no images.verify policy matches this image") {
		t.Errorf("no policy matches: exit %d %s", code, errs)
	}
	empty := filepath.Join(t.TempDir(), ".kubeguard.yaml")
	os.WriteFile(empty, []byte("controls: {}\n"), 0o644)
	if code, _, errs := run(t, "", "image", "verify", "--config", empty, r.host+"/acme/shop:1.0"); code != ExitError || !strings.Contains(errs, "no policy to verify against") {
		t.Errorf("no policy: exit %d %s", code, errs)
	}
}

// scan --verify-images reports a manifest's unsigned image on the line
// of its image field; the signed one beside it passes.
func TestScanVerifyImages(t *testing.T) {
	r := newSignedRegistry(t)
	dir := t.TempDir()
	r.config(t, dir)
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: shop, namespace: prod}
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: shop
        image: %[1]s/acme/shop:1.0
      - name: tool
        image: %[1]s/acme/tool:1.0
`, r.host)
	os.WriteFile(filepath.Join(dir, "deploy.yaml"), []byte(manifest), 0o644)
	code, out, errs := run(t, "", "scan", dir, "--verify-images", "--insecure-registry", "--controls", "IMG-SIGNATURE")
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "13:9     IMG-SIGNATURE") || strings.Contains(out, "11:9") ||
		!strings.Contains(out, "image "+r.host+"/acme/tool:1.0 (sha256:") {
		t.Fatalf("want the unsigned image at 13:9 only:\n%s", out)
	}
	// without the flag nothing is fetched or reported
	if code, out, _ := run(t, "", "scan", dir, "--controls", "IMG-SIGNATURE"); code != ExitOK {
		t.Fatalf("without --verify-images: exit %d\n%s", code, out)
	}
}

// cluster --verify-images verifies the digests the pods run against the
// configuration's policies and the cluster's ClusterImagePolicy objects.
func TestE2EClusterVerifyImages(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	r := newSignedRegistry(t)
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	if err := testcluster.InstallCRD(dyn, "../../deploy/crds/kubeguard.io_clusterimagepolicies.yaml"); err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := os.ReadFile(r.keyFile)
	// the registry goes with the test: so do the pods and the policy that
	// name it (the documentation's commands run on the same cluster)
	t.Cleanup(func() {
		bg := context.Background()
		dyn.Resource(imageverify.GVR).Delete(bg, "api-key", metav1.DeleteOptions{})
		kubernetes.NewForConfigOrDie(rc).CoreV1().Namespaces().Delete(bg, "e2e-verify", metav1.DeleteOptions{})
	})
	apply(t, dyn, fmt.Sprintf(`apiVersion: kubeguard.io/v1alpha1
kind: ClusterImagePolicy
metadata: {name: api-key}
spec:
  images: ["%[1]s/acme/api"]
  authorities:
  - name: team-key
    key:
      pem: |
%[2]s
    transparencyLog: false
---
apiVersion: v1
kind: Namespace
metadata: {name: e2e-verify}
---
apiVersion: v1
kind: Pod
metadata: {name: shop, namespace: e2e-verify}
spec:
  containers:
  - {name: shop, image: "%[1]s/acme/shop:1.0"}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: e2e-verify}
spec:
  containers:
  - {name: api, image: "%[1]s/acme/api:1.0"}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: e2e-verify}
spec:
  containers:
  - {name: tool, image: "%[1]s/acme/tool:1.0"}
`, r.host, indent(string(keyPEM), "        ")))
	// the kubelet's part: the shop pod runs the signed digest
	cs := kubernetes.NewForConfigOrDie(rc)
	pod, err := cs.CoreV1().Pods("e2e-verify").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "shop", Image: r.host + "/acme/shop:1.0", ImageID: r.shop.String()}}
	if _, err := cs.CoreV1().Pods("e2e-verify").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := r.config(t, t.TempDir())
	code, out, errs := run(t, "", "cluster", "--kubeconfig", c.Kubeconfig, "-n", "e2e-verify", "--config", cfg, "--verify-images", "--insecure-registry",
		"--controls", "IMG-SIGNATURE,IMG-ATTESTATION", "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Findings []struct {
			ControlID string `json:"controlID"`
			Object    struct {
				Name string `json:"name"`
			} `json:"object"`
			Message string `json:"message"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Object.Name != "tool" || !strings.Contains(rep.Findings[0].Message, "fails policy acme-release") {
		t.Fatalf("want only the unsigned tool pod (the api pod is signed with the ClusterImagePolicy's key):\n%s\n%s", out, errs)
	}
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pre + strings.Join(lines, "\n"+pre)
}
