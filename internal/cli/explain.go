package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/object"
)

func newExplainCmd(s *streams) *cobra.Command {
	var policies []string
	var configPath string
	cmd := &cobra.Command{
		Use:   "explain ID",
		Short: "Explain one control: why it matters and how to fix it",
		Long: "explain prints a control's metadata. With --policies (or policies: of --config) the team's\n" +
			"ValidatingAdmissionPolicies and Gatekeeper constraints are controls too; a policy that cannot be\n" +
			"used is reported at its file and line, and the command exits 2.",
		Example: "  kubeguard explain PSS-PRIVILEGED\n" +
			"  kubeguard explain TEAM-MEMORY-LIMIT --policies examples/policies/gatekeeper/template.yaml --policies examples/policies/gatekeeper/constraint.yaml",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			extra, diags := loadPolicies(append(policies, cfg.PolicyPaths()...))
			broken := false
			for _, d := range diags {
				fmt.Fprintln(s.err, d.String())
				broken = broken || d.Severity == object.SeverityError
			}
			if broken {
				return &exitError{code: ExitError}
			}
			cat, err := controls.Catalog(controls.Options{Extra: extra})
			if err != nil {
				return usageErr("%v", err)
			}
			c, ok := cat.Get(args[0])
			if !ok {
				return usageErr("unknown control ID %q (see `kubeguard controls`)", args[0])
			}
			scope := "one object at a time"
			if c.Scope == control.InventoryScope {
				scope = "across objects (reads the whole inventory)"
			}
			if c.ClusterOnly {
				scope += "; on live clusters only (kubeguard cluster, webhook)"
			}
			fmt.Fprintf(s.out, "%s: %s\n\nSeverity:    %s\nCategory:    %s\nChecks:      %s\nFrameworks:  %s\n\nWhy:\n  %s\n\nFix:\n  %s\n\nSuppress on an object:\n  metadata:\n    annotations:\n      kubeguard.io/ignore: %q\n      kubeguard.io/ignore-reason: \"why this is accepted\"\n",
				c.ID, c.Title, c.Severity, c.Category, scope, refString(c.Refs), c.Rationale, c.Remediation, c.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&policies, "policies", nil, "the team's policies and constraints (file or directory, repeatable), to explain one of them")
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (.kubeguard.yaml), for its policies")
	return cmd
}
