package live

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

// Watcher keeps the posture kinds of a cluster in informer caches (Secrets
// as metadata only) and says when anything changed, for a controller that
// keeps reports current without listing the cluster again.
type Watcher struct {
	dyn      dynamicinformer.DynamicSharedInformerFactory
	md       metadatainformer.SharedInformerFactory
	kinds    []watched
	secrets  cache.SharedIndexInformer
	tokens   cache.SharedIndexInformer
	certs    cache.SharedIndexInformer // TLS Secrets, reduced to their certificate
	changed  atomic.Bool
	informed []cache.InformerSynced
	disc     discovery.DiscoveryInterface
}

type watched struct {
	gvk schema.GroupVersionKind
	inf cache.SharedIndexInformer
}

// NewWatcher prepares informers for the posture kinds the cluster serves.
func NewWatcher(dyn dynamic.Interface, md metadata.Interface, disc discovery.DiscoveryInterface, resync time.Duration) *Watcher {
	w := &Watcher{
		dyn:  dynamicinformer.NewDynamicSharedInformerFactory(dyn, resync),
		md:   metadatainformer.NewSharedInformerFactory(md, resync),
		disc: disc,
	}
	mark := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.changed.Store(true) },
		UpdateFunc: func(_, _ any) { w.changed.Store(true) },
		DeleteFunc: func(any) { w.changed.Store(true) },
	}
	for _, gvk := range PostureKinds {
		if !served(disc, gvk) {
			continue // optional CRDs: an informer on them would never sync
		}
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		inf := w.dyn.ForResource(gvr).Informer()
		inf.AddEventHandler(mark)
		w.kinds = append(w.kinds, watched{gvk, inf})
		w.informed = append(w.informed, inf.HasSynced)
	}
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
	w.dyn.Start(ctx.Done())
	w.md.Start(ctx.Done())
	go w.tokens.Run(ctx.Done())
	go w.certs.Run(ctx.Done())
	ok := cache.WaitForCacheSync(ctx.Done(), w.informed...)
	w.changed.Store(true)
	return ok
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
	out := inventory.Fold(all)
	slices.SortFunc(out, func(a, b *object.Object) int { return a.Ref.Compare(b.Ref) })
	if v, err := w.disc.ServerVersion(); err == nil {
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
