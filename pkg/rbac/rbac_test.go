package rbac_test

import (
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

func load(t *testing.T, path string) *inventory.Inventory {
	t.Helper()
	eng, err := engine.New(engine.Options{Catalog: control.NewCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	inputs, diags := object.Expand([]string{path}, nil)
	res := eng.ScanInputs(inputs)
	if len(diags)+len(res.Diagnostics) > 0 {
		t.Fatalf("%v %v", diags, res.Diagnostics)
	}
	return res.Inventory
}

func TestWhoCanPathsAndNames(t *testing.T) {
	inv := load(t, "testdata/escalation.yaml")
	m := rbac.Of(inv)
	who := func(r rbac.Request) []string {
		var out []string
		for _, g := range m.WhoCan(r) {
			out = append(out, rbac.SubjectString(g.Subject)+" via "+g.Binding.Object.Name)
		}
		return out
	}
	got := strings.Join(who(rbac.Request{Verb: "create", Resource: "pods", Namespace: "team"}), "; ")
	want := "sa:team/admin-sa via admin-sa-cluster-admin; sa:team/ghost via alice-pods; user:alice via alice-pods"
	if got != want {
		t.Errorf("who-can create pods -n team:\n got  %s\n want %s", got, want)
	}
	// resourceNames limit named requests only.
	if got := who(rbac.Request{Verb: "get", Resource: "configmaps", Namespace: "team", Name: "settings"}); len(got) != 3 {
		t.Errorf("get configmaps/settings: %v", got)
	}
	if got := who(rbac.Request{Verb: "get", Resource: "configmaps", Namespace: "team", Name: "other"}); len(got) != 1 {
		t.Errorf("get configmaps/other: %v, want only the cluster-admin", got)
	}
	// A RoleBinding grants nothing outside its namespace.
	if got := who(rbac.Request{Verb: "create", Resource: "pods", Namespace: "prod"}); len(got) != 1 {
		t.Errorf("create pods -n prod: %v", got)
	}
	if got := who(rbac.Request{Verb: "get", Path: "/metrics"}); len(got) != 1 {
		t.Errorf("get /metrics: %v", got)
	}
}

func TestRisksFollowPodCreationToServiceAccounts(t *testing.T) {
	inv := load(t, "testdata/escalation.yaml")
	risks := rbac.Of(inv).Risks(inv, rbac.RiskOptions{})
	by := map[string]rbac.SubjectRisk{}
	for _, r := range risks {
		by[r.Subject] = r
	}
	alice := by["user:alice"]
	if alice.Score != 99 || alice.Risks[0].Capability != "cluster-admin" || len(alice.Risks[0].Path) != 2 ||
		alice.Risks[0].Path[0].To != "sa:team/admin-sa" {
		t.Errorf("alice: %+v, want cluster-admin through sa:team/admin-sa", alice)
	}
	if r := by["user:bob"]; r.Score != 95 || r.Risks[0].Capability != "impersonate" {
		t.Errorf("bob: %+v", r)
	}
	if r := by["group:approvers"]; r.Score != 90 || r.Risks[0].Capability != "csr-approve" {
		t.Errorf("approvers: %+v", r)
	}
	sa := by["sa:team/admin-sa"]
	if len(sa.Workloads) != 1 || sa.Workloads[0].Ref != "Deployment/team/ops" || !sa.Workloads[0].Automount {
		t.Errorf("admin-sa blast radius: %+v", sa.Workloads)
	}
	if risks[0].Subject != "sa:team/admin-sa" || risks[0].Score != 100 {
		t.Errorf("ranking starts with %s (%d)", risks[0].Subject, risks[0].Score)
	}
	if _, ok := by["user:carol"]; ok {
		t.Error("carol is bound to a missing role and holds nothing")
	}
}

func TestHygiene(t *testing.T) {
	inv := load(t, "testdata/escalation.yaml")
	var got []string
	for _, is := range rbac.Of(inv).Hygiene(inv, false) {
		got = append(got, is.Kind+" "+is.Object)
	}
	want := []string{
		"cluster-admin-equivalent sa:team/admin-sa",
		"missing-role RoleBinding/team/dangling",
		"missing-serviceaccount RoleBinding/team/alice-pods",
		"unused-role Role/team/orphan",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hygiene:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseRequest(t *testing.T) {
	for in, want := range map[string]rbac.Request{
		"pods/exec":         {Verb: "get", Resource: "pods", Subresource: "exec"},
		"deployments":       {Verb: "get", Group: "apps", Resource: "deployments"},
		"widgets.acme.io":   {Verb: "get", Group: "acme.io", Resource: "widgets"},
		"/metrics":          {Verb: "get", Path: "/metrics"},
		"deployments/scale": {Verb: "get", Group: "apps", Resource: "deployments", Subresource: "scale"},
	} {
		got, err := rbac.ParseRequest("get", in, "", "", "")
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	if _, err := rbac.ParseSubject("sa:nonamespace"); err == nil {
		t.Error("sa without namespace accepted")
	}
}
