package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
	"github.com/kubeguard/kubeguard/pkg/webhook"
)

type webhookFlags struct {
	listen      string
	certFile    string
	keyFile     string
	selfSigned  bool
	hosts       []string
	service     string
	namespace   string
	configName  string
	configPath  string
	kubeconfig  string
	kubeContext string
	noCluster   bool
	pssVersion  string
	timeout     time.Duration
	grace       time.Duration
	logLevel    string
	images      bool
	verify      bool
	imageQueue  int
	img         imageFlags
	policies    []string
}

func newWebhookCmd(s *streams) *cobra.Command {
	var f webhookFlags
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Serve the admission webhook (validating and mutating) with the same controls as scan",
		Long: "webhook serves /validate and /mutate (admission.k8s.io/v1) over TLS 1.2+, plus /healthz,\n" +
			"/readyz and Prometheus /metrics. Modes per control (enforce, warn, audit), exemptions,\n" +
			"selectors and mutations come from the webhook section of .kubeguard.yaml.\n\n" +
			"Cross-object controls read a live inventory of the cluster; until it has synced their\n" +
			"findings are only audited. SIGTERM stops accepting connections and finishes in-flight requests.",
		Example: "  kubeguard webhook --tls-cert-file tls.crt --tls-key-file tls.key --config /etc/kubeguard/config.yaml\n" +
			"  kubeguard webhook --self-signed --service kubeguard --namespace kubeguard\n" +
			"  kubeguard webhook install-manifests | kubectl apply -f -",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return runWebhook(ctx, s, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":8443", "address to serve on")
	fl.StringVar(&f.certFile, "tls-cert-file", "", "serving certificate (PEM); reloaded when the file changes")
	fl.StringVar(&f.keyFile, "tls-key-file", "", "serving key (PEM); reloaded when the file changes")
	fl.BoolVar(&f.selfSigned, "self-signed", false, "create a CA and certificate at start and write the CA into the caBundle of the webhook configurations (one replica; several would overwrite each other's CA)")
	fl.StringSliceVar(&f.hosts, "host", nil, "extra DNS name or IP for the self-signed certificate (repeatable)")
	fl.StringVar(&f.service, "service", "kubeguard", "Service name the self-signed certificate is for")
	fl.StringVarP(&f.namespace, "namespace", "n", "kubeguard", "namespace kubeguard runs in (of its Service)")
	fl.StringVar(&f.configName, "webhook-configuration", "kubeguard", "name of the webhook configurations whose caBundle --self-signed patches")
	fl.StringVar(&f.configPath, "config", "", "configuration file (.kubeguard.yaml)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster configuration, then $KUBECONFIG and ~/.kube/config)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	fl.BoolVar(&f.noCluster, "no-cluster", false, "run without a cluster connection: no cross-object controls, no caBundle patching")
	fl.StringVar(&f.pssVersion, "pss-version", "latest", "Pod Security Standards version to evaluate (latest or v1.NN)")
	fl.DurationVar(&f.timeout, "timeout", webhook.DefaultTimeout, "evaluation deadline per request (lowered to 80% of the API server's timeout)")
	fl.DurationVar(&f.grace, "shutdown-grace", 30*time.Second, "time in-flight requests get to finish on SIGTERM")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.BoolVar(&f.images, "images", false, "scan the images requests run in the background and decide on their known vulnerabilities (webhook.images in the configuration); requests never wait for a scan")
	fl.IntVar(&f.imageQueue, "image-queue", 1000, "most images waiting to be scanned")
	fl.BoolVar(&f.verify, "verify-images", false, "verify the signatures and attestations of the images requests run against images.verify in the configuration and the cluster's ClusterImagePolicy objects (re-read every 10s), and pin verified images to their digest at the mutating endpoint; verdicts are cached by digest")
	fl.StringArrayVar(&f.policies, "policies", nil, "the team's ValidatingAdmissionPolicies (with bindings and parameters) and Gatekeeper templates and constraints, to enforce as controls (file or directory, repeatable; read at start; with policies: of the configuration). They read the cluster's namespaces, so they do not run with --no-cluster")
	f.img.register(fl, true)
	cmd.AddCommand(newInstallManifestsCmd(s))
	return cmd
}

// webhookGCPercent trades memory for latency: the webhook's live heap is
// small (the live inventory), so collecting at 4x instead of 2x of it
// costs little and removes most collections from the request path.
const webhookGCPercent = 400

func runWebhook(ctx context.Context, s *streams, f *webhookFlags) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(webhookGCPercent)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageErr("--log-level: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: level}))
	if f.selfSigned == (f.certFile != "" || f.keyFile != "") {
		return usageErr("give either --tls-cert-file and --tls-key-file, or --self-signed")
	}
	if !f.selfSigned && (f.certFile == "" || f.keyFile == "") {
		return usageErr("--tls-cert-file and --tls-key-file go together")
	}
	var cfg *config.Config
	if f.configPath != "" {
		var err error
		if cfg, err = config.Load(f.configPath); err != nil {
			return usageErr("%v", err)
		}
	} else {
		cfg = &config.Config{}
		if err := cfg.Webhook.Validate(); err != nil {
			return usageErr("%v", err)
		}
	}
	userControls, err := startPolicies(log, append(slices.Clone(f.policies), cfg.PolicyPaths()...))
	if err != nil {
		return err
	}
	cat, eng, err := newEngineWith(cfg, f.pssVersion, engine.Options{Workers: 1}, userControls)
	if err != nil {
		return err
	}
	logPolicy(log, cat, &cfg.Webhook, f.noCluster)

	var client kubernetes.Interface
	var dyn dynamic.Interface
	var watcher *live.Watcher
	if !f.noCluster {
		rc, err := restConfig(f.kubeconfig, f.kubeContext)
		if err != nil {
			return usageErr("cluster connection: %v (use --no-cluster to run without one)", err)
		}
		if client, err = kubernetes.NewForConfig(rc); err != nil {
			return usageErr("cluster connection: %v", err)
		}
		if dyn, err = dynamic.NewForConfig(rc); err != nil {
			return usageErr("cluster connection: %v", err)
		}
		watcher = live.NewWatcher(dyn, nil, client.Discovery(), live.WatchOptions{Kinds: live.Kinds, Log: log})
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := webhook.Options{Engine: eng, Config: &cfg.Webhook, Logger: log, Metrics: webhook.NewMetrics(reg), Timeout: f.timeout}
	if f.images {
		sc, _, diags, err := f.img.scanner(time.Now())
		if err != nil {
			return err
		}
		for _, d := range diags {
			log.Warn(d.Message, "database", f.img.dbDir())
		}
		bg := imagescan.NewBackground(sc, f.imageQueue, f.img.parallel, f.img.dbDir(), log)
		bg.Start(ctx)
		opts.Images = bg
	}
	if f.verify {
		if opts.Verify, err = startVerify(ctx, log, cfg, dyn, f.img.insecure, reg); err != nil {
			return err
		}
	}
	var ready func() bool
	if watcher != nil {
		watcher.StartSnapshots(ctx)
		opts.Inventory, ready = watcher, watcher.Synced
	}
	h, err := webhook.New(opts)
	if err != nil {
		return usageErr("%v", err)
	}

	var tlsCfg *tls.Config
	if f.selfSigned {
		ca, cert, err := webhook.SelfSigned(f.service, f.namespace, f.hosts)
		if err != nil {
			return err
		}
		tlsCfg = tlsutil.ServerConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil })
		if client != nil {
			n, err := webhook.PatchCABundle(ctx, client, f.configName, ca.CertPEM)
			if err != nil {
				return err
			}
			log.Info("self-signed CA written to webhook configurations", "name", f.configName, "patched", n)
		}
	} else {
		kp, err := tlsutil.NewReloadingKeyPair(f.certFile, f.keyFile)
		if err != nil {
			return usageErr("TLS key pair: %v", err)
		}
		kp.OnError = func(err error) { log.Error("reloading TLS key pair; keeping the previous one", "error", err) }
		tlsCfg = tlsutil.ServerConfig(kp.GetCertificate)
	}

	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	log.Info("serving", "address", l.Addr().String(), "controls", len(cat.All()), "cluster", client != nil)
	err = webhook.Serve(ctx, l, webhook.ServerOptions{Handler: h, TLS: tlsCfg, Ready: ready, Gatherer: reg, Logger: log, ShutdownGrace: f.grace})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// startVerify compiles the configuration's image policies and keeps
// the cluster's ClusterImagePolicy objects (with a cluster) and the
// trusted root from TUF (when configured) merged in, in the background.
func startVerify(ctx context.Context, log *slog.Logger, cfg *config.Config, dyn dynamic.Interface, insecure bool, reg prometheus.Registerer) (*imageverify.Cache, error) {
	if cfg == nil {
		cfg = &config.Config{}
	}
	src := &imageverify.Source{Base: cfg.Images.Verify}
	if cfg.Path != "" {
		src.Dir = filepath.Dir(cfg.Path)
	}
	ps, err := imageverify.Compile(src.Base, src.Dir)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	v, err := imageverify.New(ps, imageverify.Options{Insecure: insecure})
	if err != nil {
		return nil, err
	}
	if dyn == nil && len(ps.List) == 0 {
		log.Warn("--verify-images: no images.verify policies, and no cluster to read ClusterImagePolicies from")
	}
	go imageverify.Watch(ctx, dyn, v, src, 10*time.Second, log)
	if src.Base.TUF != nil {
		go imageverify.RefreshTUF(ctx, src, 24*time.Hour, log)
	}
	return imageverify.NewCache(v, src.Base, reg)
}

// logPolicy says at start what the webhook enforces, warns about and
// audits, so an operator never has to guess from the configuration.
func logPolicy(log *slog.Logger, cat *control.Catalog, wc *config.Webhook, noCluster bool) {
	byMode := map[config.Mode][]string{}
	for _, c := range cat.All() {
		m := wc.ModeFor(c.ID, c.Category, c.Severity, c.RefKeys())
		byMode[m] = append(byMode[m], c.ID)
	}
	log.Info("policy", "enforce", byMode[config.Enforce], "warn", len(byMode[config.Warn]), "audit", len(byMode[config.Audit]),
		"failurePolicy", wc.FailurePolicy, "exemptNamespaces", wc.Exempt.Namespaces)
	if noCluster && wc.NamespaceSelector != nil {
		log.Info("namespaceSelector is left to the API server: without a cluster connection the namespaces' labels are unknown")
	}
}
