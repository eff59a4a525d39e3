package reach_test

import (
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
	"github.com/kubeguard/kubeguard/pkg/reach"
	"github.com/kubeguard/kubeguard/pkg/report"
)

func TestReach(t *testing.T) {
	eng, err := engine.New(engine.Options{Catalog: control.NewCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	inputs, diags := object.Expand([]string{"testdata/shop.yaml"}, nil)
	res := eng.ScanInputs(inputs)
	if len(diags)+len(res.Diagnostics) > 0 {
		t.Fatalf("%v %v", diags, res.Diagnostics)
	}
	inv := res.Inventory
	got := reach.Of(inv, rbac.Of(inv).Risks(inv, rbac.RiskOptions{}))
	of := func(kind, ns, name string) report.Reach {
		for _, e := range inv.All(kind, ns, name) {
			return got[report.ReachKey(e.Object.Ref, e.Object.Source)]
		}
		t.Fatalf("%s/%s/%s is not in the fixture", kind, ns, name)
		return report.Reach{}
	}
	for _, c := range []struct {
		kind, ns, name string
		score          int
		why            []string // substrings, furthest first
	}{
		{"Deployment", "shop", "web", 100 + reach.Internet, []string{
			"runs as sa:shop/deployer with its token mounted, which holds every verb on every resource cluster-wide: full control of the cluster",
			"LoadBalancer Service/shop/web accepts connections from any address"}},
		{"Service", "shop", "web", reach.Internet, []string{"exposes Deployment/shop/web: LoadBalancer Service/shop/web"}},
		{"Deployment", "shop", "quiet", 0, nil},    // no token mounted
		{"Deployment", "shop", "internal", 0, nil}, // private source ranges
		{"Service", "shop", "internal", 0, nil},
		{"Deployment", "shop", "private", reach.Nodes, []string{"internal LoadBalancer Service/shop/private accepts connections from any address of the cloud network"}},
		{"Deployment", "shop", "nodeport", reach.Nodes, []string{"NodePort Service/shop/nodeport opens a port on every node"}},
		{"Deployment", "shop", "front", reach.Internet, []string{"Ingress/shop/front routes traffic from outside the cluster to it through Service/shop/front"}},
		{"Ingress", "shop", "front", reach.Internet, []string{"routes traffic from outside the cluster to Deployment/shop/front"}},
		{"Service", "shop", "front", 0, nil},      // ClusterIP: reached through the Ingress
		{"Deployment", "vault", "locked", 0, nil}, // default deny
		{"Service", "vault", "locked", 0, nil},
		{"Deployment", "api", "granted", reach.Internet, []string{"HTTPRoute/edge/edge routes traffic from outside the cluster to it through Service/api/granted"}},
		{"Deployment", "api", "ungranted", 0, nil}, // no ReferenceGrant
		{"HTTPRoute", "edge", "edge", reach.Internet, []string{"to Deployment/api/granted"}},
		{"DaemonSet", "ops", "agent", reach.Nodes, []string{"container agent binds port 9100 of its node"}},
		{"DaemonSet", "ops", "sniffer", reach.Nodes, []string{"shares its node's network: container sniffer listens on the node's port 8080"}},
		{"Job", "ops", "batch", 0, nil},
	} {
		r := of(c.kind, c.ns, c.name)
		if r.Score != c.score || len(r.Why) != len(c.why) {
			t.Errorf("%s/%s/%s: reach %d %q, want %d with %d reasons", c.kind, c.ns, c.name, r.Score, r.Why, c.score, len(c.why))
			continue
		}
		for i, w := range c.why {
			if !strings.Contains(r.Why[i], w) {
				t.Errorf("%s/%s/%s: reason %d is %q, want it to say %q", c.kind, c.ns, c.name, i, r.Why[i], w)
			}
		}
	}
}
