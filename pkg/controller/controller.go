package controller

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// Options configure a Controller.
type Options struct {
	Engine  *engine.Engine
	Report  report.Report // tool, version, catalog
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Watcher *live.Watcher
	Logger  *slog.Logger
	// Interval is how often changes are looked for; changes within one
	// interval are evaluated together.
	Interval time.Duration
	// Identity names this replica in the Lease; Namespace holds the Lease.
	Identity, Namespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Registerer                                prometheus.Registerer
}

// Controller re-evaluates the cluster when objects change and keeps
// PolicyReports current. Several replicas elect a leader through a Lease;
// only the leader evaluates and writes.
type Controller struct {
	opts     Options
	leader   atomic.Bool
	findings *prometheus.GaugeVec
	duration prometheus.Histogram
	runs     atomic.Int64
}

// LeaseName is the Lease the replicas compete for.
const LeaseName = "kubeguard-controller"

// New returns a controller; Run starts it.
func New(opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.LeaseDuration <= 0 {
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	}
	c := &Controller{opts: opts,
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kubeguard_findings",
			Help: "Unsuppressed findings of the last evaluation, by severity, control and namespace."}, []string{"severity", "control", "namespace"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kubeguard_evaluation_duration_seconds",
			Help: "Time to evaluate the cluster and write its reports.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(c.findings, c.duration)
	}
	return c
}

// Leader reports whether this replica holds the Lease.
func (c *Controller) Leader() bool { return c.leader.Load() }

// Evaluations counts the evaluations this replica ran.
func (c *Controller) Evaluations() int64 { return c.runs.Load() }

// Run campaigns for the Lease until ctx ends; while leading, it
// evaluates on every change. Losing the Lease stops the work; the
// replica campaigns again.
func (c *Controller) Run(ctx context.Context) error {
	if !c.opts.Watcher.Start(ctx) {
		return ctx.Err()
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LeaseName, Namespace: c.opts.Namespace},
		Client:     c.opts.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.opts.Identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: c.opts.LeaseDuration, RenewDeadline: c.opts.RenewDeadline, RetryPeriod: c.opts.RetryPeriod,
			ReleaseOnCancel: true, Name: LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					c.leader.Store(true)
					c.opts.Logger.Info("leading", "identity", c.opts.Identity)
					c.lead(ctx)
				},
				OnStoppedLeading: func() {
					c.leader.Store(false)
					c.opts.Logger.Info("stopped leading", "identity", c.opts.Identity)
				},
			},
		})
		if err != nil {
			return err
		}
		le.Run(ctx)
	}
	return nil
}

// lead evaluates whenever the watched objects changed, once per interval.
func (c *Controller) lead(ctx context.Context) {
	c.opts.Watcher.Changed() // the first evaluation covers everything
	c.evaluate(ctx)
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.opts.Watcher.Changed() {
				c.evaluate(ctx)
			}
		}
	}
}

func (c *Controller) evaluate(ctx context.Context) {
	start := time.Now()
	objs := c.opts.Watcher.Objects()
	res := c.opts.Engine.ScanObjects(objs)
	rep := c.opts.Report
	rep.Findings, rep.Diagnostics, rep.Objects = res.Findings, res.Diagnostics, res.Objects
	rep.UIDs = make(map[object.Ref]string, len(objs))
	for _, o := range objs {
		rep.UIDs[o.Ref] = live.UID(o)
	}
	n, err := WriteReports(ctx, c.opts.Dynamic, &rep, "")
	if err != nil {
		c.opts.Logger.Error("writing policy reports", "error", err)
		return
	}
	c.findings.Reset()
	count := 0
	for _, f := range res.Findings {
		if f.Suppressed == nil {
			c.findings.WithLabelValues(f.Severity.String(), f.ControlID, f.Object.Namespace).Inc()
			count++
		}
	}
	c.runs.Add(1)
	c.duration.Observe(time.Since(start).Seconds())
	c.opts.Logger.Info("evaluated", "objects", len(objs), "findings", count, "reports", n, "seconds", time.Since(start).Seconds())
}
