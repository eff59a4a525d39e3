// Command bench measures kubeguard scan throughput (make bench): on the
// shared corpus, on generated inputs of 10,000 and 100,000 workload-sized
// objects and on a List of 7,500 Deployments in JSON, it prints objects/s
// and time for a parse-only pass and for the full scan, on one core and on
// all, the time of a scan with the Pod Security Standards set alone (see
// pssSet), the time a general YAML parser needs to parse the same documents,
// and the wall time and peak RSS of the kubeguard binary on each input.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kubeguard/kubeguard/internal/cli"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/render"
)

func main() {
	cli.TuneRuntime() // measure what the binary does
	cli.OneShotGC(cli.ScanGCPercent)
	tmp, err := os.MkdirTemp("", "kubeguard-bench")
	check(err)
	defer os.RemoveAll(tmp)
	small, big := filepath.Join(tmp, "gen10k"), filepath.Join(tmp, "gen100k")
	generate(small, 10_000)
	generate(big, 100_000)
	list := filepath.Join(tmp, "list7500")
	generateList(list, 7_500)

	// The binary runs first, while this process is small: a child's peak
	// RSS starts at its parent's resident size and survives exec, so
	// measuring after the in-process runs would report this process.
	bin := filepath.Join(tmp, "kubeguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubeguard")
	build.Stderr = os.Stderr
	check(build.Run())
	var binary []string
	wall := map[string]float64{}
	for _, in := range []string{"../shared/corpus", small, big, list} {
		for _, format := range []string{"json", "sarif"} {
			best, rss := 0.0, int64(0)
			for i := 0; i < 3; i++ {
				cmd := exec.Command(bin, "scan", "-o", format, "--fail-on", "critical", in)
				start := time.Now()
				_ = cmd.Run() // exit 1 (findings) is expected
				if d := time.Since(start).Seconds(); i == 0 || d < best {
					best = d
				}
				rss = max(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss/1024)
			}
			wall[in+format] = best
			binary = append(binary, fmt.Sprintf("kubeguard scan -o %-5s %-10s wall %.3fs (best of 3)  peak RSS %d MiB",
				format, filepath.Base(in), best, rss))
		}
	}
	binary = append(binary, fmt.Sprintf("linearity of the binary (10x objects, fresh processes): %.2fx time", wall[big+"json"]/wall[small+"json"]))
	// the GC target of scan (cli.ScanGCPercent) against a lazier one
	for _, in := range []string{"../shared/corpus", big} {
		for _, gogc := range []string{"100", "200"} {
			best, rss := 0.0, int64(0)
			for i := 0; i < 3; i++ {
				cmd := exec.Command(bin, "scan", "-o", "json", "--fail-on", "none", in)
				cmd.Env = append(os.Environ(), "GOGC="+gogc)
				start := time.Now()
				_ = cmd.Run()
				if d := time.Since(start).Seconds(); i == 0 || d < best {
					best = d
				}
				rss = max(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss/1024)
			}
			binary = append(binary, fmt.Sprintf("GOGC=%-4s kubeguard scan %-10s wall %.3fs (best of 3)  peak RSS %d MiB", gogc, filepath.Base(in), best, rss))
		}
	}

	fmt.Printf("%-16s %-6s %10s %10s %10s %12s %7s %10s %9s %16s\n", "input", "cores", "objects", "parse s", "scan s", "scan obj/s", "ratio",
		"pss-set s", "pss ratio", "yaml.v3 parse s")
	inputs := []string{"../shared/corpus", small, big, list}
	times := map[string]float64{}
	for _, in := range inputs {
		if _, err := os.Stat(in); err != nil {
			fmt.Printf("%-16s skipped: %v\n", in, err)
			continue
		}
		for _, cores := range []int{1, runtime.NumCPU()} {
			runtime.GOMAXPROCS(cores)
			n, parse := measure(in, engine.Options{ParseOnly: true})
			_, scan := measure(in, engine.Options{})
			_, pss := measure(in, engine.Options{Config: pssSet()})
			fmt.Printf("%-16s %-6d %10d %10.3f %10.3f %12.0f %7.2f %10.3f %9.2f %16.3f\n", filepath.Base(in), cores, n, parse, scan,
				float64(n)/scan, scan/parse, pss, pss/parse, generalParse(in, cores))
			times[fmt.Sprintf("%s/%d", in, cores)] = scan
		}
	}
	// charts: rendering with the Helm SDK, then the same scan
	if _, err := os.Stat("../shared/corpus/helm"); err == nil {
		cat, err := controls.Catalog(controls.Options{})
		check(err)
		eng, err := engine.New(engine.Options{Catalog: cat})
		check(err)
		best, n, charts := 0.0, 0, 0
		for i := 0; i < 3; i++ {
			start := time.Now()
			inputs, _ := object.Expand([]string{"../shared/corpus/helm"}, nil, &render.Helm{}, render.Kustomize{})
			n, charts = eng.ScanInputs(inputs).Objects, len(inputs)
			if d := time.Since(start).Seconds(); i == 0 || d < best {
				best = d
			}
		}
		fmt.Printf("corpus charts: %d charts rendered and scanned (%d objects) in %.3f s\n", charts, n, best)
	}
	cores := runtime.NumCPU()
	fmt.Printf("linearity in-process (10x objects, %d cores, memory warmed by the inputs before): %.2fx time\n", cores, times[fmt.Sprintf("%s/%d", big, cores)]/times[fmt.Sprintf("%s/%d", small, cores)])
	for _, line := range binary {
		fmt.Println(line)
	}

}

