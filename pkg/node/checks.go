package node

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// The verdicts, results and sections of kubeguard node are the report's
// checklist.
type (
	Status  = report.Status
	Result  = report.ChecklistItem
	Section = report.ChecklistSection
)

const (
	Pass          = report.Pass
	Fail          = report.Fail
	Warn          = report.Warn
	NotApplicable = report.NotApplicable
	Manual        = report.Manual
)

// facts are what the checks read.
type facts struct {
	host    *Host
	kubelet *Kubelet
	proxy   *Process
	// the control plane's components, on a control-plane node
	apiserver, controllerManager, scheduler, etcd component
	now                                           time.Time
	// read once for the checks that share them (see certificates and
	// runtimeConfigs)
	certs   *certRead
	runtime *runtimeRead
}

type certRead struct {
	certs map[string]*x509.Certificate
	read  []string
}

type runtimeRead struct {
	cfgs []runtimeConfig
	err  error
}

type check struct {
	id, title   string
	scored      bool
	remediation string
	run         func(f *facts) (Status, string, []string)
	// in lists the benchmarks that have the item (nil: all)
	in []string
	// severity overrides the default of its findings (medium when
	// scored, low when not); control names the catalog control of an
	// item outside the benchmark (CIS-ID otherwise).
	severity finding.Severity
	control  string
	// manual items are judged by a person (status Manual)
	manual bool
	// rationale and refs describe a control outside the benchmark
	rationale string
	refs      []string
	// at says where a failing item is fixed: a file and the flag
	// (--name) or config field (a dotted path) in it.
	at func(f *facts) (at object.Position, field string)
}

// only limits a check to some benchmark versions.
func only(c check, benchmarks ...string) check {
	c.in = benchmarks
	return c
}

// byVersion is a check that differs between benchmark versions.
func byVersion(checks map[string]check) []check {
	var out []check
	for b, c := range checks {
		c.in = []string{b}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b check) int { return strings.Compare(a.in[0], b.in[0]) })
	return out
}

// fileCheck checks files' permissions (no bit beyond perm) or owner
// (root:root unless owner names another): every file which returns
// must pass.
func fileCheck(id, title string, scored bool, which func(f *facts) ([]string, string), perm, owner string) check {
	rem := "chmod " + perm + " FILE"
	if owner != "" {
		rem = "chown " + owner + " FILE"
	}
	// judge says whether a file passes, and why
	judge := func(st File) (bool, string) {
		if owner != "" {
			return st.Owner == owner, st.Path + " is owned by " + st.Owner
		}
		want, _ := strconv.ParseUint(perm, 8, 32)
		if uint64(st.Mode.Perm())&^want == 0 {
			return true, st.Path + " has permissions " + st.Perm
		}
		return false, fmt.Sprintf("%s has permissions %s, more than %s", st.Path, st.Perm, perm)
	}
	return check{id: id, title: title, scored: scored, remediation: rem, run: func(f *facts) (Status, string, []string) {
		paths, why := which(f)
		if len(paths) == 0 {
			return NotApplicable, why, nil
		}
		var ok, bad []string
		var read []string
		for _, p := range paths {
			st, err := f.host.Stat(p)
			if err != nil {
				return Fail, err.Error(), []string{p}
			}
			if !st.Exists {
				continue
			}
			read = append(read, p)
			if good, desc := judge(st); good {
				ok = append(ok, desc)
			} else {
				bad = append(bad, desc)
			}
		}
		switch {
		case len(read) == 0:
			return NotApplicable, strings.Join(paths, ", ") + " does not exist", nil
		case len(bad) > 0:
			return Fail, strings.Join(bad, "; "), read
		case len(ok) > 3:
			return Pass, fmt.Sprintf("%d files: %s, ...", len(ok), strings.Join(ok[:3], "; ")), read
		}
		return Pass, strings.Join(ok, "; "), read
	}, at: func(f *facts) (object.Position, string) {
		paths, _ := which(f)
		for _, p := range paths {
			if st, err := f.host.Stat(p); err != nil || !st.Exists {
				continue
			} else if good, _ := judge(st); !good {
				return object.Position{File: p}, ""
			}
		}
		return object.Position{}, ""
	}}
}

