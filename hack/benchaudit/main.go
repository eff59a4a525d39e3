// Command benchaudit measures kubeguard audit on a generated audit log: a
// million events (by default) over two days, mixing what a busy cluster
// logs (controllers' watches and updates, kubelets' status updates,
// people's reads) with the requests the AUD-* rules look for, and
// workload objects at Request level. It prints events per second on one
// core, CPU and peak RSS of audit scan (report and --stream), of audit
// detect (rules, catalog and baselines), and of audit serve absorbing the
// log as the API server's webhook batches over TLS, with the batches it
// refused.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

var (
	events  = flag.Int("events", 1000000, "events to generate")
	logOnly = flag.String("log", "", "only write the generated log to this file (for profiling)")
)

func main() {
	flag.Parse()
	if *logOnly != "" {
		generate(*logOnly, *events)
		return
	}
	dir, err := os.MkdirTemp("", "benchaudit-")
	check(err)
	defer os.RemoveAll(dir)
	kg := filepath.Join(dir, "kubeguard")
	build := exec.Command("go", "build", "-o", kg, "./cmd/kubeguard")
	build.Stderr = os.Stderr
	check(build.Run())
	log := filepath.Join(dir, "audit.log")
	size, findings := generate(log, *events)
	fmt.Printf("## audit scan benchmark\n\n%d events, %.0f MiB of JSON lines, %d of them requests the AUD-* rules flag\n\n", *events, float64(size)/(1<<20), findings)
	fmt.Println("| run (GOMAXPROCS=1) | wall | CPU | events/s | peak RSS |")
	fmt.Println("|---|---|---|---|---|")
	baseline := filepath.Join(dir, "baseline.json.gz")
	for i := 1; i <= 6; i++ {
		args := []string{"audit", "scan", log, "--controls", "AUD-*", "--summary", "--fail-on", "none"}
		mode := "scan (report)"
		switch {
		case i > 4: // rules, catalog and a baseline learning every identity
			os.Remove(baseline)
			args, mode = []string{"audit", "detect", log, "--baseline", baseline, "--stream", "--fail-on", "none"}, "detect --stream (rules, catalog, baselines)"
		case i > 2: // alerts written as found, nothing kept
			args, mode = []string{"audit", "scan", log, "--stream", "--fail-on", "none"}, "scan --stream"
		}
		cmd := exec.Command(kg, args...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		var out bytes.Buffer
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		check(err)
		cmd.Stdout, cmd.Stderr = devnull, &out // alerts are not kept by the benchmark either
		start := time.Now()
		err = cmd.Run()
		wall := time.Since(start)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v\n%s", err, out.String())
			os.Exit(1)
		}
		devnull.Close()
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Printf("| %s | %s | %s | %.0f | %d MiB |\n", mode, wall.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(*events)/wall.Seconds(), ru.Maxrss>>10)
	}
	serve(kg, dir, log)
}

// generate writes n events and returns the file's size and how many of
// them the rules flag.
func generate(path string, n int) (int64, int) {
	f, err := os.Create(path)
	check(err)
	w := bufio.NewWriterSize(f, 1<<20)
	users := []string{"system:serviceaccount:kube-system:deployment-controller", "system:node:node-1", "system:kube-scheduler",
		"alice@example.com", "system:serviceaccount:shop:api", "system:serviceaccount:monitoring:prometheus"}
	flagged := 0
	for i := 0; i < n; i++ {
		user := users[i%len(users)]
		ns := fmt.Sprintf("team-%d", i%50)
		// two days of traffic, in order
		at := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 48 * time.Hour / time.Duration(n))
		ts := at.Format("2006-01-02T15:04:05.000000Z")
		ev := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": fmt.Sprintf("%08d-0000-0000-0000-000000000000", i),
			"stage": "ResponseComplete", "user": map[string]any{"username": user, "groups": []string{"system:authenticated"}},
			"sourceIPs": []string{fmt.Sprintf("10.0.%d.%d", i%250, i%200)}, "userAgent": "kube-controller-manager/v1.37.2",
			"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": 200},
			"requestReceivedTimestamp": ts, "stageTimestamp": ts}
		switch i % 20 {
		case 0: // a workload update at Request level
			ev["level"], ev["verb"], ev["requestURI"] = "Request", "update", "/apis/apps/v1/namespaces/"+ns+"/deployments/web"
			ev["objectRef"] = map[string]any{"resource": "deployments", "namespace": ns, "name": "web", "apiGroup": "apps", "apiVersion": "v1"}
			ev["requestObject"] = map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": ns},
				"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}, "template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "registry.example.com/web:1.4.2",
						"securityContext": map[string]any{"allowPrivilegeEscalation": false, "runAsNonRoot": true}}}}}}}
		case 1: // a command run in a pod
			ev["verb"], ev["requestURI"] = "create", "/api/v1/namespaces/"+ns+"/pods/web-1/exec"
			ev["objectRef"] = map[string]any{"resource": "pods", "subresource": "exec", "namespace": ns, "name": "web-1", "apiVersion": "v1"}
			ev["responseStatus"] = map[string]any{"metadata": map[string]any{}, "code": 101}
			flagged++
		case 2, 3, 4, 5:
			ev["verb"], ev["requestURI"] = "watch", "/api/v1/pods?watch=true"
			ev["objectRef"] = map[string]any{"resource": "pods", "apiVersion": "v1"}
		case 6, 7, 8, 9, 10, 11:
			ev["verb"], ev["requestURI"] = "patch", "/api/v1/namespaces/"+ns+"/pods/web-1/status"
			ev["objectRef"] = map[string]any{"resource": "pods", "subresource": "status", "namespace": ns, "name": "web-1", "apiVersion": "v1"}
		default:
			ev["verb"], ev["requestURI"] = "get", "/api/v1/namespaces/"+ns+"/configmaps/app"
			ev["objectRef"] = map[string]any{"resource": "configmaps", "namespace": ns, "name": "app", "apiVersion": "v1"}
		}
		b, err := json.Marshal(ev)
		check(err)
		w.Write(b)
		w.WriteByte('\n')
	}
	check(w.Flush())
	st, err := f.Stat()
	check(err)
	check(f.Close())
	return st.Size(), flagged
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchaudit:", strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