// pssSet enables the Pod Security Standards controls and the five workload
// controls that came with them (non-root UIDs, read-only root filesystem,
// latest tag, default namespace, token automount): the engine's proving
// set, for the cost of the engine apart from the rest of the catalog.
func pssSet() *config.Config {
	cat, err := controls.Catalog(controls.Options{})
	check(err)
	cfg := &config.Config{}
	for _, c := range cat.All() {
		if strings.HasPrefix(c.ID, "PSS-") {
			cfg.Controls.Enable = append(cfg.Controls.Enable, c.ID)
		}
	}
	cfg.Controls.Enable = append(cfg.Controls.Enable, "CTR-LOW-UID", "CTR-READONLY-ROOTFS", "IMG-LATEST-TAG", "NS-DEFAULT", "SA-AUTOMOUNT-TOKEN")
	return cfg
}

// measure returns objects and seconds of one scan (best of three).
func measure(path string, opts engine.Options) (int, float64) {
	cat, err := controls.Catalog(controls.Options{})
	check(err)
	opts.Catalog = cat
	eng, err := engine.New(opts)
	check(err)
	best, n := 0.0, 0
	for i := 0; i < 3; i++ {
		inputs, _ := object.Expand([]string{path}, nil)
		runtime.GC()
		start := time.Now()
		res := eng.ScanInputs(inputs)
		d := time.Since(start).Seconds()
		if i == 0 || d < best {
			best = d
		}
		n = res.Objects
	}
	return n, best
}

// generalParse returns the seconds a general YAML parser (yaml.v3, which
// kubeguard falls back to for what its own decoder does not read) takes to
// parse every document of path into node trees on cores workers (best of
// three): what a scan would cost with such a parser before any check.
func generalParse(path string, cores int) float64 {
	inputs, _ := object.Expand([]string{path}, nil)
	var docs [][]byte
	for _, in := range inputs {
		in.Split(object.Limits{}, func(b object.Batch) {
			for _, d := range b.Docs {
				docs = append(docs, d.Data)
			}
		})
	}
	best := 0.0
	for i := 0; i < 3; i++ {
		runtime.GC()
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < cores; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := w; j < len(docs); j += cores {
					var n yaml.Node
					_ = yaml.Unmarshal(docs[j], &n)
				}
			}()
		}
		wg.Wait()
		if d := time.Since(start).Seconds(); i == 0 || d < best {
			best = d
		}
	}
	return best
}

