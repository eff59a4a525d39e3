package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
)

// The webhook judges images by the image policies: unsigned images are
// denied, signed ones admitted and pinned to the digest verified, a
// policy in warn mode warns, and a cached success admits while the
// registry is down; an image never verified follows the failure policy.
func TestVerifyImages(t *testing.T) {
	reg := imagetest.NewProxy(t, imagetest.Registry(t, false))
	host := reg.Host
	ss := sigtest.New(t)
	rootFile := ss.WriteTrustedRoot(t, t.TempDir())
	const issuer, identity = "https://token.actions.githubusercontent.com", "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
	push := func(repo, tag string, signed bool) string {
		ref := host + "/" + repo + ":" + tag
		h := imagetest.Push(t, ref, imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "etc/" + repo + tag, Body: []byte(tag)})}), authn.Anonymous)
		if signed {
			d, _ := name.NewDigest(host+"/"+repo+"@"+h.String(), name.Insecure)
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
		}
		return ref
	}
	signed, unsigned, trial, later := push("acme/shop", "1.0", true), push("acme/tool", "1.0", false), push("trial/app", "1.0", false), push("acme/late", "1.0", true)

	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	auth := []config.Authority{{Name: "release-ci", Keyless: &config.Keyless{Issuer: issuer, Subject: identity}}}
	vcfg := config.ImageVerify{TrustedRoot: rootFile, Policies: []config.ImagePolicy{
		{Name: "acme", Images: []string{host + "/acme/**"}, Authorities: auth},
		{Name: "trial", Images: []string{host + "/trial/**"}, Mode: config.Warn, Authorities: auth},
	}}
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
	handler := func(failurePolicy string) *Handler {
		h, err := New(Options{Engine: eng, Config: &config.Webhook{DefaultMode: config.Audit, FailurePolicy: failurePolicy}, Timeout: 5 * time.Second, Verify: cache})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := handler("Ignore")
	pod := func(image string) string {
		p := hardenedPod("apps", "shop")
		p.Spec.Containers[0].Image = image
		return podRequest(t, p)
	}

	resp := decodeResponse(t, post(h.Validate(), pod(unsigned)))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "[IMG-SIGNATURE] image "+unsigned+" (sha256:") ||
		!strings.Contains(resp.Result.Message, "fails policy acme: no signature is attached") || !strings.Contains(resp.Result.Message, "fix: Sign the image") {
		t.Fatalf("an unsigned image: %+v", resp.Result)
	}
	if resp := decodeResponse(t, post(h.Validate(), pod(signed))); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("a signed image: %+v %v", resp.Result, resp.Warnings)
	}
	// the mutating endpoint pins the tag to the digest it verified
	resp = decodeResponse(t, post(h.Mutate(), pod(signed)))
	var ops []PatchOp
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	res, err := cache.Check(context.Background(), signed)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Op != "replace" || ops[0].Path != "/spec/containers/0/image" || ops[0].Value != signed+"@"+res.Digest {
		t.Fatalf("patch %s, want the image pinned to %s", resp.Patch, res.Digest)
	}
	// warn mode admits with a warning
	resp = decodeResponse(t, post(h.Validate(), pod(trial)))
	if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "[IMG-SIGNATURE] image "+trial) {
		t.Fatalf("a warn-mode policy: %+v %v", resp.Result, resp.Warnings)
	}
	// images no policy matches are not verified, and not pinned
	if resp := decodeResponse(t, post(h.Mutate(), pod("registry.example.com/other:1.0"))); len(resp.Patch) != 0 {
		t.Fatalf("an image no policy matches was patched: %s", resp.Patch)
	}

	reg.Down(true)
	if resp := decodeResponse(t, post(h.Validate(), pod(signed))); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("a cached success with the registry down: %+v %v", resp.Result, resp.Warnings)
	}
	// never verified: Ignore admits with a warning, Fail denies
	resp = decodeResponse(t, post(h.Validate(), pod(later)))
	if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "could not be verified: registry unreachable") {
		t.Fatalf("registry down, failurePolicy Ignore: %+v %v", resp.Result, resp.Warnings)
	}
	resp = decodeResponse(t, post(handler("Fail").Validate(), pod(later)))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "image "+later+" could not be verified") {
		t.Fatalf("registry down, failurePolicy Fail: %+v", resp.Result)
	}
}
