package node

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

// distribution is a Kubernetes distribution that starts the kubelet
// itself rather than through kubelet.service: k3s runs it inside its own
// process, RKE2 as a child process, MicroK8s inside kubelite. Each gives
// the kubelet arguments of its own, and takes more from its
// configuration files and command line.
type distribution struct {
	name string
	// procs are the processes that run or start the kubelet; sub, when
	// set, is the subcommand they must run (k3s server, k3s agent).
	procs []string
	sub   []string
	// units are the systemd units that start it.
	units []string
	// configs are the distribution's YAML configuration files, whose
	// kubelet-arg lists add kubelet arguments; configDirs hold more of
	// them, read in name order after.
	configs, configDirs []string
	// defaults are the kubelet arguments the distribution passes itself;
	// marker is the file whose presence says the installation has them
	// (the defaults drop-in it writes, or its arguments file).
	defaults []string
	marker   string
	// argsFile holds the kubelet's arguments, one per line (MicroK8s),
	// with env the variables its lines use.
	argsFile string
	env      map[string]string
	// old says what to do when marker is missing.
	old string
}

func rancher(name, unitBase string) *distribution {
	data := "/var/lib/rancher/" + name
	return &distribution{
		name: name, units: []string{unitBase + ".service", unitBase + "-agent.service", unitBase + "-server.service"},
		configs: []string{"/etc/rancher/" + name + "/config.yaml"}, configDirs: []string{"/etc/rancher/" + name + "/config.yaml.d"},
		// the arguments its agent passes; everything else is in the
		// defaults drop-in it writes into the config dir
		defaults: []string{"--config-dir=" + data + "/agent/etc/kubelet.conf.d", "--kubeconfig=" + data + "/agent/kubelet.kubeconfig", "--read-only-port=0"},
		marker:   data + "/agent/etc/kubelet.conf.d/00-" + name + "-defaults.conf",
		old:      name + " releases before v1.32 pass the kubelet's settings on the command line of its embedded kubelet, which only the " + name + " service's log shows; upgrade, or check with kube-bench's " + name + " benchmark",
	}
}

var distributions = func() []*distribution {
	k3s := rancher("k3s", "k3s")
	k3s.procs, k3s.sub = []string{"k3s", "k3s-server", "k3s-agent"}, []string{"server", "agent"}
	rke2 := rancher("rke2", "rke2")
	rke2.procs, rke2.sub = []string{"rke2"}, []string{"server", "agent"}
	rke2.units = []string{"rke2-server.service", "rke2-agent.service"}
	snap := "/var/snap/microk8s/current"
	microk8s := &distribution{name: "MicroK8s", procs: []string{"kubelite"}, units: []string{"snap.microk8s.daemon-kubelite.service"},
		argsFile: snap + "/args/kubelet", marker: snap + "/args/kubelet",
		env: map[string]string{"SNAP_DATA": snap, "SNAP": "/snap/microk8s/current", "SNAP_COMMON": "/var/snap/microk8s/common"}}
	return []*distribution{k3s, rke2, microk8s}
}()

// runningDistribution finds the process of a distribution that runs or
// starts the kubelet.
func (h *Host) runningDistribution(procs []Process) (*distribution, *Process) {
	for _, d := range distributions {
		for i, p := range procs {
			base := path.Base(p.Args[0])
			if !slices.Contains(d.procs, base) {
				continue
			}
			if d.sub != nil && base == d.procs[0] && (len(p.Args) < 2 || !slices.Contains(d.sub, p.Args[1])) {
				continue
			}
			return d, &procs[i]
		}
	}
	return nil, nil
}

// installedDistribution finds a distribution by its files, for a node's
// filesystem read without its processes.
func (h *Host) installedDistribution() *distribution {
	for _, d := range distributions {
		for _, f := range append([]string{d.marker}, d.configs...) {
			if st, _ := h.Stat(f); st.Exists {
				return d
			}
		}
	}
	return nil
}

