package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/dockerfile"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/render"
	"github.com/kubeguard/kubeguard/pkg/report"
)

type scanFlags struct {
	output         string
	failOn         string
	configPath     string
	showSuppressed bool
	pssVersion     string
	color          string
	noRender       bool
	maxDocSize     string
	scope          string
	verbose        bool
	helm           render.Helm
}

func newScanCmd(s *streams) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan PATH... | -",
		Short: "Scan manifests (files, directories, stdin) for security issues",
		Long: "Scan reads YAML and JSON manifests from files, directories (recursively: .yaml, .yml, .json)\n" +
			"and stdin (-), renders Helm charts and kustomizations, reads Dockerfiles, and reports every\n" +
			"control violation with its file, line and column.\n\n" +
			"Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,\n" +
			"2 usage or input error (reported after everything else was scanned).",
		Example: "  kubeguard scan examples/insecure\n" +
			"  kubeguard scan charts/shop -f values-prod.yaml --set image.tag=1.4.2\n" +
			"  kubeguard scan deploy/overlays/prod -o sarif > kubeguard.sarif",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			OneShotGC(ScanGCPercent)
			return runScan(s, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json, sarif, junit")
	fl.StringVar(&f.failOn, "fail-on", "high", "exit 1 when an unsuppressed finding is at or above this severity (info, low, medium, high, critical)")
	fl.StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the scanned path or a parent)")
	fl.BoolVar(&f.showSuppressed, "show-suppressed", false, "list suppressed findings too (they are always counted)")
	fl.StringVar(&f.pssVersion, "pss-version", "latest", "Pod Security Standards version to evaluate (latest or v1.NN)")
	fl.StringVar(&f.color, "color", "auto", "colour the table: auto (only on a terminal), always, never")
	fl.BoolVar(&f.noRender, "no-render", false, "do not render Helm charts and kustomizations (charts are skipped, kustomization directories read as plain YAML)")
	fl.StringArrayVarP(&f.helm.ValueFiles, "values", "f", nil, "Helm values file for the scanned charts (repeatable)")
	fl.StringArrayVar(&f.helm.Set, "set", nil, "Helm value, as with helm --set (repeatable)")
	fl.StringArrayVar(&f.helm.SetString, "set-string", nil, "Helm string value, as with helm --set-string (repeatable)")
	fl.StringArrayVar(&f.helm.SetFile, "set-file", nil, "Helm value read from a file, as with helm --set-file (repeatable)")
	fl.StringVar(&f.helm.ReleaseName, "release-name", "release-name", "Helm release name")
	fl.StringVarP(&f.helm.Namespace, "namespace", "n", "", "namespace of manifests that set none, as kubectl apply -n (default: default), and the Helm release namespace (.Release.Namespace)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "say which configuration file applies to which inputs")
	fl.StringVar(&f.scope, "scope", "input", "where references between objects resolve: input (within each chart, kustomization and path given; files given one by one with their directory), directory (each directory of plain manifests on its own, for collections of examples) or all")
	fl.StringVar(&f.helm.KubeVersion, "kube-version", "", "Kubernetes version charts are rendered for (.Capabilities.KubeVersion)")
	maxDocumentSize(cmd, &f.maxDocSize)
	return cmd
}

func usageErr(format string, args ...any) error {
	return &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
}

