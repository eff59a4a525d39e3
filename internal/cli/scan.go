package cli

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls/controlplane"
	"github.com/kubeguard/kubeguard/pkg/dockerfile"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/render"
	"github.com/kubeguard/kubeguard/pkg/report"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
)

type scanFlags struct {
	out        outputFlags
	configPath string
	policies   []string
	pssVersion string
	allowEmpty bool
	noRender   bool
	maxDocSize string
	scope      string
	verbose    bool
	helm       render.Helm
	images     bool
	verify     bool
	img        imageFlags
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
	f.out.register(fl, "table, json, sarif, junit, policyreport, html")
	fl.StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the scanned path or a parent)")
	fl.StringVar(&f.pssVersion, "pss-version", "latest", "Pod Security Standards version to evaluate (latest or v1.NN)")
	fl.BoolVar(&f.allowEmpty, "allow-empty", false, "accept a path that holds no Kubernetes objects (pipelines that scan optional folders)")
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
	fl.StringArrayVar(&f.policies, "policies", nil, "the team's ValidatingAdmissionPolicies (with bindings and parameters) and Gatekeeper templates and constraints, to evaluate as controls (file or directory, repeatable)")
	fl.BoolVar(&f.images, "images", false, "also scan the images the workloads run for known vulnerabilities (IMG-VULN; each image once)")
	fl.BoolVar(&f.verify, "verify-images", false, "also verify the signatures and attestations of the images the workloads run against the images.verify policies (IMG-SIGNATURE, IMG-ATTESTATION)")
	f.img.register(fl, true)
	maxDocumentSize(cmd, &f.maxDocSize)
	return cmd
}

func usageErr(format string, args ...any) error {
	return &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
}

func runScan(s *streams, f *scanFlags, args []string) error {
	outs, err := f.out.parse(args)
	if err != nil {
		return err
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
	// the team's policies: --policies, and each configuration's own
	policySets := map[string][]*control.Control{}
	policiesOf := func(cfg *config.Config) []*control.Control {
		paths := append(slices.Clone(f.policies), cfg.PolicyPaths()...)
		key := strings.Join(paths, "\x00")
		if ctls, ok := policySets[key]; ok {
			return ctls
		}
		ctls, pdiags := loadPolicies(paths)
		diags = append(diags, pdiags...)
		policySets[key] = ctls
		return ctls
	}
	var cat *control.Catalog
	res := &engine.Result{}
	var uses []report.ConfigUse
	var checked []report.Checked
	var doneObjects, doneFindings atomic.Int64
	var current atomic.Pointer[engine.Engine]
	prog := startProgress(s.err, !machineOnly(outs), func() string {
		o, f := doneObjects.Load(), doneFindings.Load()
		if e := current.Load(); e != nil {
			eo, ef := e.Progress()
			o, f = o+eo, f+ef
		}
		return fmt.Sprintf("%s objects checked, %s findings so far, %s inputs", thousands(o), thousands(f), thousands(int64(len(inputs))))
	})
	defer prog.Stop()
	var images *imagescan.Scanner
	if f.images {
		sc, _, dbDiags, err := f.img.scanner(time.Now())
		if err != nil {
			return err
		}
		images = sc
		diags = append(diags, dbDiags...)
	}
	scannedImages := map[string]bool{}
	verifiers := map[*config.Config]*imageverify.Verifier{}
	var seen insight // for the HTML report
	verifierOf := func(cfg *config.Config) (*imageverify.Verifier, error) {
		if v, ok := verifiers[cfg]; ok {
			return v, nil
		}
		ps, err := imagePolicies(cfg)
		if err != nil {
			return nil, err
		}
		var v *imageverify.Verifier
		if ps == nil {
			where := "the scanned paths"
			if cfg != nil {
				where = cfg.Path
			}
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: where}, Severity: object.SeverityWarning,
				Message: "--verify-images: no images.verify policies apply here, so no image is verified"})
		} else if v, err = imageverify.New(ps, imageverify.Options{Insecure: f.img.insecure}); err != nil {
			return nil, err
		}
		verifiers[cfg] = v
		return v, nil
	}
	for _, g := range groups {
		c, eng, err := newEngineWith(g.cfg, f.pssVersion, engine.Options{Limits: lim, Namespace: f.helm.Namespace, OneScope: f.scope == "all"}, policiesOf(g.cfg))
		if err != nil {
			return err
		}
		if cat == nil {
			cat = c
		}
		current.Store(eng)
		r := eng.ScanInputs(g.inputs)
		o, fo := eng.Progress()
		current.Store(nil) // counted once: briefly too few, never twice
		doneObjects.Add(o)
		doneFindings.Add(fo)
		res.Findings = append(res.Findings, r.Findings...)
		res.Diagnostics = append(res.Diagnostics, r.Diagnostics...)
		res.Objects += r.Objects
		res.Inputs += r.Inputs
		res.Folded += r.Folded
		if images != nil && r.Inventory != nil {
			fs, scanned, idiags := images.Workloads(context.Background(), r.Inventory.Entries(), nil, eng.Accept, f.img.parallel)
			res.Findings = append(res.Findings, fs...)
			res.Diagnostics = append(res.Diagnostics, idiags...)
			for _, sc := range scanned {
				if !scannedImages[sc.Inventory.Image.Digest.String()] {
					checked = append(checked, report.Checked{Ref: imagescan.ImageSite(sc.Inventory.Image.Name()).Object})
				}
				scannedImages[sc.Inventory.Image.Digest.String()] = true
			}
		}
		if f.verify && r.Inventory != nil {
			v, err := verifierOf(g.cfg)
			if err != nil {
				return err
			}
			if v != nil {
				fs, vdiags := v.Policies().Workloads(context.Background(), r.Inventory.Entries(), imageverify.Namespaces(r.Inventory), nil, v.Verify, eng.Accept, f.img.parallel)
				res.Findings = append(res.Findings, fs...)
				res.Diagnostics = append(res.Diagnostics, vdiags...)
			}
		}
		if wantsHTML(outs) {
			label := ""
			if len(groups) > 1 {
				label = cmp.Or(g.path, "no configuration file")
			}
			seen.add(r.Inventory, label)
		}
		if r.Inventory != nil {
			for _, e := range r.Inventory.Entries() {
				checked = append(checked, report.Checked{Ref: e.Object.Ref, Source: e.Object.Source, Workload: e.Workload != nil,
					ControlPlane: controlplane.IsComponent(e.Workload)})
			}
		}
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
	if err := f.out.checkControls(cat); err != nil {
		return err
	}
	if len(groups) > 1 || images != nil || f.verify {
		slices.SortFunc(res.Findings, finding.Compare) // the order each engine gives its own
	}
	res.Diagnostics = append(diags, res.Diagnostics...)
	if !f.allowEmpty {
		res.Diagnostics = append(res.Diagnostics, emptyPaths(args, inputs, checked)...)
	}
	prog.Stop()
	object.SortDiagnostics(res.Diagnostics)
	shownDiags, hiddenDiags := f.out.hideDiagnostics(res.Diagnostics)
	rep := &report.Report{
		Tool: "kubeguard", Version: Version(), Catalog: cat,
		Findings: res.Findings, Diagnostics: shownDiags, Objects: res.Objects, Inputs: res.Inputs, Folded: res.Folded, Configs: uses,
		Scanned: object.Describe(inputs) + imagesWord(images != nil, len(scannedImages)), HiddenDiagnostics: hiddenDiags, Checked: checked,
	}
	seen.apply(rep)
	f.out.apply(rep, s)
	return finish(s, &f.out, outs, rep)
}