// one adapts a single-file finder to fileCheck.
func one(which func(f *facts) (string, string)) func(f *facts) ([]string, string) {
	return func(f *facts) ([]string, string) {
		p, why := which(f)
		if p == "" {
			return nil, why
		}
		return []string{p}, ""
	}
}

// settingCheck checks a kubelet setting; ok judges its value, unset is
// the verdict when neither flag nor file sets it.
func settingCheck(id, title string, scored bool, flag, field, remediation string, unset Status, ok func(v string) bool) check {
	return check{id: id, title: title, scored: scored, remediation: remediation, at: kubeletAt(flag, field), run: func(f *facts) (Status, string, []string) {
		s := f.kubelet.Get(flag, field)
		read := f.kubelet.Read
		if !s.Set {
			if field == "" {
				return unset, "--" + flag + " is not set", read
			}
			return unset, fmt.Sprintf("neither --%s nor %s is set", flag, field), read
		}
		if ok(s.Value) {
			return Pass, fmt.Sprintf("%s is %q", s.Source, s.Value), read
		}
		return Fail, fmt.Sprintf("%s is %q", s.Source, s.Value), read
	}}
}

func is(want string) func(string) bool {
	return func(v string) bool { return strings.EqualFold(v, want) }
}
func not(bad string) func(string) bool {
	return func(v string) bool { return !strings.EqualFold(v, bad) }
}
func nonEmpty(v string) bool { return v != "" }

func kubeletService(f *facts) (string, string) {
	if f.kubelet.Service == "" {
		return "", "no systemd unit starts the kubelet"
	}
	return f.kubelet.Service, ""
}

func kubeletKubeconfig(f *facts) (string, string) {
	if p := f.kubelet.Flags["kubeconfig"]; p != "" {
		return p, ""
	}
	return "", "the kubelet has no --kubeconfig"
}

// kubeletConfig is the --config file and the --config-dir drop-ins.
func kubeletConfig(f *facts) ([]string, string) {
	files := slices.Clone(f.kubelet.DropIns)
	if f.kubelet.ConfigFile != "" {
		files = append([]string{f.kubelet.ConfigFile}, files...)
	}
	if len(files) == 0 {
		return nil, "the kubelet has no --config file"
	}
	return files, ""
}

func clientCA(f *facts) (string, string) {
	if s := f.kubelet.Get("client-ca-file", "authentication.x509.clientCAFile"); s.Value != "" {
		return s.Value, ""
	}
	return "", "the kubelet names no client CA file"
}

func proxyKubeconfig(f *facts) (string, string) {
	if f.proxy == nil {
		return "", "no kube-proxy process on this node"
	}
	if p := flags(f.proxy.Args[1:])["kubeconfig"]; p != "" {
		return p, ""
	}
	return "", "kube-proxy has no --kubeconfig"
}

// strongCiphers10 are the suites cis-1.10 and cis-1.11 accept for the
// kubelet (4.2.12): cis-1.12's and two RSA key-exchange suites.
var strongCiphers10 = append(slices.Clone(strongCiphers), "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_GCM_SHA256")

func kubeletCiphers(allowed []string) check {
	return settingCheck("4.2.12", "the kubelet only uses strong cryptographic ciphers", false, "tls-cipher-suites", "tlsCipherSuites",
		"Set tlsCipherSuites to a subset of "+strings.Join(allowed, ",")+restart, Fail,
		func(v string) bool {
			for _, c := range strings.Split(v, ",") {
				if !slices.Contains(allowed, strings.TrimSpace(c)) {
					return false
				}
			}
			return true
		})
}

