package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/dashboard"
)

func newDashboardCmd(s *streams) *cobra.Command {
	var kubeconfig, kubeContext, listen string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the cluster's posture from kubeguard's PolicyReports as the HTML report, per viewer",
		Long: "dashboard serves the HTML report of the PolicyReports kubeguard's controller keeps, followed\n" +
			"with a watch. It is read-only; each viewer signs in with a Kubernetes bearer token (header or\n" +
			"the login form), checked with a TokenReview, and sees only the namespaces whose PolicyReports\n" +
			"they may list (a SubjectAccessReview each). Reviews are reused for 10 seconds. Reach it with\n" +
			"kubectl port-forward.",
		Example: "  kubeguard dashboard --listen 127.0.0.1:8080\n" +
			"  kubectl -n kubeguard port-forward deploy/kubeguard-controller 8080 && kubectl create token viewer",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(s.err, nil))
			rc, err := restConfig(kubeconfig, kubeContext)
			if err != nil {
				return usageErr("cluster connection: %v", err)
			}
			client, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return usageErr("cluster connection: %v", err)
			}
			dyn, err := dynamic.NewForConfig(rc)
			if err != nil {
				return usageErr("cluster connection: %v", err)
			}
			cat, err := controls.Catalog(controls.Options{})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			served, err := serveDashboard(ctx, log, client, dyn, cat, listen)
			if err != nil {
				return err
			}
			return <-served
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster configuration, then $KUBECONFIG and ~/.kube/config)")
	fl.StringVar(&kubeContext, "context", "", "kubeconfig context")
	fl.StringVar(&listen, "listen", "127.0.0.1:8080", "address to serve on")
	return cmd
}

// serveDashboard serves the dashboard on listen until ctx ends, for the
// dashboard command and the controller's --dashboard-listen. It returns
// once the reports are watched and the address is bound; served yields
// the server's end (nil when ctx ended it).
func serveDashboard(ctx context.Context, log *slog.Logger, client kubernetes.Interface, dyn dynamic.Interface, cat *control.Catalog, listen string) (served <-chan error, err error) {
	ds := &dashboard.Server{Client: client, Dynamic: dyn, Catalog: cat, Version: Version(), Log: log}
	if err := ds.Start(ctx); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: ds.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	done := make(chan error, 1)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			done <- err
		}
		close(done)
	}()
	log.Info("dashboard serving", "address", l.Addr().String())
	return done, nil
}
