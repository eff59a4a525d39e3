package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
)

func newExplainCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "explain ID",
		Short:   "Explain one control: why it matters and how to fix it",
		Example: "  kubeguard explain PSS-PRIVILEGED",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := controls.Catalog(controls.Options{})
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
}