// ipAddressDeny is cis-1.11's 4.2.15: the kubelet's systemd unit denies
// IP traffic it does not need (IPAddressDeny=any).
var ipAddressDeny = check{id: "4.2.15", title: "IPAddressDeny is set to any", remediation: "Add IPAddressDeny=any (and IPAddressAllow= what the kubelet needs) to the kubelet's systemd unit",
	run: func(f *facts) (Status, string, []string) {
		if f.kubelet.Service == "" {
			return NotApplicable, "no systemd unit starts the kubelet", nil
		}
		for _, p := range f.kubelet.Read {
			data, err := f.host.ReadFile(p)
			if err == nil && strings.Contains(string(data), "IPAddressDeny=any") {
				return Pass, p + " sets IPAddressDeny=any", []string{p}
			}
		}
		return Fail, "no kubelet unit file sets IPAddressDeny=any", f.kubelet.Read
	}}

// strongCiphers are the suites the benchmark accepts (4.2.12).
var strongCiphers = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}

const restart = " and restart the kubelet (systemctl daemon-reload; systemctl restart kubelet)"

// worker are section 4 of the CIS Kubernetes Benchmark v1.12 (worker
// nodes), as kubeguard evaluates it.
type group struct {
	id, title string
	checks    []check
}

var worker = []group{
	{"4.1", "Worker Node Configuration Files", slices.Concat([]check{
		fileCheck("4.1.1", "kubelet service file permissions are 600 or more restrictive", true, one(kubeletService), "600", ""),
		fileCheck("4.1.2", "kubelet service file ownership is root:root", true, one(kubeletService), "", "root:root"),
		fileCheck("4.1.3", "proxy kubeconfig file permissions are 600 or more restrictive, if it exists", false, one(proxyKubeconfig), "600", ""),
		fileCheck("4.1.4", "proxy kubeconfig file ownership is root:root, if it exists", false, one(proxyKubeconfig), "", "root:root"),
		fileCheck("4.1.5", "--kubeconfig kubelet.conf file permissions are 600 or more restrictive", true, one(kubeletKubeconfig), "600", ""),
		fileCheck("4.1.6", "--kubeconfig kubelet.conf file ownership is root:root", true, one(kubeletKubeconfig), "", "root:root"),
	}, byVersion(map[string]check{
		"cis-1.10": fileCheck("4.1.7", "certificate authorities file permissions are 600 or more restrictive", false, one(clientCA), "600", ""),
		"cis-1.11": fileCheck("4.1.7", "certificate authorities file permissions are 644 or more restrictive", false, one(clientCA), "644", ""),
		"cis-1.12": fileCheck("4.1.7", "certificate authorities file permissions are 644 or more restrictive", false, one(clientCA), "644", ""),
	}), []check{
		fileCheck("4.1.8", "client certificate authorities file ownership is root:root", false, one(clientCA), "", "root:root"),
		fileCheck("4.1.9", "kubelet config.yaml file permissions are 600 or more restrictive", true, kubeletConfig, "600", ""),
		fileCheck("4.1.10", "kubelet config.yaml file ownership is root:root", true, kubeletConfig, "", "root:root"),
	})},
	{"4.2", "Kubelet", slices.Concat([]check{
		settingCheck("4.2.1", "--anonymous-auth is false", true, "anonymous-auth", "authentication.anonymous.enabled",
			"Set authentication.anonymous.enabled: false in the kubelet config file (or --anonymous-auth=false)"+restart, Fail, is("false")),
		settingCheck("4.2.2", "--authorization-mode is not AlwaysAllow", true, "authorization-mode", "authorization.mode",
			"Set authorization.mode: Webhook in the kubelet config file (or --authorization-mode=Webhook)"+restart, Fail,
			func(v string) bool { return !slices.Contains(strings.Split(v, ","), "AlwaysAllow") }),
		settingCheck("4.2.3", "--client-ca-file is set", true, "client-ca-file", "authentication.x509.clientCAFile",
			"Set authentication.x509.clientCAFile to the cluster CA in the kubelet config file"+restart, Fail, nonEmpty),
		settingCheck("4.2.4", "--read-only-port is 0, if set", false, "read-only-port", "readOnlyPort",
			"Set readOnlyPort: 0 in the kubelet config file"+restart, Pass, is("0")),
		settingCheck("4.2.5", "--streaming-connection-idle-timeout is not 0", false, "streaming-connection-idle-timeout", "streamingConnectionIdleTimeout",
			"Set streamingConnectionIdleTimeout to a duration such as 5m in the kubelet config file"+restart, Pass,
			func(v string) bool { return v != "0" && v != "0s" }),
		settingCheck("4.2.6", "--make-iptables-util-chains is true", true, "make-iptables-util-chains", "makeIPTablesUtilChains",
			"Set makeIPTablesUtilChains: true in the kubelet config file (or remove it: true is the default)"+restart, Pass, is("true")),
		settingCheck("4.2.7", "--hostname-override is not set", false, "hostname-override", "",
			"Remove --hostname-override from the kubelet's command line"+restart, Pass, func(string) bool { return false }),
		settingCheck("4.2.8", "eventRecordQPS captures events (0 or more)", false, "event-qps", "eventRecordQPS",
			"Set eventRecordQPS to an appropriate level in the kubelet config file"+restart, Pass,
			func(v string) bool { n, err := strconv.ParseFloat(v, 64); return err == nil && n >= 0 }),
		{id: "4.2.9", at: kubeletAt("tls-cert-file", "tlsCertFile"), title: "--tls-cert-file and --tls-private-key-file are set", remediation: "Set tlsCertFile and tlsPrivateKeyFile in the kubelet config file" + restart,
			run: func(f *facts) (Status, string, []string) {
				c, k := f.kubelet.Get("tls-cert-file", "tlsCertFile"), f.kubelet.Get("tls-private-key-file", "tlsPrivateKeyFile")
				if c.Value != "" && k.Value != "" {
					return Pass, c.Source + " and " + k.Source + " are set", f.kubelet.Read
				}
				return Fail, "the kubelet's serving certificate and key are not both set (with rotation, serverTLSBootstrap may issue them instead)", f.kubelet.Read
			}},
		settingCheck("4.2.10", "--rotate-certificates is not false", true, "rotate-certificates", "rotateCertificates",
			"Set rotateCertificates: true in the kubelet config file (or remove --rotate-certificates=false)"+restart, Pass, is("true")),
		{id: "4.2.11", at: kubeletAt("feature-gates", "featureGates.RotateKubeletServerCertificate"), title: "RotateKubeletServerCertificate is true", remediation: "Remove RotateKubeletServerCertificate=false from the feature gates" + restart,
			run: func(f *facts) (Status, string, []string) {
				s := f.kubelet.FeatureGate("RotateKubeletServerCertificate")
				if !s.Set {
					return Pass, "RotateKubeletServerCertificate is not set (on by default)", f.kubelet.Read
				}
				if strings.EqualFold(s.Value, "false") {
					return Fail, s.Source + " sets RotateKubeletServerCertificate=false", f.kubelet.Read
				}
				return Pass, s.Source + " sets RotateKubeletServerCertificate=" + s.Value, f.kubelet.Read
			}},
	}, byVersion(map[string]check{
		"cis-1.10": kubeletCiphers(strongCiphers10),
		"cis-1.11": kubeletCiphers(strongCiphers10),
		"cis-1.12": kubeletCiphers(strongCiphers),
	}), []check{
		settingCheck("4.2.13", "a limit is set on pod PIDs", false, "pod-max-pids", "podPidsLimit",
			"Set podPidsLimit in the kubelet config file"+restart, Fail,
			func(v string) bool { n, err := strconv.ParseInt(v, 10, 64); return err == nil && n > 0 }), // -1: no limit
		only(settingCheck("4.2.14", "--seccomp-default is true", false, "seccomp-default", "seccompDefault",
			"Set seccompDefault: true in the kubelet config file"+restart, Fail, is("true")), "cis-1.11", "cis-1.12"),
	}, []check{only(ipAddressDeny, "cis-1.11")})},
	{"4.3", "kube-proxy", []check{
		{id: "4.3.1", title: "the kube-proxy metrics service is bound to localhost", scored: true,
			remediation: "Remove --metrics-bind-address, or bind it to 127.0.0.1 (the default is 127.0.0.1:10249)",
			run: func(f *facts) (Status, string, []string) {
				if f.proxy == nil {
					return NotApplicable, "no kube-proxy process on this node", nil
				}
				read := []string{fmt.Sprintf("process %d (%s)", f.proxy.PID, f.proxy.Args[0])}
				v, ok := flags(f.proxy.Args[1:])["metrics-bind-address"]
				switch {
				case !ok:
					return Pass, "--metrics-bind-address is not set (127.0.0.1:10249)", read
				case strings.HasPrefix(v, "127.0.0.1"):
					return Pass, "--metrics-bind-address is " + v, read
				}
				return Fail, "--metrics-bind-address is " + v, read
			}},
	}},
}

