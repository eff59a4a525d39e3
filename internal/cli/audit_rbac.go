package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/audit"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

func newAuditRBACCmd(s *streams) *cobra.Command {
	src := rbacSource()
	var rbacPaths, accounts []string
	var unused bool
	cmd := &cobra.Command{
		Use:   "rbac FILE...",
		Short: "Write the least-privilege RBAC each service account needs, from what it used; list what it never used",
		Long: "audit rbac reads audit logs and writes, for each service account, a Role per namespace (and a\n" +
			"ClusterRole for cluster-wide requests) allowing exactly the requests it made, with their bindings,\n" +
			"as YAML. With --unused and the RBAC in force (--rbac PATH or --cluster), it lists instead the\n" +
			"permissions each account's bindings grant that it never used, the riskiest first: what to remove.\n" +
			"Only what the logs cover counts: learn over a window that includes the account's rare jobs.",
		Example: "  kubeguard audit rbac audit.log --account shop/reporter > reporter-rbac.yaml\n" +
			"  kubeguard audit rbac audit.log --unused --rbac deploy/",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u := audit.NewUsage()
			_, diags := readAuditLogs(s, args, u.Add)
			for _, d := range diags {
				fmt.Fprintln(s.err, d.String())
			}
			keep := map[string]bool{}
			for _, a := range accounts {
				keep[a] = true
				if _, ok := u.Accounts[a]; !ok {
					return fmt.Errorf("service account %s made no allowed request in the logs", a)
				}
			}
			for a := range u.Accounts {
				if len(keep) > 0 && !keep[a] {
					delete(u.Accounts, a)
				}
			}
			bad := len(diags) > 0
			if unused {
				if len(rbacPaths) == 0 && !src.cluster {
					return usageErr("--unused needs the RBAC in force: --rbac PATH or --cluster")
				}
				inv, badInput, err := src.load(cmd.Context(), s, rbacPaths)
				if err != nil {
					return err
				}
				list := u.Unused(rbac.Of(inv))
				if err := writeUnused(s, src.output, list); err != nil {
					return err
				}
				return inputExit(bad || badInput)
			}
			if len(u.Accounts) == 0 {
				fmt.Fprintln(s.err, "kubeguard: no service account made an allowed request in the logs")
			}
			for _, a := range sortedAccounts(u) {
				fmt.Fprintf(s.out, "# %s: %d kinds of request\n", a, len(u.Accounts[a]))
				for _, o := range u.MinimalRBAC(a) {
					data, err := yaml.Marshal(o)
					if err != nil {
						return err
					}
					fmt.Fprintf(s.out, "---\n%s", stripCreationTimestamp(data))
				}
			}
			return inputExit(bad)
		},
	}
	src.flags(cmd, "table, json (with --unused)")
	cmd.Flags().StringSliceVar(&rbacPaths, "rbac", nil, "manifests, charts or kustomizations holding the RBAC in force (with --unused)")
	cmd.Flags().StringSliceVar(&accounts, "account", nil, "only this service account, as NAMESPACE/NAME (repeatable)")
	cmd.Flags().BoolVar(&unused, "unused", false, "list granted permissions never used instead of writing roles")
	return cmd
}

func sortedAccounts(u *audit.Usage) []string {
	var out []string
	for a := range u.Accounts {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// stripCreationTimestamp drops the null timestamp metav1.ObjectMeta
// marshals: the output is for kubectl apply.
func stripCreationTimestamp(data []byte) []byte {
	return bytes.ReplaceAll(data, []byte("  creationTimestamp: null\n"), nil)
}

func writeUnused(s *streams, output string, list []audit.Unused) error {
	switch output {
	case "json":
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if list == nil {
			list = []audit.Unused{}
		}
		return enc.Encode(list)
	case "table":
		w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "RISK\tACCOUNT\tNEVER USED\tGRANTED BY\tNAMESPACE")
		for _, x := range list {
			ns := x.Namespace
			if ns == "" {
				ns = "(cluster)"
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s → %s\t%s\n", x.Risk, x.Account, x.Permission, x.Binding, x.Role, ns)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "\n%d granted permissions never used\n", len(list))
		return nil
	}
	return usageErr("--output: unknown format %q (want table or json)", output)
}
