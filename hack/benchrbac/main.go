// Command benchrbac measures RBAC analysis at scale (make bench-rbac):
// 10,000 roles and 20,000 bindings over 200 namespaces, generated in
// memory. It prints the time to build the model, to answer one who-can
// query, to compute one access matrix and the full risks report, and the
// peak RSS.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

const (
	namespaces = 200
	roles      = 10_000
	bindings   = 20_000
)

var (
	verbs     = []any{"get", "list", "watch", "create", "update", "patch", "delete"}
	resources = []any{"pods", "pods/exec", "pods/log", "secrets", "configmaps", "services", "deployments", "jobs", "serviceaccounts/token"}
)

func main() {
	r := rand.New(rand.NewPCG(7, 7))
	pick := func(l []any, n int) []any {
		out := make([]any, 0, n)
		for range n {
			out = append(out, l[r.IntN(len(l))])
		}
		return out
	}
	meta := func(name, ns string) map[string]any {
		m := map[string]any{"name": name}
		if ns != "" {
			m["namespace"] = ns
		}
		return m
	}
	rule := func() map[string]any {
		return map[string]any{"apiGroups": []any{"", "apps", "batch"}, "resources": pick(resources, 1+r.IntN(2)), "verbs": pick(verbs, 1+r.IntN(3))}
	}
	inv := inventory.New()
	add := func(c map[string]any) {
		o := object.New(c, object.Position{}, nil)
		w, _ := inventory.ExtractWorkload(o)
		inv.Add(o, w)
	}
	for i := range namespaces {
		add(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta(fmt.Sprintf("ns-%d", i), "")})
		for j := range 5 {
			add(map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(fmt.Sprintf("sa-%d", j), fmt.Sprintf("ns-%d", i))})
		}
	}
	for i := range roles {
		rules := []any{rule(), rule()}
		if i%10 == 0 {
			add(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(fmt.Sprintf("cr-%d", i), ""), "rules": rules})
			continue
		}
		add(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
			"metadata": meta(fmt.Sprintf("role-%d", i), fmt.Sprintf("ns-%d", i%namespaces)), "rules": rules})
	}
	for i := range bindings {
		ns := fmt.Sprintf("ns-%d", i%namespaces)
		subj := []any{map[string]any{"kind": "User", "name": fmt.Sprintf("user-%d", r.IntN(2000))},
			map[string]any{"kind": "ServiceAccount", "name": fmt.Sprintf("sa-%d", r.IntN(5)), "namespace": ns}}
		if i%20 == 0 {
			add(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(fmt.Sprintf("crb-%d", i), ""),
				"roleRef": map[string]any{"kind": "ClusterRole", "name": fmt.Sprintf("cr-%d", r.IntN(roles/10)*10)}, "subjects": subj})
			continue
		}
		role := r.IntN(roles)
		ref := map[string]any{"kind": "Role", "name": fmt.Sprintf("role-%d", role)}
		if role%10 == 0 {
			ref = map[string]any{"kind": "ClusterRole", "name": fmt.Sprintf("cr-%d", role)}
		}
		add(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(fmt.Sprintf("rb-%d", i), ns),
			"roleRef": ref, "subjects": subj})
	}
	fmt.Printf("%d namespaces, %d roles, %d bindings, %d objects\n", namespaces, roles, bindings, inv.Len())

	start := time.Now()
	m := rbac.Of(inv)
	fmt.Printf("build model:        %8.3f s\n", time.Since(start).Seconds())

	start = time.Now()
	const queries = 100
	n := 0
	for i := range queries {
		n += len(m.WhoCan(rbac.Request{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: fmt.Sprintf("ns-%d", i)}))
	}
	fmt.Printf("who-can (1 query):  %8.3f ms  (%d grants over %d queries)\n", time.Since(start).Seconds()*1000/queries, n, queries)

	start = time.Now()
	cells := m.Access(rbac.ServiceAccountUser("ns-1", "sa-1"), inv, nil)
	fmt.Printf("access matrix:      %8.3f s  (%d rows over %d namespaces)\n", time.Since(start).Seconds(), len(cells), namespaces)

	start = time.Now()
	risks := m.Risks(inv, rbac.RiskOptions{})
	fmt.Printf("risks report:       %8.3f s  (%d subjects at risk)\n", time.Since(start).Seconds(), len(risks))
	fmt.Printf("peak RSS:           %8d MiB\n", peakRSS()/1024)
}

func peakRSS() int {
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), "%d", &kb)
			return kb
		}
	}
	return 0
}
