package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/audit"
	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

func newAuditCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Detect threats in the API server's audit trail",
	}
	cmd.AddCommand(newAuditScanCmd(s), newAuditLearnCmd(s), newAuditDetectCmd(s), newAuditBaselineCmd(s), newAuditServeCmd(s), newAuditRBACCmd(s))
	return cmd
}

type auditScanFlags struct {
	out        outputFlags
	configPath string
	stream     bool
	follow     bool
	// baseline learning: the file, whether anomalies are reported, and
	// whether the baseline is saved afterwards
	baseline  string
	learnOnly bool
	readOnly  bool
}

func newAuditScanCmd(s *streams) *cobra.Command {
	var f auditScanFlags
	cmd := &cobra.Command{
		Use:   "scan FILE... | -",
		Short: "Report what audit logs show: the AUD-* rules, and the catalog on the objects events carry",
		Long: "audit scan reads audit logs (JSON lines as --audit-log-path writes them, gzipped or not, or\n" +
			"stdin) and reports each event the AUD-* rules flag (exec, port-forward, ephemeral containers,\n" +
			"cluster-admin bindings, wildcard roles, Secrets listed across namespaces, anonymous access,\n" +
			"impersonation, credentials in ConfigMaps, NodePort Services, accounts created in kube-system)\n" +
			"at its file and line. Objects created or changed, when the log level carries them, are judged\n" +
			"by the same controls as scan and the webhook: a privileged pod that got past admission shows\n" +
			"up with PSS-PRIVILEGED. Lines that are not audit events are errors (exit 2); the rest is read.",
		Example: "  kubeguard audit scan /var/log/kubernetes/audit/audit.log\n" +
			"  kubeguard audit scan audit-*.log.gz -o sarif > audit.sarif",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runAuditScan(s, &f, args) },
	}
	fl := cmd.Flags()
	f.out.baselineFlag = "baseline-report" // --baseline is the learned behaviour
	f.out.register(fl, "table, json, sarif, junit, html")
	fl.StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the working directory or a parent)")
	fl.BoolVar(&f.stream, "stream", false, "write each alert as a JSON line as it is found, keeping nothing (long logs, pipelines); --severity, --controls and --fail-on apply")
	fl.BoolVar(&f.follow, "follow", false, "keep reading the file as the API server writes it, across rotations, alerting as JSON lines (implies --stream; one file)")
	return cmd
}

func newAuditLearnCmd(s *streams) *cobra.Command {
	f := auditScanFlags{learnOnly: true}
	cmd := &cobra.Command{
		Use:   "learn FILE... --baseline FILE",
		Short: "Learn what each identity does from audit logs, into a baseline",
		Long: "audit learn reads audit logs (oldest first) and records, per identity (user or service account), the\n" +
			"(verb, resource, namespace) it uses, the networks it comes from, its clients and its requests by hour\n" +
			"of week, into the baseline file (created, or updated). Nothing is reported; audit detect then reports\n" +
			"what a learned identity does new. An identity is learned once it has been seen for the window\n" +
			"(audit.baseline.window in the configuration, default 7d).",
		Example: "  kubeguard audit learn audit-week1.log.gz --baseline baseline.json.gz",
		Args:    cobra.MinimumNArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return runAuditScan(s, &f, args) },
	}
	cmd.Flags().StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the working directory or a parent)")
	cmd.Flags().StringVar(&f.baseline, "baseline", "", "baseline file (gzipped JSON) to create or update")
	cmd.MarkFlagRequired("baseline")
	return cmd
}

