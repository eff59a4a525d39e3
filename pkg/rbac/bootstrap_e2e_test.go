package rbac_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

// The default roles kubeguard embeds must be the ones the API server of the
// pinned release creates: same names, and the same rules once the
// aggregation controller has filled admin, edit and view.
func TestE2EBootstrapRolesMatchAPIServer(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(rc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	model := rbac.Of(inventory.New())
	want := map[string]*rbac.Role{}
	for _, r := range model.Roles() {
		if !r.Builtin {
			t.Fatalf("empty inventory has a role that is not built in: %s", r.Object.Ref)
		}
		want[r.Object.Namespace+"/"+r.Object.Name] = r
	}
	if len(want) < 60 {
		t.Fatalf("only %d built-in roles", len(want))
	}
	sel := metav1.ListOptions{LabelSelector: "kubernetes.io/bootstrapping=rbac-defaults"}
	type stored struct {
		rules      []rbacv1.PolicyRule
		aggregated bool
	}
	var got map[string]stored
	// The aggregation controller fills admin, edit and view shortly after
	// the cluster starts.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got = map[string]stored{}
		crs, err := client.RbacV1().ClusterRoles().List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		// Aggregated roles fill in steps (view into edit into admin):
		// wait until they hold what the model computes, or the deadline.
		filled := true
		for _, cr := range crs.Items {
			got["/"+cr.Name] = stored{cr.Rules, cr.AggregationRule != nil}
			if r, ok := want["/"+cr.Name]; ok && cr.AggregationRule != nil {
				filled = filled && ruleSet(cr.Rules) == ruleSet(r.Rules)
			}
		}
		for _, ns := range []string{"kube-system", "kube-public"} {
			roles, err := client.RbacV1().Roles(ns).List(ctx, sel)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range roles.Items {
				got[ns+"/"+r.Name] = stored{rules: r.Rules}
			}
		}
		if filled {
			break
		}
		if time.Now().After(deadline) {
			break // the comparison below says what differs
		}
	}
	for name, s := range got {
		r, ok := want[name]
		if !ok {
			t.Errorf("API server has default role %s; kubeguard does not know it (run go generate ./pkg/rbac)", name)
			continue
		}
		if s.aggregated != r.Aggregated {
			t.Errorf("%s: aggregated %v in the API server, %v in kubeguard", name, s.aggregated, r.Aggregated)
		}
		if a, b := ruleSet(s.rules), ruleSet(r.Rules); a != b {
			t.Errorf("%s: rules differ\napi server:\n%s\nkubeguard:\n%s", name, a, b)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("kubeguard has default role %s; the API server does not", name)
		}
	}
	t.Logf("%d default roles agree with the API server of Kubernetes %s", len(got), rbac.BootstrapVersion())
}

func ruleSet(rules []rbacv1.PolicyRule) string {
	lines := make([]string, len(rules))
	for i, r := range rules {
		lines[i] = fmt.Sprintf("%v %v %v %v %v", r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
