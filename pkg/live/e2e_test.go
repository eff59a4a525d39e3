package live_test

import (
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/object"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// object.ClusterScoped must agree with the API server on every kind it
// serves: namespaces of cluster-scoped objects are ignored, and a
// namespaced object without one gets the default.
func TestE2EClusterScopedKindsMatchDiscovery(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	_, lists, err := discovery.NewDiscoveryClientForConfigOrDie(rc).ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range lists {
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresources
			}
			n++
			ref := object.Ref{APIVersion: l.GroupVersion, Kind: r.Kind}
			if got := object.ClusterScoped(ref); got != !r.Namespaced {
				t.Errorf("%s %s: ClusterScoped says %v, the API server namespaced=%v", l.GroupVersion, r.Kind, got, r.Namespaced)
			}
		}
	}
	if n < 50 {
		t.Fatalf("discovery served only %d kinds", n)
	}
}
