package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/controls/backup"
	"github.com/kubeguard/kubeguard/pkg/controls/controlplane"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/image"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/node"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
)

type clusterFlags struct {
	kubeconfig   string
	context      string
	namespace    string
	out          outputFlags
	configPath   string
	pssVersion   string
	writeReports bool
	images       bool
	verify       bool
	nodes        bool
	benchmark    string
	backup       bool
	policies     []string
	ownPolicies  bool
	img          imageFlags
}

func newClusterCmd(s *streams) *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Scan the live cluster of the current kubeconfig with the same controls as scan",
		Long: "cluster lists workloads, RBAC, NetworkPolicies, Services, Ingresses, ServiceAccounts, Namespaces,\n" +
			"Nodes, webhook configurations and the metadata of Secrets (never their values), paginated and\n" +
			"concurrently, and evaluates them like scan does, plus the controls only a cluster can answer.\n" +
			"Objects owned by a controller are reported once, on the controller. -o policyreport prints\n" +
			"wgpolicyk8s.io PolicyReports; --write-reports stores them in the cluster, replacing the last run's.",
		Example: "  kubeguard cluster\n  kubeguard cluster -n shop -o json\n  kubeguard cluster --write-reports",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCluster(cmd.Context(), s, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster configuration, then $KUBECONFIG and ~/.kube/config)")
	fl.StringVar(&f.context, "context", "", "kubeconfig context")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "scan only this namespace (cluster-scoped objects are still read)")
	f.out.register(fl, "table, json, sarif, junit, policyreport, html")
	fl.StringVar(&f.configPath, "config", "", "configuration file (.kubeguard.yaml)")
	fl.StringVar(&f.pssVersion, "pss-version", "latest", "Pod Security Standards version to evaluate")
	fl.BoolVar(&f.writeReports, "write-reports", false, "write PolicyReports and a ClusterPolicyReport into the cluster (needs the CRDs of deploy/crds)")
	fl.BoolVar(&f.images, "images", false, "also scan the images the pods run, by the digests in their status, for known vulnerabilities (IMG-VULN; pull secrets of the pods apply)")
	fl.BoolVar(&f.verify, "verify-images", false, "also verify the signatures and attestations of the images the pods run (by the digests in their status; the image field where no pod runs) against images.verify and the cluster's ClusterImagePolicy objects (IMG-SIGNATURE, IMG-ATTESTATION)")
	fl.BoolVar(&f.nodes, "nodes", false, "also check every node's live kubelet configuration (CIS 4.2) through the API server's /api/v1/nodes/NAME/proxy/configz; needs get on nodes/proxy, a permission that also reaches the kubelet's exec API")
	fl.StringArrayVar(&f.policies, "policies", nil, "ValidatingAdmissionPolicies, bindings and parameters to evaluate as controls (file or directory, repeatable)")
	fl.BoolVar(&f.ownPolicies, "cluster-policies", false, "also evaluate the cluster's own ValidatingAdmissionPolicies and bindings, and Gatekeeper templates and constraints, against every object it holds (what admission checked only when each object was written)")
	fl.BoolVar(&f.backup, "backup", false, "print the recovery report instead of the findings: per namespace holding state, the schedules and policies covering it, its last good backup and last successful restore (table or json); the exit code follows the backup findings")
	fl.StringVar(&f.benchmark, "benchmark", "", "benchmark version for --nodes ("+strings.Join(node.Benchmarks, ", ")+"); default: from each node's kubelet version")
	f.img.register(fl, true)
	return cmd
}

