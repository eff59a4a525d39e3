// Package cli implements the kubeguard commands, one file per command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Exit codes shared by every command.
const (
	ExitOK       = 0 // nothing at or above the threshold
	ExitFindings = 1 // findings at or above --fail-on
	ExitError    = 2 // usage error or input that could not be analysed
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error // nil when the command already said everything
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

type streams struct {
	in       io.Reader
	out, err io.Writer
}

// MemoryLimit is the default soft memory limit of the process. A scan keeps
// its inventory while far larger parse trees come and go; without a limit
// the collector lets the heap grow to twice the inventory before it runs
// (see ScanGCPercent). Larger inputs still scan (the limit is soft), with
// more time spent collecting. GOMEMLIMIT overrides it.
const MemoryLimit = 800 << 20

// TuneRuntime applies MemoryLimit unless GOMEMLIMIT is set.
func TuneRuntime() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}

// GC targets of one-shot commands, which read everything, report and
// exit; the soft memory limit bounds the heap either way. scan and rbac
// keep the default target, which is as fast as a lazier one with less
// garbage; netpol's matrix and cluster's listed pages are faster with a
// lazier one. The measurements are in docs/performance.md.
const (
	ScanGCPercent    = 100 // scan, rbac
	NetpolGCPercent  = 200
	ClusterGCPercent = 400
)

// OneShotGC sets the collector's target unless GOGC is set; 0 leaves it.
func OneShotGC(percent int) {
	if percent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}

// Main runs kubeguard with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainContext(context.Background(), args, stdin, stdout, stderr)
}

// MainContext is Main whose servers stop when ctx ends (as on SIGTERM).
func MainContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{stdin, stdout, stderr}
	root := &cobra.Command{
		Use:   "kubeguard",
		Short: "Kubernetes security scanner: manifests, admission and live clusters with one engine",
		Long: "kubeguard checks Kubernetes objects against the hardening guidance of the CIS Kubernetes\n" +
			"Benchmark, the NSA/CISA guide, the Pod Security Standards, NIST SP 800-190 and MITRE ATT&CK.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version(),
	}
	var v strings.Builder
	Build().write(&v) // --version prints what `kubeguard version` does
	root.SetVersionTemplate(v.String())
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(commands(s)...)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "kubeguard:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "kubeguard:", err)
	return ExitError
}

func commands(s *streams) []*cobra.Command {
	return []*cobra.Command{newScanCmd(s), newControlsCmd(s), newExplainCmd(s), newVersionCmd(s), newWebhookCmd(s), newPolicyCmd(s),
		newRBACCmd(s), newNetpolCmd(s), newClusterCmd(s), newControllerCmd(s), newImageCmd(s), newDBCmd(s), newAuditCmd(s), newAuditPolicyCmd(s), newNodeCmd(s), newTestCmd(s), newDashboardCmd(s)}
}

// maxDocumentSize adds --max-document-size, the largest document read
// from files, to a command that reads them.
func maxDocumentSize(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "max-document-size", "32Mi",
		"largest YAML or JSON document read, as a quantity (32Mi, 200Mi): a bigger one is refused; raise it for large kubectl get -o json dumps")
}

// limits turns --max-document-size into input limits.
func limits(size string) (object.Limits, error) {
	q, err := resource.ParseQuantity(size)
	if err != nil || q.Sign() <= 0 || q.Value() > math.MaxInt32 {
		return object.Limits{}, usageErr("--max-document-size: %q is not a size between 1 byte and 2Gi", size)
	}
	return object.Limits{MaxDocumentBytes: int(q.Value())}, nil
}

// newEngine builds the catalog and the engine a command evaluates with,
// from its configuration (nil for defaults): the allowed registries and
// every ID the configuration names are checked here. opts.Catalog and
// opts.Config are filled in; errors are usage errors.
func newEngine(cfg *config.Config, pssVersion string, opts engine.Options) (*control.Catalog, *engine.Engine, error) {
	return newEngineWith(cfg, pssVersion, opts, nil)
}

// configEngine loads the configuration (found from the working directory
// when not given) and the engine of a front door that reads no manifests.
func configEngine(configPath string, opts engine.Options) (*config.Config, *control.Catalog, *engine.Engine, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, nil, nil, err
	}
	cat, eng, err := newEngine(cfg, "latest", opts)
	return cfg, cat, eng, err
}

// newEngineWith is newEngine with the team's own controls in the catalog.
func newEngineWith(cfg *config.Config, pssVersion string, opts engine.Options, extra []*control.Control) (*control.Catalog, *engine.Engine, error) {
	copts := controls.Options{PSSVersion: pssVersion, Backup: cfg.Backup(), Extra: extra}
	if cfg != nil {
		copts.AllowedRegistries = cfg.Images.AllowedRegistries
	}
	cat, err := controls.Catalog(copts)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	opts.Catalog, opts.Config = cat, cfg
	eng, err := engine.New(opts)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	return cat, eng, nil
}
