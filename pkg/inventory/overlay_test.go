package inventory

import (
	"testing"

	"github.com/kubeguard/kubeguard/pkg/object"
)

func obj(kind, ns, name, version string) *object.Object {
	return object.New(map[string]any{"apiVersion": "v1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"v": version}}}, object.Position{}, nil)
}

func TestOverlayReplacesAndSharesMemos(t *testing.T) {
	base := New()
	base.Add(obj("ServiceAccount", "a", "sa", "old"), nil)
	base.Add(obj("ServiceAccount", "a", "other", "old"), nil)
	base.Add(obj("NetworkPolicy", "a", "np", "old"), nil)
	builds := 0
	count := func(inv *Inventory) any { builds++; return len(inv.OfKind("NetworkPolicy")) }
	base.Memo("np", []string{"NetworkPolicy"}, count)

	ov := Overlay(base, obj("ServiceAccount", "a", "sa", "new"), nil)
	if e, ok := ov.Get("ServiceAccount", "a", "sa"); !ok || e.Object.Metadata("labels")["v"] != "new" {
		t.Errorf("Get returns the base object, not the replacement")
	}
	if got := ov.OfKind("ServiceAccount"); len(got) != 2 {
		t.Errorf("OfKind = %d objects, want 2 (replacement + other)", len(got))
	}
	if got := ov.All("ServiceAccount", "a", "sa"); len(got) != 1 {
		t.Errorf("All = %d objects, want only the replacement", len(got))
	}
	if ov.Len() != 3 || len(ov.Entries()) != 3 {
		t.Errorf("Len = %d, Entries = %d, want 3", ov.Len(), len(ov.Entries()))
	}
	if _, ok := ov.Get("NetworkPolicy", "a", "np"); !ok {
		t.Error("base objects not visible through the overlay")
	}
	ov.Memo("np", []string{"NetworkPolicy"}, count)
	if builds != 1 {
		t.Errorf("memo over NetworkPolicies rebuilt for a ServiceAccount overlay (%d builds)", builds)
	}
	ov2 := Overlay(base, obj("NetworkPolicy", "a", "np2", "new"), nil)
	if n := ov2.Memo("np", []string{"NetworkPolicy"}, count).(int); n != 2 || builds != 2 {
		t.Errorf("memo over NetworkPolicies not rebuilt with a new policy: %d policies, %d builds", n, builds)
	}
}
