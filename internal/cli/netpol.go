package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/policy"
)

// netpolSource reads workloads and NetworkPolicies.
func netpolSource() *source {
	return &source{kinds: live.NetpolKinds, what: "workloads and NetworkPolicies", gc: NetpolGCPercent, check: netpol.Duplicates}
}

func newNetpolCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netpol",
		Short: "Analyse NetworkPolicies: connectivity matrix, explanations, intent checks and policy generation",
		Long: "netpol evaluates connectivity between workloads, the internet, ipBlocks and DNS with exact\n" +
			"NetworkPolicy semantics, over manifests, charts and kustomizations or a live cluster (--cluster).",
	}
	cmd.AddCommand(newMatrixCmd(s), newExplainConnCmd(s), newIntentCheckCmd(s), newGenerateCmd(s))
	return cmd
}

// endpoints returns the workloads, the cluster DNS (when the input does
// not define it) and the external endpoints the policies name.
func endpoints(inv *inventory.Inventory, m *netpol.Model) []*netpol.Endpoint {
	eps := netpol.Workloads(inv)
	if len(netpol.Resolve("dns", eps)) == 1 && netpol.Resolve("dns", eps)[0] == netpol.DNS {
		eps = append(eps, netpol.DNS)
	}
	return append(eps, m.External()...)
}

func newMatrixCmd(s *streams) *cobra.Command {
	src := netpolSource()
	cmd := &cobra.Command{
		Use:     "matrix [PATH...]",
		Short:   "Print the allowed ports between every pair of workloads, the internet, ipBlocks and DNS",
		Example: "  kubeguard netpol matrix deploy/\n  kubeguard netpol matrix --cluster -o dot | dot -Tsvg > net.svg",
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, bad, err := src.load(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			m := netpol.Of(inv)
			if err := netpol.WriteMatrix(s.out, src.output, m.Matrix(endpoints(inv, m))); err != nil {
				return usageErr("--output: %v", err)
			}
			return inputExit(bad)
		},
	}
	src.flags(cmd, "table, json, csv, dot, mermaid, svg")
	return cmd
}

func newExplainConnCmd(s *streams) *cobra.Command {
	src := netpolSource()
	cmd := &cobra.Command{
		Use:   "explain SRC DST[:PORT|:PROTO/PORT] [PATH...]",
		Short: "Say whether SRC may connect to DST and which policy rules decide it",
		Example: "  kubeguard netpol explain shop/frontend shop/db:5432 deploy/\n" +
			"  kubeguard netpol explain payments internet:TCP/443 --cluster",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := netpol.ParseIntents("command line", strings.NewReader(args[0]+" -> "+args[1]+" allow"))
			if err != nil {
				return usageErr("%v", err)
			}
			inv, bad, err := src.load(cmd.Context(), s, args[2:])
			if err != nil {
				return err
			}
			m := netpol.Of(inv)
			eps := endpoints(inv, m)
			srcs, dsts := netpol.Resolve(in[0].Src, eps), netpol.Resolve(in[0].Dst, eps)
			if len(srcs) == 0 || len(dsts) == 0 {
				return usageErr("%q or %q matches no workload", in[0].Src, in[0].Dst)
			}
			for _, a := range srcs {
				for _, b := range dsts {
					if a == b {
						continue
					}
					v := m.Connect(a, b, true)
					verdict := "allowed on " + v.Ports.String()
					if in[0].Port != 0 {
						verdict = "denied"
						if v.Ports.Contains(in[0].Proto, in[0].Port) {
							verdict = "allowed"
						}
						verdict += " on " + string(in[0].Proto) + "/" + strconv.Itoa(int(in[0].Port))
					} else if v.Ports.Empty() {
						verdict = "denied on every port"
					}
					fmt.Fprintf(s.out, "%s -> %s: %s\n", a.Name, b.Name, verdict)
					for _, r := range v.Reasons {
						fmt.Fprintf(s.out, "  %-7s %s\n", r.Direction, r.Text)
					}
				}
			}
			return inputExit(bad)
		},
	}
	src.flags(cmd, "")
	return cmd
}

func newIntentCheckCmd(s *streams) *cobra.Command {
	src := netpolSource()
	var intentsPath string
	cmd := &cobra.Command{
		Use:   "check --intents FILE [PATH...]",
		Short: "Check allow and deny intents between workloads; exit 1 when reality differs",
		Long: "An intents file has one assertion per line:\n\n" +
			"  frontend -> backend:8080 allow\n  frontend -> db deny\n  * -> db deny except backend\n" +
			"  payments -> internet deny\n  web -> dns:UDP/53 allow\n\n" +
			"Names are workloads (name, namespace/name or namespace/Kind/name), * (every workload),\n" +
			"internet, dns, or an address or CIDR. Without a port, allow means some port is open and\n" +
			"deny means none is. Each failure names the rules that let traffic through or the policies\n" +
			"that stop it.",
		RunE: func(cmd *cobra.Command, args []string) error {
			intents, err := readIntents(intentsPath)
			if err != nil {
				return err
			}
			inv, bad, err := src.load(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			m := netpol.Of(inv)
			results, err := m.Check(intents, endpoints(inv, m))
			if err != nil {
				return usageErr("%s: %v", intentsPath, err)
			}
			failed := 0
			for _, r := range results {
				if r.OK {
					continue
				}
				failed++
				got := "denied"
				if !r.Verdict.Ports.Empty() {
					got = "allowed on " + r.Verdict.Ports.String()
				}
				fmt.Fprintf(s.out, "FAIL %s:%d %s\n     %s -> %s is %s: %s\n", intentsPath, r.Intent.Line, r.Intent.Text, r.Src.Name, r.Dst.Name, got, r.Why())
			}
			fmt.Fprintf(s.out, "%d intents, %d connections checked, %d failed\n", len(intents), len(results), failed)
			if bad {
				return &exitError{code: ExitError}
			}
			if failed > 0 {
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	src.flags(cmd, "")
	cmd.Flags().StringVar(&intentsPath, "intents", "", "intents file")
	return cmd
}

func newGenerateCmd(s *streams) *cobra.Command {
	src := netpolSource()
	var intentsPath string
	cmd := &cobra.Command{
		Use:   "generate --intents FILE [PATH...]",
		Short: "Write default-deny and least-privilege NetworkPolicies that realise the allow intents",
		RunE: func(cmd *cobra.Command, args []string) error {
			intents, err := readIntents(intentsPath)
			if err != nil {
				return err
			}
			inv, bad, err := src.load(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			pols, err := netpol.Generate(intents, netpol.Workloads(inv))
			if err != nil {
				return usageErr("%s: %v", intentsPath, err)
			}
			for i, p := range pols {
				m, err := policy.Manifest(p)
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
			return inputExit(bad)
		},
	}
	src.flags(cmd, "")
	cmd.Flags().StringVar(&intentsPath, "intents", "", "intents file")
	return cmd
}

// readIntents reads the --intents file; problems are usage errors.
func readIntents(path string) ([]netpol.Intent, error) {
	if path == "" {
		return nil, usageErr("--intents is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	defer f.Close()
	intents, err := netpol.ParseIntents(path, f)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return intents, nil
}
