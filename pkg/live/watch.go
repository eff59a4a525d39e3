package live

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Watcher keeps kinds of a cluster in informer caches and says when
// anything changed: the one live view of a cluster. The controller reads
// all of it (Changed, Objects) to keep reports current without listing
// again; the webhook reads immutable snapshots (Snapshot), rebuilt in the
// background at most every Interval after a change, so a request never
// waits for a rebuild.
type Watcher struct {
	dyn      dynamicinformer.DynamicSharedInformerFactory
	md       metadatainformer.SharedInformerFactory
	kinds    []watched
	secrets  cache.SharedIndexInformer // nil without WatchOptions.Secrets
	tokens   cache.SharedIndexInformer
	certs    cache.SharedIndexInformer // TLS Secrets, reduced to their certificate
	changed  atomic.Bool
	informed []cache.InformerSynced
	disc     discovery.DiscoveryInterface
	log      *slog.Logger

	// snapshots
	dirty    atomic.Bool
	synced   atomic.Bool
	snapshot atomic.Pointer[inventory.Inventory]
	mu       sync.Mutex
	cache    map[string]entry // uid -> converted object at a resourceVersion
}

type entry struct {
	rv string
	e  inventory.Entry
}

// WatchOptions say what a Watcher keeps.
type WatchOptions struct {
	// Kinds to watch, when the cluster serves them (default: PostureKinds).
	Kinds []schema.GroupVersionKind
	// Secrets adds Secrets as metadata, with their type's token and
	// certificate facts (never their values); it needs a metadata client.
	Secrets bool
	Resync  time.Duration
	Log     *slog.Logger
}

type watched struct {
	gvk schema.GroupVersionKind
	inf cache.SharedIndexInformer
}

// NewWatcher prepares informers for the kinds the cluster serves.
func NewWatcher(dyn dynamic.Interface, md metadata.Interface, disc discovery.DiscoveryInterface, o WatchOptions) *Watcher {
	if o.Kinds == nil {
		o.Kinds = PostureKinds
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		dyn:   dynamicinformer.NewDynamicSharedInformerFactory(dyn, o.Resync),
		disc:  disc,
		log:   o.Log,
		cache: map[string]entry{},
	}
	w.snapshot.Store(inventory.New())
	changed := func() { w.changed.Store(true); w.dirty.Store(true) }
	mark := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(_, _ any) { changed() },
		DeleteFunc: func(any) { changed() },
	}
	// Managed fields are large and never read by a control.
	dropManaged := func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return obj, nil
	}
	for _, gvk := range o.Kinds {
		if !served(disc, gvk) {
			continue // optional CRDs: an informer on them would never sync
		}
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		inf := w.dyn.ForResource(gvr).Informer()
		_ = inf.SetTransform(dropManaged)
		inf.AddEventHandler(mark)
		w.kinds = append(w.kinds, watched{gvk, inf})
		w.informed = append(w.informed, inf.HasSynced)
	}
	if !o.Secrets {
		return w
	}
	w.md = metadatainformer.NewSharedInformerFactory(md, o.Resync)
	resync := o.Resync
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	w.secrets = w.md.ForResource(secrets).Informer()
	w.secrets.AddEventHandler(mark)
	tokens := metadatainformer.NewFilteredMetadataInformer(md, secrets, metav1.NamespaceAll, resync, cache.Indexers{},
		func(o *metav1.ListOptions) { o.FieldSelector = tokenSelector })
	w.tokens = tokens.Informer()
	w.certs = dynamicinformer.NewFilteredDynamicInformer(dyn, secrets, metav1.NamespaceAll, resync, cache.Indexers{},
		func(o *metav1.ListOptions) { o.FieldSelector = tlsSelector }).Informer()
	// The cache holds the certificate alone: the transform runs before an
	// object is stored, so the private key is never kept.
	_ = w.certs.SetTransform(func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
				"metadata": u.Object["metadata"], "data": map[string]any{corev1.TLSCertKey: tlsCert(u.Object)}}}, nil
		}
		return obj, nil
	})
	w.certs.AddEventHandler(mark) // the two caches of a renewed Secret update one after the other
	w.informed = append(w.informed, w.secrets.HasSynced, w.tokens.HasSynced, w.certs.HasSynced)
	return w
}

func served(disc discovery.DiscoveryInterface, gvk schema.GroupVersionKind) bool {
	list, err := disc.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Kind == gvk.Kind {
			return true
		}
	}
	return false
}

// Start runs the informers until ctx ends and waits for their caches.
func (w *Watcher) Start(ctx context.Context) bool {
	w.run(ctx)
	ok := cache.WaitForCacheSync(ctx.Done(), w.informed...)
	w.changed.Store(true)
	return ok
}

