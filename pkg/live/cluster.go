package live

import (
	"context"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// PostureKinds are what a cluster posture scan reads in full. Secrets are
// read separately, metadata only.
var PostureKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Namespace"},
	{Version: "v1", Kind: "Node"},
	{Version: "v1", Kind: "Pod"},
	{Version: "v1", Kind: "ReplicationController"},
	{Version: "v1", Kind: "Service"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "ConfigMap"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"},
	{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "AdminNetworkPolicy"},
	{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "BaselineAdminNetworkPolicy"},
	// What shows an admission policy, mesh mTLS or backups are in place,
	// when the cluster serves them.
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy"},
	{Group: "kyverno.io", Version: "v1", Kind: "ClusterPolicy"},
	{Group: "templates.gatekeeper.sh", Version: "v1", Kind: "ConstraintTemplate"},
	{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"},
	{Group: "velero.io", Version: "v1", Kind: "Schedule"},
	// What a restore would rest on: the state to protect, Velero's
	// backups, restores and storage, K10's policies and restores.
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Group: "velero.io", Version: "v1", Kind: "Backup"},
	{Group: "velero.io", Version: "v1", Kind: "Restore"},
	{Group: "velero.io", Version: "v1", Kind: "BackupStorageLocation"},
	{Group: "config.kio.kasten.io", Version: "v1alpha1", Kind: "Policy"},
	{Group: "actions.kio.kasten.io", Version: "v1alpha1", Kind: "RestoreAction"},
}

// ClusterObject stands for the cluster itself in an inventory (kind
// Cluster, apiVersion kubeguard.io/v1): cluster-wide controls report on
// it, such as the API server's version or the absence of any admission
// policy.
func ClusterObject(serverVersion string) *object.Object {
	return object.New(map[string]any{"apiVersion": "kubeguard.io/v1", "kind": "Cluster",
		"metadata": map[string]any{"name": "cluster"}, "spec": map[string]any{"version": serverVersion}}, object.Position{}, nil)
}

// Stats count what a snapshot read.
type Stats struct {
	Requests int // list requests, pages included
	Objects  int
	Folded   int // objects reported through their owner
}

// Snapshot lists the posture kinds (paginated, several kinds at once) and
// the Secrets' metadata, and folds objects into their controllers: a pod
// of a ReplicaSet of a Deployment is evaluated, and reported, as the
// Deployment. namespace limits namespaced kinds ("" for all). emit, when
// not nil, receives every object of the result exactly once, as early as
// possible: objects no controller may own as soon as their page arrives,
// so that evaluation overlaps listing; the rest once folding is decided.
func Snapshot(ctx context.Context, rc *rest.Config, namespace string, emit func([]*object.Object)) ([]*object.Object, Stats, error) {
	raw, err := rawClient(rc)
	if err != nil {
		return nil, Stats{}, err
	}
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, Stats{}, err
	}
	var jobs []job
	for _, gvk := range PostureKinds {
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		// Cluster-scoped kinds are listed whole even when a scan is
		// limited to a namespace: namespaced objects are judged against
		// them.
		ns := namespace
		if object.ClusterScoped(object.Ref{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}) {
			ns = ""
		}
		jobs = append(jobs, job{gvk, rawFetch(ctx, raw, gvr, ns)})
	}
	// Secrets: metadata only, never their values. Legacy token Secrets are
	// found with a field selector, which tells their type; TLS Secrets are
	// read with one too, for their certificate alone (the key is dropped as
	// each page arrives).
	secret := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	tokenUIDs, certs := map[string]bool{}, map[string]string{}
	var mu sync.Mutex
	metaList := func(opts metav1.ListOptions) (*metav1.PartialObjectMetadataList, error) {
		if namespace != "" {
			return md.Resource(secrets).Namespace(namespace).List(ctx, opts)
		}
		return md.Resource(secrets).List(ctx, opts)
	}
	jobs = append(jobs, job{secret, func(opts metav1.ListOptions) ([]map[string]any, string, error) {
		page, err := metaList(opts)
		if err != nil {
			return nil, "", err
		}
		items := make([]map[string]any, 0, len(page.Items))
		for i := range page.Items {
			c, err := secretContent(&page.Items[i])
			if err != nil {
				return nil, "", err
			}
			items = append(items, c)
		}
		return items, page.GetContinue(), nil
	}}, job{secret, func(opts metav1.ListOptions) ([]map[string]any, string, error) {
		opts.FieldSelector = tokenSelector
		page, err := metaList(opts)
		if err != nil {
			return nil, "", err
		}
		mu.Lock()
		for i := range page.Items {
			tokenUIDs[string(page.Items[i].UID)] = true
		}
		mu.Unlock()
		return nil, page.GetContinue(), nil // the plain list has them
	}})
	tlsFetch := rawFetch(ctx, raw, secrets, namespace)
	jobs = append(jobs, job{secret, func(opts metav1.ListOptions) ([]map[string]any, string, error) {
		opts.FieldSelector = tlsSelector
		items, next, err := tlsFetch(opts)
		mu.Lock()
		for _, it := range items {
			if c := tlsCert(it); c != "" {
				certs[inventory.UIDOf(it)] = c
			}
		}
		mu.Unlock()
		return nil, next, err // the plain list has them
	}})
	var emitted sync.Map
	var page func([]*object.Object)
	if emit != nil {
		page = func(objs []*object.Object) {
			var now []*object.Object
			for _, o := range objs {
				// Secrets wait for their type, owned objects for folding
				if k, _ := inventory.Controller(o); o.Kind != "Secret" && !inventory.FoldsOwned(k) {
					now = append(now, o)
					emitted.Store(o, true)
				}
			}
			if len(now) > 0 {
				emit(now)
			}
		}
	}
	results, requests, err := listAll(jobs, page)
	st := Stats{Requests: requests}
	if err != nil {
		return nil, st, err
	}
	var all []*object.Object
	for _, objs := range results {
		all = append(all, objs...)
	}
	for _, o := range all {
		if o.Kind == "Secret" {
			markSecret(o.Content, tokenUIDs[inventory.UID(o)], certs[inventory.UID(o)])
		}
	}
	out := inventory.Fold(all)
	st.Objects, st.Folded = len(out), len(all)-len(out)
	slices.SortFunc(out, func(a, b *object.Object) int { return a.Ref.Compare(b.Ref) })
	if emit != nil {
		var rest []*object.Object
		for _, o := range out {
			if _, ok := emitted.Load(o); !ok {
				rest = append(rest, o)
			}
		}
		emit(rest)
	}
	return out, st, nil
}

