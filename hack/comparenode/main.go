// Command comparenode runs kubeguard node and kube-bench (built from
// source, v0.15.6) on the same fixture node and compares their verdicts
// on section 4 of CIS v1.12, check by check, with their times.
//
// The fixture is examples/node/kubeadm with the modes kubeadm leaves,
// and a running kubelet: a stand-in process named kubelet with the
// command line systemd would start. kube-bench reads the host, so its
// configuration's node paths are the fixture's, under its root; kubeguard
// reads the same node with --root.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 3 {
		fail(fmt.Errorf("usage: comparenode KUBE-BENCH CFG-DIR"))
	}
	kubeBench, cfgDir := os.Args[1], os.Args[2]
	dir, err := os.MkdirTemp("", "comparenode-")
	check(err)
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "node")
	check(os.CopyFS(root, os.DirFS("examples/node/kubeadm")))
	check(os.Remove(filepath.Join(root, "README.md")))
	// the modes the kubeadm packages and kubeadm join leave
	modes := map[string]fs.FileMode{
		"usr/lib/systemd/system/kubelet.service": 0o644, "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": 0o644,
		"var/lib/kubelet/config.yaml": 0o644, "var/lib/kubelet/kubeadm-flags.env": 0o644,
		"etc/kubernetes/kubelet.conf": 0o600, "etc/kubernetes/pki/ca.crt": 0o644,
	}
	for p, mode := range modes {
		check(os.Chmod(filepath.Join(root, p), mode))
	}

	// the stand-in kubelet, with systemd's command line for the node
	kg := filepath.Join(dir, "kubeguard")
	build := exec.Command("go", "build", "-o", kg, "./cmd/kubeguard")
	build.Stderr = os.Stderr
	check(build.Run())
	standin := filepath.Join(dir, "bin", "kubelet")
	check(os.MkdirAll(filepath.Dir(standin), 0o755))
	check(os.WriteFile(filepath.Join(dir, "standin.go"), []byte("package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Hour) }\n"), 0o644))
	build = exec.Command("go", "build", "-o", standin, filepath.Join(dir, "standin.go"))
	build.Stderr = os.Stderr
	check(build.Run())
	args := []string{"--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf",
		"--config=/var/lib/kubelet/config.yaml", "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
		"--pod-infra-container-image=registry.k8s.io/pause:3.10"}
	var hostArgs []string // the same, with the fixture's paths as kube-bench sees them
	for _, a := range args {
		hostArgs = append(hostArgs, strings.ReplaceAll(strings.ReplaceAll(a, "=/etc/", "="+root+"/etc/"), "=/var/lib/", "="+root+"/var/lib/"))
	}
	proc := exec.Command(standin, hostArgs...)
	check(proc.Start())
	defer proc.Process.Kill()
	procDir := filepath.Join(root, "proc", strconv.Itoa(proc.Process.Pid))
	check(os.MkdirAll(procDir, 0o755))
	check(os.WriteFile(filepath.Join(procDir, "cmdline"), []byte(strings.Join(append([]string{"/usr/bin/kubelet"}, args...), "\x00")+"\x00"), 0o444))

	// kube-bench's configuration, its node paths under the fixture root
	cfg := kubeBenchConfig(dir, "cfg", cfgDir, root)
	for _, variant := range []string{"as kubeadm leaves it", "with the drop-in and config.yaml at 600"} {
		if variant != "as kubeadm leaves it" {
			for _, p := range []string{"usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", "var/lib/kubelet/config.yaml"} {
				check(os.Chmod(filepath.Join(root, p), 0o600))
			}
		}
		compare(variant, kubeBench, cfg, kg, root, "node")
	}
	controlPlane(dir, kubeBench, cfgDir, kg, standin, args)
}

// kubeBenchConfig copies kube-bench's configuration with every path of
// its node, master and etcd components put under root.
func kubeBenchConfig(dir, name, cfgDir, root string) string {
	cfg := filepath.Join(dir, name)
	check(os.CopyFS(cfg, os.DirFS(cfgDir)))
	check(filepath.WalkDir(cfg, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chmod(p, 0o644)
		} else if err == nil {
			err = os.Chmod(p, 0o755)
		}
		return err
	}))
	data, err := os.ReadFile(filepath.Join(cfg, "config.yaml"))
	check(err)
	var conf map[string]any
	check(yaml.Unmarshal(data, &conf))
	for _, target := range []string{"node", "master", "etcd"} {
		t, _ := conf[target].(map[string]any)
		for _, comp := range t {
			m, ok := comp.(map[string]any)
			if !ok {
				continue
			}
			for k, v := range m {
				if k == "bins" {
					continue
				}
				switch v := v.(type) {
				case string:
					if strings.HasPrefix(v, "/") {
						m[k] = root + v
					}
				case []any:
					for i, x := range v {
						if s, ok := x.(string); ok && strings.HasPrefix(s, "/") {
							v[i] = root + s
						}
					}
				}
			}
		}
	}
	data, err = yaml.Marshal(conf)
	check(err)
	check(os.WriteFile(filepath.Join(cfg, "config.yaml"), data, 0o644))
	return cfg
}

// flagLine matches a flag of a static pod manifest's command.
var flagLine = regexp.MustCompile(`(?m)^\s*- (--\S+)$`)

