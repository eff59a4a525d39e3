package node

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// component is a control-plane component: its static pod manifest and
// process, when present.
type component struct {
	manifest string   // path, "" when none exists
	args     []string // from the process, else from the manifest's command
	source   string   // which of the two
}

var manifestDirs = []string{"/etc/kubernetes/manifests", "/var/lib/rancher/rke2/agent/pod-manifests"}

// findManifest finds a component's static pod manifest, or returns the
// paths it tried.
func (h *Host) findManifest(name string) (string, []string) {
	var tried []string
	for _, d := range manifestDirs {
		for _, ext := range []string{".yaml", ".yml", ".manifest"} {
			p := path.Join(d, name+ext)
			if st, _ := h.Stat(p); st.Exists {
				return p, tried
			}
			tried = append(tried, p)
		}
	}
	return "", tried
}

// staticPod reads the container of a static pod manifest that runs the
// component (by its command, else its image, else the first): its image
// and its command line after the program, as the kubelet starts it.
func (h *Host) staticPod(manifest, name string) (image string, args []string, err error) {
	data, err := h.ReadFile(manifest)
	if err != nil {
		return "", nil, err
	}
	pod, err := decode(data)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %v", manifest, err)
	}
	spec, _ := pod["spec"].(map[string]any)
	containers, _ := spec["containers"].([]any)
	var pick map[string]any
	for _, c := range containers {
		m, _ := c.(map[string]any)
		cmd, _ := m["command"].([]any)
		img, _ := m["image"].(string)
		if len(cmd) > 0 && path.Base(fmt.Sprint(cmd[0])) == name || strings.Contains(img, "/"+name+":") || pick == nil {
			pick = m
			if len(cmd) > 0 && path.Base(fmt.Sprint(cmd[0])) == name {
				break
			}
		}
	}
	if pick == nil {
		return "", nil, fmt.Errorf("%s: no container", manifest)
	}
	image, _ = pick["image"].(string)
	cmd, _ := pick["command"].([]any)
	list, _ := pick["args"].([]any)
	words := append(append([]any{}, cmd...), list...)
	if len(cmd) > 0 {
		words = words[1:] // the program
	}
	args = []string{}
	for _, w := range words {
		args = append(args, fmt.Sprint(w))
	}
	return image, args, nil
}

func (h *Host) component(procs []Process, name string) component {
	var c component
	c.manifest, _ = h.findManifest(name)
	if p := h.Find(procs, name); p != nil {
		c.args, c.source = append([]string{}, p.Args[1:]...), fmt.Sprintf("process %d (%s)", p.PID, p.Args[0])
	} else if c.manifest != "" {
		_, args, err := h.staticPod(c.manifest, name)
		if err != nil {
			args = []string{} // a manifest kubeguard cannot read: every flag is unset
		}
		c.args, c.source = args, c.manifest
	}
	return c
}

// ControlPlane reports whether the node runs (or is set up to run) an
// API server.
func (f *facts) controlPlane() bool { return f.apiserver.manifest != "" || f.apiserver.args != nil }

func manifestOf(c func(f *facts) component, what string) func(f *facts) ([]string, string) {
	return func(f *facts) ([]string, string) {
		if m := c(f).manifest; m != "" {
			return []string{m}, ""
		}
		return nil, "no " + what + " pod specification file"
	}
}

// kubeconfigOf is a component's --kubeconfig, or kubeadm's default.
func kubeconfigOf(c func(f *facts) component, def string) func(f *facts) ([]string, string) {
	return func(f *facts) ([]string, string) {
		if p := flags(c(f).args)["kubeconfig"]; p != "" {
			return []string{p}, ""
		}
		return []string{def}, ""
	}
}

// under lists the files (and, with dirs, directories) below a directory
// whose names match.
func (h *Host) under(dir string, dirs bool, match func(name string) bool) []string {
	var out []string
	filepath.WalkDir(h.path(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if (d.IsDir() && !dirs) || !match(d.Name()) {
			return nil
		}
		rel, _ := filepath.Rel(h.Root, p)
		out = append(out, "/"+filepath.ToSlash(rel))
		return nil
	})
	return out
}

func etcdDataDir(f *facts) ([]string, string) {
	if d := flags(f.etcd.args)["data-dir"]; d != "" {
		return []string{d}, ""
	}
	if f.etcd.manifest == "" && f.etcd.args == nil {
		return nil, "no etcd on this node"
	}
	return []string{"/var/lib/etcd"}, ""
}

func cniFiles(f *facts) ([]string, string) {
	dir := "/etc/cni/net.d"
	if f.kubelet != nil {
		if d := f.kubelet.Flags["cni-conf-dir"]; d != "" {
			dir = d
		}
	}
	files := f.host.under(dir, false, func(string) bool { return true })
	files = append(files, f.host.under("/var/lib/cni/networks", false, func(string) bool { return true })...)
	if len(files) == 0 {
		return nil, "no CNI files in " + dir + " or /var/lib/cni/networks"
	}
	return files, ""
}