// kubelet assembles the kubelet's arguments as the distribution does:
// its defaults, then the kubelet-arg entries of its configuration files,
// then those of its command line (the running process's, else its
// unit's), a later value of a flag winning.
func (d *distribution) kubelet(h *Host, p *Process, k *Kubelet) (*Kubelet, error) {
	st, _ := h.Stat(d.marker)
	if !st.Exists {
		if d.old != "" {
			return nil, fmt.Errorf("%s: %s does not exist: %s", d.name, d.marker, d.old)
		}
		return nil, fmt.Errorf("%s: no %s", d.name, d.marker)
	}
	k.Distribution = d.name
	var cmdline []string
	if p != nil {
		k.Process = p
		k.Read = append(k.Read, fmt.Sprintf("process %d (%s)", p.PID, strings.Join(p.Args[:min(2, len(p.Args))], " ")))
		cmdline = p.Args[1:]
	}
	for _, u := range d.units {
		for _, dir := range unitDirs {
			f := path.Join(dir, u)
			data, err := h.ReadFile(f)
			if err != nil {
				continue
			}
			if k.Service == "" {
				k.Service = f
				k.Read = append(k.Read, f)
			}
			if p == nil && f == k.Service {
				cmdline = execStart(string(data))
			}
		}
	}
	if d.argsFile != "" {
		data, err := h.ReadFile(d.argsFile)
		if err != nil {
			return nil, err
		}
		k.Read = append(k.Read, d.argsFile)
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(os.Expand(l, func(v string) string { return d.env[v] }))
			if l != "" && !strings.HasPrefix(l, "#") {
				k.Args = append(k.Args, words(l)...)
			}
		}
		return h.readKubeletConfig(k)
	}
	k.argFrom, k.argFile = map[string]string{}, map[string]string{}
	add := func(arg, from, file string) {
		k.Args = append(k.Args, arg)
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		k.argFrom[name], k.argFile[name] = from, file
	}
	for _, a := range d.defaults {
		add(a, "from "+d.name, "")
	}
	files := slices.Clone(d.configs)
	for _, dir := range d.configDirs {
		entries, _ := os.ReadDir(h.path(dir))
		for _, e := range entries {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				files = append(files, path.Join(dir, e.Name()))
			}
		}
	}
	// the node's name, which the agent passes as --hostname-override
	nodeName := h.hostname()
	type arg struct{ value, file string }
	var fromFiles []arg
	for _, f := range files {
		data, err := h.ReadFile(f)
		if err != nil {
			continue
		}
		cfg, err := decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		k.Read = append(k.Read, f)
		if n, ok := cfg["node-name"].(string); ok && n != "" {
			nodeName = n
		}
		// kubelet-arg replaces what earlier files gave, kubelet-arg+ adds
		if l, ok := cfg["kubelet-arg"].([]any); ok {
			fromFiles = nil
			for _, a := range l {
				fromFiles = append(fromFiles, arg{kubeletArg(fmt.Sprint(a)), f})
			}
		}
		if l, ok := cfg["kubelet-arg+"].([]any); ok {
			for _, a := range l {
				fromFiles = append(fromFiles, arg{kubeletArg(fmt.Sprint(a)), f})
			}
		}
	}
	if nodeName != "" {
		add("--hostname-override="+nodeName, "from "+d.name, "")
	}
	for _, a := range fromFiles {
		add(a.value, "in "+a.file, a.file)
	}
	from, file := "in "+k.Service, k.Service
	if p != nil {
		from, file = fmt.Sprintf("of process %d", p.PID), ""
	}
	for i := 0; i < len(cmdline); i++ {
		a := cmdline[i]
		if v, ok := strings.CutPrefix(a, "--kubelet-arg="); ok {
			add(kubeletArg(v), from, file)
		} else if a == "--kubelet-arg" && i+1 < len(cmdline) {
			add(kubeletArg(cmdline[i+1]), from, file)
			i++
		}
	}
	return h.readKubeletConfig(k)
}

// kubeletArg turns a kubelet-arg entry (name=value, with or without
// dashes) into a flag.
func kubeletArg(a string) string { return "--" + strings.TrimLeft(strings.Trim(a, `"'`), "-") }

// execStart is the command line of a unit's last ExecStart, continuation
// lines joined.
func execStart(unit string) []string {
	var exec string
	var cur *string
	for _, l := range strings.Split(unit, "\n") {
		t := strings.TrimSpace(l)
		if cur != nil {
			*cur += " " + strings.TrimSuffix(t, "\\")
			if !strings.HasSuffix(t, "\\") {
				cur = nil
			}
			continue
		}
		if v, ok := strings.CutPrefix(t, "ExecStart="); ok {
			exec = strings.TrimSuffix(v, "\\")
			if strings.HasSuffix(v, "\\") {
				cur = &exec
			}
		}
	}
	var out []string
	for _, w := range words(exec) {
		out = append(out, strings.Trim(w, `'`))
	}
	return out
}