// controlPlane compares the two on the kubeadm control-plane fixture:
// stand-ins for the kubelet and the four components run with the
// manifests' flags.
func controlPlane(dir, kubeBench, cfgDir, kg, standin string, kubeletArgs []string) {
	root := filepath.Join(dir, "control-plane")
	check(os.CopyFS(root, os.DirFS("examples/node/kubeadm-control-plane")))
	check(os.Remove(filepath.Join(root, "README.md")))
	// the modes kubeadm init leaves
	check(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		mode := fs.FileMode(0o644)
		switch {
		case d.IsDir() && (rel == "var/lib/etcd" || strings.HasPrefix(rel, "var/lib/etcd/")):
			mode = 0o700
		case d.IsDir():
			mode = 0o755
		case strings.HasPrefix(rel, "etc/kubernetes/manifests/"), strings.HasSuffix(rel, ".key"), strings.HasSuffix(rel, ".conf") && strings.HasPrefix(rel, "etc/kubernetes/"):
			mode = 0o600
		}
		return os.Chmod(p, mode)
	}))
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
		}
	}()
	start := func(name string, args []string) {
		bin := filepath.Join(dir, "bin-"+name, name)
		check(os.MkdirAll(filepath.Dir(bin), 0o755))
		data, err := os.ReadFile(standin)
		check(err)
		check(os.WriteFile(bin, data, 0o755))
		var hostArgs []string
		for _, a := range args {
			hostArgs = append(hostArgs, strings.ReplaceAll(strings.ReplaceAll(a, "=/etc/", "="+root+"/etc/"), "=/var/lib/", "="+root+"/var/lib/"))
		}
		p := exec.Command(bin, hostArgs...)
		check(p.Start())
		procs = append(procs, p)
		procDir := filepath.Join(root, "proc", strconv.Itoa(p.Process.Pid))
		check(os.MkdirAll(procDir, 0o755))
		check(os.WriteFile(filepath.Join(procDir, "cmdline"), []byte(strings.Join(append([]string{"/usr/local/bin/" + name}, args...), "\x00")+"\x00"), 0o444))
	}
	start("kubelet", kubeletArgs)
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"} {
		data, err := os.ReadFile(filepath.Join(root, "etc/kubernetes/manifests", c+".yaml"))
		check(err)
		var args []string
		for _, m := range flagLine.FindAllSubmatch(data, -1) {
			args = append(args, string(m[1]))
		}
		start(c, args)
	}
	cfg := kubeBenchConfig(dir, "cfg-control-plane", cfgDir, root)
	compare("control plane, as kubeadm init leaves it", kubeBench, cfg, kg, root, "master,etcd,controlplane,node")
}

func compare(variant, kubeBench, cfg, kg, root, targets string) {
	kbOut, kbTime, kbRSS := timed(exec.Command(kubeBench, "run", "--targets", targets, "--benchmark", "cis-1.12", "--config-dir", cfg, "--json"))
	kgOut, kgTime, kgRSS := timed(exec.Command(kg, "node", "--root", root, "--benchmark", "cis-1.12", "-o", "json"))

	kb := map[string]string{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if id, ok := v["test_number"].(string); ok {
				kb[id] = strings.ToLower(fmt.Sprint(v["status"]))
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var kbJSON any
	check(json.Unmarshal(kbOut, &kbJSON))
	walk(kbJSON)
	var kgJSON struct {
		Checklists []struct {
			Sections []struct {
				Results []struct{ ID, Status, Detail string }
			}
		}
	}
	check(json.Unmarshal(kgOut, &kgJSON))
	if len(kgJSON.Checklists) != 1 {
		fail(fmt.Errorf("kubeguard node: %d checklists", len(kgJSON.Checklists)))
	}
	fmt.Printf("## kubeguard node vs kube-bench v0.15.6, CIS v1.12 (%s), kubeadm fixture: %s\n\n", targets, variant)
	fmt.Println("| check | kubeguard | kube-bench | |")
	fmt.Println("|---|---|---|---|")
	agree, total := 0, 0
	var ids []string
	for _, s := range kgJSON.Checklists[0].Sections {
		for _, r := range s.Results {
			if strings.HasPrefix(r.ID, "K.") {
				continue // kubeguard's own section; kube-bench has none
			}
			ids = append(ids, r.ID)
			total++
			mine := r.Status
			switch mine {
			case "not applicable":
				mine = "n/a"
			case "manual":
				mine = "warn" // kube-bench's verdict for a manual item
			}
			theirs := kb[r.ID]
			same := mine == theirs
			mark := ""
			if same {
				agree++
			} else {
				mark = "differs: " + r.Detail
			}
			fmt.Printf("| %s | %s | %s | %s |\n", r.ID, mine, theirs, mark)
		}
	}
	for id := range kb {
		if !slices.Contains(ids, id) {
			fmt.Printf("| %s | (none) | %s | only kube-bench |\n", id, kb[id])
		}
	}
	fmt.Printf("\n%d of %d verdicts agree\n\n", agree, total)
	fmt.Printf("| | kubeguard | kube-bench | ratio |\n|---|---|---|---|\n| wall | %s | %s | %.2f |\n| peak RSS | %d MiB | %d MiB | %.2f |\n\n",
		kgTime.Round(time.Millisecond), kbTime.Round(time.Millisecond), kgTime.Seconds()/kbTime.Seconds(), kgRSS>>10, kbRSS>>10, float64(kgRSS)/float64(kbRSS))
}

// timed runs a command and returns its output, wall time and peak RSS
// (KiB); exit 1 (failed checks) is expected.
func timed(cmd *exec.Cmd) ([]byte, time.Duration, int64) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 1) {
		fail(fmt.Errorf("%s: %v\n%s", cmd.Path, err, errOut.String()))
	}
	return out.Bytes(), wall, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "comparenode:", err)
	os.Exit(1)
}
