package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/deploy"
	"github.com/kubeguard/kubeguard/pkg/config"
)

func newInstallManifestsCmd(s *streams) *cobra.Command {
	var o deploy.InstallOptions
	var configPath string
	cmd := &cobra.Command{
		Use:   "install-manifests",
		Short: "Print the manifests that install the admission webhook",
		Long: "install-manifests renders kubeguard's Helm chart (embedded in the binary) for the webhook alone:\n" +
			"Namespace, ServiceAccount, read-only RBAC, ConfigMap, Deployment, PodDisruptionBudget, Service,\n" +
			"NetworkPolicy and the webhook configurations, whose failure policy, selectors and mutations come\n" +
			"from --config. kube-system and kubeguard's namespace are never sent to the webhook. The serving\n" +
			"certificate comes from cert-manager (--cert-manager, the default) or from a Secret named\n" +
			"kubeguard-webhook-tls.",
		Example: "  kubeguard webhook install-manifests --image ghcr.io/kubeguard/kubeguard@sha256:... | kubectl apply -f -",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath != "" {
				cfg, err := config.Load(configPath)
				if err != nil {
					return usageErr("%v", err)
				}
				data, err := os.ReadFile(configPath)
				if err != nil {
					return usageErr("%v", err)
				}
				o.Config, o.ConfigYAML = cfg, string(data)
			}
			if !strings.Contains(o.Image, "@sha256:") {
				fmt.Fprintln(s.err, "kubeguard: warning: --image is not pinned by digest (IMG-NOT-PINNED); pin it for production")
			}
			out, err := deploy.InstallManifests(o)
			if err != nil {
				return usageErr("%v", err)
			}
			_, err = fmt.Fprint(s.out, out)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Namespace, "namespace", "n", "kubeguard", "namespace to install into")
	fl.StringVar(&o.Image, "image", "ghcr.io/kubeguard/kubeguard:"+Version(), "kubeguard image (pin it by digest)")
	fl.IntVar(&o.Replicas, "replicas", 2, "webhook replicas (at least 2)")
	fl.StringVar(&configPath, "config", "", "configuration file to ship in the ConfigMap (webhook modes, exemptions, mutations)")
	fl.BoolVar(&o.CertManager, "cert-manager", true, "let cert-manager issue the serving certificate and inject the caBundle")
	return cmd
}
