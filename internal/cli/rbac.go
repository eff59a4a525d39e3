package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

// rbacSource reads RBAC and the workloads that carry it.
func rbacSource() *source {
	return &source{kinds: live.RBACKinds, what: "RBAC", gc: ScanGCPercent}
}

func newRBACCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Analyse RBAC: who can do what, a subject's access, escalation risks and hygiene",
		Long: "rbac answers authorization questions with the RBAC authorizer's semantics (bindings, aggregated\n" +
			"ClusterRoles, wildcards, subresources, resourceNames, service-account groups) over manifests,\n" +
			"charts and kustomizations, or a live cluster with --cluster.",
	}
	cmd.AddCommand(newWhoCanCmd(s), newAccessCmd(s), newRisksCmd(s), newHygieneCmd(s))
	return cmd
}

func newWhoCanCmd(s *streams) *cobra.Command {
	src := rbacSource()
	var ns, name, group string
	cmd := &cobra.Command{
		Use:   "who-can VERB RESOURCE[/SUBRESOURCE]|URL [PATH...]",
		Short: "List every subject allowed to do something, with the binding, role and rule that allow it",
		Example: "  kubeguard rbac who-can create pods/exec -n shop deploy/\n" +
			"  kubeguard rbac who-can get secrets -n kube-system --cluster\n" +
			"  kubeguard rbac who-can get /metrics --cluster",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := rbac.ParseRequest(args[0], args[1], group, ns, name)
			if err != nil {
				return usageErr("%v", err)
			}
			inv, bad, err := src.load(cmd.Context(), s, args[2:])
			if err != nil {
				return err
			}
			grants := rbac.Of(inv).WhoCan(req)
			if err := writeGrants(s.out, src.output, grants); err != nil {
				return err
			}
			return inputExit(bad)
		},
	}
	src.flags(cmd, "table, json")
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace of the request (empty: cluster-wide)")
	cmd.Flags().StringVar(&name, "name", "", "name of the object (matters for rules with resourceNames)")
	cmd.Flags().StringVar(&group, "api-group", "", "API group of the resource (default: the resource's usual group)")
	return cmd
}

func inputExit(bad bool) error {
	if bad {
		return &exitError{code: ExitError}
	}
	return nil
}

type refJSON struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

type grantJSON struct {
	Subject refJSON           `json:"subject"`
	Binding refJSON           `json:"binding"`
	Role    refJSON           `json:"role"`
	Rule    rbacv1.PolicyRule `json:"rule"`
	Source  *object.Position  `json:"source,omitempty"`
}

func grantRecords(grants []rbac.Grant) []grantJSON {
	out := make([]grantJSON, 0, len(grants))
	for _, g := range grants {
		b := g.Binding.Object
		r := g.Role.Object
		rec := grantJSON{
			Subject: refJSON{g.Subject.Kind, g.Subject.Namespace, g.Subject.Name},
			Binding: refJSON{b.Kind, b.Namespace, b.Name},
			Role:    refJSON{r.Kind, r.Namespace, r.Name},
			Rule:    g.Role.Rules[g.Rule],
		}
		if b.Source.File != "" {
			p := b.Source
			rec.Source = &p
		}
		out = append(out, rec)
	}
	return out
}

func writeGrants(w io.Writer, format string, grants []rbac.Grant) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(grantRecords(grants))
	case "table":
		if len(grants) == 0 {
			fmt.Fprintln(w, "no subject is allowed")
			return nil
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SUBJECT\tBINDING\tROLE\tRULE")
		last := ""
		for _, g := range grants {
			// Inputs with several variants of one application define
			// the same binding more than once; JSON keeps each source.
			line := fmt.Sprintf("%s\t%s\t%s\t%s\n", rbac.SubjectString(g.Subject), g.Binding.Object.Ref, g.Role.Object.Ref, rbac.RuleString(g.Role.Rules[g.Rule]))
			if line != last {
				fmt.Fprint(tw, line)
			}
			last = line
		}
		return tw.Flush()
	}
	return usageErr("--output: unknown format %q (want table or json)", format)
}