func runScan(s *streams, f *scanFlags, args []string) error {
	failOn, err := finding.ParseSeverity(f.failOn)
	if err != nil {
		return usageErr("--fail-on: %v", err)
	}
	validFormat := false
	for _, fm := range report.Formats {
		validFormat = validFormat || fm == f.output
	}
	if !validFormat {
		return usageErr("--output: unknown format %q (want table, json, sarif or junit)", f.output)
	}
	lim, err := limits(f.maxDocSize)
	if err != nil {
		return err
	}
	if f.scope != "input" && f.scope != "directory" && f.scope != "all" {
		return usageErr("--scope %q: want input, directory or all", f.scope)
	}
	renderers := []object.Renderer{dockerfile.Renderer{}}
	if !f.noRender {
		renderers = append(renderers, &f.helm, render.Kustomize{})
	}
	inputs, diags := object.Expand(args, s.in, renderers...)
	if f.scope == "directory" {
		for i := range inputs {
			if !inputs[i].IsRendered() && inputs[i].Name != object.StdinName {
				inputs[i].Scope = filepath.Dir(inputs[i].Name)
			}
		}
	}
	groups, err := configGroups(f.configPath, inputs)
	if err != nil {
		return usageErr("%v", err)
	}
	var cat *control.Catalog
	res := &engine.Result{}
	var uses []report.ConfigUse
	for _, g := range groups {
		c, eng, err := newEngine(g.cfg, f.pssVersion, engine.Options{Limits: lim, Namespace: f.helm.Namespace, OneScope: f.scope == "all"})
		if err != nil {
			return err
		}
		if cat == nil {
			cat = c
		}
		r := eng.ScanInputs(g.inputs)
		res.Findings = append(res.Findings, r.Findings...)
		res.Diagnostics = append(res.Diagnostics, r.Diagnostics...)
		res.Objects += r.Objects
		res.Inputs += r.Inputs
		res.Folded += r.Folded
		use := report.ConfigUse{Path: g.path}
		for _, in := range g.inputs {
			use.Inputs = append(use.Inputs, in.Name)
		}
		uses = append(uses, use)
		if f.verbose {
			path := g.path
			if path == "" {
				path = "no configuration file"
			}
			fmt.Fprintf(s.err, "%s applies to %d inputs: %s\n", path, len(use.Inputs), strings.Join(use.Inputs, ", "))
		}
	}
	if len(groups) > 1 {
		slices.SortFunc(res.Findings, finding.Compare) // the order each engine gives its own
	}
	res.Diagnostics = append(diags, res.Diagnostics...)
	object.SortDiagnostics(res.Diagnostics)
	rep := &report.Report{
		Tool: "kubeguard", Version: Version(), Catalog: cat,
		Findings: res.Findings, Diagnostics: res.Diagnostics, Objects: res.Objects, Inputs: res.Inputs, Folded: res.Folded, Configs: uses,
		ShowSuppressed: f.showSuppressed, FailOn: failOn, Color: useColor(f.color, s), Scanned: object.Describe(inputs),
	}
	if err := report.Write(s.out, f.output, rep); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	// Machine formats carry diagnostics inside; say them on stderr too so
	// a CI log shows why the exit code is 2.
	if f.output != "table" {
		for _, d := range res.Diagnostics {
			fmt.Fprintln(s.err, d.String())
		}
	}
	switch {
	case res.HasErrors():
		return &exitError{code: ExitError}
	case rep.Summarize().Failed:
		return &exitError{code: ExitFindings}
	}
	return nil
}

type configGroup struct {
	path   string
	cfg    *config.Config
	inputs []object.Input
}

// configGroups sorts inputs by the configuration that applies to each:
// --config for all, else the nearest .kubeguard.yaml above each input (a
// chart or kustomization directory, a file's directory; the working
// directory for stdin), as .gitignore and .editorconfig apply.
func configGroups(explicit string, inputs []object.Input) ([]configGroup, error) {
	var finder config.Finder
	wd, _ := os.Getwd()
	byPath := map[string]int{}
	var out []configGroup
	for _, in := range inputs {
		path := explicit
		if path == "" {
			at := in.Name
			if at == object.StdinName {
				at = "."
			}
			path = finder.Find(at)
		}
		i, ok := byPath[path]
		if !ok {
			g := configGroup{path: path}
			if rel, err := filepath.Rel(wd, path); err == nil && wd != "" && !strings.HasPrefix(rel, "..") {
				g.path = rel
			}
			if path != "" {
				cfg, err := config.Load(path)
				if err != nil {
					return nil, err
				}
				g.cfg = cfg
			}
			i = len(out)
			byPath[path] = i
			out = append(out, g)
		}
		out[i].inputs = append(out[i].inputs, in)
	}
	if len(out) == 0 { // nothing to read: one engine still validates --config
		g := configGroup{path: explicit}
		if explicit != "" {
			cfg, err := config.Load(explicit)
			if err != nil {
				return nil, err
			}
			g.cfg = cfg
		}
		out = append(out, g)
	}
	return out, nil
}

func useColor(mode string, s *streams) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := s.out.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
