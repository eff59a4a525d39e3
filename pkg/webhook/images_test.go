package webhook

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/image"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
)

// The webhook decides on an image's vulnerabilities from the background
// scanner's results only: an image not scanned yet gets the configured
// default at once, and is queued.
func TestImagesFromTheBackgroundScanner(t *testing.T) {
	host := imagetest.Registry(t, false)
	ref := host + "/acme/shop:1.0"
	imagetest.Push(t, ref, imagetest.Shop(t), authn.Anonymous)
	db := imagetest.DB(t, filepath.Join(t.TempDir(), "db"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bg := imagescan.NewBackground(imagescan.New(imagescan.Options{Load: image.Options{Insecure: true}, DB: db}), 10, 1, "", nil)
	bg.Start(ctx)

	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	handler := func(images config.WebhookImages) *Handler {
		wc := config.Webhook{DefaultMode: config.Audit, Rules: []config.ModeRule{{Controls: []string{"IMG-VULN"}, Mode: config.Enforce}}, Images: images}
		h, err := New(Options{Engine: eng, Config: &wc, Timeout: time.Second, Images: bg})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	pod := hardenedPod("apps", "shop")
	pod.Spec.Containers[0].Image = ref
	strict := handler(config.WebhookImages{Severity: finding.High, FixableOnly: true, Unscanned: config.Enforce})

	start := time.Now()
	resp := decodeResponse(t, post(strict.Validate(), podRequest(t, pod)))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "image "+ref+" has not been scanned yet") {
		t.Fatalf("an image not scanned yet: %+v", resp.Result)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("the request waited %s", d)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, _, done := bg.Result(ref); done || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp = decodeResponse(t, post(strict.Validate(), podRequest(t, pod)))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "[IMG-VULN] CVE-2020-8203 in lodash 4.17.15: fixed in 4.17.20") ||
		strings.Contains(resp.Result.Message, "nginx") {
		t.Fatalf("a scanned image with a fixable high vulnerability: %+v", resp.Result)
	}
	// only critical ones count: the image is admitted
	lenient := handler(config.WebhookImages{Severity: finding.Critical})
	if resp := decodeResponse(t, post(lenient.Validate(), podRequest(t, pod))); !resp.Allowed {
		t.Errorf("no critical vulnerability, denied: %+v", resp.Result)
	}
}
