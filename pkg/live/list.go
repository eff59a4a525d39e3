package live

import (
	"context"
	"fmt"
	"sort"
	"sync"

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

// List reads every object of kinds from a cluster into a new inventory:
// one paginated list per kind, kinds listed concurrently. Objects are
// returned as the API server stores them, minus managed fields.
func List(ctx context.Context, client dynamic.Interface, kinds []schema.GroupVersionKind) (*inventory.Inventory, error) {
	type result struct {
		objs []*object.Object
		err  error
	}
	results := make([]result, len(kinds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, gvk := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			gvr, _ := meta.UnsafeGuessKindToResource(gvk)
			opts := metav1.ListOptions{Limit: PageSize}
			for {
				page, err := client.Resource(gvr).List(ctx, opts)
				if apierrors.IsNotFound(err) {
					return // a kind this cluster does not serve (an optional CRD)
				}
				if err != nil {
					results[i].err = fmt.Errorf("listing %s: %v", gvr.GroupResource(), err)
					return
				}
				for _, item := range page.Items {
					c := item.Object
					if md, ok := c["metadata"].(map[string]any); ok {
						delete(md, "managedFields")
					}
					// Items of a list carry no TypeMeta on some servers.
					c["apiVersion"], c["kind"] = gvk.GroupVersion().String(), gvk.Kind
					results[i].objs = append(results[i].objs, object.New(c, object.Position{}, nil))
				}
				if opts.Continue = page.GetContinue(); opts.Continue == "" {
					return
				}
			}
		}()
	}
	wg.Wait()
	inv := inventory.New()
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		sort.Slice(r.objs, func(i, j int) bool { return r.objs[i].Ref.String() < r.objs[j].Ref.String() })
		for _, o := range r.objs {
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
