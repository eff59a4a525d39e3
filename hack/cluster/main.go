// Command cluster manages the end-to-end test cluster. make cluster-up
// leaves etcd and kube-apiserver running on loopback with a kubeconfig in
// .cache/cluster/kubeconfig; make cluster-down stops them; make
// test-cluster builds kube-apiserver and kube-controller-manager and installs etcd ahead of the tests,
// so the long first build never runs inside a test's timeout.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubeguard/kubeguard/internal/testcluster"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down" && os.Args[1] != "build") {
		fmt.Fprintln(os.Stderr, "usage: go run ./hack/cluster up|down|build")
		os.Exit(2)
	}
	root, err := testcluster.Root()
	if err != nil {
		fail(err)
	}
	logf := func(s string) { fmt.Fprintln(os.Stderr, s) }
	if os.Args[1] == "build" {
		for _, c := range testcluster.Components {
			bin, err := testcluster.Build(root, c, logf)
			if err != nil {
				fail(err)
			}
			fmt.Printf("%s: %s\n", c, bin)
		}
		etcd, err := testcluster.Etcd(logf)
		if err != nil {
			fail(err)
		}
		fmt.Printf("etcd: %s\n", etcd)
		return
	}
	dir := filepath.Join(root, ".cache", "cluster")
	if os.Args[1] == "down" {
		if err := testcluster.StopDir(dir); err != nil {
			fail(err)
		}
		fmt.Println("cluster stopped")
		return
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver.pid")); err == nil {
		fail(fmt.Errorf("a cluster is already running in %s; run make cluster-down first", dir))
	}
	c, err := testcluster.Start(testcluster.Options{Dir: dir, Detach: true, Log: logf})
	if err != nil {
		fail(err)
	}
	fmt.Printf("kube-apiserver %s ready at %s\nexport KUBECONFIG=%s\n", c.Version, c.URL, c.Kubeconfig)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cluster:", err)
	os.Exit(1)
}
