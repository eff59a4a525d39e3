// Package testcluster runs a real Kubernetes control plane on loopback for
// kubeguard's end-to-end tests: etcd from Debian's etcd-server, and
// kube-apiserver and kube-controller-manager built from the
// k8s.io/kubernetes release pinned in test/cluster/go.mod. Nothing is
// mocked; there are no nodes or scheduler, which the admission and
// analysis tests do not need.
package testcluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// Root returns the root of the kubeguard repository, found from the working
// directory upwards (tests run in their package directory).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "test", "cluster", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testcluster: not inside the kubeguard repository (no test/cluster/go.mod above the working directory)")
		}
		dir = parent
	}
}

var requireRe = regexp.MustCompile(`(?m)^require k8s\.io/kubernetes (v\d+\.\d+\.\d+)\s*$`)

// Version returns the pinned Kubernetes release, read from
// test/cluster/go.mod so the pin lives in one place.
func Version(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "test", "cluster", "go.mod"))
	if err != nil {
		return "", err
	}
	m := requireRe.FindSubmatch(data)
	if m == nil {
		return "", errors.New("test/cluster/go.mod: no `require k8s.io/kubernetes vX.Y.Z` line")
	}
	return string(m[1]), nil
}

// Components are the binaries a test cluster runs, built from
// k8s.io/kubernetes/cmd/<name>. The controller manager runs only the
// controllers whose results the tests depend on (ClusterRole aggregation,
// ServiceAccounts and their tokens, namespace deletion).
var Components = []string{"kube-apiserver", "kube-controller-manager"}

// Build returns the path of a component of the pinned release, building
// it into .cache/ first if needed. The first build takes 10-20 minutes on
// two cores, so binaries are cached by version and builds guarded by a
// file lock: test binaries of several packages may ask at once.
func Build(root, component string, log func(string)) (string, error) {
	version, err := Version(root)
	if err != nil {
		return "", err
	}
	cache := filepath.Join(root, ".cache")
	bin := filepath.Join(cache, component+"-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(cache, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by another process while we waited
	}
	log(fmt.Sprintf("building %s %s into %s (first run only; takes several minutes)", component, version, bin))
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-ldflags", versionFlags(version), "-o", tmp, "k8s.io/kubernetes/cmd/"+component)
	cmd.Dir = filepath.Join(root, "test", "cluster")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s %s: %v\n%s", component, version, err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// versionFlags stamps the release into the binary the way the Kubernetes
// build does, so that /version (and kubectl version) report it instead of
// v0.0.0-master.
func versionFlags(version string) string {
	major, minor, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	var b strings.Builder
	b.WriteString("-s -w")
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fmt.Fprintf(&b, " -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean",
			pkg, version, pkg, major, pkg, minor, pkg)
	}
	return b.String()
}

// Etcd returns the path of etcd, installing Debian's etcd-server when it is
// missing and the process may use apt-get.
func Etcd(log func(string)) (string, error) {
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd", nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("etcd not found: install Debian's etcd-server (apt-get install etcd-server)")
	}
	log("installing etcd-server with apt-get")
	install := func() error {
		cmd := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "etcd-server")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install etcd-server: %v\n%s", err, lastLines(out, 10))
		}
		return nil
	}
	if err := install(); err != nil {
		if out, uerr := exec.Command("apt-get", "update").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %v\n%s", uerr, lastLines(out, 10))
		}
		if err := install(); err != nil {
			return "", err
		}
	}
	return "/usr/bin/etcd", nil
}

func lastLines(b []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