func (w *Watcher) run(ctx context.Context) {
	w.dyn.Start(ctx.Done())
	if w.md != nil {
		w.md.Start(ctx.Done())
		go w.tokens.Run(ctx.Done())
		go w.certs.Run(ctx.Done())
	}
}

// StartSnapshots runs the informers until ctx ends and keeps snapshots
// current from their first sync on; it does not wait.
func (w *Watcher) StartSnapshots(ctx context.Context) {
	w.run(ctx)
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), w.informed...) {
			w.rebuild()
			w.synced.Store(true)
			w.log.Info("cluster inventory synced", "objects", w.snapshot.Load().Len())
		}
		t := time.NewTicker(Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if w.synced.Load() && w.dirty.Swap(false) {
					w.rebuild()
				}
			}
		}
	}()
}

// Snapshot returns the current inventory of the watched kinds and
// whether it reflects the cluster (false until every informer has listed
// its kind).
func (w *Watcher) Snapshot() (*inventory.Inventory, bool) {
	return w.snapshot.Load(), w.synced.Load()
}

// Synced reports whether the snapshots reflect the cluster.
func (w *Watcher) Synced() bool { return w.synced.Load() }

// rebuild makes a new snapshot; objects unchanged since the last one are
// not converted again.
func (w *Watcher) rebuild() {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := inventory.New()
	seen := make(map[string]entry, len(w.cache))
	for _, k := range w.kinds {
		for _, item := range k.inf.GetStore().List() {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			uid := string(u.GetUID())
			en, ok := w.cache[uid]
			if !ok || en.rv != u.GetResourceVersion() {
				o := liveObject(u.Object, k.gvk)
				wl, _ := inventory.ExtractWorkload(o)
				en = entry{u.GetResourceVersion(), inventory.Entry{Object: o, Workload: wl}}
			}
			seen[uid] = en
			next.Add(en.e.Object, en.e.Workload)
		}
	}
	w.cache = seen
	w.snapshot.Store(next)
}

// Changed reports whether anything changed since the last call.
func (w *Watcher) Changed() bool { return w.changed.Swap(false) }

// Objects returns the cached objects as kubeguard objects, folded into
// their controllers as Snapshot does. The caches are not modified.
func (w *Watcher) Objects() []*object.Object {
	var all []*object.Object
	for _, k := range w.kinds {
		for _, item := range k.inf.GetStore().List() {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			all = append(all, liveObject(u.Object, k.gvk))
		}
	}
	if w.md == nil {
		return finishObjects(all, w.disc)
	}
	tokens := map[string]bool{}
	for _, item := range w.tokens.GetStore().List() {
		if m, ok := item.(metav1.Object); ok {
			tokens[string(m.GetUID())] = true
		}
	}
	certs := map[string]string{}
	for _, item := range w.certs.GetStore().List() {
		if u, ok := item.(*unstructured.Unstructured); ok {
			certs[string(u.GetUID())] = tlsCert(u.Object)
		}
	}
	for _, item := range w.secrets.GetStore().List() {
		pm, ok := item.(*metav1.PartialObjectMetadata)
		if !ok {
			continue
		}
		c, err := secretContent(pm)
		if err != nil {
			continue
		}
		markSecret(c, tokens[string(pm.UID)], certs[string(pm.UID)])
		all = append(all, liveObject(c, schema.GroupVersionKind{Version: "v1", Kind: "Secret"}))
	}
	return finishObjects(all, w.disc)
}

func finishObjects(all []*object.Object, disc discovery.DiscoveryInterface) []*object.Object {
	out := inventory.Fold(all)
	slices.SortFunc(out, func(a, b *object.Object) int { return a.Ref.Compare(b.Ref) })
	if v, err := disc.ServerVersion(); err == nil {
		out = append(out, ClusterObject(v.GitVersion))
	}
	return out
}

// liveObject wraps cached content without touching the cache: the top
// level and metadata are copied (managed fields dropped); nested values
// are shared and only read.
func liveObject(content map[string]any, gvk schema.GroupVersionKind) *object.Object {
	c := make(map[string]any, len(content)+2)
	for k, v := range content {
		c[k] = v
	}
	if md, ok := content["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(md))
		for k, v := range md {
			if k != "managedFields" {
				m[k] = v
			}
		}
		c["metadata"] = m
	}
	c["apiVersion"], c["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return object.New(c, object.Position{}, nil)
}

// Pods returns the cached pods, unfolded, with their status: what the
// image scanner needs to know which digests run.
func (w *Watcher) Pods() []corev1.Pod {
	var out []corev1.Pod
	for _, k := range w.kinds {
		if k.gvk.Kind != "Pod" || k.gvk.Group != "" {
			continue
		}
		for _, item := range k.inf.GetStore().List() {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			var p corev1.Pod
			if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p) == nil {
				out = append(out, p)
			}
		}
	}
	return out
}
