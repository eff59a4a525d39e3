package imageverify

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// A policy with a namespace selector judges only the workloads of the
// namespaces it selects; findings sit on the container's image field and
// carry the policy's mode as their action.
func TestNamespaceSelector(t *testing.T) {
	f := newFixture(t)
	d := f.push(t, "acme/shop", "1.0") // unsigned
	ps, err := Compile(config.ImageVerify{TrustedRoot: f.rootFile, Policies: []config.ImagePolicy{{Name: "prod-only", Mode: config.Warn,
		Images: []string{f.host + "/acme/**"}, NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
		Authorities: []config.Authority{keyless(ciIdentity)}}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(ps, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.New()
	add := func(content map[string]any) {
		o := object.New(content, object.Position{File: "all.yaml", Line: 1}, nil)
		w, err := inventory.ExtractWorkload(o)
		if err != nil {
			t.Fatal(err)
		}
		inv.Add(o, w)
	}
	for ns, env := range map[string]string{"shop": "prod", "sandbox": "dev"} {
		add(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns, "labels": map[string]any{"env": env}}})
		add(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "app", "namespace": ns},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": d.String()}}}})
	}
	fs, diags := ps.Workloads(context.Background(), inv.Entries(), Namespaces(inv), nil, v.Verify, nil, 2)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if len(fs) != 1 || fs[0].Object.Namespace != "shop" || fs[0].ControlID != "IMG-SIGNATURE" || fs[0].Path != "spec.containers[0].image" ||
		fs[0].Action != "warn" || !strings.Contains(fs[0].Message, "fails policy prod-only: no signature is attached") {
		t.Fatalf("findings %+v", fs)
	}
}
