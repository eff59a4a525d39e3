package netpol_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/netpol"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// Each upstream case is loaded into a real API server; the analysis of
// what the cluster returns must equal the analysis of the files, and both
// must match the truth tables.
func TestE2EClusterAnalysisEqualsFiles(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 500, 500
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	pairs := 0
	for _, uc := range upstreamCases {
		manifests := uc.Manifests()
		var created []*unstructured.Unstructured
		objs, err := testcluster.Objects(manifests)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			if _, err := testcluster.Resource(dyn, u).Create(ctx, u, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) && u.GetKind() == "Namespace" {
					continue
				}
				t.Fatalf("%s: creating %s %s: %v", uc.name, u.GetKind(), u.GetName(), err)
			}
			if u.GetKind() != "Namespace" {
				created = append(created, u)
			}
		}
		inv, err := live.List(ctx, rc, live.NetpolKinds)
		if err != nil {
			t.Fatal(err)
		}
		pairs += uc.Check(t, inv)

		files := loadString(t, uc.name, manifests)
		fm, cm := netpol.Of(files), netpol.Of(inv)
		fcells := fm.Matrix(append(netpol.Workloads(files), netpol.Internet))
		ccells := cm.Matrix(append(netpol.Workloads(inv), netpol.Internet))
		if len(fcells) != len(ccells) {
			t.Fatalf("%s: %d cells from files, %d from the cluster", uc.name, len(fcells), len(ccells))
		}
		for i := range fcells {
			if fcells[i].Src != ccells[i].Src || fcells[i].Dst != ccells[i].Dst || fcells[i].Allow != ccells[i].Allow {
				t.Errorf("%s: files say %+v, cluster says %+v", uc.name, fcells[i], ccells[i])
			}
		}

		// Pods without a node are deleted at once; the next case starts
		// from empty namespaces.
		for _, u := range created {
			if err := testcluster.Resource(dyn, u).Delete(ctx, u.GetName(), metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			left, err := live.List(ctx, rc, live.NetpolKinds[1:])
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range left.Entries() {
				if strings.Contains("xyz", e.Object.Namespace) && len(e.Object.Namespace) == 1 {
					n++
				}
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d objects not deleted", uc.name, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d cases loaded into the API server, %d pod pairs compared", len(upstreamCases), pairs)
}

// AdminNetworkPolicies read from a cluster serving their CRDs give the
// same answers as from files.
func TestE2EAdminPoliciesFromCluster(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(rc)
	ctx := context.Background()
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, kind := range []string{"AdminNetworkPolicy", "BaselineAdminNetworkPolicy"} {
		plural := strings.ToLower(kind) + "ies"
		plural = strings.TrimSuffix(plural, "yies") + "ies"
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			// *.k8s.io groups need the approval annotation the upstream
			// network-policy-api CRDs carry.
			"metadata": map[string]any{"name": plural + ".policy.networking.k8s.io",
				"annotations": map[string]any{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/network-policy-api/pull/30"}},
			"spec": map[string]any{"group": "policy.networking.k8s.io", "scope": "Cluster",
				"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind)},
				"versions": []any{map[string]any{"name": "v1alpha1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}
		if _, err := dyn.Resource(crds).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	manifests := strings.ReplaceAll(anpPods(), `{name: "x"}`, `{name: "anp-x"}`)
	manifests = strings.ReplaceAll(manifests, `{name: "y"}`, `{name: "anp-y"}`)
	manifests = strings.ReplaceAll(manifests, `namespace: "x"`, `namespace: "anp-x"`)
	manifests = strings.ReplaceAll(manifests, `namespace: "y"`, `namespace: "anp-y"`)
	manifests += anpHeader + `metadata: {name: deny-from-anp-y}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: anp-x}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: anp-y}}}], ports: [{portNumber: {protocol: TCP, port: 81}}]}]
---
` + banpHeader + `metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: anp-y}}}
  egress: [{name: deny-all, action: Deny, to: [{networks: [0.0.0.0/0]}]}]`
	deadline := time.Now().Add(30 * time.Second)
	objs, err := testcluster.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range objs {
		for {
			_, err := testcluster.Resource(dyn, u).Create(ctx, u, metav1.CreateOptions{})
			if err == nil {
				break
			}
			// A new CRD is served a moment after it is created.
			if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
				t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	inv, err := live.List(ctx, rc, live.NetpolKinds)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.OfKind("AdminNetworkPolicy")) != 1 || len(inv.OfKind("BaselineAdminNetworkPolicy")) != 1 {
		t.Fatal("admin policies not read from the cluster")
	}
	files := loadString(t, "anp.yaml", manifests)
	var fc, cc []string
	for _, cells := range []struct {
		inv *inventory.Inventory
		out *[]string
	}{{files, &fc}, {inv, &cc}} {
		m := netpol.Of(cells.inv)
		var eps []*netpol.Endpoint
		for _, e := range netpol.Workloads(cells.inv) {
			if strings.HasPrefix(e.Name, "anp-") {
				eps = append(eps, e)
			}
		}
		for _, cell := range m.Matrix(append(eps, netpol.Internet)) {
			*cells.out = append(*cells.out, cell.Src+" -> "+cell.Dst+": "+cell.Allow)
		}
	}
	if strings.Join(fc, "\n") != strings.Join(cc, "\n") {
		t.Errorf("files:\n%s\ncluster:\n%s", strings.Join(fc, "\n"), strings.Join(cc, "\n"))
	}
	joined := strings.Join(cc, "\n")
	for _, want := range []string{
		"anp-y/Pod/a -> anp-x/Pod/a: TCP/1-80,82-65535 UDP/all SCTP/all",
		"anp-y/Pod/a -> internet: none",
		"anp-x/Pod/a -> internet: all",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("matrix lacks %q:\n%s", want, joined)
		}
	}
}
