package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/node"
	"github.com/kubeguard/kubeguard/pkg/report"
)

type nodeFlags struct {
	root, benchmark, nodeName, configPath string
	out                                   outputFlags
	writeReport                           bool
	interval                              time.Duration
	kubeconfig, context                   string
}

func newNodeCmd(s *streams) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Check a node against the CIS Kubernetes Benchmark (v1.10, v1.11, v1.12) and for host hardening",
		Long: "node reads the kubelet's configuration as the kubelet does (the running process's command line, or\n" +
			"the systemd unit and drop-ins that start it with their environment files, the --config file with\n" +
			"--config-dir drop-ins merged over it, flags overriding the file) and the files the benchmark names,\n" +
			"and evaluates section 4 (worker nodes: 4.1 files, 4.2 kubelet, 4.3 kube-proxy) of the CIS\n" +
			"Kubernetes Benchmark, and on a control-plane node sections 1 to 3 (manifests, kubeconfigs, etcd\n" +
			"data, CNI files and PKI; the API server's, controller manager's, scheduler's and etcd's flags from\n" +
			"their processes or manifests; encryption at rest and the audit policy), plus kubeguard's checks of\n" +
			"certificates, keys and the host (section K). The report is the full checklist (pass, fail, warn,\n" +
			"manual, not applicable per item, with the files and process it read) and a finding per failed item\n" +
			"(control CIS-<item> or NODE-*) at the line that sets it, in every output format; configuration\n" +
			"suppressions and severities apply. Run it on the node, or with --root on a node's filesystem mounted\n" +
			"elsewhere (its /proc included for processes). The benchmark version comes from the node's release;\n" +
			"when it cannot be told, that is an error, never a default. --write-report stores the checklist as\n" +
			"the node's ClusterPolicyReport (kubeguard-node-NAME), as the chart's DaemonSet does.\n" +
			"Exit 1 when an unsuppressed finding is at or above --fail-on (medium: every scored item).",
		Example: "  kubeguard node --root /host --benchmark cis-1.12\n  kubeguard node -o json\n  kubeguard node -o junit=node.xml -o table",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd, s, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.root, "root", "/", "the node's filesystem (with its /proc)")
	fl.StringVar(&f.benchmark, "benchmark", "", "benchmark version ("+strings.Join(node.Benchmarks, ", ")+"); default: from the node's Kubernetes release")
	fl.StringVar(&f.nodeName, "node-name", os.Getenv("NODE_NAME"), "the Node the findings are about (default: $NODE_NAME, the kubelet's --hostname-override, or the node's hostname)")
	fl.StringVar(&f.configPath, "config", "", "configuration file (.kubeguard.yaml; default: found from the working directory)")
	f.out.register(fl, "table, json, sarif, junit, policyreport, html")
	fl.Lookup("fail-on").DefValue, f.out.failOn = "medium", "medium"
	fl.BoolVar(&f.writeReport, "write-report", false, "write the checklist as the node's ClusterPolicyReport into the cluster (needs the CRDs of deploy/crds)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for --write-report (default: in-cluster configuration, then $KUBECONFIG and ~/.kube/config)")
	fl.StringVar(&f.context, "context", "", "kubeconfig context for --write-report")
	fl.DurationVar(&f.interval, "interval", 0, "with --write-report, check again and rewrite the report this often until stopped (the chart's DaemonSet)")
	return cmd
}

func runNode(cmd *cobra.Command, s *streams, f *nodeFlags) error {
	outs, err := f.out.parse(nil)
	if err != nil {
		return err
	}
	if f.interval > 0 && !f.writeReport {
		return usageErr("--interval repeats --write-report; give both")
	}
	_, cat, eng, err := configEngine(f.configPath, engine.Options{Live: true, Workers: 1})
	if err != nil {
		return err
	}
	if err := f.out.checkControls(cat); err != nil {
		return err
	}
	if !f.writeReport {
		rep, err := checkNode(cmd.Context(), s, f, cat, eng, nil)
		if err != nil {
			return err
		}
		return finish(s, &f.out, outs, rep)
	}
	rc, err := restConfig(f.kubeconfig, f.context)
	if err != nil {
		return usageErr("cluster connection: %v", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return usageErr("cluster connection: %v", err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for {
		rep, err := checkNode(ctx, s, f, cat, eng, dyn)
		if err != nil {
			return err
		}
		if err := controller.WriteChecklistReports(ctx, dyn, rep); err != nil {
			return &exitError{code: ExitError, err: err}
		}
		fmt.Fprintf(s.err, "kubeguard: wrote ClusterPolicyReport %s (%s)\n", report.ChecklistReportName(rep.Checklists[0].Target), countLine(rep.Checklists[0].Count()))
		if f.interval == 0 {
			return finish(s, &f.out, outs, rep)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.interval):
		}
	}
}

// checkNode evaluates the node once, as a report with the display
// options set. Without --benchmark, the version comes from the node's
// files, else (when writing to a cluster) from the Node's kubelet version.
func checkNode(ctx context.Context, s *streams, f *nodeFlags, cat *control.Catalog, eng *engine.Engine, dyn dynamic.Interface) (*report.Report, error) {
	h := node.NewHost(f.root)
	benchmark := f.benchmark
	if benchmark == "" {
		b, err := node.DetectBenchmark(h)
		if err != nil && dyn != nil && f.nodeName != "" {
			b, err = benchmarkOfNode(ctx, dyn, f.nodeName, err)
		}
		if err != nil {
			return nil, usageErr("%v", err)
		}
		benchmark = b
	} else if !slices.Contains(node.Benchmarks, benchmark) {
		return nil, usageErr("--benchmark %q: kubeguard node evaluates %s", benchmark, strings.Join(node.Benchmarks, ", "))
	}
	list, _, err := node.Checklist(h, benchmark, f.nodeName)
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	fs := node.Findings(list, func(fd *finding.Finding) bool { return eng.Accept(fd, nil, nil) })
	slices.SortFunc(fs, finding.Compare)
	rep := &report.Report{Tool: "kubeguard", Version: Version(), Catalog: cat, Findings: fs, Objects: 1, Inputs: 1,
		Checked: []report.Checked{{Ref: list.Target}}, Checklists: []report.Checklist{*list}, Scanned: "node " + list.Target.Name}
	f.out.apply(rep, s)
	rep.Compliance = nil // the checklist is the benchmark's view
	return rep, nil
}

// benchmarkOfNode reads the benchmark from the Node's kubelet version,
// saying what the node's files could not tell.
func benchmarkOfNode(ctx context.Context, dyn dynamic.Interface, name string, fromFiles error) (string, error) {
	n, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("%v; and the Node %s: %v", fromFiles, name, err)
	}
	version, _, _ := unstructured.NestedString(n.Object, "status", "nodeInfo", "kubeletVersion")
	return node.BenchmarkFor(version)
}

// countLine sums a checklist's verdicts in words.
func countLine(c map[report.Status]int) string {
	var parts []string
	for _, st := range report.Statuses {
		if c[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[st], st))
		}
	}
	return strings.Join(parts, ", ")
}
