package rbac_test

// Ground truth is the real authorizer: generated RBAC is loaded into a real
// kube-apiserver (with the controller manager aggregating ClusterRoles), and
// kubeguard's answers are compared with SubjectAccessReview.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

var (
	namespaces = []string{"rb-0", "rb-1", "rb-2", "rb-3"}
	resources  = []struct{ group, resource string }{
		{"", "pods"}, {"", "pods/exec"}, {"", "pods/log"}, {"", "secrets"}, {"", "configmaps"},
		{"apps", "deployments"}, {"apps", "deployments/scale"}, {"", "nodes"},
	}
	verbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	names = []string{"cm-1", "pod-a"}
)

// generator makes random but reproducible RBAC.
type generator struct{ r *rand.Rand }

func (g generator) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g generator) rule() rbacv1.PolicyRule {
	var rule rbacv1.PolicyRule
	if g.r.IntN(20) == 0 {
		rule.Verbs = []string{"*"}
	} else {
		for range 1 + g.r.IntN(2) {
			rule.Verbs = append(rule.Verbs, g.pick(verbs))
		}
	}
	groups := map[string]bool{}
	for range 1 + g.r.IntN(2) {
		res := resources[g.r.IntN(len(resources))]
		name := res.resource
		switch g.r.IntN(30) {
		case 0:
			name = "*"
		case 1:
			if _, sub, ok := strings.Cut(name, "/"); ok {
				name = "*/" + sub
			}
		}
		rule.Resources = append(rule.Resources, name)
		groups[res.group] = true
	}
	if g.r.IntN(20) == 0 {
		rule.APIGroups = []string{"*"}
	} else {
		for gr := range groups {
			rule.APIGroups = append(rule.APIGroups, gr)
		}
	}
	if g.r.IntN(5) == 0 {
		rule.ResourceNames = []string{g.pick(names)}
	}
	return rule
}

func (g generator) subjects(ns string) []rbacv1.Subject {
	var out []rbacv1.Subject
	for range 1 + g.r.IntN(2) {
		switch g.r.IntN(9) {
		case 0, 1, 2:
			out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("u-%d", g.r.IntN(40))})
		case 3, 4:
			out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("g-%d", g.r.IntN(20))})
		case 5:
			if g.r.IntN(3) == 0 {
				out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:" + g.pick(namespaces)})
			} else {
				out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("u-%d", g.r.IntN(40))})
			}
		case 6:
			// Namespace omitted: a RoleBinding's own namespace applies.
			if ns != "" {
				out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: fmt.Sprintf("sa-%d", g.r.IntN(4))})
				break
			}
			fallthrough
		default:
			out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: g.pick(namespaces), Name: fmt.Sprintf("sa-%d", g.r.IntN(4))})
		}
	}
	return out
}

type objects struct {
	clusterRoles []*rbacv1.ClusterRole
	roles        []*rbacv1.Role
	rbs          []*rbacv1.RoleBinding
	crbs         []*rbacv1.ClusterRoleBinding
}

