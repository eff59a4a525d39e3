package live

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// PageSize is the number of objects asked for per list request.
const PageSize = 500

// fetch gets one page of a kind: its items as unstructured content and
// the continue token.
type fetch func(opts metav1.ListOptions) ([]map[string]any, string, error)

// job lists one kind.
type job struct {
	gvk   schema.GroupVersionKind
	fetch fetch
}

// dynamicFetch pages through a resource with the dynamic client.
func dynamicFetch(ctx context.Context, r dynamic.ResourceInterface) fetch {
	return func(opts metav1.ListOptions) ([]map[string]any, string, error) {
		page, err := r.List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		items := make([]map[string]any, len(page.Items))
		for i := range page.Items {
			items[i] = page.Items[i].Object
		}
		return items, page.GetContinue(), nil
	}
}

// listAll runs the jobs, four at a time, each paginated, and returns their
// objects in job order with the number of list requests. Objects are as
// the API server stores them, minus managed fields; a kind the cluster
// does not serve (an optional CRD) yields none.
func listAll(jobs []job) ([][]*object.Object, int, error) {
	results := make([][]*object.Object, len(jobs))
	errs := make([]error, len(jobs))
	var requests atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, jb := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			opts := metav1.ListOptions{Limit: PageSize}
			for {
				items, cont, err := jb.fetch(opts)
				requests.Add(1)
				if apierrors.IsNotFound(err) {
					return
				}
				if err != nil {
					errs[i] = fmt.Errorf("listing %s: %v", jb.gvk.Kind, err)
					return
				}
				for _, c := range items {
					if md, ok := c["metadata"].(map[string]any); ok {
						delete(md, "managedFields")
					}
					// Items of a list carry no TypeMeta on some servers.
					c["apiVersion"], c["kind"] = jb.gvk.GroupVersion().String(), jb.gvk.Kind
					results[i] = append(results[i], object.New(c, object.Position{}, nil))
				}
				if opts.Continue = cont; cont == "" {
					return
				}
			}
		}()
	}
	wg.Wait()
	return results, int(requests.Load()), errors.Join(errs...)
}

// List reads every object of kinds from a cluster into a new inventory:
// one paginated list per kind, kinds listed concurrently.
func List(ctx context.Context, client dynamic.Interface, kinds []schema.GroupVersionKind) (*inventory.Inventory, error) {
	jobs := make([]job, len(kinds))
	for i, gvk := range kinds {
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		jobs[i] = job{gvk, dynamicFetch(ctx, client.Resource(gvr))}
	}
	results, _, err := listAll(jobs)
	if err != nil {
		return nil, err
	}
	inv := inventory.New()
	for _, objs := range results {
		sort.Slice(objs, func(i, j int) bool { return objs[i].Ref.String() < objs[j].Ref.String() })
		for _, o := range objs {
			w, _ := inventory.ExtractWorkload(o)
			inv.Add(o, w)
		}
	}
	return inv, nil
}

// RBACKinds are what RBAC analysis reads from a cluster: the RBAC objects,
// and the ServiceAccounts and workloads that carry their permissions.
var RBACKinds = []schema.GroupVersionKind{
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Version: "v1", Kind: "Namespace"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "Pod"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
}

// NetpolKinds are what connectivity analysis reads from a cluster.
var NetpolKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Namespace"},
	{Version: "v1", Kind: "Pod"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "AdminNetworkPolicy"},
	{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "BaselineAdminNetworkPolicy"},
}