// finish writes the outputs, says on stderr what a person must know
// (diagnostics, expired suppressions) and sets the exit code.
func finish(s *streams, f *outputFlags, outs []output, rep *report.Report) error {
	for _, d := range rep.Diagnostics {
		fmt.Fprintln(s.err, d.String())
	}
	for _, x := range rep.Expired() {
		at := "kubeguard"
		if x.Position.File != "" {
			at = x.Position.String()
		}
		fmt.Fprintf(s.err, "%s: note: the %s suppression of %s on %s expired on %s (%s); the finding counts again\n",
			at, x.Expired.Kind, x.ControlID, x.Object, x.Expired.Expires, x.Expired.Reason)
	}
	if err := f.write(s, outs, rep); err != nil {
		return err
	}
	return exitFor(rep)
}

// exitFor is the exit code of a report: input errors, else findings at
// or above --fail-on.
func exitFor(rep *report.Report) error {
	sum := rep.Summarize()
	switch {
	case sum.Errors > 0:
		return &exitError{code: ExitError}
	case sum.Failed:
		return &exitError{code: ExitFindings}
	}
	return nil
}

// emptyPaths are errors for named paths that yielded no object: an empty
// or mistyped directory must not pass a pipeline silently.
func emptyPaths(args []string, inputs []object.Input, checked []report.Checked) []object.Diagnostic {
	found := map[string]bool{}
	for _, c := range checked {
		found[c.Source.File] = true
	}
	var out []object.Diagnostic
	for _, a := range args {
		if a == "-" {
			continue
		}
		if _, err := os.Stat(a); err != nil {
			continue // Expand reported it
		}
		has := false
		for _, in := range inputs {
			if !within(a, in.Name) && !(in.IsRendered() && within(in.Name, a)) {
				continue
			}
			if in.IsRendered() || len(in.Objects) > 0 {
				has = true // a chart or kustomization: its own diagnostics speak
				break
			}
			if found[in.Name] {
				has = true
				break
			}
		}
		if !has {
			out = append(out, object.Diagnostic{Pos: object.Position{File: a}, Severity: object.SeverityError,
				Message: "no Kubernetes objects found here (an empty or mistyped path?); --allow-empty accepts it"})
		}
	}
	return out
}

// within reports whether file is path or inside it.
func within(path, file string) bool {
	p, f := filepath.Clean(path), filepath.Clean(file)
	return p == f || p == "." || strings.HasPrefix(f, p+string(filepath.Separator))
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
	return ok && isTerminal(f)
}

// imagesWord says how many images --images read.
func imagesWord(on bool, n int) string {
	if !on {
		return ""
	}
	return " and " + plural(n, "image", "images")
}

// startPolicies loads the policies a long-running command enforces: a
// policy that cannot be used stops it, a warning is logged.
func startPolicies(log *slog.Logger, paths []string) ([]*control.Control, error) {
	ctls, diags := loadPolicies(paths)
	for _, d := range diags {
		if d.Severity == object.SeverityError {
			return nil, usageErr("policies: %s", d.String())
		}
		log.Warn(d.Message, "file", d.Pos.File, "line", d.Pos.Line)
	}
	return ctls, nil
}

// loadPolicies reads the team's ValidatingAdmissionPolicies (bindings,
// parameters) and Gatekeeper templates and constraints from paths, with
// objs (a cluster's own), as controls.
func loadPolicies(paths []string, objs ...*object.Object) ([]*control.Control, []object.Diagnostic) {
	if len(paths) == 0 && len(objs) == 0 {
		return nil, nil
	}
	set, diags := userpolicy.LoadFiles(paths, objs...)
	return set.Controls(), diags
}
