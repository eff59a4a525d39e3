package audit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// MaxBatch bounds one request body: the API server's batches are at
// most 400 events (--audit-webhook-batch-max-size) of truncated size.
const MaxBatch = 64 << 20

// Receiver is the audit webhook backend: the API server posts EventLists
// to it (--audit-webhook-config-file). A batch is answered once it has
// been judged, so an acknowledged event is never lost; when the queue is
// full, or this replica is not the active one, the answer is an error
// and the API server retries the batch with back-off.
type Receiver struct {
	Detector *Detector
	// Alerts receives each batch's findings, in order.
	Alerts func([]*finding.Finding)
	// Active reports whether this replica judges events (it holds the
	// Lease); nil means always.
	Active func() bool
	// Queue is how many batches may wait (default 64).
	Queue   int
	Metrics *Metrics
	Logger  *slog.Logger

	once  sync.Once
	q     chan *batch
	mu    sync.Mutex // serializes the detector with Locked
	inbox atomic.Int64
}

type batch struct {
	events []Event
	at     time.Time
	done   chan struct{}
}

// Metrics are the receiver's Prometheus metrics.
type Metrics struct {
	Events   prometheus.Counter
	Batches  *prometheus.CounterVec
	Alerts   *prometheus.CounterVec
	Invalid  prometheus.Counter
	Lag      prometheus.Histogram
	Queue    prometheus.GaugeFunc
	Skewed   *prometheus.CounterVec
	Forwards *prometheus.CounterVec
}

// NewMetrics registers the receiver's metrics with reg.
func (r *Receiver) NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounter(prometheus.CounterOpts{Name: "kubeguard_audit_events_total", Help: "Audit events received (of every stage; each request is judged once, at ResponseComplete)."}),
		Batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubeguard_audit_batches_total",
			Help: "Event batches received, by result: accepted, rejected_full (queue full; the API server retries), standby (not the active replica; retried), invalid."}, []string{"result"}),
		Alerts:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubeguard_audit_alerts_total", Help: "Findings of audit events, by control."}, []string{"control"}),
		Invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "kubeguard_audit_invalid_total", Help: "Request bodies that were not audit events."}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kubeguard_audit_lag_seconds", Help: "Time from an event's stage timestamp to its judgement.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}}),
		Skewed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubeguard_audit_clock_skew_total",
			Help: "Events more than 5 minutes out of order (late) or ahead of the receiver's clock (future); judged all the same."}, []string{"direction"}),
		Forwards: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubeguard_audit_forwarded_total", Help: "Alerts forwarded, by result: sent, retried, dropped."}, []string{"result"}),
	}
	m.Queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kubeguard_audit_queue_batches", Help: "Batches waiting to be judged."},
		func() float64 { return float64(r.inbox.Load()) })
	reg.MustRegister(m.Events, m.Batches, m.Alerts, m.Invalid, m.Lag, m.Queue, m.Skewed, m.Forwards)
	r.Metrics = m
	return m
}

func (r *Receiver) init() {
	r.once.Do(func() {
		if r.Queue <= 0 {
			r.Queue = 64
		}
		r.q = make(chan *batch, r.Queue)
		if r.Detector != nil && r.Detector.Now == nil {
			r.Detector.Now = time.Now
		}
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Run judges queued batches until ctx ends, then the ones still queued.
func (r *Receiver) Run(ctx context.Context) {
	r.init()
	for {
		select {
		case b := <-r.q:
			r.judge(b)
		case <-ctx.Done():
			for {
				select {
				case b := <-r.q:
					r.judge(b)
				default:
					return
				}
			}
		}
	}
}

func (r *Receiver) judge(b *batch) {
	defer close(b.done)
	defer r.inbox.Add(-1)
	var out []*finding.Finding
	var diags []object.Diagnostic
	r.mu.Lock()
	late, future := r.Detector.Late, r.Detector.Future
	for i := range b.events {
		fs, ds := r.Detector.Event(&b.events[i])
		out = append(out, fs...)
		diags = append(diags, ds...)
	}
	late, future = r.Detector.Late-late, r.Detector.Future-future
	r.mu.Unlock()
	for _, d := range diags {
		r.Logger.Warn("audit event", "problem", d.String())
	}
	if m := r.Metrics; m != nil {
		m.Events.Add(float64(len(b.events)))
		now := time.Now()
		for i := range b.events {
			if t := eventTime(&b.events[i].Event); !t.IsZero() {
				m.Lag.Observe(max(0, now.Sub(t).Seconds()))
			}
		}
		for _, f := range out {
			m.Alerts.WithLabelValues(f.ControlID).Inc()
		}
		m.Skewed.WithLabelValues("late").Add(float64(late))
		m.Skewed.WithLabelValues("future").Add(float64(future))
	}
	if len(out) > 0 && r.Alerts != nil {
		r.Alerts(out)
	}
}

// Locked runs f with the detector to itself (to save its baseline).
func (r *Receiver) Locked(f func(*Detector)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.Detector)
}

// ServeHTTP takes one batch.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.init()
	count := func(result string) {
		if r.Metrics != nil {
			r.Metrics.Batches.WithLabelValues(result).Inc()
		}
	}
	if req.Method != http.MethodPost {
		http.Error(w, "POST an audit.k8s.io/v1 EventList", http.StatusMethodNotAllowed)
		return
	}
	if r.Active != nil && !r.Active() {
		count("standby")
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close")
		http.Error(w, "standby replica: not holding the lease", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if n := req.ContentLength; n > 0 && n <= MaxBatch {
		buf.Grow(int(n) + bytes.MinRead) // read in one go, not by doubling
	}
	_, err := buf.ReadFrom(io.LimitReader(req.Body, MaxBatch+1))
	body := buf.Bytes()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > MaxBatch {
		count("invalid")
		http.Error(w, fmt.Sprintf("batch larger than %d MiB", MaxBatch>>20), http.StatusRequestEntityTooLarge)
		return
	}
	events, err := Decode(body)
	if err != nil {
		count("invalid")
		if r.Metrics != nil {
			r.Metrics.Invalid.Inc()
		}
		r.Logger.Warn("rejected a request body", "remote", req.RemoteAddr, "error", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b := &batch{events: events, at: time.Now(), done: make(chan struct{})}
	for i := range b.events {
		b.events[i].At = object.Position{File: "webhook"}
	}
	r.inbox.Add(1)
	select {
	case r.q <- b:
	default:
		r.inbox.Add(-1)
		count("rejected_full")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "queue full", http.StatusTooManyRequests)
		return
	}
	// answered once judged: the API server's retry covers a crash before
	<-b.done
	count("accepted")
	w.WriteHeader(http.StatusOK)
}
