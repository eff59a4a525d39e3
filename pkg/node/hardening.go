package node

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/finding"
)

// certificates reads the certificates under the PKI directories, once
// for all the checks that judge them.
func (f *facts) certificates() (map[string]*x509.Certificate, []string) {
	if f.certs == nil {
		certs, read := f.readCertificates()
		f.certs = &certRead{certs, read}
	}
	return f.certs.certs, f.certs.read
}

func (f *facts) readCertificates() (certs map[string]*x509.Certificate, read []string) {
	certs = map[string]*x509.Certificate{}
	for _, dir := range []string{"/etc/kubernetes/pki", "/var/lib/kubelet/pki"} {
		for _, p := range f.host.under(dir, false, func(n string) bool { return strings.HasSuffix(n, ".crt") || strings.HasSuffix(n, ".pem") }) {
			data, err := f.host.ReadFile(p)
			if err != nil {
				continue
			}
			block, _ := pem.Decode(data)
			if block == nil || block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				continue
			}
			certs[p] = c
			read = append(read, p)
		}
	}
	return certs, read
}

func certCheck(id, control, title string, sev finding.Severity, rationale string, bad func(c *x509.Certificate, now time.Time) string) check {
	return check{id: id, control: control, severity: sev, title: title, scored: true, rationale: rationale, refs: []string{"NSA:tls", "NIST:4.3.1"}, remediation: "Renew the certificate (kubeadm certs renew, or the kubelet's certificate rotation) and restart what uses it",
		run: func(f *facts) (Status, string, []string) {
			certs, read := f.certificates()
			if len(certs) == 0 {
				return NotApplicable, "no certificates under /etc/kubernetes/pki or /var/lib/kubelet/pki", nil
			}
			var problems []string
			for _, p := range read {
				if why := bad(certs[p], f.now); why != "" {
					problems = append(problems, p+" "+why)
				}
			}
			if len(problems) > 0 {
				return Fail, strings.Join(problems, "; "), read
			}
			return Pass, fmt.Sprintf("%d certificates", len(certs)), read
		}}
}

// hostFile reads a file of the node's /proc or /sys, trimmed.
func (f *facts) hostFile(p string) (string, bool) {
	data, err := f.host.ReadFile(p)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(data)), true
}

var keysAndHost = group{"K", "Keys, certificates and host hardening (kubeguard)", append([]check{
	certCheck("K.1", "NODE-CERT-EXPIRED", "no certificate has expired", finding.High,
		"Kubernetes components refuse an expired certificate: the kubelet stops talking to the API server, or the API server to etcd, and the node or cluster fails.", func(c *x509.Certificate, now time.Time) string {
			if now.After(c.NotAfter) {
				return "expired on " + c.NotAfter.UTC().Format(time.DateOnly)
			}
			return ""
		}),
	certCheck("K.2", "NODE-CERT-EXPIRING", "no certificate expires within 30 days", finding.Medium,
		"A certificate that expires within 30 days takes its component down when it does, unless it is renewed first; kubeadm issues certificates for one year.", func(c *x509.Certificate, now time.Time) string {
			if !now.After(c.NotAfter) && now.Add(30*24*time.Hour).After(c.NotAfter) {
				return "expires on " + c.NotAfter.UTC().Format(time.DateOnly)
			}
			return ""
		}),
	{scored: true, id: "K.3", rationale: "The service-account signing key signs every token the cluster issues; the guidance asks to rotate keys regularly, and a leaked key forges tokens until it is replaced. Its age is read from the file's modification time, an approximation.", refs: []string{"NSA:authentication", "MITRE:T1528"}, control: "NODE-SA-KEY-AGE", title: "the service-account signing key is younger than a year", remediation: "Rotate the service-account key: add the new public key to --service-account-key-file, sign with the new private key, then drop the old one",
		run: func(f *facts) (Status, string, []string) {
			if f.apiserver.args == nil {
				return NotApplicable, "no API server on this node", nil
			}
			p := flags(f.apiserver.args)["service-account-signing-key-file"]
			if p == "" {
				return NotApplicable, "--service-account-signing-key-file is not set", []string{f.apiserver.source}
			}
			st, err := f.host.Stat(p)
			if err != nil {
				return Fail, err.Error(), []string{p}
			}
			if !st.Exists {
				return Fail, p + " does not exist", []string{p}
			}
			// the file's modification time stands for the key's age
			age := f.now.Sub(st.Modified)
			detail := fmt.Sprintf("%s was written %d days ago (its modification time)", p, int(age.Hours()/24))
			if age > 365*24*time.Hour {
				return Warn, detail, []string{p}
			}
			return Pass, detail, []string{p}
		}},
	{scored: true, id: "K.4", rationale: "AppArmor or SELinux confines containers beyond what namespaces do; without either, the runtime default profiles that pods ask for have no effect.", refs: []string{"NSA:pod-security/mac", "NIST:4.5.2", "MITRE:T1611"}, control: "NODE-MAC-DISABLED", title: "a mandatory access control (AppArmor or SELinux) is enabled", remediation: "Enable AppArmor (or SELinux in enforcing mode) on the node's kernel",
		run: func(f *facts) (Status, string, []string) {
			if v, ok := f.hostFile("/sys/module/apparmor/parameters/enabled"); ok {
				if v == "Y" {
					return Pass, "AppArmor is enabled", []string{"/sys/module/apparmor/parameters/enabled"}
				}
			}
			if v, ok := f.hostFile("/sys/fs/selinux/enforce"); ok {
				if v == "1" {
					return Pass, "SELinux is enforcing", []string{"/sys/fs/selinux/enforce"}
				}
				return Fail, "SELinux is permissive", []string{"/sys/fs/selinux/enforce"}
			}
			if _, err := os.Stat(f.host.path("/sys/module")); err != nil {
				return NotApplicable, "the node's /sys is not readable under the root", nil
			}
			return Fail, "neither AppArmor nor SELinux is enabled", []string{"/sys/module/apparmor", "/sys/fs/selinux"}
		}},
	{scored: true, id: "K.5", rationale: "cgroup v2 gives the kubelet reliable memory and PID limits and is what Kubernetes supports going forward; cgroup v1 support is in maintenance mode.", refs: []string{"NSA:resource-policies", "NIST:4.5.2"}, control: "NODE-CGROUP-V1", severity: finding.Low, title: "the node uses cgroup v2", remediation: "Boot with the unified cgroup hierarchy (systemd.unified_cgroup_hierarchy=1); cgroup v1 support is in maintenance in Kubernetes",
		run: func(f *facts) (Status, string, []string) {
			if _, err := os.Stat(f.host.path("/sys/fs/cgroup/cgroup.controllers")); err == nil {
				return Pass, "/sys/fs/cgroup is cgroup v2", []string{"/sys/fs/cgroup/cgroup.controllers"}
			}
			if _, err := os.Stat(f.host.path("/sys/fs/cgroup")); err != nil {
				return NotApplicable, "the node's /sys/fs/cgroup is not readable under the root", nil
			}
			return Fail, "/sys/fs/cgroup is cgroup v1", []string{"/sys/fs/cgroup"}
		}},
	{scored: true, id: "K.6", rationale: "Unprivileged BPF has been the way into several kernel privilege escalations; containers rarely need it.", refs: []string{"NIST:4.5.2", "MITRE:T1068"}, control: "NODE-UNPRIVILEGED-BPF", title: "unprivileged BPF is disabled", remediation: "sysctl -w kernel.unprivileged_bpf_disabled=1 (and persist it in /etc/sysctl.d)",
		run: func(f *facts) (Status, string, []string) {
			v, ok := f.hostFile("/proc/sys/kernel/unprivileged_bpf_disabled")
			if !ok {
				return NotApplicable, "the node's /proc/sys is not readable under the root", nil
			}
			if v == "0" {
				return Fail, "kernel.unprivileged_bpf_disabled is 0", []string{"/proc/sys/kernel/unprivileged_bpf_disabled"}
			}
			return Pass, "kernel.unprivileged_bpf_disabled is " + v, []string{"/proc/sys/kernel/unprivileged_bpf_disabled"}
		}},
}, append(runtimeChecks,
	certCheck("K.10", "NODE-CERT-LONG-LIVED", "no leaf certificate is valid for more than 398 days", finding.Low,
		"A long-lived certificate outlives a compromise of its key; kubeadm issues leaf certificates for one year and renews them on upgrade, and the kubelet rotates its own.",
		func(c *x509.Certificate, now time.Time) string {
			if days := int(c.NotAfter.Sub(c.NotBefore).Hours() / 24); !c.IsCA && days > 398 {
				return fmt.Sprintf("is valid for %d days", days)
			}
			return ""
		}),
	etcdSnapshots)...)}

