package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
)

func newAuditPolicyCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit-policy",
		Short: "Check or write the API server's audit policy for kubeguard audit",
	}
	var output string
	var configMapBodies bool
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Say which rules an audit policy leaves blind, and which credentials it writes to the log",
		Long: "audit-policy check evaluates the policy with the API server's own policy evaluator against each\n" +
			"request kind kubeguard audit judges (the level it must be logged at, and the ResponseComplete stage)\n" +
			"and against the requests whose bodies hold credentials (Secrets, tokens, TokenReviews, ConfigMaps:\n" +
			"Metadata at most, CIS 3.2.2). Exit 1 when a rule is blind or a credential is exposed; a partial\n" +
			"result (a rule that needs what CIS keeps out) is a warning.",
		Example: "  kubeguard audit-policy check /etc/kubernetes/audit-policy.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			res, err := auditpolicy.CheckPolicy(data)
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			failed := 0
			for _, r := range res {
				if r.Status == "blind" || r.Status == "exposes" {
					failed++
				}
			}
			switch output {
			case "json":
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			case "table":
				w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "STATUS\tREQUEST\tLEVEL\tWANT\tDETAIL")
				for _, r := range res {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Status, r.Request, auditpolicy.LevelName(r.Level), r.Want, r.Detail)
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(s.out, "\n%d of %d checks fail\n", failed, len(res))
			default:
				return usageErr("--output: unknown format %q (want table or json)", output)
			}
			if failed > 0 {
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	check.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	generate := &cobra.Command{
		Use:   "generate",
		Short: "Write the audit policy kubeguard recommends",
		Long: "The policy logs what the rules need at the levels they need (objects written at Request, the rest\n" +
			"at Metadata), Secrets, ConfigMaps, tokens and TokenReviews at Metadata only, and drops the control\n" +
			"plane's noisy read-only traffic. AUD-CONFIGMAP-CREDENTIALS needs ConfigMap bodies, which it leaves\n" +
			"out, as CIS 3.2.2 asks.",
		Example: "  kubeguard audit-policy generate > /etc/kubernetes/audit-policy.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(s.out, auditpolicy.GeneratePolicy(configMapBodies))
			return err
		},
	}
	generate.Flags().BoolVar(&configMapBodies, "configmap-bodies", false, "log ConfigMap writes with their data, so AUD-CONFIGMAP-CREDENTIALS can read them (CIS 3.2.2 would not)")
	cmd.AddCommand(check, generate)
	return cmd
}
