package netpol_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/internal/testcluster"
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
		for _, doc := range strings.Split(manifests, "\n---\n") {
			var u unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatal(err)
			}
			gvr, _ := meta.UnsafeGuessKindToResource(u.GroupVersionKind())
			var ri dynamic.ResourceInterface = dyn.Resource(gvr)
			if ns := u.GetNamespace(); ns != "" {
				ri = dyn.Resource(gvr).Namespace(ns)
			}
			if _, err := ri.Create(ctx, &u, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) && u.GetKind() == "Namespace" {
					continue
				}
				t.Fatalf("%s: creating %s %s: %v", uc.name, u.GetKind(), u.GetName(), err)
			}
			if u.GetKind() != "Namespace" {
				created = append(created, &u)
			}
		}
		inv, err := live.List(ctx, dyn, live.NetpolKinds)
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
			gvr, _ := meta.UnsafeGuessKindToResource(u.GroupVersionKind())
			if err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Delete(ctx, u.GetName(), metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			left, err := live.List(ctx, dyn, live.NetpolKinds[1:])
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