func newAuditDetectCmd(s *streams) *cobra.Command {
	var f auditScanFlags
	cmd := &cobra.Command{
		Use:   "detect FILE... --baseline FILE",
		Short: "Report the rules' alerts and what learned identities do new (anomalies)",
		Long: "audit detect is audit scan with a baseline: besides the AUD-* rules and the catalog, a learned\n" +
			"identity's first use of a permission (AUD-ANOMALY-ACCESS), a new network (AUD-ANOMALY-SOURCE), a new\n" +
			"client (AUD-ANOMALY-AGENT) or an hour far busier than its busiest (AUD-ANOMALY-RATE) is a finding\n" +
			"with a score and an explanation. The baseline goes on learning and is saved (each new behaviour is\n" +
			"reported once), unless --read-only.",
		Example: "  kubeguard audit detect audit.log --baseline baseline.json.gz",
		Args:    cobra.MinimumNArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return runAuditScan(s, &f, args) },
	}
	fl := cmd.Flags()
	f.out.baselineFlag = "baseline-report" // --baseline is the learned behaviour
	f.out.register(fl, "table, json, sarif, junit, html")
	fl.StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the working directory or a parent)")
	fl.BoolVar(&f.stream, "stream", false, "write each alert as a JSON line as it is found, keeping nothing")
	fl.BoolVar(&f.follow, "follow", false, "keep reading the file as the API server writes it (implies --stream; one file)")
	fl.StringVar(&f.baseline, "baseline", "", "baseline file written by audit learn")
	fl.BoolVar(&f.readOnly, "read-only", false, "do not save what was learned")
	cmd.MarkFlagRequired("baseline")
	return cmd
}

func newAuditBaselineCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{Use: "baseline", Short: "Review learned baselines"}
	var file, output, configPath string
	show := &cobra.Command{
		Use:   "show [IDENTITY...] --baseline FILE",
		Short: "Show what identities were learned doing (all identities in brief without arguments)",
		Long: "An identity is a username, or sa:NAMESPACE/NAME for a service account. For each, baseline show lists\n" +
			"the learned terms (access, source networks, clients) with when each was last seen, its learning\n" +
			"state and its busiest hour.",
		Example: "  kubeguard audit baseline show sa:shop/reporter --baseline baseline.json.gz",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			b, err := audit.FileStore(file).Load(cmd.Context(), audit.BaselineOptionsOf(auditConfig(cfg)))
			if err != nil {
				return err
			}
			return showBaseline(s, b, args, output)
		},
	}
	show.Flags().StringVar(&file, "baseline", "", "baseline file")
	show.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	show.Flags().StringVar(&configPath, "config", "", "configuration file, for the learning window (default: .kubeguard.yaml in the working directory or a parent)")
	show.MarkFlagRequired("baseline")
	cmd.AddCommand(show)
	return cmd
}

