package audit

import (
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

func TestUsage(t *testing.T) {
	u := NewUsage()
	add := func(user, verb, group, resource, sub, ns string, code int32) {
		e := &Event{Event: *ev(user, verb, resource, ns, "10.244.0.1", "app/v1", t0)}
		e.ObjectRef.APIGroup, e.ObjectRef.Subresource = group, sub
		e.ResponseStatus.Code = code
		u.Add(e)
	}
	add(reporter, "get", "", "configmaps", "", "shop", 200)
	add(reporter, "list", "", "configmaps", "", "shop", 200)
	add(reporter, "get", "", "configmaps", "", "billing", 200)
	add(reporter, "update", "coordination.k8s.io", "leases", "", "shop", 200)
	add(reporter, "list", "", "nodes", "", "", 200)
	add(reporter, "get", "", "secrets", "", "kube-system", 403) // denied: not used
	add("alice", "get", "", "pods", "", "shop", 200)            // not a service account
	if len(u.Accounts) != 1 || len(u.Accounts["shop/reporter"]) != 5 {
		t.Fatalf("usage: %v", u.Accounts)
	}
	objs := u.MinimalRBAC("shop/reporter")
	var roles []string
	for _, o := range objs {
		switch r := o.(type) {
		case *rbacv1.Role:
			roles = append(roles, r.Namespace+": "+rulesString(r.Rules))
		case *rbacv1.ClusterRole:
			roles = append(roles, "cluster: "+rulesString(r.Rules))
		}
	}
	want := []string{"cluster: list nodes", "billing: get configmaps", "shop: get,list configmaps; update leases.coordination.k8s.io"}
	if !slices.Equal(roles, want) || len(objs) != 6 {
		t.Errorf("roles %q, want %q (and a binding each)", roles, want)
	}
}

func rulesString(rs []rbacv1.PolicyRule) string {
	var parts []string
	for _, r := range rs {
		res := strings.Join(r.Resources, ",")
		if g := r.APIGroups[0]; g != "" {
			res += "." + g
		}
		parts = append(parts, strings.Join(r.Verbs, ",")+" "+res)
	}
	return strings.Join(parts, "; ")
}

// The example's reporter reads one ConfigMap; its Role grants reading
// Secrets and pods too: those are unused, Secrets first.
func TestUnused(t *testing.T) {
	u := NewUsage()
	f, err := os.Open("../../examples/audit/history.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if diags := Read(f, "history", u.Add); len(diags) > 0 {
		t.Fatal(diags)
	}
	eng, err := engine.New(engine.Options{Catalog: control.NewCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	inputs, diags := object.Expand([]string{"../../examples/audit/rbac.yaml"}, nil)
	res := eng.ScanInputs(inputs)
	if len(diags)+len(res.Diagnostics) > 0 {
		t.Fatal(diags, res.Diagnostics)
	}
	list := u.Unused(rbac.Of(res.Inventory))
	var got []string
	for _, x := range list {
		got = append(got, x.Permission)
	}
	want := []string{"get secrets", "list secrets", "watch secrets", "get pods", "list configmaps", "list pods", "watch configmaps", "watch pods"}
	if !slices.Equal(got, want) {
		t.Errorf("unused %v\nwant %v", got, want)
	}
}
