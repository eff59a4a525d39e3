// Command benchnetpol measures connectivity analysis (make bench-netpol):
// pods in namespaces with NetworkPolicies, generated in memory at three
// sizes up to 2,000 pods in 50 namespaces with 500 policies. It prints the
// time of the full matrix and of one explain query, the time per cell
// (which stays flat when the matrix scales with pods x pods x policies
// per namespace), and the peak RSS.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/netpol"
	"github.com/kubeguard/kubeguard/pkg/object"
)

func main() {
	fmt.Printf("%8s %6s %9s %10s %12s %10s %12s\n", "pods", "ns", "policies", "cells", "matrix s", "ns/cell", "explain ms")
	for _, size := range []struct{ pods, ns, policies int }{{500, 50, 500}, {1000, 50, 500}, {2000, 50, 250}, {2000, 50, 500}, {2000, 50, 1000}} {
		inv := generate(size.pods, size.ns, size.policies)
		m := netpol.Of(inv)
		eps := append(netpol.Workloads(inv), netpol.Internet)
		runtime.GC()
		start := time.Now()
		cells := m.Matrix(eps)
		d := time.Since(start)
		start = time.Now()
		const queries = 100
		for i := range queries {
			m.Connect(eps[i], eps[len(eps)-2-i], true)
		}
		q := time.Since(start)
		fmt.Printf("%8d %6d %9d %10d %12.3f %10.0f %12.3f\n", size.pods, size.ns, size.policies, len(cells), d.Seconds(),
			float64(d.Nanoseconds())/float64(len(cells)), q.Seconds()*1000/queries)
	}
	fmt.Printf("peak RSS: %d MiB\n", peakRSS()/1024)
}

// generate makes pods labelled app=appN, tier=tN in namespaces labelled
// team=tN, and per namespace a default deny plus allows between apps, from
// other teams' namespaces, and egress to a CIDR.
func generate(pods, namespaces, policies int) *inventory.Inventory {
	r := rand.New(rand.NewPCG(3, 3))
	inv := inventory.New()
	add := func(c map[string]any) {
		o := object.New(c, object.Position{}, nil)
		w, _ := inventory.ExtractWorkload(o)
		inv.Add(o, w)
	}
	for n := range namespaces {
		add(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": fmt.Sprintf("ns-%d", n),
			"labels": map[string]any{"team": fmt.Sprintf("t%d", n%5)}}})
	}
	for i := range pods {
		app := fmt.Sprintf("app%d", r.IntN(10))
		add(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": fmt.Sprintf("pod-%d", i),
			"namespace": fmt.Sprintf("ns-%d", i%namespaces), "labels": map[string]any{"app": app, "tier": fmt.Sprintf("t%d", r.IntN(3))}},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "registry.example.com/app:1",
				"ports": []any{map[string]any{"name": "http", "containerPort": int64(8080)}}}}}})
	}
	sel := func(k, v string) map[string]any { return map[string]any{"matchLabels": map[string]any{k: v}} }
	for i := range policies {
		ns := fmt.Sprintf("ns-%d", i%namespaces)
		var spec map[string]any
		switch i / namespaces % 4 {
		case 0: // default deny
			spec = map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress", "Egress"}}
		case 1:
			spec = map[string]any{"podSelector": sel("app", fmt.Sprintf("app%d", r.IntN(10))), "ingress": []any{map[string]any{
				"from":  []any{map[string]any{"podSelector": sel("app", fmt.Sprintf("app%d", r.IntN(10)))}},
				"ports": []any{map[string]any{"port": "http"}}}}}
		case 2:
			spec = map[string]any{"podSelector": sel("tier", fmt.Sprintf("t%d", r.IntN(3))), "ingress": []any{map[string]any{
				"from": []any{map[string]any{"namespaceSelector": sel("team", fmt.Sprintf("t%d", r.IntN(5))), "podSelector": sel("tier", "t0")}}}}}
		default:
			spec = map[string]any{"podSelector": sel("app", fmt.Sprintf("app%d", r.IntN(10))), "policyTypes": []any{"Egress"},
				"egress": []any{
					map[string]any{"to": []any{map[string]any{"namespaceSelector": map[string]any{}}}, "ports": []any{map[string]any{"port": int64(8080)}}},
					map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8", "except": []any{"10.1.0.0/16"}}}}},
				}}
		}
		add(map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
			"metadata": map[string]any{"name": fmt.Sprintf("np-%d", i), "namespace": ns}, "spec": spec})
	}
	return inv
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