var master = group{"1.1", "Control Plane Node Configuration Files", slices.Concat([]check{
	fileCheck("1.1.1", "API server pod specification file permissions are 600 or more restrictive", true, manifestOf(apiserverOf, "API server"), "600", ""),
	fileCheck("1.1.2", "API server pod specification file ownership is root:root", true, manifestOf(apiserverOf, "API server"), "", "root:root"),
	fileCheck("1.1.3", "controller manager pod specification file permissions are 600 or more restrictive", true, manifestOf(cmOf, "controller manager"), "600", ""),
	fileCheck("1.1.4", "controller manager pod specification file ownership is root:root", true, manifestOf(cmOf, "controller manager"), "", "root:root"),
	fileCheck("1.1.5", "scheduler pod specification file permissions are 600 or more restrictive", true, manifestOf(schedOf, "scheduler"), "600", ""),
	fileCheck("1.1.6", "scheduler pod specification file ownership is root:root", true, manifestOf(schedOf, "scheduler"), "", "root:root"),
	fileCheck("1.1.7", "etcd pod specification file permissions are 600 or more restrictive", true, manifestOf(etcdOf, "etcd"), "600", ""),
	fileCheck("1.1.8", "etcd pod specification file ownership is root:root", true, manifestOf(etcdOf, "etcd"), "", "root:root"),
	fileCheck("1.1.9", "Container Network Interface file permissions are 600 or more restrictive", false, cniFiles, "600", ""),
	fileCheck("1.1.10", "Container Network Interface file ownership is root:root", false, cniFiles, "", "root:root"),
	fileCheck("1.1.11", "etcd data directory permissions are 700 or more restrictive", true, etcdDataDir, "700", ""),
	fileCheck("1.1.12", "etcd data directory ownership is etcd:etcd", true, etcdDataDir, "", "etcd:etcd"),
	fileCheck("1.1.13", "default administrative credential file permissions are 600", true, adminConfs, "600", ""),
	fileCheck("1.1.14", "default administrative credential file ownership is root:root", true, adminConfs, "", "root:root"),
	fileCheck("1.1.15", "scheduler.conf file permissions are 600 or more restrictive", true, kubeconfigOf(schedOf, "/etc/kubernetes/scheduler.conf"), "600", ""),
	fileCheck("1.1.16", "scheduler.conf file ownership is root:root", true, kubeconfigOf(schedOf, "/etc/kubernetes/scheduler.conf"), "", "root:root"),
	fileCheck("1.1.17", "controller-manager.conf file permissions are 600 or more restrictive", true, kubeconfigOf(cmOf, "/etc/kubernetes/controller-manager.conf"), "600", ""),
	fileCheck("1.1.18", "controller-manager.conf file ownership is root:root", true, kubeconfigOf(cmOf, "/etc/kubernetes/controller-manager.conf"), "", "root:root"),
	fileCheck("1.1.19", "Kubernetes PKI directory and file ownership is root:root", true, pki(true, func(string) bool { return true }), "", "root:root"),
}, byVersion(map[string]check{
	"cis-1.10": fileCheck("1.1.20", "Kubernetes PKI certificate file permissions are 600 or more restrictive", false, pki(false, func(n string) bool { return strings.HasSuffix(n, ".crt") }), "600", ""),
	"cis-1.11": fileCheck("1.1.20", "Kubernetes PKI certificate file permissions are 644 or more restrictive", false, pki(false, func(n string) bool { return strings.HasSuffix(n, ".crt") }), "644", ""),
	"cis-1.12": fileCheck("1.1.20", "Kubernetes PKI certificate file permissions are 644 or more restrictive", false, pki(false, func(n string) bool { return strings.HasSuffix(n, ".crt") }), "644", ""),
}), []check{
	fileCheck("1.1.21", "Kubernetes PKI key file permissions are 600", false, pki(false, func(n string) bool { return strings.HasSuffix(n, ".key") }), "600", ""),
})}

func apiserverOf(f *facts) component { return f.apiserver }
func cmOf(f *facts) component        { return f.controllerManager }
func schedOf(f *facts) component     { return f.scheduler }
func etcdOf(f *facts) component      { return f.etcd }

func adminConfs(f *facts) ([]string, string) {
	return []string{"/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf"}, ""
}

func pki(dirs bool, match func(string) bool) func(f *facts) ([]string, string) {
	return func(f *facts) ([]string, string) {
		files := f.host.under("/etc/kubernetes/pki", dirs, match)
		if len(files) == 0 {
			return nil, "nothing such under /etc/kubernetes/pki"
		}
		return files, ""
	}
}
