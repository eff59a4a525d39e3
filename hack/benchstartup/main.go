// Command benchstartup measures what a user pays before kubeguard reads
// any input (make bench-startup): the size of the development and release
// binaries, and the best wall time and peak RSS of `kubeguard scan` on one
// small file and of `kubeguard version`, over 20 runs each; with a peer
// linter on PATH (kube-score, kube-linter) the same for it, as a ratio.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

const pod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers:
  - name: web
    image: nginx:1.27
`

func main() {
	tmp, err := os.MkdirTemp("", "kubeguard-startup")
	check(err)
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "pod.yaml")
	check(os.WriteFile(file, []byte(pod), 0o644))
	dev, rel := filepath.Join(tmp, "kubeguard"), filepath.Join(tmp, "kubeguard-release")
	run("go", "build", "-o", dev, "./cmd/kubeguard")
	run("make", "--no-print-directory", "release-binary", "OUT="+rel)
	for _, b := range []string{dev, rel} {
		st, err := os.Stat(b)
		check(err)
		fmt.Printf("%-18s %6.1f MB\n", filepath.Base(b), float64(st.Size())/1e6)
	}
	type result struct {
		name      string
		ms, rssMB float64
	}
	var results []result
	measure := func(name string, args ...string) result {
		best, rss := time.Duration(0), int64(0)
		for i := 0; i < 20; i++ {
			cmd := exec.Command(args[0], args[1:]...)
			start := time.Now()
			_ = cmd.Run() // findings exit 1
			if d := time.Since(start); i == 0 || d < best {
				best = d
			}
			rss = max(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
		}
		r := result{name, float64(best.Microseconds()) / 1000, float64(rss) / 1024}
		fmt.Printf("%-40s best %6.1f ms  peak RSS %5.1f MiB\n", name, r.ms, r.rssMB)
		results = append(results, r)
		return r
	}
	measure("kubeguard version", dev, "version")
	measure("kubeguard scan pod.yaml", dev, "scan", file)
	relScan := measure("kubeguard (release) scan pod.yaml", rel, "scan", file)
	for _, peer := range [][]string{{"kube-score", "score", file}, {"kube-linter", "lint", file}} {
		if p, err := exec.LookPath(peer[0]); err == nil {
			r := measure(peer[0]+" "+peer[1]+" pod.yaml", append([]string{p}, peer[1:]...)...)
			fmt.Printf("  release kubeguard / %s: %.1fx time, %.1fx RSS\n", peer[0], relScan.ms/r.ms, relScan.rssMB/r.rssMB)
		}
	}
}

func run(args ...string) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchstartup:", err)
		os.Exit(1)
	}
}