func runCluster(ctx context.Context, s *streams, f *clusterFlags) error {
	outs, err := f.out.parse(nil)
	if err != nil {
		return err
	}
	var cfg *config.Config
	if f.configPath != "" {
		if cfg, err = config.Load(f.configPath); err != nil {
			return usageErr("%v", err)
		}
	}
	rc, err := restConfig(f.kubeconfig, f.context)
	if err != nil {
		return usageErr("cluster connection: %v", err)
	}
	rc.QPS, rc.Burst = 50, 100
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return usageErr("cluster connection: %v", err)
	}
	var policyObjs []*object.Object
	if f.ownPolicies {
		if policyObjs, err = clusterPolicies(ctx, dyn); err != nil {
			return &exitError{code: ExitError, err: err}
		}
	}
	set, pdiags := userpolicy.LoadFiles(f.policies, policyObjs...)
	params, err := policyParams(ctx, dyn, set.LiveParamRefs())
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	set.AddParams(params)
	userControls := set.Controls()
	cat, eng, err := newEngineWith(cfg, f.pssVersion, engine.Options{Live: true}, userControls)
	if err != nil {
		return err
	}
	if err := f.out.checkControls(cat); err != nil {
		return err
	}
	OneShotGC(ClusterGCPercent)
	// Objects are evaluated as their pages arrive; the cross-object
	// controls run once everything is listed.
	start := time.Now()
	stream := eng.Stream()
	prog := startProgress(s.err, !machineOnly(outs), func() string {
		o, f := eng.Progress()
		return fmt.Sprintf("%s objects listed and checked, %s findings so far", thousands(o), thousands(f))
	})
	defer prog.Stop()
	objs, st, err := live.Snapshot(ctx, rc, f.namespace, stream.Add)
	if err != nil {
		stream.Finish()
		return &exitError{code: ExitError, err: err}
	}
	if disc, err := discovery.NewDiscoveryClientForConfig(rc); err == nil {
		if v, err := disc.ServerVersion(); err == nil && f.namespace == "" {
			c := live.ClusterObject(v.GitVersion)
			objs = append(objs, c)
			stream.Add([]*object.Object{c})
		}
	}
	listed := time.Since(start)
	uids := make(map[object.Ref]string, len(objs))
	for _, o := range objs {
		uids[o.Ref] = inventory.UID(o)
	}
	res := stream.Finish()
	res.Diagnostics = append(res.Diagnostics, pdiags...)
	if f.images && res.Inventory != nil {
		fs, diags, err := clusterImages(ctx, rc, f, eng, res.Inventory.Entries())
		if err != nil {
			return err
		}
		res.Findings = append(res.Findings, fs...)
		slices.SortFunc(res.Findings, finding.Compare)
		res.Diagnostics = append(res.Diagnostics, diags...)
	}
	if f.verify && res.Inventory != nil {
		fs, diags, err := clusterVerify(ctx, rc, dyn, cfg, f, eng, res.Inventory)
		if err != nil {
			return err
		}
		res.Findings = append(res.Findings, fs...)
		slices.SortFunc(res.Findings, finding.Compare)
		res.Diagnostics = append(res.Diagnostics, diags...)
	}
	var checklists []report.Checklist
	if f.nodes {
		lists, fs, diags := clusterNodes(ctx, rc, f, eng, objs)
		checklists = lists
		res.Findings = append(res.Findings, fs...)
		slices.SortFunc(res.Findings, finding.Compare)
		res.Diagnostics = append(res.Diagnostics, diags...)
	}
	prog.Stop()
	rep := &report.Report{Tool: "kubeguard", Version: Version(), Catalog: cat, Findings: res.Findings,
		Diagnostics: res.Diagnostics, Objects: res.Objects, Inputs: 1, Folded: st.Folded, UIDs: uids, Scanned: "the cluster", Checklists: checklists}
	if f.namespace != "" {
		rep.Scanned = "namespace " + f.namespace
	}
	if res.Inventory != nil {
		for _, e := range res.Inventory.Entries() {
			rep.Checked = append(rep.Checked, report.Checked{Ref: e.Object.Ref, Workload: e.Workload != nil, ControlPlane: controlplane.IsComponent(e.Workload)})
		}
	}
	rep.Live = true
	if wantsHTML(outs) {
		var in insight
		in.add(res.Inventory, "")
		in.apply(rep)
	}
	f.out.apply(rep, s)
	fmt.Fprintf(s.err, "kubeguard: read %d objects (%d more folded into their controllers) in %d list requests, %.2fs; finished evaluating in %.2fs more\n",
		st.Objects, st.Folded, st.Requests, listed.Seconds(), (time.Since(start) - listed).Seconds())
	if f.writeReports {
		n, err := controller.WriteReports(ctx, dyn, rep, f.namespace, nil)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		fmt.Fprintf(s.err, "kubeguard: wrote %d policy reports\n", n)
	}
	if f.backup {
		return writeRecovery(s, &f.out, outs, rep, res.Inventory)
	}
	return finish(s, &f.out, outs, rep)
}

