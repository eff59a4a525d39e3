package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/audit"
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
	cmd.AddCommand(newAuditScanCmd(s))
	return cmd
}

type auditScanFlags struct {
	out        outputFlags
	configPath string
	stream     bool
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
	f.out.register(fl, "table, json, sarif, junit")
	fl.StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the working directory or a parent)")
	fl.BoolVar(&f.stream, "stream", false, "write each alert as a JSON line as it is found, keeping nothing (long logs, pipelines); --severity, --controls and --fail-on apply")
	return cmd
}

func runAuditScan(s *streams, f *auditScanFlags, files []string) error {
	outs, err := f.out.parse(nil)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f.configPath)
	if err != nil {
		return err
	}
	cat, eng, err := newEngine(cfg, "latest", engine.Options{Live: true, Workers: 1})
	if err != nil {
		return err
	}
	if err := f.out.checkControls(cat); err != nil {
		return err
	}
	d := audit.NewDetector(eng)
	rep := &report.Report{Tool: "kubeguard", Version: Version(), Catalog: cat, Inputs: len(files)}
	keep := func(fs []*finding.Finding) { rep.Findings = append(rep.Findings, fs...) }
	var stream *alertStream
	if f.stream {
		stream = &alertStream{enc: json.NewEncoder(s.out), filter: f.out.filter, cat: cat, failOn: f.out.failSeverity, showSuppressed: f.out.showSuppressed}
		keep = stream.write
	}
	for _, name := range files {
		in, label := s.in, object.StdinName
		if name != "-" {
			file, err := os.Open(name)
			if err != nil {
				rep.Diagnostics = append(rep.Diagnostics, object.Diagnostic{Pos: object.Position{File: name}, Severity: object.SeverityError, Message: err.Error()})
				continue
			}
			in, label = file, name
			defer file.Close()
		}
		diags := audit.Read(in, label, func(e *audit.Event) {
			fs, ds := d.Event(e)
			keep(fs)
			rep.Diagnostics = append(rep.Diagnostics, ds...)
		})
		rep.Diagnostics = append(rep.Diagnostics, diags...)
		rep.Checked = append(rep.Checked, report.Checked{Ref: object.Ref{Kind: control.AuditEventKind, Name: label}})
	}
	if stream != nil {
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

// alertStream writes findings as JSON lines as they are found.
type alertStream struct {
	enc            *json.Encoder
	filter         *report.Filter
	cat            *control.Catalog
	failOn         finding.Severity
	showSuppressed bool
	n              int64
	failed         bool
}

type alert struct {
	ControlID  string               `json:"controlID"`
	Severity   finding.Severity     `json:"severity"`
	Object     object.Ref           `json:"object"`
	Position   object.Position      `json:"position"`
	Message    string               `json:"message"`
	Suppressed *finding.Suppression `json:"suppressed,omitempty"`
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
		a.enc.Encode(alert{f.ControlID, f.Severity, f.Object, f.Position, f.Message, f.Suppressed})
	}
}
