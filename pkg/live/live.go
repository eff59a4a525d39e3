// Package live reads a running cluster: one listing (Snapshot, for
// kubeguard cluster) and one informer-backed Watcher that keeps it
// current, for the webhook's cross-object controls (Snapshot) and the
// controller's reports (Changed, Objects).
package live

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
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

// Interval is the longest a change waits before it shows in snapshots.
const Interval = 200 * time.Millisecond
