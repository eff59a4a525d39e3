package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/kubeguard/kubeguard/pkg/audit"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

type auditServeFlags struct {
	listen, metricsListen        string
	certFile, keyFile, clientCA  string
	configPath, logLevel         string
	baseline, baselineConfigMap  string
	queue                        int
	forwardURL, forwardSeverity  string
	forwardSlack                 bool
	leaderElect                  bool
	kubeconfig, kubeContext      string
	namespace, leaseName, ident  string
	leaseDuration, renewDeadline time.Duration
	retryPeriod, saveEvery       time.Duration
}

func newAuditServeCmd(s *streams) *cobra.Command {
	var f auditServeFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive the API server's audit events (webhook backend) and alert on them as they happen",
		Long: "audit serve is the API server's audit webhook backend (--audit-webhook-config-file): it accepts the\n" +
			"EventList batches over TLS from clients with a certificate the --client-ca-file CA signed, judges\n" +
			"them with the AUD-* rules, the catalog and the learned baseline, and writes each alert as a JSON line\n" +
			"(and forwards it with --forward-url). A batch is answered once judged; when the queue is full the\n" +
			"answer is 429 and the API server retries, so no acknowledged event is lost and nothing is dropped\n" +
			"silently. With --leader-elect, replicas share a Lease: the leader judges and keeps the baseline, the\n" +
			"others answer 503 (the API server retries, and the Service sends the retry to a ready replica).",
		Example: "  kubeguard audit serve --tls-cert-file tls.crt --tls-key-file tls.key --client-ca-file apiserver-ca.crt --baseline /var/lib/kubeguard/baseline.json.gz",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runAuditServe(cmd.Context(), s, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":8443", "address to receive events on (TLS)")
	fl.StringVar(&f.metricsListen, "metrics-listen", ":8080", "address of /metrics, /healthz and /readyz (plain HTTP; empty: none)")
	fl.StringVar(&f.certFile, "tls-cert-file", "", "serving certificate (PEM); reloaded when the file changes")
	fl.StringVar(&f.keyFile, "tls-key-file", "", "serving key (PEM)")
	fl.StringVar(&f.clientCA, "client-ca-file", "", "CA of the API server's client certificate; requests without a certificate it signed are refused")
	fl.StringVar(&f.configPath, "config", "", "configuration file (.kubeguard.yaml)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.baseline, "baseline", "", "learn baselines and report anomalies, kept in this file (saved every --save-every and at exit)")
	fl.StringVar(&f.baselineConfigMap, "baseline-configmap", "", "learn baselines, kept in this ConfigMap of --namespace (for replicas in a cluster)")
	fl.DurationVar(&f.saveEvery, "save-every", time.Minute, "how often the baseline is saved")
	fl.IntVar(&f.queue, "queue", 64, "batches that may wait to be judged before the API server is asked to retry")
	fl.StringVar(&f.forwardURL, "forward-url", "", "POST alerts to this URL as JSON (retried with back-off)")
	fl.BoolVar(&f.forwardSlack, "forward-slack", false, "post a Slack incoming-webhook payload ({\"text\": ...}) instead")
	fl.StringVar(&f.forwardSeverity, "forward-severity", "medium", "forward findings at least this severe")
	fl.BoolVar(&f.leaderElect, "leader-elect", false, "share a Lease with other replicas: only the leader judges events")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster configuration)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	fl.StringVarP(&f.namespace, "namespace", "n", "kubeguard", "namespace of the Lease and the baseline ConfigMap")
	fl.StringVar(&f.leaseName, "lease-name", "kubeguard-audit", "name of the Lease")
	fl.StringVar(&f.ident, "identity", "", "this replica's name in the Lease (default: host name)")
	fl.DurationVar(&f.leaseDuration, "lease-duration", 15*time.Second, "how long a leader's Lease lasts without renewal")
	fl.DurationVar(&f.renewDeadline, "renew-deadline", 10*time.Second, "how long the leader tries to renew before giving up")
	fl.DurationVar(&f.retryPeriod, "retry-period", 2*time.Second, "how often replicas try to acquire or renew")
	return cmd
}

