package finding

import (
	"slices"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/object"
)

func TestMerge(t *testing.T) {
	web := object.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}
	other := object.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api"}
	at := func(line int) object.Position { return object.Position{File: "app.yaml", Line: line, Column: 9} }
	add := "spec.template.spec.containers[0].securityContext.capabilities.add[0]"
	f := func(id string, sev Severity, ref object.Ref, path string, line int) *Finding {
		return &Finding{ControlID: id, Severity: sev, Object: ref, Path: path, Position: at(line), ObjectAt: at(1), Message: id}
	}
	fs := []*Finding{
		f("PSS-CAPABILITIES-BASELINE", High, web, add, 20),
		f("CTR-DANGEROUS-CAPABILITIES", Critical, web, add, 20),
		f("PSS-CAPABILITIES-RESTRICTED", Medium, web, add, 20),
		// another field of the same object: its own problem
		f("CTR-READONLY-ROOTFS", Medium, web, "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem", 19),
		// the same field of another object in another document
		f("CTR-DANGEROUS-CAPABILITIES", Critical, other, add, 40),
	}
	ps := Merge(fs)
	if len(ps) != 3 {
		t.Fatalf("%d problems, want 3", len(ps))
	}
	if p := ps[0]; p.ControlID != "CTR-DANGEROUS-CAPABILITIES" || !slices.Equal(p.ControlIDs(), []string{"CTR-DANGEROUS-CAPABILITIES", "PSS-CAPABILITIES-BASELINE", "PSS-CAPABILITIES-RESTRICTED"}) {
		t.Errorf("primary %s, controls %v", p.ControlID, p.ControlIDs())
	}

	// a suppression of the most severe control leaves the problem open,
	// led by the next one
	fs[1].Suppressed = &Suppression{Kind: "annotation", Reason: "r"}
	ps = Merge(fs)
	if p := ps[0]; !p.Open() || p.ControlID != "PSS-CAPABILITIES-BASELINE" || p.Severity != High {
		t.Errorf("with the critical one suppressed: open %v, primary %s %s", p.Open(), p.ControlID, p.Severity)
	}
	for _, g := range fs[:3] {
		g.Suppressed = &Suppression{Kind: "config", Reason: "r"}
	}
	if ps = Merge(fs); ps[0].Open() {
		t.Error("all suppressed: the problem is still open")
	}

	// two objects of one name in one file stay apart
	a, b := f("CTR-CPU-LIMIT", Low, web, "spec.containers[0].resources.limits.cpu", 8), f("CTR-CPU-LIMIT", Low, web, "spec.containers[0].resources.limits.cpu", 18)
	b.ObjectAt = at(11)
	if ps := Merge([]*Finding{a, b}); len(ps) != 2 {
		t.Errorf("two documents of one name: %d problems, want 2", len(ps))
	}

	// one source line in the renders of three overlays: one problem
	// listing the other two renders; a render read twice counts once
	base := object.Position{File: "base/deploy.yaml", Line: 17, Column: 11}
	var rs []*Finding
	for _, o := range []struct{ name, origin string }{{"web", "kustomize build base"}, {"dev-web", "kustomize build dev"}, {"prod-web", "kustomize build prod"}, {"prod-web", "kustomize build prod"}} {
		rs = append(rs, &Finding{ControlID: "PSS-PRIVILEGED", Severity: Critical, Object: object.Ref{Kind: "Deployment", Name: o.name},
			Path: "spec.template.spec.containers[0].securityContext.privileged", Position: base, Origin: o.origin, Message: "privileged"})
	}
	ps = Merge(rs)
	if len(ps) != 1 || len(ps[0].Renders) != 2 || ps[0].Renders[1].Origin != "kustomize build prod" {
		t.Fatalf("renders: %d problems %+v", len(ps), ps[0].Renders)
	}
	// a line of objects without a file (a cluster) never merges
	c1, c2 := *rs[0], *rs[1]
	c1.Position, c2.Position = object.Position{}, object.Position{}
	if ps := Merge([]*Finding{&c1, &c2}); len(ps) != 2 {
		t.Errorf("cluster objects merged: %d problems", len(ps))
	}
}

// Findings on the object as a whole (a team's policies) claim no field:
// each control's message is a problem of its own, never folded into
// another's, and a repeated one is one problem.
func TestMergeWholeObject(t *testing.T) {
	pod := object.Ref{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "web"}
	at := object.Position{File: "pod.yaml", Line: 1, Column: 1}
	f := func(id, msg string) *Finding {
		return &Finding{ControlID: id, Severity: Medium, Object: pod, Position: at, ObjectAt: at, Message: msg}
	}
	ps := Merge([]*Finding{
		f("GK-LIMITS", "container <web> has no limits"),
		f("GK-LABELS", "missing label pizza"),
		f("GK-LIMITS", "container <side> has no limits"),
		f("GK-LIMITS", "container <web> has no limits"),
	})
	var got []string
	for _, p := range ps {
		if len(p.Also) > 0 {
			t.Errorf("%s folded %d others in", p.Message, len(p.Also))
		}
		got = append(got, p.ControlID+": "+p.Message)
	}
	want := []string{"GK-LIMITS: container <web> has no limits", "GK-LABELS: missing label pizza", "GK-LIMITS: container <side> has no limits"}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}
