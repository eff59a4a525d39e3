package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/internal/auditgen"
)

// benchLines are a day of the generated trail as JSON lines.
func benchLines(b *testing.B) [][]byte {
	var lines [][]byte
	auditgen.Generate(auditgen.Options{Seed: 1, Days: 2}, func(e *auditv1.Event) {
		data, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, data)
	})
	return lines
}

func BenchmarkDecode(b *testing.B) {
	lines := benchLines(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetect is decoding, the rules, the catalog and the baseline.
func BenchmarkDetect(b *testing.B) {
	lines := benchLines(b)
	d := detector(b)
	d.Baseline = NewBaseline(BaselineOptions{})
	var size int
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs, err := Decode(lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		d.Event(&evs[0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReceiver is audit serve without the network: EventLists of
// 400 events posted to the handler, judged with a baseline.
func BenchmarkReceiver(b *testing.B) {
	lines := benchLines(b)
	var bodies []string
	for i := 0; i+400 <= len(lines); i += 400 {
		var items []string
		for _, l := range lines[i : i+400] {
			items = append(items, string(l))
		}
		bodies = append(bodies, `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`+strings.Join(items, ",")+`]}`)
	}
	d := detector(b)
	d.Baseline = NewBaseline(BaselineOptions{})
	r := &Receiver{Detector: d}
	r.NewMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if w := post(r, bodies[i%len(bodies)]); w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	b.ReportMetric(float64(b.N*400)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkBaselineMemory is the heap a baseline of 10,000 identities
// holds, each with the terms of a busy workload.
func BenchmarkBaselineMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		bl := NewBaseline(BaselineOptions{})
		for id := 0; id < 10000; id++ {
			user := fmt.Sprintf("system:serviceaccount:team-%d:app-%d", id%200, id)
			for k := 0; k < 30; k++ {
				res := []string{"pods", "configmaps", "secrets", "services", "endpoints", "leases"}[k%6]
				bl.Observe(ev(user, []string{"get", "list", "watch", "update", "create"}[k%5], res, fmt.Sprintf("team-%d", (id+k)%200),
					fmt.Sprintf("10.%d.%d.%d", k%3, id%250, k), "app/v1", t0.Add(time.Duration(k)*time.Minute)))
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10000, "B/identity")
		runtime.KeepAlive(bl)
	}
}