// snapshotDirs are where k3s and RKE2 keep their scheduled etcd
// snapshots; kubeadm leaves snapshots to the operator.
var snapshotDirs = []string{"/var/lib/rancher/k3s/server/db/snapshots", "/var/lib/rancher/rke2/server/db/snapshots"}

// etcdSnapshots is K.11: a control-plane node's etcd snapshots exist, are
// recent and are not readable by every user (they hold every Secret).
var etcdSnapshots = check{id: "K.11", control: "NODE-ETCD-SNAPSHOTS", scored: true, severity: finding.Medium,
	title: "etcd snapshots are recent and readable by root alone",
	rationale: "An etcd snapshot restores the whole cluster when everything else is lost, and holds every Secret in it: " +
		"snapshots must be taken on a schedule, and no user of the node may read them.",
	refs:        []string{"NSA:secrets", "NIST:4.5.1", "MITRE:T1490"},
	remediation: "Keep scheduled snapshots (k3s and RKE2: etcd-snapshot-schedule-cron; kubeadm: etcdctl snapshot save from a timer), chmod 600 them, and copy them off the node",
	run: func(f *facts) (Status, string, []string) {
		for _, dir := range snapshotDirs {
			st, err := f.host.Stat(dir)
			if err != nil || !st.Exists {
				continue
			}
			files := f.host.under(dir, false, func(string) bool { return true })
			if len(files) == 0 {
				return Fail, dir + " holds no snapshot", []string{dir}
			}
			var newest time.Time
			var open []string
			for _, p := range files {
				fi, err := f.host.Stat(p)
				if err != nil {
					continue
				}
				if fi.Modified.After(newest) {
					newest = fi.Modified
				}
				if fi.Mode.Perm()&0o004 != 0 {
					open = append(open, p+" has permissions "+fi.Perm)
				}
			}
			age := f.now.Sub(newest)
			switch {
			case len(open) > 0:
				return Fail, strings.Join(open, "; "), []string{dir}
			case age > 2*24*time.Hour:
				return Fail, fmt.Sprintf("the newest of %d snapshots in %s was written %d days ago", len(files), dir, int(age.Hours()/24)), []string{dir}
			}
			return Pass, fmt.Sprintf("%d snapshots in %s, the newest %d hours old", len(files), dir, int(age.Hours())), []string{dir}
		}
		if f.etcd.args == nil && f.etcd.manifest == "" {
			return NotApplicable, "no etcd on this node", nil
		}
		return Warn, "etcd runs here but keeps no snapshot where kubeguard looks (" + strings.Join(snapshotDirs, ", ") + "); a person checks where its snapshots go", nil
	}}