func runAuditServe(ctx context.Context, s *streams, f *auditServeFlags) error {
	if f.certFile == "" || f.keyFile == "" || f.clientCA == "" {
		return usageErr("--tls-cert-file, --tls-key-file and --client-ca-file are required: audit events carry the cluster's secrets' metadata and must come from the API server")
	}
	if f.baseline != "" && f.baselineConfigMap != "" {
		return usageErr("give --baseline or --baseline-configmap, not both")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageErr("--log-level: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: level}))
	forwardSev, err := finding.ParseSeverity(f.forwardSeverity)
	if err != nil {
		return usageErr("--forward-severity: %v", err)
	}
	cfg, _, eng, err := configEngine(f.configPath, engine.Options{Live: true, Workers: 1})
	if err != nil {
		return err
	}
	d, err := audit.NewDetector(eng, auditConfig(cfg))
	if err != nil {
		return err
	}
	var client kubernetes.Interface
	if f.leaderElect || f.baselineConfigMap != "" {
		rc, err := restConfig(f.kubeconfig, f.kubeContext)
		if err != nil {
			return usageErr("cluster connection: %v", err)
		}
		if client, err = kubernetes.NewForConfig(rc); err != nil {
			return usageErr("cluster connection: %v", err)
		}
	}
	var store audit.Store
	switch {
	case f.baseline != "":
		store = audit.FileStore(f.baseline)
	case f.baselineConfigMap != "":
		store = &audit.ConfigMapStore{Client: client, Namespace: f.namespace, Name: f.baselineConfigMap}
	}

	caPEM, err := os.ReadFile(f.clientCA)
	if err != nil {
		return usageErr("--client-ca-file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return usageErr("--client-ca-file %s: no PEM certificate", f.clientCA)
	}
	kp, err := tlsutil.NewReloadingKeyPair(f.certFile, f.keyFile)
	if err != nil {
		return err
	}
	tlsCfg := tlsutil.ServerConfig(kp.GetCertificate)
	tlsCfg.ClientAuth, tlsCfg.ClientCAs = tls.RequireAndVerifyClientCert, pool

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var active atomic.Bool
	enc := alertEncoder(s.out)
	// batches are refused (and retried) until this replica leads and
	// has loaded the baseline
	rcv := &audit.Receiver{Detector: d, Queue: f.queue, Logger: log, Active: active.Load}
	m := rcv.NewMetrics(reg)
	var fw *audit.Forwarder
	rcv.Alerts = func(fs []*finding.Finding) {
		for _, f := range fs {
			if f.Suppressed == nil {
				enc.Encode(audit.AlertOf(f))
			}
		}
		if fw != nil {
			fw.Send(fs)
		}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	work, endWork := context.WithCancel(context.Background())
	defer endWork()
	if f.forwardURL != "" {
		fw = &audit.Forwarder{URL: f.forwardURL, Slack: f.forwardSlack, MinSeverity: forwardSev, Metrics: m, Logger: log}
		fw.Start(work)
	}
	judged := make(chan struct{})
	go func() { rcv.Run(work); close(judged) }()

	// the baseline: loaded when this replica starts judging, saved
	// periodically and when it stops
	save := func() {
		if store == nil {
			return
		}
		rcv.Locked(func(d *audit.Detector) {
			if d.Baseline == nil {
				return
			}
			d.Baseline.Forget()
			if err := store.Save(context.Background(), d.Baseline); err != nil {
				log.Error("saving the baseline", "store", store.String(), "error", err)
			}
		})
	}
	lead := func(ctx context.Context) {
		if store != nil {
			b, err := store.Load(ctx, audit.BaselineOptionsOf(auditConfig(cfg)))
			if err != nil {
				log.Error("loading the baseline; starting a new one", "store", store.String(), "error", err)
				b = audit.NewBaseline(audit.BaselineOptionsOf(auditConfig(cfg)))
			}
			rcv.Locked(func(d *audit.Detector) { d.Baseline = b })
			log.Info("baseline loaded", "store", store.String(), "identities", len(b.Identities))
		}
		active.Store(true)
		t := time.NewTicker(f.saveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				active.Store(false)
				save()
				return
			case <-t.C:
				save()
			}
		}
	}

	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rcv, TLSConfig: tlsCfg, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// HTTP/1.1: a standby closes the connection it answered 503 on,
		// so the API server's retry opens a new one, which the Service
		// sends to a ready replica
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(l, "", "") }()
	if f.metricsListen != "" {
		ml, err := net.Listen("tcp", f.metricsListen)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !active.Load() {
				http.Error(w, "standby", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ok\n"))
		})
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go msrv.Serve(ml)
		defer msrv.Close()
	}
	log.Info("audit receiver listening", "address", l.Addr().String(), "leaderElect", f.leaderElect)

	leading := make(chan struct{})
	if f.leaderElect {
		ident := f.ident
		if ident == "" {
			ident, _ = os.Hostname()
		}
		lock := &resourcelock.LeaseLock{LeaseMeta: metav1.ObjectMeta{Name: f.leaseName, Namespace: f.namespace},
			Client: client.CoordinationV1(), LockConfig: resourcelock.ResourceLockConfig{Identity: ident}}
		go func() {
			defer close(leading)
			for ctx.Err() == nil {
				le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{Lock: lock, Name: f.leaseName,
					LeaseDuration: f.leaseDuration, RenewDeadline: f.renewDeadline, RetryPeriod: f.retryPeriod, ReleaseOnCancel: true,
					Callbacks: leaderelection.LeaderCallbacks{
						OnStartedLeading: func(ctx context.Context) { log.Info("leading", "identity", ident); lead(ctx) },
						OnStoppedLeading: func() { log.Info("standing by", "identity", ident) },
					}})
				if err != nil {
					log.Error("leader election", "error", err)
					return
				}
				le.Run(ctx)
			}
		}()
	} else {
		go func() { lead(ctx); close(leading) }()
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// stop taking batches, finish the ones in flight, then save
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	endWork()
	<-judged
	<-leading
	if !f.leaderElect {
		save() // with what the last batches taught
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutting down: %v", err)
	}
	return nil
}