// writeRecovery prints the recovery report; the backup controls' findings
// decide the exit code, and are listed on stderr.
func writeRecovery(s *streams, out *outputFlags, outs []output, rep *report.Report, inv *inventory.Inventory) error {
	var recs []backup.Recovery
	if inv != nil {
		recs = backup.Recoveries(inv)
	}
	rep.Filter = &report.Filter{Controls: []string{"BACKUP-*", "CLUSTER-NO-BACKUP"}}
	for _, d := range rep.Diagnostics {
		fmt.Fprintln(s.err, d.String())
	}
	for _, p := range rep.Listed() {
		fmt.Fprintf(s.err, "%s %s %s: %s\n", strings.ToUpper(p.Severity.String()), p.ControlID, p.Object, p.Message)
	}
	if len(outs) == 1 && outs[0].format == "json" && outs[0].file == "" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if recs == nil {
			recs = []backup.Recovery{}
		}
		if err := enc.Encode(recs); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAMESPACE\tSTATE\tCOVERED BY\tLAST GOOD BACKUP\tLAST RESTORE")
		now := time.Now()
		when := func(t time.Time, name string) string {
			if t.IsZero() {
				return "none"
			}
			return days(now.Sub(t)) + " ago (" + name + ")"
		}
		for _, r := range recs {
			by := strings.Join(r.CoveredBy, ", ")
			if by == "" {
				by = "nothing"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.State, by, when(r.LastBackup, r.LastBackupName), when(r.LastRestore, r.LastRestoreName))
		}
		tw.Flush()
		fmt.Fprintf(s.out, "%s holding state\n", plural(len(recs), "namespace", "namespaces"))
	}
	return exitFor(rep)
}

// clusterPolicies reads the cluster's ValidatingAdmissionPolicies and
// their bindings.
func clusterPolicies(ctx context.Context, dyn dynamic.Interface) ([]*object.Object, error) {
	var out []*object.Object
	for _, res := range []string{"validatingadmissionpolicies", "validatingadmissionpolicybindings"} {
		list, err := dyn.Resource(admissionregistrationv1.SchemeGroupVersion.WithResource(res)).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("--cluster-policies: listing %s: %v", res, err)
		}
		for _, u := range list.Items {
			out = append(out, object.New(u.Object, object.Position{}, nil))
		}
	}
	// Gatekeeper's templates, and the constraints of each template's kind;
	// a cluster without Gatekeeper has neither
	tmpls, err := dyn.Resource(schema.GroupVersionResource{Group: "templates.gatekeeper.sh", Version: "v1", Resource: "constrainttemplates"}).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--cluster-policies: listing Gatekeeper's constrainttemplates: %v", err)
	}
	for _, t := range tmpls.Items {
		out = append(out, object.New(t.Object, object.Position{}, nil))
		kind, _, _ := unstructured.NestedString(t.Object, "spec", "crd", "spec", "names", "kind")
		if kind == "" {
			continue
		}
		cons, err := dyn.Resource(schema.GroupVersionResource{Group: "constraints.gatekeeper.sh", Version: "v1beta1", Resource: strings.ToLower(kind)}).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			continue // the template's kind is not created yet
		}
		if err != nil {
			return nil, fmt.Errorf("--cluster-policies: listing %s constraints: %v", kind, err)
		}
		for _, u := range cons.Items {
			out = append(out, object.New(u.Object, object.Position{}, nil))
		}
	}
	return out, nil
}

// policyParams fetches the parameters the cluster's bindings name,
// wherever they are: a namespaced scan lists only its namespace.
func policyParams(ctx context.Context, dyn dynamic.Interface, refs []userpolicy.ParamRef) ([]*object.Object, error) {
	var out []*object.Object
	for _, r := range refs {
		gv, err := schema.ParseGroupVersion(r.Kind.APIVersion)
		if err != nil {
			continue
		}
		gvr, _ := meta.UnsafeGuessKindToResource(gv.WithKind(r.Kind.Kind))
		opts := metav1.ListOptions{}
		if r.Ref.Name != "" {
			opts.FieldSelector = "metadata.name=" + r.Ref.Name
		} else if r.Ref.Selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(r.Ref.Selector)
			if err != nil {
				continue
			}
			opts.LabelSelector = sel.String()
		}
		list, err := dyn.Resource(gvr).Namespace(r.Ref.Namespace).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("--cluster-policies: the parameters of binding %s: %v", r.Binding, err)
		}
		for _, u := range list.Items {
			out = append(out, object.New(u.Object, object.Position{}, nil))
		}
	}
	return out, nil
}

