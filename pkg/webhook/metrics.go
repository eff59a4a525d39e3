package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus metrics.
type Metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	findings  *prometheus.CounterVec
	failures  prometheus.Counter
	shed      prometheus.Counter
	mutations prometheus.Counter
}

// NewMetrics registers the metrics with reg (nil: a private registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubeguard_webhook_requests_total",
			Help: "Admission requests answered, by endpoint, kind and decision (allow, warn, patch, deny, bad-request).",
		}, []string{"endpoint", "kind", "decision"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kubeguard_webhook_request_duration_seconds",
			Help:    "Time to answer an admission request, by endpoint, kind and decision.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"endpoint", "kind", "decision"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubeguard_webhook_findings_total",
			Help: "Findings on admitted or denied objects, by control and mode (enforce, warn, audit); dry-run requests are not counted.",
		}, []string{"control", "mode"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubeguard_webhook_failures_total",
			Help: "Requests kubeguard could not evaluate (timeouts, internal errors), answered per the failure policy.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubeguard_webhook_shed_total",
			Help: "Requests answered per the failure policy without evaluation because every evaluation slot stayed busy until their deadline.",
		}),
		mutations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubeguard_webhook_patch_operations_total",
			Help: "JSON Patch operations returned by the mutating endpoint.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.findings, m.failures, m.shed, m.mutations)
	return m
}

func (m *Metrics) observe(endpoint, kind, decision string, d time.Duration) {
	m.requests.WithLabelValues(endpoint, kind, decision).Inc()
	m.latency.WithLabelValues(endpoint, kind, decision).Observe(d.Seconds())
}

func (m *Metrics) finding(control, mode string) {
	m.findings.WithLabelValues(control, mode).Inc()
}
