package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
)

func newTestCmd(s *streams) *cobra.Command {
	var configPath, engineName string
	cmd := &cobra.Command{
		Use:   "test SUITE...",
		Short: "Run policy tests: kubeguard PolicyTests and Gatekeeper Suites",
		Long: "test runs policy test files. A kubeguard PolicyTest (apiVersion kubeguard.io/v1) names the team's\n" +
			"ValidatingAdmissionPolicies (spec.policies, relative to the file) and cases, each an object file\n" +
			"(with the namespaces and parameters it needs), the object it is about (select: kind, namespace,\n" +
			"name), the controls it judges (IDs or globs; default: the suite's policies, so built-in controls can\n" +
			"be tested too) and exactly those that must fail (expect; [] for none). Every case is evaluated as\n" +
			"scan evaluates it, the policies with the API server's CEL admission library.\n" +
			"A Gatekeeper Suite (test.gatekeeper.sh/v1alpha1, as gator verify reads it) names a ConstraintTemplate,\n" +
			"a Constraint and cases: an object (or an AdmissionReview), the objects of data.inventory, and\n" +
			"assertions on the count and messages of its violations; the object is judged as at admission.\n" +
			"Exit 1 when a case fails, 2 when a file cannot be read or a case names no object.",
		Example: "  kubeguard test examples/policies/policies_test.yaml",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			engines, err := templateEngines(engineName)
			if err != nil {
				return err
			}
			passed, failed, broken := 0, 0, 0
			for _, file := range args {
				if data, err := os.ReadFile(file); err == nil && userpolicy.IsGatorSuite(data) {
					p, f, b, err := runGatorSuite(s, cfg, file, engines)
					if err != nil {
						return err
					}
					passed, failed, broken = passed+p, failed+f, broken+b
					continue
				}
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
	cmd.Flags().StringVar(&engineName, "engine", "cel", "engine of Gatekeeper templates that carry both: cel (K8sNativeValidation, as Gatekeeper prefers) or rego")
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (.kubeguard.yaml: severities and suppressions apply to the cases)")
	return cmd
}

// templateEngines reads --engine.
func templateEngines(v string) ([]string, error) {
	switch v {
	case "cel":
		return userpolicy.Engines, nil
	case "rego":
		return []string{"Rego"}, nil
	}
	return nil, usageErr("--engine: %q is neither cel nor rego", v)
}

// runGatorSuite runs a Gatekeeper Suite, each case's object through the
// engine's admission path with its inventory as the cluster's.
func runGatorSuite(s *streams, cfg *config.Config, file string, engines []string) (passed, failed, broken int, err error) {
	suite, lerr := userpolicy.LoadGatorSuite(file)
	if lerr != nil {
		fmt.Fprintln(s.err, "kubeguard:", lerr)
		return 0, 0, 1, nil
	}
	// the cases of a test share its controls, and so an engine
	var eng *engine.Engine
	var engFor *control.Control
	eval := func(ctls []*control.Control, o *object.Object, base *inventory.Inventory) ([]finding.Finding, []object.Diagnostic) {
		if eng == nil || engFor != ctls[0] {
			_, e, ee := newEngineWith(cfg, "latest", engine.Options{Live: true}, ctls)
			if ee != nil {
				err = ee
				return nil, nil
			}
			eng, engFor = e, ctls[0]
		}
		adm := eng.Admit(o, base)
		return adm.Findings, adm.Diagnostics
	}
	for _, r := range suite.Run(engines, eval) {
		name := r.Test
		if r.Case != "" {
			name += "/" + r.Case
		}
		switch {
		case r.Skipped:
			fmt.Fprintf(s.out, "SKIP  %s %s\n", file, name)
		case r.Err == nil:
			passed++
			fmt.Fprintf(s.out, "PASS  %s %s\n", file, name)
		case r.Failed:
			failed++
			fmt.Fprintf(s.out, "FAIL  %s %s: %v\n", file, name, r.Err)
		default:
			broken++
			fmt.Fprintf(s.out, "ERROR %s %s: %v\n", file, name, r.Err)
		}
	}
	return passed, failed, broken, err
}
