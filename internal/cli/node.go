package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/node"
)

func newNodeCmd(s *streams) *cobra.Command {
	var root, benchmark, output string
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Check a node against the CIS Kubernetes Benchmark (v1.10, v1.11, v1.12)",
		Long: "node reads the kubelet's configuration as the kubelet does (the running process's command line, or\n" +
			"the systemd unit and drop-ins that start it with their environment files, the --config file with\n" +
			"--config-dir drop-ins merged over it, flags overriding the file) and the files the benchmark names,\n" +
			"and evaluates section 4 (worker nodes: 4.1 files, 4.2 kubelet, 4.3 kube-proxy) of the CIS\n" +
			"Kubernetes Benchmark, and on a control-plane node sections 1 and 2 (manifests, kubeconfigs, etcd\n" +
			"data, CNI files and PKI; the API server's, controller manager's, scheduler's and etcd's flags from\n" +
			"their processes or manifests). Each result says which files and process it read. Run it on the node, or with\n" +
			"--root on a node's filesystem mounted elsewhere (its /proc included for processes). The benchmark\n" +
			"version comes from the node's release; when it cannot be told, that is an error, never a default.\n" +
			"Exit 1 when a scored check fails.",
		Example: "  kubeguard node --root /host --benchmark cis-1.12\n  kubeguard node -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErr("--output is table or json")
			}
			h := node.NewHost(root)
			if benchmark == "" {
				b, err := node.DetectBenchmark(h)
				if err != nil {
					return usageErr("%v", err)
				}
				benchmark = b
			} else if !slices.Contains(node.Benchmarks, benchmark) {
				return usageErr("--benchmark %q: kubeguard node evaluates %s", benchmark, strings.Join(node.Benchmarks, ", "))
			}
			sections, k, err := node.Check(h, benchmark)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			failed := false
			for _, sec := range sections {
				failed = failed || sec.Counts[node.Fail] > 0
			}
			if output == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"benchmark": benchmark, "root": root, "kubelet": k, "sections": sections}); err != nil {
					return err
				}
			} else {
				writeNodeTable(s, benchmark, sections, k)
			}
			if failed {
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&root, "root", "/", "the node's filesystem (with its /proc)")
	fl.StringVar(&benchmark, "benchmark", "", "benchmark version ("+strings.Join(node.Benchmarks, ", ")+"); default: from the node's Kubernetes release")
	fl.StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func writeNodeTable(s *streams, benchmark string, sections []node.Section, k *node.Kubelet) {
	kind := "worker node"
	if node.ControlPlane(sections) {
		kind = "control-plane node"
	}
	if k.Missing != "" {
		fmt.Fprintf(s.out, "%s, %s; section 4 not checked: %s\n", benchmark, kind, k.Missing)
	} else {
		fmt.Fprintf(s.out, "%s, %s; kubelet read from %s\n", benchmark, kind, strings.Join(k.Read, ", "))
	}
	label := map[node.Status]string{node.Pass: "[PASS]", node.Fail: "[FAIL]", node.Warn: "[WARN]", node.NotApplicable: "[N/A]"}
	total := map[node.Status]int{}
	n := 0
	for _, sec := range sections {
		fmt.Fprintf(s.out, "\n%s %s\n", sec.ID, sec.Title)
		for _, r := range sec.Results {
			fmt.Fprintf(s.out, "  %-6s %-7s %s: %s\n", label[r.Status], r.ID, r.Title, r.Detail)
			total[r.Status]++
			n++
		}
		fmt.Fprintf(s.out, "  %d pass, %d fail, %d warn, %d not applicable\n", sec.Counts[node.Pass], sec.Counts[node.Fail], sec.Counts[node.Warn], sec.Counts[node.NotApplicable])
	}
	fmt.Fprintf(s.out, "\n%d checks: %d pass, %d fail, %d warn, %d not applicable\n", n, total[node.Pass], total[node.Fail], total[node.Warn], total[node.NotApplicable])
}
