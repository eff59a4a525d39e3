package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/report"
	"github.com/kubeguard/kubeguard/pkg/vulndb"
)

func newControllerCmd(s *streams) *cobra.Command {
	var kubeconfig, kubeContext, configPath, namespace, identity, listen, logLevel, dashboardListen string
	var policies []string
	var images, verify bool
	var imageQueue int
	var img imageFlags
	var jobs imagescan.Jobs
	var dbEvery time.Duration
	var dbMirror string
	var interval, full time.Duration
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Keep PolicyReports of the cluster current (in-cluster, leader-elected)",
		Long: "controller watches the cluster with shared informers (Secrets as metadata only), evaluates it\n" +
			"with the same controls as cluster, and keeps the PolicyReports and the ClusterPolicyReport\n" +
			"current. A change re-evaluates the changed objects and what depends on them (a NetworkPolicy: the\n" +
			"pods it selects) and rewrites only the reports it touched; everything is evaluated again every\n" +
			"--full-interval. Replicas elect a leader with a Lease; only the leader evaluates and writes.\n" +
			"/metrics has findings by severity, control and namespace, evaluation durations and sizes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageErr("--log-level: %v", err)
			}
			log := slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: level}))
			var cfg *config.Config
			if configPath != "" {
				var err error
				if cfg, err = config.Load(configPath); err != nil {
					return usageErr("%v", err)
				}
			}
			userControls, err := startPolicies(log, append(slices.Clone(policies), cfg.PolicyPaths()...))
			if err != nil {
				return err
			}
			cat, eng, err := newEngineWith(cfg, "", engine.Options{Live: true}, userControls)
			if err != nil {
				return err
			}
			rc, err := restConfig(kubeconfig, kubeContext)
			if err != nil {
				return usageErr("cluster connection: %v", err)
			}
			client, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return usageErr("cluster connection: %v", err)
			}
			if identity == "" {
				identity, _ = os.Hostname()
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			var bg *imagescan.Background
			if images {
				// a missing database is not fatal here: images are read,
				// and matched once kubeguard db update writes one
				sc, _, diags, err := img.scanner(time.Now())
				if err != nil {
					return err
				}
				for _, d := range diags {
					log.Warn(d.Message, "database", img.dbDir())
				}
				bg = imagescan.NewBackground(sc, imageQueue, img.parallel, img.dbDir(), log)
				if jobs.Max > 0 {
					if jobs.Image == "" {
						return usageErr("--image-jobs needs --image-job-image, the kubeguard image the Jobs run")
					}
					jobs.Client, jobs.Namespace, jobs.Platform, jobs.Insecure = client, namespace, img.platform, img.insecure
					bg.UseJobs(&jobs)
				}
				bg.Start(ctx)
				if dbEvery > 0 {
					go keepDB(ctx, log, img.dbDir(), dbMirror, dbEvery)
				}
			}
			var vc *imageverify.Cache
			if verify {
				if vc, err = startVerify(ctx, log, cfg, dynamic.NewForConfigOrDie(rc), img.insecure, reg); err != nil {
					return err
				}
			}
			ctl := controller.New(controller.Options{Engine: eng, Report: report.Report{Tool: "kubeguard", Version: Version(), Catalog: cat}, Images: bg, Verify: vc,
				Client: client, Dynamic: dynamic.NewForConfigOrDie(rc),
				Watcher: live.NewWatcher(dynamic.NewForConfigOrDie(rc), metadata.NewForConfigOrDie(rc), discovery.NewDiscoveryClientForConfigOrDie(rc), live.WatchOptions{Secrets: true, Log: log}),
				Logger:  log, Interval: interval, FullInterval: full, Identity: identity, Namespace: namespace, Registerer: reg})
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			mux := http.NewServeMux()
			mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(l)
			defer srv.Shutdown(context.Background())
			if dashboardListen != "" {
				if _, err := serveDashboard(ctx, log, client, dynamic.NewForConfigOrDie(rc), cat, dashboardListen); err != nil {
					return err
				}
			}
			log.Info("controller starting", "identity", identity, "lease", namespace+"/"+controller.LeaseName)
			if err := ctl.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster configuration)")
	fl.StringVar(&kubeContext, "context", "", "kubeconfig context")
	fl.StringVar(&configPath, "config", "", "configuration file (.kubeguard.yaml)")
	fl.StringArrayVar(&policies, "policies", nil, "the team's ValidatingAdmissionPolicies (with bindings and parameters) and Gatekeeper templates and constraints, to keep in the reports as controls (file or directory, repeatable; read at start; with policies: of the configuration)")
	fl.StringVar(&namespace, "lease-namespace", envOr("POD_NAMESPACE", "kubeguard"), "namespace of the leader-election Lease")
	fl.StringVar(&identity, "identity", "", "this replica's name in the Lease (default: host name)")
	fl.StringVar(&listen, "metrics-listen", ":8080", "address of /metrics and /healthz")
	fl.StringVar(&dashboardListen, "dashboard-listen", "", "also serve the dashboard (see kubeguard dashboard) on this address, e.g. 127.0.0.1:8081 for kubectl port-forward")
	fl.DurationVar(&interval, "interval", 2*time.Second, "how often changes are evaluated (changes within one interval are evaluated together)")
	fl.DurationVar(&full, "full-interval", time.Hour, "how often everything is evaluated again (certificates and versions age without changes)")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.BoolVar(&images, "images", false, "scan the images pods run (by digest) in the background and add their vulnerabilities to the workloads' reports")
	fl.BoolVar(&verify, "verify-images", false, "verify the images pods run (by digest) against images.verify and the cluster's ClusterImagePolicy objects and add the policies they fail to the workloads' reports (verdicts cached by digest)")
	fl.IntVar(&imageQueue, "image-queue", 1000, "most images waiting to be scanned; more wait for the next evaluation")
	fl.DurationVar(&dbEvery, "db-update-interval", 0, "with --images, download the vulnerability database this often (0: never; kubeguard db update or import keeps it)")
	fl.StringVar(&dbMirror, "db-mirror", vulndb.DefaultMirror, "base URL of the OSV export the database is downloaded from")
	fl.IntVar(&jobs.Max, "image-jobs", 0, "read images in up to this many Kubernetes Jobs at once when the queue is long (0: only in this pod)")
	fl.IntVar(&jobs.Threshold, "image-job-threshold", 50, "queue length from which images go to Jobs")
	fl.StringVar(&jobs.Image, "image-job-image", "", "the kubeguard image scan Jobs run")
	fl.StringVar(&jobs.ServiceAccount, "image-job-service-account", "", "service account of the scan Jobs (it creates ConfigMaps in the lease namespace)")
	img.register(fl, true)
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// keepDB downloads the vulnerability database when it is missing or
// older than every, and again every interval; the scanner notices the
// new one. A failed download leaves the old database in use.
func keepDB(ctx context.Context, log *slog.Logger, dir, mirror string, every time.Duration) {
	for {
		wait := every
		if db, err := vulndb.Open(dir); err == nil {
			if age := db.Age(time.Now()); age < every {
				wait = every - age
			} else {
				wait = 0
			}
			db.Close()
		} else {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		m, err := vulndb.Update(ctx, nil, mirror, vulndb.DefaultEcosystems, dir)
		if err != nil {
			log.Error("vulnerability database update failed; the old one stays in use", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Hour):
			}
			continue
		}
		log.Info("vulnerability database updated", "records", m.Records, "bytes", m.Size)
	}
}