func newAccessCmd(s *streams) *cobra.Command {
	src := rbacSource()
	var namespaces, groups []string
	cmd := &cobra.Command{
		Use:   "access SUBJECT [PATH...]",
		Short: "Show a subject's effective permissions per namespace (sa:NS/NAME, user:NAME, group:NAME)",
		Example: "  kubeguard rbac access sa:shop/shop deploy/\n" +
			"  kubeguard rbac access user:alice --group devs --cluster -o json",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subj, err := rbac.ParseSubject(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			inv, bad, err := src.load(cmd.Context(), s, args[1:])
			if err != nil {
				return err
			}
			cells := rbac.Of(inv).Access(rbac.UserOf(subj, groups), inv, namespaces)
			switch src.output {
			case "json":
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"subject": args[0], "access": cells}); err != nil {
					return err
				}
			case "table":
				tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAMESPACE\tRESOURCE\t"+strings.ToUpper(strings.Join(rbac.AccessVerbs, "\t")))
				for _, c := range cells {
					ns := c.Namespace
					if ns == "" {
						ns = "(cluster)"
					}
					row := []string{ns, c.Resource}
					for _, v := range rbac.AccessVerbs {
						mark := "-"
						for _, x := range c.Verbs {
							if x == v {
								mark = "yes"
							}
						}
						row = append(row, mark)
					}
					fmt.Fprintln(tw, strings.Join(row, "\t"))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if len(cells) == 0 {
					fmt.Fprintln(s.out, "no permissions")
				}
			default:
				return usageErr("--output: unknown format %q (want table or json)", src.output)
			}
			return inputExit(bad)
		},
	}
	src.flags(cmd, "table, json")
	cmd.Flags().StringSliceVarP(&namespaces, "namespace", "n", nil, "namespaces to show (default: every namespace of the input)")
	cmd.Flags().StringSliceVar(&groups, "group", nil, "groups of a user:NAME subject (repeatable)")
	return cmd
}

func newRisksCmd(s *streams) *cobra.Command {
	src := rbacSource()
	var opts rbac.RiskOptions
	cmd := &cobra.Command{
		Use:   "risks [PATH...]",
		Short: "Rank subjects by what they can reach, with escalation paths and the workloads that carry them",
		Long: "risks looks for permissions attackers turn into more power (cluster-admin, impersonate, bind,\n" +
			"escalate, approving client certificates, admission webhooks, nodes/proxy, Secrets, token\n" +
			"creation, exec) and for one hop through pods: who can create pods in a namespace can run them as\n" +
			"any of its ServiceAccounts. ServiceAccounts list the workloads that use them and whether their\n" +
			"pods mount the token (the blast radius).",
		Example: "  kubeguard rbac risks deploy/\n  kubeguard rbac risks --cluster -o dot | dot -Tsvg > risks.svg",
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, bad, err := src.load(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			risks := rbac.Of(inv).Risks(inv, opts)
			switch src.output {
			case "json":
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				err = enc.Encode(risks)
			case "dot":
				err = rbac.WriteDOT(s.out, risks)
			case "mermaid":
				err = rbac.WriteMermaid(s.out, risks)
			case "svg":
				err = rbac.WriteSVG(s.out, risks)
			case "table":
				err = writeRisks(s.out, risks)
			default:
				return usageErr("--output: unknown format %q (want table, json, dot, mermaid or svg)", src.output)
			}
			if err != nil {
				return err
			}
			return inputExit(bad)
		},
	}
	src.flags(cmd, "table, json, dot, mermaid, svg")
	cmd.Flags().BoolVar(&opts.IncludeSystem, "include-system", false, "include system:* users and groups (the control plane's own identities)")
	return cmd
}

func writeRisks(w io.Writer, risks []rbac.SubjectRisk) error {
	if len(risks) == 0 {
		fmt.Fprintln(w, "no risky permissions found")
		return nil
	}
	for i, sr := range risks {
		fmt.Fprintf(w, "%d. %s (score %d)\n", i+1, sr.Subject, sr.Score)
		for _, r := range sr.Risks {
			fmt.Fprintf(w, "   %-20s %s\n", r.Capability, r.Effect)
			for _, st := range r.Path {
				fmt.Fprintf(w, "      %s -> %s: %s\n", st.From, st.To, st.Via)
			}
		}
		for _, wl := range sr.Workloads {
			mount := "token mounted"
			if !wl.Automount {
				mount = "token not mounted"
			}
			fmt.Fprintf(w, "   used by %s (%s)\n", wl.Ref, mount)
		}
	}
	return nil
}

func newHygieneCmd(s *streams) *cobra.Command {
	src := rbacSource()
	cmd := &cobra.Command{
		Use:   "hygiene [PATH...]",
		Short: "Find bindings to missing roles or ServiceAccounts, unused roles and cluster-admin-equivalent subjects",
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, bad, err := src.load(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			issues := rbac.Of(inv).Hygiene(inv, src.cluster)
			switch src.output {
			case "json":
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(issues); err != nil {
					return err
				}
			case "table":
				tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ISSUE\tOBJECT\tDETAIL")
				for _, is := range issues {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", is.Kind, is.Object, is.Message)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			default:
				return usageErr("--output: unknown format %q (want table or json)", src.output)
			}
			return inputExit(bad)
		},
	}
	src.flags(cmd, "table, json")
	return cmd
}
