package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
)

func newTestCmd(s *streams) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "test SUITE...",
		Short: "Run policy tests: objects and the controls they must, or must not, break",
		Long: "test runs policy test files (apiVersion kubeguard.io/v1, kind PolicyTest): each names the team's\n" +
			"ValidatingAdmissionPolicies (spec.policies, relative to the file) and cases, each an object file\n" +
			"(with the namespaces and parameters it needs), the object it is about (select: kind, namespace,\n" +
			"name), the controls it judges (IDs or globs; default: the suite's policies, so built-in controls can\n" +
			"be tested too) and exactly those that must fail (expect; [] for none). Every case is evaluated as\n" +
			"scan evaluates it, the policies with the API server's CEL admission library.\n" +
			"Exit 1 when a case fails, 2 when a file cannot be read or a case names no object.",
		Example: "  kubeguard test examples/policies/policies_test.yaml",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			passed, failed, broken := 0, 0, 0
			for _, file := range args {
				suite, err := userpolicy.LoadSuite(file)
				if err != nil {
					fmt.Fprintln(s.err, "kubeguard:", err)
					broken++
					continue
				}
				var paths []string
				for _, p := range suite.Spec.Policies {
					paths = append(paths, suite.Resolve(p))
				}
				ctls, diags := loadPolicies(paths)
				for _, d := range diags {
					fmt.Fprintln(s.err, d.String())
					if d.Severity == object.SeverityError {
						broken++
					}
				}
				var ids []string
				for _, c := range ctls {
					ids = append(ids, c.ID)
				}
				_, eng, err := newEngineWith(cfg, "latest", engine.Options{}, ctls)
				if err != nil {
					return err
				}
				for i := range suite.Spec.Cases {
					c := &suite.Spec.Cases[i]
					inputs, diags := object.Expand([]string{suite.Resolve(c.Object)}, nil)
					res := eng.ScanInputs(inputs)
					var refs []object.Ref
					if res.Inventory != nil {
						for _, e := range res.Inventory.Entries() {
							refs = append(refs, e.Object.Ref)
						}
					}
					out := c.Judge(res.Findings, refs, ids)
					at := fmt.Sprintf("%s:%d", file, c.Line)
					for _, d := range append(diags, res.Diagnostics...) {
						fmt.Fprintln(s.err, d.String())
						if d.Severity == object.SeverityError && out.Problem == "" {
							out.Problem = "its object file does not read: " + d.Message
						}
					}
					switch {
					case out.Problem != "":
						broken++
						fmt.Fprintf(s.out, "ERROR %s %s: %s\n", at, c.Name, out.Problem)
					case out.Passed:
						passed++
						fmt.Fprintf(s.out, "PASS  %s %s\n", at, c.Name)
					default:
						failed++
						fmt.Fprintf(s.out, "FAIL  %s %s: want [%s], got [%s]\n", at, c.Name, strings.Join(c.Expect, ", "), strings.Join(out.Got, ", "))
					}
				}
			}
			fmt.Fprintf(s.out, "%d passed, %d failed, %d errors\n", passed, failed, broken)
			switch {
			case broken > 0:
				return &exitError{code: ExitError}
			case failed > 0:
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (.kubeguard.yaml: severities and suppressions apply to the cases)")
	return cmd
}