// Field selectors that tell a Secret's type, which metadata lists omit.
var (
	tokenSelector = "type=" + string(corev1.SecretTypeServiceAccountToken)
	tlsSelector   = "type=" + string(corev1.SecretTypeTLS)
)

// secretContent is what kubeguard holds of a Secret: its metadata.
func secretContent(pm *metav1.PartialObjectMetadata) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&pm.ObjectMeta)
	if err != nil {
		return nil, err
	}
	return map[string]any{"metadata": m}, nil
}

// markSecret adds what the typed lists told of a Secret: that it holds a
// legacy token, or a TLS certificate (cert non-empty), which certificate
// checks read. Nothing else of its data is ever kept.
func markSecret(content map[string]any, token bool, cert string) {
	switch {
	case token:
		content["type"] = string(corev1.SecretTypeServiceAccountToken)
	case cert != "":
		content["type"] = string(corev1.SecretTypeTLS)
		content["data"] = map[string]any{corev1.TLSCertKey: cert}
	}
}

// tlsCert returns the certificate of a TLS Secret's content, the one
// value of a Secret kubeguard keeps: its private key and any other value
// are dropped as soon as they are read.
func tlsCert(content map[string]any) string {
	data, _ := content["data"].(map[string]any)
	crt, _ := data[corev1.TLSCertKey].(string)
	return crt
}
