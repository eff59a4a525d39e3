package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/dockerfile"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/render"
)

// source is what the analysis commands (rbac, netpol) read: the same
// inputs as scan, or, with --cluster, the kinds they need from a live
// cluster.
type source struct {
	kinds []schema.GroupVersionKind
	what  string // what --cluster reads, for its help
	gc    int    // the command's GC target (see ScanGCPercent)
	// check finds input problems the command's model reveals (policies
	// defined twice), reported with the others.
	check func(*inventory.Inventory) []object.Diagnostic

	cluster    bool
	kubeconfig string
	context    string
	output     string
	maxDocSize string
}

// flags adds --cluster, --kubeconfig, --max-document-size and, when
// formats is not empty, --output.
func (src *source) flags(cmd *cobra.Command, formats string) {
	fl := cmd.Flags()
	fl.BoolVar(&src.cluster, "cluster", false, "read "+src.what+" from the cluster of the kubeconfig instead of files")
	fl.StringVar(&src.kubeconfig, "kubeconfig", "", "kubeconfig for --cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	fl.StringVar(&src.context, "context", "", "kubeconfig context for --cluster")
	if formats != "" {
		fl.StringVarP(&src.output, "output", "o", "table", "output format: "+formats)
	}
	maxDocumentSize(cmd, &src.maxDocSize)
}

// load returns the inventory of the inputs or the cluster. Input problems
// are printed and make the command exit 2 after its answer.
func (src *source) load(ctx context.Context, s *streams, args []string) (*inventory.Inventory, bool, error) {
	OneShotGC(src.gc)
	if src.cluster {
		if len(args) > 0 {
			return nil, false, usageErr("--cluster takes no paths")
		}
		rc, err := restConfig(src.kubeconfig, src.context)
		if err != nil {
			return nil, false, usageErr("cluster connection: %v", err)
		}
		inv, err := live.List(ctx, rc, src.kinds)
		if err != nil {
			return nil, false, &exitError{code: ExitError, err: err}
		}
		return inv, false, nil
	}
	if len(args) == 0 {
		return nil, false, usageErr("give paths to read, or --cluster")
	}
	lim, err := limits(src.maxDocSize)
	if err != nil {
		return nil, false, err
	}
	// No controls: the engine only reads, renders and indexes.
	eng, err := engine.New(engine.Options{Catalog: control.NewCatalog(), Limits: lim})
	if err != nil {
		return nil, false, err
	}
	inputs, diags := object.Expand(args, s.in, dockerfile.Renderer{}, &render.Helm{}, render.Kustomize{})
	res := eng.ScanInputs(inputs)
	res.Diagnostics = append(diags, res.Diagnostics...)
	if src.check != nil {
		res.Diagnostics = append(res.Diagnostics, src.check(res.Inventory)...)
	}
	for _, d := range res.Diagnostics {
		fmt.Fprintln(s.err, d.String())
	}
	return res.Inventory, res.HasErrors(), nil
}

// restConfig connects to the cluster of an explicit kubeconfig and
// context, else the in-cluster configuration, else the usual kubeconfig
// loading rules.
func restConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	if kubeconfig == "" && kubeContext == "" {
		if rc, err := rest.InClusterConfig(); err == nil {
			return rc, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, err
	}
	if rc.Host == "" {
		return nil, fmt.Errorf("no cluster in the kubeconfig")
	}
	return rc, nil
}