func showBaseline(s *streams, b *audit.Baseline, ids []string, output string) error {
	if output != "table" && output != "json" {
		return usageErr("--output is table or json")
	}
	type shown struct {
		Identity string       `json:"identity"`
		First    time.Time    `json:"firstSeen"`
		Last     time.Time    `json:"lastSeen"`
		Events   int64        `json:"events"`
		Learned  bool         `json:"learned"`
		Peak     int64        `json:"busiestHour"`
		Terms    []audit.Term `json:"terms,omitempty"`
	}
	mk := func(user string, p *audit.Profile, terms bool) shown {
		sh := shown{Identity: auditpolicy.Identity(user), First: time.Unix(p.First, 0).UTC(), Last: time.Unix(p.Last, 0).UTC(), Events: p.Events,
			Learned: b.Learned(p), Peak: p.Peak}
		if terms {
			sh.Terms = p.Terms()
		}
		return sh
	}
	var out []shown
	if len(ids) == 0 {
		for user, p := range b.Identities {
			out = append(out, mk(user, p, false))
		}
		slices.SortFunc(out, func(a, b shown) int { return strings.Compare(a.Identity, b.Identity) })
	}
	for _, id := range ids {
		p := b.Identities[auditpolicy.Username(id)]
		if p == nil {
			return fmt.Errorf("%s is not in the baseline (%d identities)", id, len(b.Identities))
		}
		out = append(out, mk(auditpolicy.Username(id), p, true))
	}
	if output == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	if len(ids) == 0 {
		fmt.Fprintln(w, "IDENTITY\tEVENTS\tFIRST SEEN\tLAST SEEN\tLEARNED")
		for _, sh := range out {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%v\n", sh.Identity, sh.Events, sh.First.Format(time.RFC3339), sh.Last.Format(time.RFC3339), sh.Learned)
		}
		return w.Flush()
	}
	for _, sh := range out {
		state := "learning"
		if sh.Learned {
			state = "learned: new behaviour is an anomaly"
		}
		fmt.Fprintf(w, "%s: %d events from %s to %s, busiest hour %d requests (%s)\n", sh.Identity, sh.Events,
			sh.First.Format(time.RFC3339), sh.Last.Format(time.RFC3339), sh.Peak, state)
		fmt.Fprintln(w, "KIND\tTERM\tLAST SEEN")
		for _, t := range sh.Terms {
			fmt.Fprintf(w, "%s\t%s\t%s\n", t.Kind, t.Value, t.Last.Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}

func runAuditScan(s *streams, f *auditScanFlags, files []string) error {
	var outs []output
	if !f.learnOnly {
		var err error
		if outs, err = f.out.parse(nil); err != nil {
			return err
		}
	}
	cfg, cat, eng, err := configEngine(f.configPath, engine.Options{Live: true, Workers: 1})
	if err != nil {
		return err
	}
	if !f.learnOnly {
		if err := f.out.checkControls(cat); err != nil {
			return err
		}
	}
	acfg := auditConfig(cfg)
	d, err := audit.NewDetector(eng, acfg)
	if err != nil {
		return err
	}
	d.Now = time.Now
	defer func() {
		if d.Late+d.Future > 0 {
			fmt.Fprintf(s.err, "kubeguard: clock skew: %d events more than %s older than one before them, %d more than %s ahead of this clock (judged all the same)\n",
				d.Late, audit.MaxSkew, d.Future, audit.MaxSkew)
		}
	}()
	var store audit.Store
	if f.baseline != "" {
		store = audit.FileStore(f.baseline)
		if d.Baseline, err = store.Load(context.Background(), audit.BaselineOptionsOf(acfg)); err != nil {
			return err
		}
		d.LearnOnly = f.learnOnly
	}
	if f.follow {
		if len(files) != 1 || files[0] == "-" {
			return usageErr("--follow reads one file")
		}
		f.stream = true
	}
	rep := &report.Report{Tool: "kubeguard", Version: Version(), Catalog: cat, Inputs: len(files)}
	keep := func(fs []*finding.Finding) { rep.Findings = append(rep.Findings, fs...) }
	var stream *alertStream
	var buf *bufio.Writer
	if f.stream {
		buf = bufio.NewWriterSize(s.out, 64<<10)
		defer buf.Flush()
		stream = &alertStream{enc: alertEncoder(buf), filter: f.out.filter, cat: cat, failOn: f.out.failSeverity, showSuppressed: f.out.showSuppressed}
		keep = stream.write
		if f.follow { // alerts go out as they are found
			keep = func(fs []*finding.Finding) {
				if stream.write(fs); len(fs) > 0 {
					buf.Flush()
				}
			}
		}
	}
	var mu sync.Mutex // --follow saves the baseline while events are judged
	judge := func(e *audit.Event) {
		mu.Lock()
		defer mu.Unlock()
		fs, ds := d.Event(e)
		keep(fs)
		rep.Diagnostics = append(rep.Diagnostics, ds...)
	}
	if f.follow {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		diags := audit.Follow(ctx, files[0], judge, func() {
			mu.Lock()
			defer mu.Unlock()
			if store != nil && !f.readOnly {
				if err := store.Save(context.Background(), d.Baseline); err != nil {
					fmt.Fprintln(s.err, "kubeguard: saving the baseline:", err)
				}
			}
		})
		for _, dg := range diags {
			fmt.Fprintln(s.err, dg.String())
		}
		files = nil
	}
	read, diags := readAuditLogs(s, files, judge)
	rep.Diagnostics = append(rep.Diagnostics, diags...)
	for _, label := range read {
		rep.Checked = append(rep.Checked, report.Checked{Ref: object.Ref{Kind: control.AuditEventKind, Name: label}})
	}
	if store != nil && !f.readOnly {
		d.Baseline.Forget()
		if err := store.Save(context.Background(), d.Baseline); err != nil {
			return fmt.Errorf("saving the baseline: %v", err)
		}
	}
	if f.learnOnly {
		learned := 0
		for _, p := range d.Baseline.Identities {
			if d.Baseline.Learned(p) {
				learned++
			}
		}
		fmt.Fprintf(s.out, "%s: %s learned from %s (%d past the learning window of %s)\n", f.baseline, plural(len(d.Baseline.Identities), "identity", "identities"),
			plural(d.Events, "audit event", "audit events"), learned, days(d.Baseline.Opts.Window))
		for _, dg := range rep.Diagnostics {
			fmt.Fprintln(s.err, dg.String())
		}
		if len(rep.Diagnostics) > 0 {
			return &exitError{code: ExitError}
		}
		return nil
	}
	if stream != nil {
		buf.Flush()
		for _, dg := range rep.Diagnostics {
			fmt.Fprintln(s.err, dg.String())
		}
		fmt.Fprintf(s.err, "kubeguard: %s, %s alerts\n", plural(d.Events, "audit event", "audit events"), thousands(stream.n))
		switch {
		case len(rep.Diagnostics) > 0:
			return &exitError{code: ExitError}
		case stream.failed:
			return &exitError{code: ExitFindings}
		}
		return nil
	}
	rep.Objects = d.Events
	rep.Scanned = plural(d.Events, "audit event", "audit events")
	slices.SortFunc(rep.Findings, finding.Compare)
	object.SortDiagnostics(rep.Diagnostics)
	f.out.apply(rep, s)
	if d.Skipped > 0 {
		fmt.Fprintf(s.err, "kubeguard: %d events of earlier stages skipped (each request is judged once, at ResponseComplete)\n", d.Skipped)
	}
	return finish(s, &f.out, outs, rep)
}

// readAuditLogs reads audit logs (- is stdin) with f. A file that cannot
// be opened is a diagnostic and the others are still read; read names
// those that were.
func readAuditLogs(s *streams, files []string, f func(*audit.Event)) (read []string, diags []object.Diagnostic) {
	for _, name := range files {
		if name == "-" {
			diags = append(diags, audit.Read(s.in, object.StdinName, f)...)
			read = append(read, object.StdinName)
			continue
		}
		file, err := os.Open(name)
		if err != nil {
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: name}, Severity: object.SeverityError, Message: err.Error()})
			continue
		}
		diags = append(diags, audit.Read(file, name, f)...)
		file.Close()
		read = append(read, name)
	}
	return read, diags
}

// auditConfig is the audit section of a configuration, or the defaults.
func auditConfig(cfg *config.Config) *config.AuditConfig {
	if cfg == nil {
		return &config.AuditConfig{}
	}
	return &cfg.Audit
}

// alertEncoder writes alerts as encoding/json would, faster: a busy
// cluster's stream is many alerts a second.
func alertEncoder(w io.Writer) *jsoniter.Encoder {
	return jsoniter.ConfigCompatibleWithStandardLibrary.NewEncoder(w)
}

// alertStream writes findings as JSON lines as they are found.
type alertStream struct {
	enc            *jsoniter.Encoder
	filter         *report.Filter
	cat            *control.Catalog
	failOn         finding.Severity
	showSuppressed bool
	n              int64
	failed         bool
}

func (a *alertStream) write(fs []*finding.Finding) {
	for _, f := range fs {
		c, _ := a.cat.Get(f.ControlID)
		if a.filter != nil && !a.filter.Shows(f, c) || f.Suppressed != nil && !a.showSuppressed {
			continue
		}
		a.n++
		if f.Suppressed == nil && a.failOn > 0 && f.Severity >= a.failOn {
			a.failed = true
		}
		a.enc.Encode(audit.AlertOf(f))
	}
}
