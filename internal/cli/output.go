package cli

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
	"github.com/kubeguard/kubeguard/pkg/reach"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// outputFlags are the report flags of every command that reports
// findings (scan, cluster): formats and where they go, what is shown, and
// what fails the run.
type outputFlags struct {
	outputs        []string
	outputFile     string
	failOn         string
	severity       string
	controls       []string
	skipControls   []string
	frameworks     []string
	exclude        []string
	summary        bool
	groupBy        string
	color          string
	showSuppressed bool
	maxResults     int
	baseline       string
	failOnNew      bool
	history        []string
	// baselineFlag names the baseline flag: "baseline", or another name
	// where the command has a baseline of its own (audit detect)
	baselineFlag string

	// set by parse
	trend        []report.HistoryPoint
	failSeverity finding.Severity
	filter       *report.Filter
	ignore       config.Ignore
	base         *report.Baseline
}

func (f *outputFlags) register(fl *pflag.FlagSet, formats string) {
	fl.StringArrayVarP(&f.outputs, "output", "o", []string{"table"}, "output format: "+formats+"; FORMAT=FILE writes it to FILE (repeatable: -o table -o sarif=kubeguard.sarif)")
	fl.StringVar(&f.outputFile, "output-file", "", "write the report to this file instead of stdout (with one -o)")
	fl.StringVar(&f.failOn, "fail-on", "high", "exit 1 when an unsuppressed finding shown is at or above this severity (info, low, medium, high, critical), or never (none)")
	fl.StringVar(&f.severity, "severity", "", "show only these severities (critical,high) or a minimum (medium+)")
	fl.StringSliceVar(&f.controls, "controls", nil, "show only controls matching these IDs or globs (PSS-*,RBAC-ESCALATE)")
	fl.StringSliceVar(&f.skipControls, "skip-controls", nil, "never show controls matching these IDs or globs")
	fl.StringSliceVar(&f.frameworks, "framework", nil, "show only controls that serve these frameworks (CIS, CIS-Docker, NSA, PSS, NIST, MITRE)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "hide findings in files matching this gitignore-style pattern (repeatable; also read from .kubeguardignore)")
	fl.BoolVar(&f.summary, "summary", false, "print counts by severity, control, file and object instead of every finding (table)")
	fl.StringVar(&f.groupBy, "group-by", "object", "group the table's findings by object, control, file or namespace")
	fl.StringVar(&f.color, "color", "auto", "colour the table: auto (only on a terminal), always, never")
	fl.BoolVar(&f.showSuppressed, "show-suppressed", false, "list suppressed findings too (they are always counted)")
	if f.baselineFlag == "" {
		f.baselineFlag = "baseline"
	}
	fl.StringVar(&f.baseline, f.baselineFlag, "", "an earlier JSON report (-o json) to compare with: each finding is marked new or unchanged, the ones gone are listed as fixed")
	fl.BoolVar(&f.failOnNew, "fail-on-new", false, "with --"+f.baselineFlag+", exit 1 only for new findings at or above --fail-on (adopt kubeguard on an old repository without fixing everything first)")
	fl.StringArrayVar(&f.history, "history", nil, "an earlier JSON report whose counts the HTML report draws as a trend, oldest first (repeatable)")
	fl.IntVar(&f.maxResults, "sarif-max-results", report.DefaultMaxResults, "most results in a SARIF run (GitHub code scanning accepts 25,000); the least severe are left out first, with a note")
}

// output is one format and where it goes ("" for stdout).
type output struct{ format, file string }

// parse checks the flags; paths are the scanned paths, whose
// .kubeguardignore files apply.
func (f *outputFlags) parse(paths []string) ([]output, error) {
	var outs []output
	for _, o := range f.outputs {
		for _, part := range strings.Split(o, ",") {
			format, file, _ := strings.Cut(part, "=")
			format = strings.ToLower(strings.TrimSpace(format))
			if !slices.Contains(report.Formats, format) {
				return nil, usageErr("--output: unknown format %q (want one of %s)", format, strings.Join(report.Formats, ", "))
			}
			outs = append(outs, output{format, file})
		}
	}
	if f.outputFile != "" {
		n := 0
		for i := range outs {
			if outs[i].file == "" {
				outs[i].file = f.outputFile
				n++
			}
		}
		if n != 1 {
			return nil, usageErr("--output-file: give exactly one -o without =FILE to write to it")
		}
	}
	stdout := 0
	for _, o := range outs {
		if o.file == "" {
			stdout++
		}
	}
	if stdout > 1 {
		return nil, usageErr("--output: %d formats write to stdout; send all but one to files (-o sarif=kubeguard.sarif)", stdout)
	}
	if strings.EqualFold(f.failOn, "none") {
		f.failSeverity = 0
	} else {
		sev, err := finding.ParseSeverity(f.failOn)
		if err != nil {
			return nil, usageErr("--fail-on: %v (or none)", err)
		}
		f.failSeverity = sev
	}
	switch f.color {
	case "auto", "always", "never":
	default:
		return nil, usageErr("--color %q: want auto, always or never", f.color)
	}
	switch f.groupBy {
	case "object", "control", "file", "namespace":
	default:
		return nil, usageErr("--group-by %q: want object, control, file or namespace", f.groupBy)
	}
	if f.maxResults < 1 {
		return nil, usageErr("--sarif-max-results %d: want at least 1", f.maxResults)
	}
	if f.failOnNew && f.baseline == "" {
		return nil, usageErr("--fail-on-new needs --%s, the report findings are new against", f.baselineFlag)
	}
	for _, h := range f.history {
		p, err := report.LoadHistory(h, "")
		if err != nil {
			return nil, usageErr("--history: %v", err)
		}
		f.trend = append(f.trend, p)
	}
	if f.baseline != "" {
		b, err := report.LoadBaseline(f.baseline)
		if err != nil {
			return nil, usageErr("--%s: %v", f.baselineFlag, err)
		}
		f.base = b
	}
	x := &report.Filter{Controls: f.controls, Skip: f.skipControls}
	if f.severity != "" {
		sevs, err := report.ParseSeverities(f.severity)
		if err != nil {
			return nil, usageErr("--severity: %v", err)
		}
		x.Severities = sevs
	}
	fws, err := report.ParseFrameworks(f.frameworks)
	if err != nil {
		return nil, usageErr("--framework: %v", err)
	}
	x.Frameworks = fws
	wd, _ := os.Getwd()
	f.ignore.AddPatterns(wd, f.exclude)
	if err := f.ignore.FindFiles(paths); err != nil {
		return nil, usageErr("%v", err)
	}
	if !f.ignore.Empty() {
		cache := map[string]bool{}
		x.Paths = func(file string) bool {
			m, ok := cache[file]
			if !ok {
				m = f.ignore.Match(file)
				cache[file] = m
			}
			return m
		}
	}
	f.filter = x
	return outs, nil
}

// checkControls validates the control patterns against the catalog: a
// pattern that matches no control is a typo.
func (f *outputFlags) checkControls(cat *control.Catalog) error {
	for _, flag := range []struct {
		name     string
		patterns []string
	}{{"--controls", f.controls}, {"--skip-controls", f.skipControls}} {
		for _, p := range flag.patterns {
			if len(cat.Match(p)) == 0 {
				return usageErr("%s: %q matches no control (see `kubeguard controls`)", flag.name, p)
			}
		}
	}
	return nil
}

// hideDiagnostics removes the diagnostics of excluded files and counts
// them.
func (f *outputFlags) hideDiagnostics(diags []object.Diagnostic) ([]object.Diagnostic, int) {
	if f.filter == nil || f.filter.Paths == nil {
		return diags, 0
	}
	out := diags[:0:0]
	for _, d := range diags {
		if d.Pos.File != "" && f.filter.Paths(d.Pos.File) {
			continue
		}
		out = append(out, d)
	}
	return out, len(diags) - len(out)
}

// apply sets the report's display options.
func (f *outputFlags) apply(rep *report.Report, s *streams) {
	rep.Filter, rep.FailOn, rep.ShowSuppressed = f.filter, f.failSeverity, f.showSuppressed
	rep.Color, rep.GroupBy, rep.SummaryOnly, rep.MaxResults = useColor(f.color, s), f.groupBy, f.summary, f.maxResults
	rep.Compliance = f.filter.Frameworks
	rep.Baseline, rep.FailOnNew, rep.History = f.base, f.failOnNew, f.trend
}

// write writes every output; the table only goes in colour to a terminal.
func (f *outputFlags) write(s *streams, outs []output, rep *report.Report) error {
	for _, o := range outs {
		var w io.Writer = s.out
		var file *os.File
		if o.file != "" {
			var err error
			if file, err = os.Create(o.file); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			w = file
		}
		r := *rep
		if file != nil && f.color != "always" {
			r.Color = false
		}
		err := report.Write(w, o.format, &r)
		if file != nil {
			if cerr := file.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return &exitError{code: ExitError, err: fmt.Errorf("writing %s: %w", o.format, err)}
		}
	}
	return nil
}

// machineOnly reports whether no output is the table (then diagnostics
// are repeated on stderr).
func machineOnly(outs []output) bool {
	return !slices.ContainsFunc(outs, func(o output) bool { return o.format == "table" && o.file == "" })
}

// maxMatrix bounds the endpoints of a NetworkPolicy matrix the HTML
// report draws (the matrix grows with their square).
const maxMatrix = 40

// maxPictures bounds the pictures of one HTML report; a scan of many
// charts names the command that draws the rest.
const maxPictures = 12

// insight is what the HTML report adds to findings from the inventories
// of a scan: pictures (the RBAC escalation graph, the NetworkPolicy
// matrix) and each object's reach. Both are worked out per scope, an
// application, as the cross-object controls are.
type insight struct {
	pictures []report.Picture
	reach    map[string]report.Reach
	more     int // pictures left out
}

// add works out an inventory; label names it in titles when a scan has
// several configuration groups.
func (in *insight) add(inv *inventory.Inventory, label string) {
	if inv == nil {
		return
	}
	if in.reach == nil {
		in.reach = map[string]report.Reach{}
	}
	scopes, invs := inventory.ByScope(inv)
	for _, sc := range scopes {
		name := label
		if len(scopes) > 1 && sc != "" {
			if name != "" {
				name += ": "
			}
			name += sc
		}
		in.scope(invs[sc], name)
	}
}

func (in *insight) scope(inv *inventory.Inventory, name string) {
	title := func(t string) string {
		if name == "" {
			return t
		}
		return t + " (" + name + ")"
	}
	picture := func(p report.Picture) {
		if len(in.pictures) >= maxPictures {
			in.more++
			return
		}
		in.pictures = append(in.pictures, p)
	}
	risks := rbac.Of(inv).Risks(inv, rbac.RiskOptions{})
	maps.Copy(in.reach, reach.Of(inv, risks))
	if len(risks) > 0 {
		var b strings.Builder
		if err := rbac.WriteSVG(&b, risks); err == nil {
			picture(report.Picture{Title: title("RBAC escalation paths"),
				Caption: fmt.Sprintf("%d subjects that can reach more power (kubeguard rbac risks)", len(risks)), SVG: b.String()})
		}
	}
	if len(inv.OfKind("NetworkPolicy")) > 0 {
		m := netpol.Of(inv)
		eps := endpoints(inv, m)
		if len(eps) <= maxMatrix {
			var b strings.Builder
			if err := netpol.WriteMatrix(&b, "svg", m.Matrix(eps)); err == nil {
				picture(report.Picture{Title: title("NetworkPolicy connectivity"),
					Caption: "rows reach columns: green all ports, amber some, grey none (kubeguard netpol matrix)", SVG: b.String()})
			}
		} else {
			picture(report.Picture{Title: title("NetworkPolicy connectivity"),
				Caption: fmt.Sprintf("%d endpoints are more than this report draws (%d): kubeguard netpol matrix -o svg draws them all", len(eps), maxMatrix)})
		}
	}
}

// apply puts what was worked out into the report.
func (in *insight) apply(rep *report.Report) {
	rep.Pictures, rep.Reach = in.pictures, in.reach
	if in.more > 0 {
		rep.Pictures = append(rep.Pictures, report.Picture{Title: "More pictures",
			Caption: fmt.Sprintf("%d more pictures than this report draws (%d): kubeguard rbac risks and kubeguard netpol matrix -o svg draw them per application", in.more, maxPictures)})
	}
}

// wantsHTML reports whether an output is the HTML report.
func wantsHTML(outs []output) bool {
	return slices.ContainsFunc(outs, func(o output) bool { return o.format == "html" })
}
