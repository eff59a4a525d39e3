package imageverify

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/pkg/config"
)

func TestCache(t *testing.T) {
	f := newFixture(t)
	fl := imagetest.NewProxy(t, f.host)
	d := f.push(t, "acme/shop", "1.0")
	sigtest.PushTag(t, d, ".sig", f.ss.KeylessSignature(t, d, ciIdentity, ciIssuer, time.Time{}))
	image := fl.Host + "/acme/shop:1.0"

	cfg := config.ImageVerify{TrustedRoot: f.rootFile, Timeout: 2 * time.Second,
		Policies: []config.ImagePolicy{{Name: "acme", Images: []string{"**"}, Authorities: []config.Authority{keyless(ciIdentity)}}}}
	ps, err := Compile(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(ps, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c, err := NewCache(v, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var clock sync.Mutex
	c.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }

	// 50 requests at once share one resolution and one verification
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Check(context.Background(), image)
			if err != nil || !res.ok() || res.Pinned() != image+"@"+d.DigestStr() {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of 50 concurrent checks failed", failed.Load())
	}
	round := v.Requests()
	if got := histogramCount(t, reg, "kubeguard_image_verify_duration_seconds"); got != 1 {
		t.Errorf("%d verifications for 50 concurrent requests, want 1", got)
	}
	if got := testutil.ToFloat64(c.m.lookups.WithLabelValues("miss")) + testutil.ToFloat64(c.m.lookups.WithLabelValues("hit")); got != 50 {
		t.Errorf("%v lookups counted, want 50", got)
	}

	// cached: no registry request, even with the registry down
	fl.Down(true)
	for range 10 {
		if res, err := c.Check(context.Background(), image); err != nil || !res.ok() {
			t.Fatalf("a cached success with the registry down: %v", err)
		}
	}
	if v.Requests() != round {
		t.Errorf("%d registry requests for cached checks", v.Requests()-round)
	}

	// after the success TTL the registry is asked again: down is an error
	advance(MaxSuccessTTL + time.Second)
	_, err = c.Check(context.Background(), image)
	var re *RegistryError
	if !errors.As(err, &re) {
		t.Fatalf("registry down after the TTL: %v, want a registry error", err)
	}
	// the failure is kept for at most 30 seconds
	fl.Down(false)
	if _, err := c.Check(context.Background(), image); !errors.As(err, &re) {
		t.Fatalf("within the failure TTL: %v, want the cached error", err)
	}
	advance(MaxFailureTTL + time.Second)
	if res, err := c.Check(context.Background(), image); err != nil || !res.ok() {
		t.Fatalf("after the failure TTL, with the registry back: %v", err)
	}

	// a stalled registry: the request gets its budget, the verification
	// goes on and fills the cache once the registry answers
	d2 := f.push(t, "acme/shop", "2.0")
	sigtest.PushTag(t, d2, ".sig", f.ss.KeylessSignature(t, d2, ciIdentity, ciIssuer, time.Time{}))
	fl.Stall()
	c.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err = c.Check(context.Background(), fl.Host+"/acme/shop:2.0")
	var be *BudgetError
	if !errors.As(err, &be) || time.Since(start) > 2*time.Second {
		t.Fatalf("a stalled registry: %v after %s, want a budget error within the budget", err, time.Since(start))
	}
	fl.Release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := c.Check(context.Background(), fl.Host+"/acme/shop:2.0")
		if err == nil && res.ok() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background verification never landed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, metric string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == metric {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("metric %s not registered", metric)
	return 0
}
