package inventory

import (
	"strings"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// related are the kinds cross-object controls read in full: what selects,
// binds, references or configures another object. Every other kind keeps
// only its identity and metadata once per-object controls are done.
var related = map[string]bool{
	"Namespace": true, "ServiceAccount": true, "Service": true, "Ingress": true,
	"NetworkPolicy": true, "Role": true, "ClusterRole": true, "RoleBinding": true,
	"ClusterRoleBinding": true, "PodDisruptionBudget": true, "HorizontalPodAutoscaler": true,
	"ConfigMap": true, "Secret": true,
	"AdminNetworkPolicy": true, "BaselineAdminNetworkPolicy": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
}

// Slim drops the parts of o's content that no cross-object control reads,
// once the per-object controls have seen the whole object: a workload's
// pod spec (kept typed in w) and everything but apiVersion, kind and
// metadata of unrelated kinds, such as the large schemas of
// CustomResourceDefinitions. Large inputs then keep memory close to what
// cross-object analysis needs. Only objects the engine owns are slimmed.
func Slim(o *object.Object, w *Workload) {
	if w != nil {
		parent, field := "", w.SpecPath
		if i := strings.LastIndexByte(w.SpecPath, '.'); i >= 0 {
			parent, field = w.SpecPath[:i], w.SpecPath[i+1:]
		}
		if m, ok := object.Get(o.Content, parent); ok {
			if m, ok := m.(map[string]any); ok {
				delete(m, field)
			}
		}
		return
	}
	if related[o.Kind] {
		return
	}
	for k := range o.Content {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			delete(o.Content, k)
		}
	}
}
