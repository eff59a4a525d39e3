package imageverify

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/kubeguard/kubeguard/pkg/config"
)

// Defaults and limits of the cache: a verified digest is trusted for at
// most an hour, a failure is retried after at most 30 seconds.
const (
	DefaultCacheSize = 10000
	MaxSuccessTTL    = time.Hour
	MaxFailureTTL    = 30 * time.Second
	DefaultTimeout   = 3 * time.Second
	// detachedTimeout bounds a verification that outlived the request
	// that started it.
	detachedTimeout = 30 * time.Second
)

// Cache answers admission: verdicts by (policy generation, digest) and
// tags by their digest, each kept per its TTL, with concurrent requests
// for the same image sharing one verification. A verification runs
// detached from the request: a request that runs out of budget gets an
// error, and the verification still completes and fills the cache.
type Cache struct {
	v          *Verifier
	successTTL time.Duration
	failureTTL time.Duration
	Timeout    time.Duration
	verdicts   *lru.Cache[string, cached[*Result]]
	tags       *lru.Cache[string, cached[name.Digest]]
	group      singleflight.Group
	now        func() time.Time
	m          cacheMetrics
}

type cached[T any] struct {
	val     T
	err     error
	expires time.Time
}

type cacheMetrics struct {
	lookups *prometheus.CounterVec
	latency prometheus.Histogram
}

// NewCache wraps a verifier per the cache settings; reg, when set,
// receives its metrics.
func NewCache(v *Verifier, cfg config.ImageVerify, reg prometheus.Registerer) (*Cache, error) {
	c := &Cache{v: v, successTTL: cfg.Cache.SuccessTTL, failureTTL: cfg.Cache.FailureTTL, Timeout: cfg.Timeout, now: time.Now}
	if c.successTTL <= 0 || c.successTTL > MaxSuccessTTL {
		c.successTTL = MaxSuccessTTL
	}
	if c.failureTTL <= 0 || c.failureTTL > MaxFailureTTL {
		c.failureTTL = MaxFailureTTL
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	size := cfg.Cache.Size
	if size <= 0 {
		size = DefaultCacheSize
	}
	var err error
	if c.verdicts, err = lru.New[string, cached[*Result]](size); err != nil {
		return nil, err
	}
	if c.tags, err = lru.New[string, cached[name.Digest]](size); err != nil {
		return nil, err
	}
	c.m = cacheMetrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubeguard_image_verify_cache_total",
			Help: "Image verdict lookups at admission, by result (hit, miss).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kubeguard_image_verify_duration_seconds",
			Help:    "Time to verify an image's signatures and attestations (cache misses).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	if reg != nil {
		reg.MustRegister(c.m.lookups, c.m.latency, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kubeguard_image_verify_registry_requests_total",
			Help: "HTTP requests made to registries to resolve tags and read signatures and attestations.",
		}, func() float64 { return float64(v.Requests()) }))
	}
	return c, nil
}

// Verifier is the verifier the cache answers for.
func (c *Cache) Verifier() *Verifier { return c.v }

// BudgetError is a verification that did not finish within the
// request's budget; it goes on in the background.
type BudgetError struct {
	Image  string
	Budget time.Duration
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("verification of %s did not finish within %s (it goes on in the background)", e.Image, e.Budget)
}

// Check returns the verdicts on an image, from the cache or by verifying
// it within the cache's timeout and ctx's deadline.
func (c *Cache) Check(ctx context.Context, image string) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	budget := c.Timeout
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl).Round(time.Millisecond)
	}
	d, err := c.digest(ctx, image)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &BudgetError{image, budget}
		}
		return nil, err
	}
	key := c.v.Policies().Generation + "|" + d.Name()
	if e, ok := c.verdicts.Get(key); ok && c.now().Before(e.expires) {
		c.m.lookups.WithLabelValues("hit").Inc()
		if e.err != nil {
			return nil, e.err
		}
		return e.val.forImage(image), nil
	}
	c.m.lookups.WithLabelValues("miss").Inc()
	ch := c.group.DoChan(key, func() (any, error) {
		vctx, cancel := context.WithTimeout(context.Background(), detachedTimeout)
		defer cancel()
		start := time.Now()
		res, err := c.v.VerifyDigest(vctx, image, d)
		c.m.latency.Observe(time.Since(start).Seconds())
		ttl := c.failureTTL
		if err == nil && res.ok() {
			ttl = c.successTTL
		}
		c.verdicts.Add(key, cached[*Result]{res, err, c.now().Add(ttl)})
		return res, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Result).forImage(image), nil
	case <-ctx.Done():
		return nil, &BudgetError{image, budget}
	}
}

// digest resolves an image's tag, from the cache or the registry.
func (c *Cache) digest(ctx context.Context, image string) (name.Digest, error) {
	ref, err := c.v.reg.parse(image)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%s: not an image reference: %v", image, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	key := ref.Name()
	if e, ok := c.tags.Get(key); ok && c.now().Before(e.expires) {
		return e.val, e.err
	}
	ch := c.group.DoChan("tag|"+key, func() (any, error) {
		vctx, cancel := context.WithTimeout(context.Background(), detachedTimeout)
		defer cancel()
		d, err := c.v.reg.resolve(vctx, ref)
		ttl := c.successTTL
		if err != nil {
			ttl = c.failureTTL
		}
		c.tags.Add(key, cached[name.Digest]{d, err, c.now().Add(ttl)})
		return d, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return name.Digest{}, r.Err
		}
		return r.Val.(name.Digest), nil
	case <-ctx.Done():
		return name.Digest{}, ctx.Err()
	}
}

func (r *Result) ok() bool {
	for _, v := range r.Verdicts {
		if !v.OK() {
			return false
		}
	}
	return true
}

// forImage is a shared result as seen for one reference (the same digest
// may be named by tag or by digest).
func (r *Result) forImage(image string) *Result {
	if r.Image == image {
		return r
	}
	c := *r
	c.Image = image
	return &c
}
