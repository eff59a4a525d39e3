// Command benchverify measures image verification at admission (make
// bench-verify): kubeguard's webhook handler over loopback TLS verifies
// pods' images, signed keyless by an in-memory Sigstore and served by a
// loopback registry. An admission is what the API server sends for a
// pod: the mutating call (which verifies and pins the digest) and the
// validating call. It prints cold verification latency, the latency of
// 1,000 admissions over 20 images once cached, and the registry requests
// each phase made, per image.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubeguard/kubeguard/hack/internal/load"
	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/webhook"
)

const (
	issuer   = "https://token.actions.githubusercontent.com"
	identity = "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
)

func main() {
	n := flag.Int("images", 20, "signed images")
	admissions := flag.Int("admissions", 1000, "admissions once cached")
	rate := flag.Int("rate", 500, "admissions per second once cached")
	flag.Parse()
	t := &imagetest.Program{}
	defer t.Close()
	host := imagetest.Registry(t, false)
	ss := sigtest.New(t)
	dir, err := os.MkdirTemp("", "benchverify")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	push := func(prefix string, count int) []string {
		var refs []string
		for i := range count {
			ref := fmt.Sprintf("%s/acme/%s-%d:1.0", host, prefix, i)
			img := imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "app/id", Body: []byte(ref)})})
			h := imagetest.Push(t, ref, img, authn.Anonymous)
			d, _ := name.NewDigest(fmt.Sprintf("%s/acme/%s-%d@%s", host, prefix, i, h), name.Insecure)
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
			refs = append(refs, ref)
		}
		return refs
	}
	images, fresh := push("app", *n), push("burst", *n)

	vcfg := config.ImageVerify{TrustedRoot: ss.WriteTrustedRoot(t, dir), Policies: []config.ImagePolicy{{Name: "acme",
		Images: []string{host + "/acme/**"}, Authorities: []config.Authority{{Name: "release-ci", Keyless: &config.Keyless{Issuer: issuer, Subject: identity}}}}}}
	ps, err := imageverify.Compile(vcfg, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := imageverify.New(ps, imageverify.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cache, err := imageverify.NewCache(v, vcfg, reg)
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
	h, err := webhook.New(webhook.Options{Engine: eng, Config: &config.Webhook{DefaultMode: config.Audit}, Verify: cache})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", h.Mutate())
	mux.Handle("/validate", h.Validate())
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	// as the API server does: a pool of kept-alive connections
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	client.Transport.(*http.Transport).MaxConnsPerHost = 64

	var uid atomic.Int64
	admit := func(image string) error {
		pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "bench"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
		for _, ep := range []string{"mutate", "validate"} {
			raw, _ := json.Marshal(pod)
			review := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request: &admissionv1.AdmissionRequest{UID: types.UID(fmt.Sprint(uid.Add(1))), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
					Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "bench", Name: "app",
					Operation: admissionv1.Create, Object: kruntime.RawExtension{Raw: raw}}}
			body, _ := json.Marshal(review)
			resp, err := client.Post(srv.URL+"/"+ep+"?timeout=10s", "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(data, &out); err != nil || out.Response == nil {
				return fmt.Errorf("%s: %s", ep, data)
			}
			if !out.Response.Allowed || len(out.Response.Warnings) > 0 {
				return fmt.Errorf("%s %s: not admitted cleanly: %+v %v", ep, image, out.Response.Result, out.Response.Warnings)
			}
			if ep == "mutate" {
				if !strings.Contains(string(out.Response.Patch), "@sha256:") {
					return fmt.Errorf("mutate %s: not pinned: %s", image, out.Response.Patch)
				}
				pod.Spec.Containers[0].Image = pinned(out.Response.Patch)
			}
		}
		return nil
	}

	fmt.Printf("image verification at admission: %d images signed keyless, loopback registry and TLS, GOMAXPROCS %d\n\n", *n, runtimeProcs())
	// cold: each image's first admission verifies it
	before := v.Requests()
	var cold load.Result
	start := time.Now()
	for _, img := range images {
		t0 := time.Now()
		if err := admit(img); err != nil {
			t.Fatal(err)
		}
		cold.Lat = append(cold.Lat, time.Since(t0))
	}
	cold.Wall = time.Since(start)
	coldReqs := v.Requests() - before
	fmt.Printf("cold, one admission per image:       p50 %6.2f ms  max %6.2f ms   registry requests %d (%.1f per image)\n",
		cold.Quantile(0.5), cold.Quantile(1), coldReqs, float64(coldReqs)/float64(*n))

	// cached: 1,000 admissions over the same images at a fixed rate
	before = v.Requests()
	warm := load.Open(*rate, time.Duration(float64(*admissions)/float64(*rate)*float64(time.Second)), func(i int) error { return admit(images[i%len(images)]) })
	fmt.Printf("cached, %d admissions at %d/s:    p50 %6.2f ms  p99 %6.2f ms  p99.9 %6.2f ms  errors %d   registry requests %d\n",
		len(warm.Lat), *rate, warm.Quantile(0.5), warm.Quantile(0.99), warm.Quantile(0.999), warm.Errors, v.Requests()-before)

	// a burst: 50 admissions at once for each of the fresh images
	before = v.Requests()
	verifications := histogramCount(reg)
	var wg sync.WaitGroup
	var errs atomic.Int64
	var mu sync.Mutex
	var burst load.Result
	start = time.Now()
	for _, img := range fresh {
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				if err := admit(img); err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "first error:", err)
					}
				}
				mu.Lock()
				burst.Lat = append(burst.Lat, time.Since(t0))
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	burst.Wall = time.Since(start)
	fmt.Printf("burst, 50 concurrent admissions for each of %d new images: p50 %6.2f ms  p99 %6.2f ms  errors %d   verifications %d   registry requests %d (%.1f per image)\n",
		*n, burst.Quantile(0.5), burst.Quantile(0.99), errs.Load(), histogramCount(reg)-verifications, v.Requests()-before, float64(v.Requests()-before)/float64(*n))
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// pinned is the image a mutating patch sets.
func pinned(patch []byte) string {
	var ops []struct {
		Value any `json:"value"`
	}
	json.Unmarshal(patch, &ops)
	for _, op := range ops {
		if s, ok := op.Value.(string); ok && strings.Contains(s, "@sha256:") {
			return s
		}
	}
	return ""
}

func histogramCount(reg *prometheus.Registry) uint64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "kubeguard_image_verify_duration_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}