func generate() objects {
	g := generator{rand.New(rand.NewPCG(1, 2))}
	var o objects
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubeguard-e2e": "rbac"}}
	}
	for i := range 120 {
		cr := &rbacv1.ClusterRole{ObjectMeta: meta(fmt.Sprintf("e2e-cr-%d", i))}
		for range 1 + g.r.IntN(3) {
			cr.Rules = append(cr.Rules, g.rule())
		}
		switch g.r.IntN(10) {
		case 0, 1:
			cr.Labels["e2e-agg"] = "a"
		case 2, 3:
			cr.Labels["e2e-agg"] = "b"
		}
		o.clusterRoles = append(o.clusterRoles, cr)
	}
	sel := func(expr ...metav1.LabelSelectorRequirement) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchExpressions: expr}}
	}
	in := func(k string, v ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: v}
	}
	agg := func(name string, labels map[string]string, own bool, sels []metav1.LabelSelector) {
		cr := &rbacv1.ClusterRole{ObjectMeta: meta(name), AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: sels}}
		for k, v := range labels {
			cr.Labels[k] = v
		}
		if own {
			// The controller replaces an aggregated role's own rules.
			cr.Rules = []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
		}
		o.clusterRoles = append(o.clusterRoles, cr)
	}
	agg("e2e-agg-a", map[string]string{"e2e-chain": "1"}, true, sel(in("e2e-agg", "a")))
	agg("e2e-agg-b", nil, false, sel(in("e2e-agg", "b")))
	agg("e2e-agg-ab", nil, false, []metav1.LabelSelector{{MatchLabels: map[string]string{"e2e-agg": "a"}}, {MatchLabels: map[string]string{"e2e-agg": "b"}}})
	agg("e2e-agg-chain", nil, false, sel(in("e2e-chain", "1")))
	o.clusterRoles = append(o.clusterRoles, &rbacv1.ClusterRole{ObjectMeta: meta("e2e-metrics"),
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics", "/debug/*"}}}})

	for i := range 100 {
		ns := namespaces[i%len(namespaces)]
		r := &rbacv1.Role{ObjectMeta: meta(fmt.Sprintf("e2e-role-%d", i))}
		r.Namespace = ns
		for range 1 + g.r.IntN(3) {
			r.Rules = append(r.Rules, g.rule())
		}
		// Non-resource rules in a Role grant nothing; the API server
		// rejects them, so none are generated.
		o.roles = append(o.roles, r)
	}
	for i := range 300 {
		ns := g.pick(namespaces)
		rb := &rbacv1.RoleBinding{ObjectMeta: meta(fmt.Sprintf("e2e-rb-%d", i)), Subjects: g.subjects(ns)}
		rb.Namespace = ns
		if g.r.IntN(2) == 0 {
			rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.clusterRoles[g.r.IntN(len(o.clusterRoles))].Name}
		} else {
			// A Role of the binding's namespace, or a missing one.
			name := fmt.Sprintf("e2e-role-%d", g.r.IntN(110))
			rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}
		}
		o.rbs = append(o.rbs, rb)
	}
	for i := range 40 {
		o.crbs = append(o.crbs, &rbacv1.ClusterRoleBinding{ObjectMeta: meta(fmt.Sprintf("e2e-crb-%d", i)), Subjects: g.subjects(""),
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.clusterRoles[g.r.IntN(len(o.clusterRoles))].Name}})
	}
	return o
}

func TestE2ERBACAgreesWithSubjectAccessReview(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 1000, 1000
	client := kubernetes.NewForConfigOrDie(rc)
	ctx := context.Background()

	objs := generate()
	for _, ns := range namespaces {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rb := client.RbacV1()
	for _, o := range objs.clusterRoles {
		if _, err := rb.ClusterRoles().Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs.roles {
		if _, err := rb.Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs.rbs {
		if _, err := rb.RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs.crbs {
		if _, err := rb.ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Wait for the aggregation controller to settle: the stored rules of
	// every aggregated role equal what the model computes.
	var model *rbac.Model
	deadline := time.Now().Add(60 * time.Second)
	for {
		inv, err := live.List(ctx, rc, live.RBACKinds)
		if err != nil {
			t.Fatal(err)
		}
		model = rbac.Of(inv)
		settled := true
		for _, e := range inv.OfKind("ClusterRole") {
			r, _ := model.RoleNamed("", e.Object.Name)
			stored, _ := e.Object.Content["rules"].([]any)
			if r.Aggregated && len(stored) != len(r.Rules) {
				settled = false
			}
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("aggregated ClusterRoles never matched the model")
		}
		time.Sleep(500 * time.Millisecond)
	}

	var users []rbac.User
	for i := range 12 {
		users = append(users, rbac.User{Name: fmt.Sprintf("u-%d", i), Groups: []string{fmt.Sprintf("g-%d", i), "system:authenticated"}})
	}
	for _, ns := range namespaces {
		for i := range 2 {
			users = append(users, rbac.ServiceAccountUser(ns, fmt.Sprintf("sa-%d", i)))
		}
	}
	var reqs []rbac.Request
	for _, v := range []string{"get", "list", "create", "delete", "patch"} {
		for _, res := range resources {
			resource, sub, _ := strings.Cut(res.resource, "/")
			for _, ns := range append([]string{""}, namespaces...) {
				for _, name := range []string{"", "cm-1"} {
					reqs = append(reqs, rbac.Request{Verb: v, Group: res.group, Resource: resource, Subresource: sub, Namespace: ns, Name: name})
				}
			}
		}
	}
	for _, p := range []string{"/metrics", "/debug/pprof/heap", "/healthz", "/version", "/apis"} {
		reqs = append(reqs, rbac.Request{Verb: "get", Path: p})
	}

	// Ask the API server about every user and request.
	type answer struct{ u, r int }
	sar := make(map[answer]bool, len(users)*len(reqs))
	var mu sync.Mutex
	work := make(chan answer)
	var wg sync.WaitGroup
	var failure error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				u, r := users[a.u], reqs[a.r]
				spec := authzv1.SubjectAccessReviewSpec{User: u.Name, Groups: u.Groups}
				if r.NonResource() {
					spec.NonResourceAttributes = &authzv1.NonResourceAttributes{Path: r.Path, Verb: r.Verb}
				} else {
					spec.ResourceAttributes = &authzv1.ResourceAttributes{Namespace: r.Namespace, Verb: r.Verb, Group: r.Group,
						Resource: r.Resource, Subresource: r.Subresource, Name: r.Name}
				}
				res, err := client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
				mu.Lock()
				if err != nil && failure == nil {
					failure = err
				} else if err == nil {
					sar[a] = res.Status.Allowed
				}
				mu.Unlock()
			}
		}()
	}
	for u := range users {
		for r := range reqs {
			work <- answer{u, r}
		}
	}
	close(work)
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}

	accessCmp, whoCmp, allowed, accessOK, whoOK := 0, 0, 0, 0, 0
	for ri, r := range reqs {
		who := model.WhoCan(r)
		for ui, u := range users {
			want := sar[answer{ui, ri}]
			if want {
				allowed++
			}
			if got := len(model.Allowed(u, r)) > 0; got != want {
				t.Errorf("access: %s %+v: kubeguard %v, SubjectAccessReview %v", u.Name, r, got, want)
			} else {
				accessOK++
			}
			accessCmp++
			covered := false
			for _, gr := range who {
				covered = covered || rbac.Covers(gr.Subject, u)
			}
			if covered != want {
				t.Errorf("who-can: %s %+v: kubeguard %v, SubjectAccessReview %v", u.Name, r, covered, want)
			} else {
				whoOK++
			}
			whoCmp++
		}
	}
	if allowed == 0 || allowed == accessCmp {
		t.Errorf("%d of %d requests allowed: the generated RBAC does not discriminate", allowed, accessCmp)
	}
	t.Logf("agreement with SubjectAccessReview: access %d/%d, who-can %d/%d (%d allowed) over %d users x %d requests",
		accessOK, accessCmp, whoOK, whoCmp, allowed, len(users), len(reqs))
}