// Check evaluates a benchmark version on a node: sections 1 to 3 on a
// control-plane node, 4 and K on every node.
func Check(h *Host, benchmark string) ([]Section, *Kubelet, error) {
	procs := h.Processes()
	f := &facts{host: h, proxy: h.Find(procs, "kube-proxy"), now: h.Now(),
		apiserver: h.component(procs, "kube-apiserver"), controllerManager: h.component(procs, "kube-controller-manager"),
		scheduler: h.component(procs, "kube-scheduler"), etcd: h.component(procs, "etcd")}
	k, err := FindKubelet(h, procs)
	if err != nil && !f.controlPlane() {
		return nil, nil, err
	}
	var groups []group
	if f.controlPlane() {
		groups = []group{master, apiServerChecks, controllerManagerChecks, schedulerChecks, etcdChecks, controlPlaneConfig}
	}
	// a control plane without a kubelet (components run as services) has
	// no section 4; the report says why
	if err == nil {
		f.kubelet = k
		groups = append(groups, worker...)
	} else {
		k = &Kubelet{Missing: err.Error()}
	}
	groups = append(groups, keysAndHost)
	return evaluate(f, groups, benchmark), k, nil
}

// evaluate runs the groups' checks of a benchmark. Without a host (a
// kubelet read through the API), results have no position.
func evaluate(f *facts, groups []group, benchmark string) []Section {
	var out []Section
	for _, g := range groups {
		s := Section{ID: g.id, Title: g.title, Counts: map[Status]int{}}
		for _, c := range g.checks {
			if c.in != nil && !slices.Contains(c.in, benchmark) {
				continue
			}
			st, detail, read := c.run(f)
			if st == Fail && !c.scored {
				st = Warn // kube-bench's verdict for a Manual check that does not pass
			}
			r := Result{ID: c.id, Title: c.title, Scored: c.scored, Status: st, Detail: detail, Remediation: c.remediation, Read: read,
				Control: c.controlID(), Severity: c.defaultSeverity()}
			if (st == Fail || st == Warn) && c.at != nil && f.host != nil {
				r.Position, r.Field = c.at(f)
			}
			s.Results = append(s.Results, r)
			s.Counts[st]++
		}
		out = append(out, s)
	}
	return out
}

// ControlPlane reports whether a report has the control-plane sections.
func ControlPlane(secs []Section) bool { return len(secs) > 0 && strings.HasPrefix(secs[0].ID, "1.") }