// generate writes n objects of a typical application mix (one of every
// three objects a Deployment of a few dozen lines, with Services,
// ConfigMaps and ServiceAccounts), 100 objects per file.
func generate(dir string, n int) {
	check(os.MkdirAll(dir, 0o755))
	var b strings.Builder
	for i := 0; i < n; i++ {
		app, ns := fmt.Sprintf("app-%d", i/3), fmt.Sprintf("team-%d", i%50)
		b.WriteString("---\n")
		switch i % 6 {
		case 0, 3:
			fmt.Fprintf(&b, deployment, app, ns, i%5+1, app, app, i%2 == 0, app, i%7)
		case 1:
			fmt.Fprintf(&b, service, app, ns, app)
		case 2:
			fmt.Fprintf(&b, configMap, app, ns, i)
		case 4:
			fmt.Fprintf(&b, serviceAccount, app, ns)
		case 5:
			fmt.Fprintf(&b, service, app+"-metrics", ns, app)
		}
		if (i+1)%100 == 0 || i == n-1 {
			check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("objects-%06d.yaml", i/100)), []byte(b.String()), 0o644))
			b.Reset()
		}
	}
}

// generateList writes n Deployments as one List in the JSON that kubectl
// get -o json prints (four-space indentation, server-set fields and
// status): a cluster dump, one document that every core must share.
func generateList(dir string, n int) {
	check(os.MkdirAll(dir, 0o755))
	// written an item at a time: this process stays small (see main)
	out, err := os.Create(filepath.Join(dir, "list.json"))
	check(err)
	b := bufio.NewWriter(out)
	b.WriteString("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n")
	for i := range n {
		app, ns := fmt.Sprintf("app-%d", i), fmt.Sprintf("team-%d", i%50)
		container := map[string]any{
			"name": "app", "image": fmt.Sprintf("registry.example.com/%s:1.%d.0", app, i%7), "imagePullPolicy": "IfNotPresent",
			"ports":     []any{map[string]any{"name": "http", "containerPort": 8080, "protocol": "TCP"}},
			"env":       []any{map[string]any{"name": "LOG_FORMAT", "value": "json"}},
			"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"memory": "256Mi"}},
			"securityContext": map[string]any{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
				"capabilities": map[string]any{"drop": []any{"ALL"}}},
			"readinessProbe":         map[string]any{"httpGet": map[string]any{"path": "/ready", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10},
			"terminationMessagePath": "/dev/termination-log",
		}
		item := map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": app, "namespace": ns, "uid": fmt.Sprintf("8d1f0a2c-0000-4000-8000-%012d", i),
				"resourceVersion": fmt.Sprint(1000 + i), "labels": map[string]any{"app.kubernetes.io/part-of": "shop"},
				"annotations": map[string]any{"deployment.kubernetes.io/revision": "3"}},
			"spec": map[string]any{
				"replicas": i%5 + 1, "selector": map[string]any{"matchLabels": map[string]any{"app": app}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": app}}, "spec": map[string]any{
					"automountServiceAccountToken": i%2 == 0, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
					"securityContext": map[string]any{"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
					"containers":      []any{container},
				}},
			},
			"status": map[string]any{"replicas": 1, "readyReplicas": 1},
		}
		data, err := json.MarshalIndent(item, "        ", "    ")
		check(err)
		b.WriteString("        ")
		b.Write(data)
		if i < n-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n")
	check(b.Flush())
	check(out.Close())
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: %s
  labels: {app.kubernetes.io/part-of: shop}
spec:
  replicas: %d
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      automountServiceAccountToken: %t
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: app
        image: registry.example.com/%s:1.%d.0
        ports:
        - {name: http, containerPort: 8080}
        env:
        - {name: LOG_FORMAT, value: json}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        readinessProbe:
          httpGet: {path: /ready, port: http}
`

const service = `apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: %s
spec:
  selector: {app: %s}
  ports:
  - {name: http, port: 80, targetPort: http}
`

const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-%[3]d
  namespace: %[2]s
  labels: {app: %[1]s}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
`

const serviceAccount = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: %s
  namespace: %s
automountServiceAccountToken: false
`

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
