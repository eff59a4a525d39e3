package inventory

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// related are the kinds cross-object controls read in full: what selects,
// binds, references or configures another object. Every other kind keeps
// only its identity and metadata once per-object controls are done.
var related = map[string]bool{
	"Namespace": true, "ServiceAccount": true, "Service": true, "Ingress": true,
	"NetworkPolicy": true, "Role": true, "ClusterRole": true, "RoleBinding": true,
	"ClusterRoleBinding": true, "PodDisruptionBudget": true, "HorizontalPodAutoscaler": true,
	"ConfigMap": true, "Secret": true, "LimitRange": true,
	"AdminNetworkPolicy": true, "BaselineAdminNetworkPolicy": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "PeerAuthentication": true,
	// Gateway API routes and their grants: what reaches a Service from outside
	"HTTPRoute": true, "GRPCRoute": true, "TLSRoute": true, "TCPRoute": true, "UDPRoute": true, "ReferenceGrant": true,
	// backups: what a schedule covers, and how its backups and restores went
	"Schedule": true, "Backup": true, "Restore": true, "BackupStorageLocation": true, "Policy": true, "RestoreAction": true,
}

// Slim drops the parts of o's content that no cross-object control reads,
// once the per-object controls have seen the whole object: everything of a
// workload but its metadata and replica count (the pod spec and labels are
// kept typed in w), and everything but apiVersion, kind and metadata of
// unrelated kinds, such as the large schemas of
// CustomResourceDefinitions. Large inputs then keep memory close to what
// cross-object analysis needs. Only objects the engine owns are slimmed.
func Slim(o *object.Object, w *Workload) {
	if w != nil {
		w.slim()
		// the pod view lives on in w; cross-object analysis reads the
		// replica count, the selector and the volume claims besides it
		spec, _ := o.Content["spec"].(map[string]any)
		keep(o.Content)
		kept := map[string]any{}
		for _, k := range []string{"replicas", "selector", "volumeClaimTemplates"} {
			if v, ok := spec[k]; ok {
				kept[k] = v
			}
		}
		if len(kept) > 0 {
			o.Content["spec"] = kept
		}
		return
	}
	if !related[o.Kind] {
		keep(o.Content)
	}
}

// keep reduces content to the object's identity and metadata.
func keep(content map[string]any) {
	for k := range content {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			delete(content, k)
		}
	}
}

// slim drops what no cross-object analysis reads of a workload's typed
// view: resources, probes, security contexts, commands, scheduling. What
// stays: the service account and its token, host networking, volumes, and
// each container's name, image, ports (named ports for NetworkPolicies)
// and environment (Secret and ConfigMap references).
func (w *Workload) slim() {
	w.isolated = nil
	s := &w.Spec
	s.Affinity, s.Tolerations, s.SecurityContext, s.TopologySpreadConstraints = nil, nil, nil, nil
	s.DNSConfig, s.HostAliases, s.ReadinessGates, s.Overhead, s.SchedulingGates = nil, nil, nil, nil, nil
	s.ResourceClaims, s.Resources, s.NodeSelector, s.ImagePullSecrets = nil, nil, nil, nil
	for _, c := range w.Containers {
		*c.Container = corev1.Container{Name: c.Name, Image: c.Image, Ports: c.Ports, Env: c.Env, EnvFrom: c.EnvFrom,
			ImagePullPolicy: c.ImagePullPolicy}
	}
}