// clusterNodes evaluates the kubelet checks on every node's live
// configuration. A node whose configz cannot be read is a diagnostic
// that says why (the others are still checked).
func clusterNodes(ctx context.Context, rc *rest.Config, f *clusterFlags, eng *engine.Engine, objs []*object.Object) ([]report.Checklist, []*finding.Finding, []object.Diagnostic) {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, []object.Diagnostic{{Severity: object.SeverityError, Message: "--nodes: " + err.Error()}}
	}
	type result struct {
		list *report.Checklist
		diag *object.Diagnostic
	}
	var nodes []*object.Object
	for _, o := range objs {
		if o.Ref.Kind == "Node" && o.Ref.APIVersion == "v1" {
			nodes = append(nodes, o)
		}
	}
	results := make([]result, len(nodes))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, o := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := o.Ref.Name
			fail := func(format string, args ...any) {
				results[i].diag = &object.Diagnostic{Severity: object.SeverityError, Message: fmt.Sprintf("node %s: "+format, append([]any{name}, args...)...)}
			}
			benchmark := f.benchmark
			if benchmark == "" {
				version, _, _ := unstructured.NestedString(o.Content, "status", "nodeInfo", "kubeletVersion")
				var err error
				if benchmark, err = node.BenchmarkFor(version); err != nil {
					fail("kubelet %v", err)
					return
				}
			}
			data, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", name, "proxy", "configz").DoRaw(ctx)
			if err != nil {
				fail("reading the kubelet's configz: %v (--nodes needs get on nodes/proxy)", err)
				return
			}
			list, err := node.ConfigzChecklist(name, benchmark, data)
			if err != nil {
				fail("%v", err)
				return
			}
			results[i].list = list
		}()
	}
	wg.Wait()
	var lists []report.Checklist
	var fs []*finding.Finding
	var diags []object.Diagnostic
	for _, r := range results {
		if r.diag != nil {
			diags = append(diags, *r.diag)
			continue
		}
		fs = append(fs, node.Findings(r.list, func(fd *finding.Finding) bool { return eng.Accept(fd, nil, nil) })...)
		lists = append(lists, *r.list)
	}
	return lists, fs, diags
}

// clusterVerify verifies the images the pods run against the
// configuration's and the cluster's image policies.
func clusterVerify(ctx context.Context, rc *rest.Config, dyn dynamic.Interface, cfg *config.Config, f *clusterFlags, eng *engine.Engine, inv *inventory.Inventory) ([]*finding.Finding, []object.Diagnostic, error) {
	cluster, _, err := imageverify.ListCluster(ctx, dyn)
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: err}
	}
	var base config.ImageVerify
	dir := ""
	if cfg != nil {
		base, dir = cfg.Images.Verify, filepath.Dir(cfg.Path)
	}
	ps, err := imageverify.WithCluster(base, dir, cluster)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	if len(ps.List) == 0 {
		return nil, []object.Diagnostic{{Severity: object.SeverityWarning,
			Message: "--verify-images: no images.verify policies and no ClusterImagePolicy objects, so no image is verified"}}, nil
	}
	v, err := imageverify.New(ps, imageverify.Options{Insecure: f.img.insecure})
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, usageErr("cluster connection: %v", err)
	}
	pods, err := cs.CoreV1().Pods(f.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: fmt.Errorf("listing pods for --verify-images: %w", err)}
	}
	running := imagescan.RunningImages(pods.Items)
	fs, diags := ps.Workloads(ctx, inv.Entries(), imageverify.Namespaces(inv), running.Resolve, v.Verify, eng.Accept, f.img.parallel)
	return fs, diags, nil
}

// clusterImages scans the images the pods run. A workload's container
// is tied to the digests of the pods whose container of the same name
// runs the same image field in its namespace (pods are folded into their
// controllers); containers no pod runs are not scanned.
func clusterImages(ctx context.Context, rc *rest.Config, f *clusterFlags, eng *engine.Engine, entries []inventory.Entry) ([]*finding.Finding, []object.Diagnostic, error) {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, usageErr("cluster connection: %v", err)
	}
	pods, err := cs.CoreV1().Pods(f.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: fmt.Errorf("listing pods for --images: %w", err)}
	}
	running := imagescan.RunningImages(pods.Items)
	var secrets []*corev1.Secret
	var diags []object.Diagnostic
	seen := map[string]bool{}
	for _, p := range pods.Items {
		for _, ps := range p.Spec.ImagePullSecrets {
			k := p.Namespace + "/" + ps.Name
			if seen[k] {
				continue
			}
			seen[k] = true
			s, err := cs.CoreV1().Secrets(p.Namespace).Get(ctx, ps.Name, metav1.GetOptions{})
			if err != nil {
				diags = append(diags, object.Diagnostic{Severity: object.SeverityWarning,
					Message: fmt.Sprintf("image pull secret %s of pod %s/%s: %v", ps.Name, p.Namespace, p.Name, err)})
				continue
			}
			secrets = append(secrets, s)
		}
	}
	if running.Unpinned > 0 {
		diags = append(diags, object.Diagnostic{Severity: object.SeverityWarning,
			Message: fmt.Sprintf("%d running containers report no repository digest in their status; their images were not scanned", running.Unpinned)})
	}
	kc, err := image.PullSecrets(secrets)
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: err}
	}
	sc, _, dbDiags, err := f.img.scanner(time.Now())
	if err != nil {
		return nil, nil, err
	}
	sc.SetKeychain(kc)
	fs, _, idiags := sc.Workloads(ctx, entries, running.Resolve, eng.Accept, f.img.parallel)
	return fs, append(append(diags, dbDiags...), idiags...), nil
}
