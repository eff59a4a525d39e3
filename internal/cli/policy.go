package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/policy"
)

func newPolicyCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Export controls as native Kubernetes admission policy",
	}
	var format, configPath, pssVersion string
	export := &cobra.Command{
		Use:   "export",
		Short: "Print controls as ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding objects",
		Long: "export writes every control that has a CEL form as a ValidatingAdmissionPolicy with a binding.\n" +
			"The webhook modes of the configuration become validation actions (enforce: Deny, warn: Warn,\n" +
			"audit: Audit); kube-system and exempt namespaces are excluded. Controls that need other\n" +
			"objects (NetworkPolicies, RBAC) or the image allow-list stay with the webhook.",
		Example: "  kubeguard policy export --format vap --config .kubeguard.yaml | kubectl apply -f -",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if format != "vap" {
				return usageErr("--format: unknown format %q (want vap)", format)
			}
			cfg := &config.Config{}
			if configPath != "" {
				var err error
				if cfg, err = config.Load(configPath); err != nil {
					return usageErr("%v", err)
				}
			} else if err := cfg.Webhook.Validate(); err != nil {
				return usageErr("%v", err)
			}
			cat, err := controls.Catalog(controls.Options{PSSVersion: pssVersion})
			if err != nil {
				return usageErr("%v", err)
			}
			objs, err := policy.Export(cat, policy.Options{Config: cfg})
			if err != nil {
				return usageErr("%v", err)
			}
			for i, o := range objs {
				m, err := policy.Manifest(o)
				if err != nil {
					return err
				}
				data, err := yaml.Marshal(m)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(s.out, "---")
				}
				s.out.Write(data)
			}
			return nil
		},
	}
	export.Flags().StringVar(&format, "format", "vap", "output format: vap (ValidatingAdmissionPolicy)")
	export.Flags().StringVar(&configPath, "config", "", "configuration file: webhook modes and exemptions")
	export.Flags().StringVar(&pssVersion, "pss-version", "latest", "Pod Security Standards version")
	cmd.AddCommand(export)
	return cmd
}
