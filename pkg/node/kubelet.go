package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Kubelet is the kubelet's configuration as the kubelet itself reads it:
// its command line (from the running process, or else the systemd units
// that start it), the --config file with --config-dir drop-ins merged
// over it, and flags overriding the file.
type Kubelet struct {
	Process *Process `json:"process,omitempty"`
	// Args are the kubelet's arguments; Flags the flags among them.
	Args  []string          `json:"args"`
	Flags map[string]string `json:"-"`
	// Service is the systemd file that holds the command line (a
	// drop-in such as kubeadm's 10-kubeadm.conf, or the unit).
	Service    string `json:"service,omitempty"`
	ConfigFile string `json:"configFile,omitempty"`
	// DropIns are the --config-dir files merged over it.
	DropIns []string `json:"dropIns,omitempty"`
	// Distribution names the distribution that starts the kubelet (k3s,
	// rke2, MicroK8s) when it is not kubelet.service.
	Distribution string `json:"distribution,omitempty"`
	// layers are the config file and drop-ins, in the order the kubelet
	// merges them.
	layers []layer
	// argFrom says where a distribution's kubelet argument came from
	// ("from k3s", "in FILE"); argFile is that file.
	argFrom, argFile map[string]string
	// Read lists every file and process read, for the report.
	Read []string `json:"read"`
	// Missing says why there is no kubelet to check, on a control-plane
	// node whose components run without one.
	Missing string `json:"missing,omitempty"`
}

var unitDirs = []string{"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// FindKubelet finds the kubelet's configuration. It fails, saying what it
// tried, when there is no kubelet to read.
func FindKubelet(h *Host, procs []Process) (*Kubelet, error) {
	k := &Kubelet{}
	var dist *distribution
	var distProc *Process
	if p := h.Find(procs, "kubelet"); p != nil {
		k.Process, k.Args = p, p.Args[1:]
		k.Read = append(k.Read, fmt.Sprintf("process %d (%s)", p.PID, p.Args[0]))
	} else if p := h.Find(procs, "hyperkube"); p != nil && len(p.Args) > 1 && p.Args[1] == "kubelet" {
		k.Process, k.Args = p, p.Args[2:]
		k.Read = append(k.Read, fmt.Sprintf("process %d (hyperkube kubelet)", p.PID))
	} else if dist, distProc = h.runningDistribution(procs); dist != nil {
		return dist.kubelet(h, distProc, k)
	}
	svc, args, read, err := h.systemdKubelet()
	if err != nil {
		return nil, err
	}
	k.Service = svc
	k.Read = append(k.Read, read...)
	if k.Process == nil {
		if args == nil {
			// a distribution that starts the kubelet itself, read from its files
			if d := h.installedDistribution(); d != nil {
				return d.kubelet(h, nil, &Kubelet{})
			}
			return nil, fmt.Errorf("no kubelet: no process named kubelet under %s, no kubelet.service unit with an ExecStart in %s, and no k3s, RKE2 or MicroK8s installation",
				h.path("/proc"), strings.Join(unitDirs, ", "))
		}
		k.Args = args
	}
	return h.readKubeletConfig(k)
}

// readKubeletConfig reads the --config file and --config-dir drop-ins
// the kubelet's arguments name.
func (h *Host) readKubeletConfig(k *Kubelet) (*Kubelet, error) {
	k.Flags = flags(k.Args)
	if cfg := k.Flags["config"]; cfg != "" {
		k.ConfigFile = cfg
		data, err := h.ReadFile(cfg)
		if err != nil {
			return nil, fmt.Errorf("the kubelet's --config %s: %v", cfg, err)
		}
		m, err := decode(data)
		if err != nil {
			return nil, fmt.Errorf("the kubelet's --config %s: %v", cfg, err)
		}
		k.layers = append(k.layers, layer{cfg, m})
		k.Read = append(k.Read, cfg)
	}
	if dir := k.Flags["config-dir"]; dir != "" {
		// drop-ins in lexical order, each merged over what came before
		entries, _ := os.ReadDir(h.path(dir))
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			p := path.Join(dir, e.Name())
			data, err := h.ReadFile(p)
			if err != nil {
				return nil, err
			}
			m, err := decode(data)
			if err != nil {
				return nil, fmt.Errorf("kubelet drop-in %s: %v", p, err)
			}
			k.layers = append(k.layers, layer{p, m})
			k.Read = append(k.Read, p)
			k.DropIns = append(k.DropIns, p)
		}
	}
	return k, nil
}

func decode(data []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// flags reads --name=value and --name value arguments (the kubelet has
// no positional arguments).
func flags(args []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			value = "true"
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				value, i = args[i+1], i+1
			}
		}
		out[name] = value
	}
	return out
}

