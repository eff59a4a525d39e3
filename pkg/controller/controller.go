package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/inventory"
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
	// FullInterval is how often everything is evaluated again, whatever
	// changed: findings that depend on the date (certificates, end of
	// life) age without any change.
	FullInterval time.Duration
	// Identity names this replica in the Lease; Namespace holds the Lease.
	Identity, Namespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Registerer                                prometheus.Registerer
	// Images, when set, scans the images the pods run in the background
	// and adds their vulnerabilities (IMG-VULN) to the reports of the
	// workloads running them.
	Images *imagescan.Background
	// Verify, when set, verifies the images the pods run against the
	// image policies (through its cache) and adds the policies they fail
	// (IMG-SIGNATURE, IMG-ATTESTATION) to the workloads' reports.
	Verify *imageverify.Cache
}

// Controller re-evaluates the cluster when objects change and keeps
// PolicyReports current. Several replicas elect a leader through a Lease;
// only the leader evaluates and writes.
type Controller struct {
	opts      Options
	leader    atomic.Bool
	findings  *prometheus.GaugeVec
	duration  prometheus.Histogram
	evaluated prometheus.Histogram
	runs      atomic.Int64
	last      atomic.Int64 // objects evaluated by the last evaluation

	// What the last evaluation saw and found, for the next one to re-run
	// only what changed. Only the leading goroutine touches them.
	seen     map[object.Ref]seen
	previous []*finding.Finding
	fullAt   time.Time
	// verified is what the last evaluation's image verification found.
	verified string
}

// seen is an object as last evaluated.
type seen struct {
	obj     *object.Object
	version string
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
			Help: "Time to evaluate changes (or the whole cluster) and write the reports they touch.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		evaluated: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kubeguard_evaluated_objects",
			Help: "Objects evaluated per evaluation: the changed ones and their dependants.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
	}
	if opts.FullInterval <= 0 {
		c.opts.FullInterval = time.Hour
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(c.findings, c.duration, c.evaluated)
	}
	return c
}

// Leader reports whether this replica holds the Lease.
func (c *Controller) Leader() bool { return c.leader.Load() }

// Evaluations counts the evaluations this replica ran.
func (c *Controller) Evaluations() int64 { return c.runs.Load() }

// LastEvaluated is the number of objects the last evaluation evaluated.
func (c *Controller) LastEvaluated() int { return int(c.last.Load()) }

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
	c.opts.Watcher.Changed()
	c.seen = nil // a new term starts with everything: another leader wrote meanwhile
	c.evaluate(ctx)
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			objects := c.opts.Watcher.Changed()
			images := c.opts.Images != nil && c.opts.Images.Changed()
			if images {
				c.seen = nil // new scan results: every report is rewritten
			}
			// verdicts on images change without any object changing (a
			// signature attached, a cached verdict expired): with image
			// verification every interval looks again, through the cache
			if objects || images || c.opts.Verify != nil {
				c.evaluate(ctx)
			}
		}
	}
}

