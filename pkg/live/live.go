// Package live keeps an inventory of a running cluster current with
// client-go informers, for the front doors that evaluate objects against
// the cluster (the admission webhook's cross-object controls).
package live

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Kinds are what the inventory watches: what kubeguard's cross-object
// controls read. Secrets and ConfigMaps are left out on purpose: the
// webhook needs no secret values, and least privilege says it should not
// be able to read them.
var Kinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Namespace"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "Service"},
	{Version: "v1", Kind: "Pod"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
}

// Inventory is an informer-backed inventory. Snapshots are immutable and
// rebuilt in the background at most every Interval after a change, so a
// request never waits for a rebuild.
type Inventory struct {
	factory   informers.SharedInformerFactory
	informers []informer
	log       *slog.Logger
	interval  time.Duration

	dirty    atomic.Bool
	snapshot atomic.Pointer[inventory.Inventory]
	synced   atomic.Bool

	mu    sync.Mutex
	cache map[string]entry // uid -> converted object at a resourceVersion
}

type informer struct {
	gvk schema.GroupVersionKind
	inf cache.SharedIndexInformer
}

type entry struct {
	rv string
	e  inventory.Entry
}

// Interval is the longest a change waits before it shows in snapshots.
const Interval = 200 * time.Millisecond

// New prepares informers for Kinds; Start runs them.
func New(client kubernetes.Interface, log *slog.Logger) (*Inventory, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inv := &Inventory{factory: informers.NewSharedInformerFactory(client, 0), log: log, interval: Interval, cache: map[string]entry{}}
	mark := func(any) { inv.dirty.Store(true) }
	handler := cache.ResourceEventHandlerFuncs{AddFunc: mark, UpdateFunc: func(_, o any) { mark(o) }, DeleteFunc: mark}
	for _, gvk := range Kinds {
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		gi, err := inv.factory.ForResource(gvr)
		if err != nil {
			return nil, fmt.Errorf("informer for %s: %v", gvr, err)
		}
		i := gi.Informer()
		// Managed fields are large and never read by a control.
		if err := i.SetTransform(func(o any) (any, error) {
			if m, ok := o.(metav1.Object); ok {
				m.SetManagedFields(nil)
			}
			return o, nil
		}); err != nil {
			return nil, err
		}
		if _, err := i.AddEventHandler(handler); err != nil {
			return nil, err
		}
		inv.informers = append(inv.informers, informer{gvk: gvk, inf: i})
	}
	inv.snapshot.Store(inventory.New())
	return inv, nil
}

// Start runs the informers until ctx ends and keeps snapshots current.
func (inv *Inventory) Start(ctx context.Context) {
	inv.factory.Start(ctx.Done())
	go func() {
		var syncs []cache.InformerSynced
		for _, i := range inv.informers {
			syncs = append(syncs, i.inf.HasSynced)
		}
		if cache.WaitForCacheSync(ctx.Done(), syncs...) {
			inv.rebuild()
			inv.synced.Store(true)
			inv.log.Info("cluster inventory synced", "objects", inv.snapshot.Load().Len())
		}
		t := time.NewTicker(inv.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if inv.synced.Load() && inv.dirty.Swap(false) {
					inv.rebuild()
				}
			}
		}
	}()
}

// Snapshot returns the current inventory and whether it reflects the
// cluster (false until every informer has listed its kind).
func (inv *Inventory) Snapshot() (*inventory.Inventory, bool) {
	return inv.snapshot.Load(), inv.synced.Load()
}

// Synced reports whether the informers have synced.
func (inv *Inventory) Synced() bool { return inv.synced.Load() }

// rebuild makes a new snapshot; objects unchanged since the last one are
// not converted again.
func (inv *Inventory) rebuild() {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	next := inventory.New()
	seen := make(map[string]entry, len(inv.cache))
	for _, i := range inv.informers {
		for _, o := range i.inf.GetStore().List() {
			m, ok := o.(metav1.Object)
			if !ok {
				continue
			}
			uid := string(m.GetUID())
			en, ok := inv.cache[uid]
			if !ok || en.rv != m.GetResourceVersion() {
				e, err := convert(o.(runtime.Object), i.gvk)
				if err != nil {
					inv.log.Warn("cannot convert object", "kind", i.gvk.Kind, "name", m.GetName(), "error", err)
					continue
				}
				en = entry{m.GetResourceVersion(), e}
			}
			seen[uid] = en
			next.Add(en.e.Object, en.e.Workload)
		}
	}
	inv.cache = seen
	inv.snapshot.Store(next)
}

func convert(o runtime.Object, gvk schema.GroupVersionKind) (inventory.Entry, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return inventory.Entry{}, err
	}
	// Typed objects from informers carry no TypeMeta.
	content["apiVersion"], content["kind"] = gvk.GroupVersion().String(), gvk.Kind
	obj := object.New(content, object.Position{}, nil)
	w, _ := inventory.ExtractWorkload(obj)
	return inventory.Entry{Object: obj, Workload: w}, nil
}
