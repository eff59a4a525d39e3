package inventory

import (
	"testing"

	"github.com/kubeguard/kubeguard/pkg/object"
)

func TestSlim(t *testing.T) {
	dep := object.New(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d"},
		"spec": map[string]any{
			"replicas": int64(2),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "d"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "d"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x"}}},
			},
		},
	}, object.Position{}, nil)
	w, err := ExtractWorkload(dep)
	if err != nil || w == nil {
		t.Fatal(w, err)
	}
	Slim(dep, w)
	if _, ok := object.Get(dep.Content, "spec.template.spec"); ok {
		t.Error("pod spec kept in content")
	}
	if _, ok := object.Get(dep.Content, "spec.template"); ok {
		t.Error("template kept in content")
	}
	for _, p := range []string{"spec.replicas", "metadata.name"} {
		if _, ok := object.Get(dep.Content, p); !ok {
			t.Errorf("%s dropped", p)
		}
	}
	if w.Spec.Containers[0].Image != "x" {
		t.Error("typed pod spec lost")
	}

	crd := object.New(map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "c"}, "spec": map[string]any{"group": "g"}}, object.Position{}, nil)
	Slim(crd, nil)
	if _, ok := crd.Content["spec"]; ok || crd.Name != "c" || crd.Content["metadata"] == nil {
		t.Errorf("unrelated kind not reduced to its metadata: %v", crd.Content)
	}

	svc := object.New(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s"},
		"spec": map[string]any{"selector": map[string]any{"app": "d"}}}, object.Position{}, nil)
	Slim(svc, nil)
	if _, ok := object.Get(svc.Content, "spec.selector.app"); !ok {
		t.Error("a related kind lost its spec")
	}
}