// evaluate re-runs the controls on what changed since the last
// evaluation, and on its dependants (see engine.Rescan), and rewrites the
// reports of the namespaces whose findings it touched. The first
// evaluation of a term, and one every FullInterval, covers everything.
func (c *Controller) evaluate(ctx context.Context) {
	start := time.Now()
	objs := c.opts.Watcher.Objects()
	now := map[object.Ref]seen{}
	for _, o := range objs {
		now[o.Ref] = seen{o, version(o)}
	}
	full := c.seen == nil || start.Sub(c.fullAt) >= c.opts.FullInterval
	var res *engine.Result
	var touched map[string]bool // namespaces to rewrite; nil for all
	if full {
		res = c.opts.Engine.ScanObjects(objs)
		c.fullAt = start
	} else {
		var changes []engine.Change
		for ref, s := range now {
			if old, ok := c.seen[ref]; !ok || old.version != s.version {
				changes = append(changes, engine.Change{Old: old.obj, New: s.obj})
			}
		}
		for ref, old := range c.seen {
			if _, ok := now[ref]; !ok {
				changes = append(changes, engine.Change{Old: old.obj})
			}
		}
		if len(changes) == 0 && c.opts.Verify == nil {
			return // only objects folded into their owners changed
		}
		if c.opts.Logger.Enabled(ctx, slog.LevelDebug) {
			for _, ch := range changes {
				o := ch.New
				if o == nil {
					o = ch.Old
				}
				c.opts.Logger.Debug("changed", "object", o.Ref.String(), "deleted", ch.New == nil)
			}
		}
		res = c.opts.Engine.Rescan(objs, changes)
		res.Carry(c.previous)
		touched = map[string]bool{}
		for _, ch := range changes {
			for _, o := range []*object.Object{ch.Old, ch.New} {
				if o != nil {
					touched[o.Namespace] = true
				}
			}
		}
		for o := range res.Evaluated {
			touched[o.Namespace] = true
		}
	}
	if c.opts.Images != nil {
		c.images(res)
	}
	if c.opts.Verify != nil && c.verify(ctx, res) {
		touched = nil // verdicts changed: any namespace may differ
	}
	rep := c.opts.Report
	rep.Findings, rep.Diagnostics, rep.Objects = res.Findings, res.Diagnostics, res.Objects
	rep.UIDs = make(map[object.Ref]string, len(objs))
	for _, o := range objs {
		rep.UIDs[o.Ref] = inventory.UID(o)
	}
	n, err := WriteReports(ctx, c.opts.Dynamic, &rep, "", touched)
	if err != nil {
		c.opts.Logger.Error("writing policy reports", "error", err)
		c.seen = nil // the reports may be partly written: start over
		return
	}
	c.seen, c.previous = now, res.Findings
	evaluated := len(objs)
	if !full {
		evaluated = len(res.Evaluated)
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
	c.last.Store(int64(evaluated))
	c.evaluated.Observe(float64(evaluated))
	c.duration.Observe(time.Since(start).Seconds())
	level := slog.LevelInfo
	if evaluated == 0 && n == 0 {
		level = slog.LevelDebug // an interval that only looked at images again
	}
	c.opts.Logger.Log(ctx, level, "evaluated", "objects", len(objs), "evaluated", evaluated, "full", full,
		"findings", count, "reports", n, "seconds", time.Since(start).Seconds())
}

// version tells whether an object changed: its resourceVersion, and for a
// TLS Secret its certificate, which arrives through a cache of its own.
func version(o *object.Object) string {
	md, _ := o.Content["metadata"].(map[string]any)
	v, _ := md["resourceVersion"].(string)
	if data, ok := o.Content["data"].(map[string]any); ok && o.Kind == "Secret" {
		crt, _ := data["tls.crt"].(string)
		v += "/" + crt
	}
	if v == "" {
		return fmt.Sprint(o.Content) // the synthetic Cluster object
	}
	return v
}

// verify replaces the IMG-SIGNATURE and IMG-ATTESTATION findings
// (carried from the last evaluation) with the verdicts on the digests
// the pods run now, and reports whether they changed. Images not
// verified within the cache's budget are diagnostics; the next interval
// asks the cache again.
func (c *Controller) verify(ctx context.Context, res *engine.Result) bool {
	kept := res.Findings[:0:0]
	for _, f := range res.Findings {
		if f.ControlID != ctlimage.Signature.ID && f.ControlID != ctlimage.Attestation.ID {
			kept = append(kept, f)
		}
	}
	res.Findings = kept
	if res.Inventory == nil {
		return false
	}
	running := imagescan.RunningImages(c.opts.Watcher.Pods())
	ps := c.opts.Verify.Verifier().Policies()
	fs, diags := ps.Workloads(ctx, res.Inventory.Entries(), imageverify.Namespaces(res.Inventory), running.Resolve, c.opts.Verify.Check, c.opts.Engine.Accept, 4)
	res.Findings = append(res.Findings, fs...)
	slices.SortFunc(res.Findings, finding.Compare)
	res.Diagnostics = append(res.Diagnostics, diags...)
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s|%s|%s|%s\n", f.ControlID, f.Object, f.Container, f.Message)
	}
	changed := b.String() != c.verified
	c.verified = b.String()
	return changed
}

// images asks for the digests the pods run and replaces the IMG-VULN
// findings (carried from the last evaluation) with those of the results
// known now.
func (c *Controller) images(res *engine.Result) {
	running := imagescan.RunningImages(c.opts.Watcher.Pods())
	c.opts.Images.Want(running.Refs())
	kept := res.Findings[:0:0]
	for _, f := range res.Findings {
		if f.ControlID != ctlimage.Vuln.ID {
			kept = append(kept, f)
		}
	}
	if res.Inventory == nil {
		return
	}
	fs, diags := c.opts.Images.Findings(res.Inventory.Entries(), running.Resolve, c.opts.Engine.Accept)
	res.Findings = append(kept, fs...)
	slices.SortFunc(res.Findings, finding.Compare)
	res.Diagnostics = append(res.Diagnostics, diags...)
}