// systemdKubelet reads kubelet.service and its drop-ins as systemd does:
// Environment and EnvironmentFile set variables, the last ExecStart
// (after an empty one resets it) is the command, with $VAR and ${VAR}
// expanded. It returns the file holding the ExecStart.
func (h *Host) systemdKubelet() (svc string, args []string, read []string, err error) {
	var files []string
	for _, d := range unitDirs {
		if f, _ := h.Stat(path.Join(d, "kubelet.service")); f.Exists {
			files = append(files, f.Path)
			break
		}
	}
	seen := map[string]bool{}
	var dropins []string
	for _, d := range unitDirs {
		entries, _ := os.ReadDir(h.path(path.Join(d, "kubelet.service.d")))
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".conf") && !seen[e.Name()] { // /etc overrides /usr/lib of the same name
				seen[e.Name()] = true
				dropins = append(dropins, path.Join(d, "kubelet.service.d", e.Name()))
			}
		}
	}
	slices.SortFunc(dropins, func(a, b string) int { return strings.Compare(path.Base(a), path.Base(b)) })
	files = append(files, dropins...)
	env := map[string]string{}
	var exec string
	for _, f := range files {
		data, err := h.ReadFile(f)
		if err != nil {
			return "", nil, nil, err
		}
		read = append(read, f)
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			key, value, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			switch strings.TrimSpace(key) {
			case "Environment":
				for _, kv := range words(value) {
					if k, v, ok := strings.Cut(kv, "="); ok {
						env[k] = v
					}
				}
			case "EnvironmentFile":
				ef := strings.TrimPrefix(strings.TrimSpace(value), "-")
				if data, err := h.ReadFile(ef); err == nil {
					read = append(read, ef)
					for _, l := range strings.Split(string(data), "\n") {
						if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(k, "#") {
							env[k] = strings.Trim(v, `"'`)
						}
					}
				}
			case "ExecStart":
				exec, svc = strings.TrimSpace(value), f
			}
		}
	}
	if exec == "" {
		return svc, nil, read, nil
	}
	for _, w := range words(os.Expand(exec, func(k string) string { return env[k] })) {
		args = append(args, strings.Fields(w)...)
	}
	if len(args) > 0 {
		args = args[1:] // the program
	}
	return svc, args, read, nil
}

// words splits on spaces, keeping double-quoted strings together.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// layer is one file of the kubelet's configuration.
type layer struct {
	file   string
	config map[string]any
}

// Setting is a kubelet setting's value and where it came from.
type Setting struct {
	Value  string `json:"value,omitempty"`
	Set    bool   `json:"set"`
	Source string `json:"source,omitempty"`
}

// Get reads a setting as the kubelet does: the flag when given, else the
// config file's field (a dotted path).
func (k *Kubelet) Get(flag, field string) Setting {
	if v, ok := k.Flags[flag]; ok && flag != "" {
		src := "--" + flag + " of the command line"
		if from := k.argFrom[flag]; from != "" {
			src = "--" + flag + " " + from
		} else if k.Process != nil {
			src = fmt.Sprintf("--%s of process %d", flag, k.Process.PID)
		} else if k.Service != "" {
			src = "--" + flag + " in " + k.Service
		}
		return Setting{Value: v, Set: true, Source: src}
	}
	if file, v, ok := k.lookup(field); ok {
		return Setting{Value: v, Set: true, Source: field + " in " + file}
	}
	return Setting{}
}

// lookup finds a config field (a dotted path) in the file that sets it
// last: the --config file, or a --config-dir drop-in merged over it.
func (k *Kubelet) lookup(field string) (file, value string, ok bool) {
	if field == "" {
		return "", "", false
	}
	for i := len(k.layers) - 1; i >= 0; i-- {
		var cur any = k.layers[i].config
		found := true
		for _, p := range strings.Split(field, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				found = false
				break
			}
			if cur, found = m[p]; !found {
				break
			}
		}
		if !found {
			continue
		}
		v := fmt.Sprint(cur)
		if l, isList := cur.([]any); isList {
			var parts []string
			for _, x := range l {
				parts = append(parts, fmt.Sprint(x))
			}
			v = strings.Join(parts, ",")
		}
		return k.layers[i].file, v, true
	}
	return "", "", false
}

// FeatureGate reads one feature gate from --feature-gates or the config
// file's featureGates.
func (k *Kubelet) FeatureGate(name string) Setting {
	if fg, ok := k.Flags["feature-gates"]; ok {
		for _, kv := range strings.Split(fg, ",") {
			if n, v, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(n) == name {
				return Setting{Value: strings.TrimSpace(v), Set: true, Source: "--feature-gates"}
			}
		}
	}
	return k.Get("", "featureGates."+name)
}
