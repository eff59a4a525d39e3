package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
)

// file is one file of a fixture node, with its mode and owner.
type file struct {
	data     string
	mode     os.FileMode
	uid, gid int
}

// build writes a node's filesystem under a temporary root. Owners need
// root to set; tests that check them skip otherwise.
func build(t *testing.T, files map[string]file) string {
	t.Helper()
	root := t.TempDir()
	for p, f := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(full, f.uid, f.gid); err != nil {
			t.Skipf("setting owners needs root: %v", err)
		}
	}
	return root
}

const dropin = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`

// the KubeletConfiguration kubeadm writes
const kubeadmConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
rotateCertificates: true
staticPodPath: /etc/kubernetes/manifests
`

// kubeadmNode is a default kubeadm worker as the packages and kubeadm
// leave it: the drop-in and config.yaml world-readable.
func kubeadmNode() map[string]file {
	return map[string]file{
		"etc/passwd":                             {"root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\n", 0o644, 0, 0},
		"etc/group":                              {"root:x:0:\nubuntu:x:1000:\n", 0o644, 0, 0},
		"usr/lib/systemd/system/kubelet.service": {"[Service]\nExecStart=/usr/bin/kubelet\n", 0o644, 0, 0},
		"usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": {dropin, 0o644, 0, 0},
		"var/lib/kubelet/kubeadm-flags.env":                        {`KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.10"` + "\n", 0o644, 0, 0},
		"var/lib/kubelet/config.yaml":                              {kubeadmConfig, 0o644, 0, 0},
		"etc/kubernetes/kubelet.conf":                              {"apiVersion: v1\nkind: Config\n", 0o600, 0, 0},
		"etc/kubernetes/pki/ca.crt":                                {"-----BEGIN CERTIFICATE-----\n", 0o644, 0, 0},
	}
}

func results(t *testing.T, root string) (map[string]Result, *Kubelet) {
	t.Helper()
	secs, k, err := Check(NewHost(root), "cis-1.12")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Result{}
	for _, s := range secs {
		n := 0
		for _, r := range s.Results {
			out[r.ID] = r
			n++
		}
		if s.Counts[Pass]+s.Counts[Fail]+s.Counts[Warn]+s.Counts[NotApplicable]+s.Counts[Manual] != n {
			t.Errorf("%s: counts %v for %d results", s.ID, s.Counts, n)
		}
	}
	return out, k
}

func expect(t *testing.T, got map[string]Result, want map[string]Status) {
	t.Helper()
	for id, st := range want {
		if got[id].Status != st {
			t.Errorf("%s: %s (%s), want %s", id, got[id].Status, got[id].Detail, st)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d results, want %d", len(got), len(want))
	}
}

// A default kubeadm worker that is not running: the kubelet's command
// line is rebuilt from the unit, its drop-in and environment files.
func TestKubeadmDefault(t *testing.T) {
	got, k := results(t, build(t, kubeadmNode()))
	if k.Service != "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" || k.ConfigFile != "/var/lib/kubelet/config.yaml" ||
		k.Flags["container-runtime-endpoint"] != "unix:///var/run/containerd/containerd.sock" {
		t.Errorf("kubelet: %+v", k)
	}
	expect(t, got, map[string]Status{
		"4.1.1": Fail, "4.1.2": Pass, "4.1.3": NotApplicable, "4.1.4": NotApplicable, "4.1.5": Pass, "4.1.6": Pass,
		"4.1.7": Pass, "4.1.8": Pass, "4.1.9": Fail, "4.1.10": Pass,
		"4.2.1": Pass, "4.2.2": Pass, "4.2.3": Pass, "4.2.4": Pass, "4.2.5": Pass, "4.2.6": Pass, "4.2.7": Pass, "4.2.8": Pass,
		"4.2.9": Warn, "4.2.10": Pass, "4.2.11": Pass, "4.2.12": Warn, "4.2.13": Warn, "4.2.14": Warn, "4.3.1": NotApplicable,
		// no readable certificate, /sys or /proc/sys in this fixture
		"K.1": NotApplicable, "K.2": NotApplicable, "K.3": NotApplicable, "K.4": NotApplicable, "K.5": NotApplicable, "K.6": NotApplicable,
		"K.7": NotApplicable, "K.8": NotApplicable, "K.9": NotApplicable, "K.10": NotApplicable, "K.11": NotApplicable,
	})
	if d := got["4.1.9"].Detail; d != "/var/lib/kubelet/config.yaml has permissions 644, more than 600" {
		t.Errorf("4.1.9: %s", d)
	}
	if d := got["4.2.1"].Detail; !strings.Contains(d, "authentication.anonymous.enabled in /var/lib/kubelet/config.yaml") {
		t.Errorf("4.2.1 says where: %s", d)
	}
}

// A hardened, running worker: the process's command line is read, a
// --config-dir drop-in merges over the file, and a flag overrides the
// file (as the kubelet applies them).
func TestHardenedRunning(t *testing.T) {
	files := kubeadmNode()
	for _, p := range []string{"usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", "var/lib/kubelet/config.yaml"} {
		f := files[p]
		f.mode = 0o600
		files[p] = f
	}
	files["var/lib/kubelet/config.yaml"] = file{kubeadmConfig + `readOnlyPort: 0
streamingConnectionIdleTimeout: 5m
tlsCertFile: /var/lib/kubelet/pki/kubelet.crt
tlsPrivateKeyFile: /var/lib/kubelet/pki/kubelet.key
tlsCipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
podPidsLimit: 4096
`, 0o600, 0, 0}
	files["etc/kubernetes/kubelet.conf.d/50-seccomp.conf"] = file{"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nseccompDefault: true\n", 0o600, 0, 0}
	files["etc/kubernetes/proxy.conf"] = file{"apiVersion: v1\nkind: Config\n", 0o600, 0, 0}
	files["proc/4242/cmdline"] = file{strings.Join([]string{"/usr/bin/kubelet", "--kubeconfig=/etc/kubernetes/kubelet.conf",
		"--config=/var/lib/kubelet/config.yaml", "--config-dir", "/etc/kubernetes/kubelet.conf.d", "--make-iptables-util-chains=true"}, "\x00") + "\x00", 0o444, 0, 0}
	files["proc/777/cmdline"] = file{"/usr/local/bin/kube-proxy\x00--kubeconfig=/etc/kubernetes/proxy.conf\x00--metrics-bind-address=127.0.0.1:10249\x00", 0o444, 0, 0}
	got, k := results(t, build(t, files))
	if k.Process == nil || k.Process.PID != 4242 {
		t.Errorf("kubelet process: %+v", k.Process)
	}
	want := map[string]Status{}
	for id := range got {
		want[id] = Pass
		if strings.HasPrefix(id, "K.") {
			want[id] = NotApplicable // TestKeysAndHost's
		}
	}
	expect(t, got, want)
	if d := got["4.2.14"].Detail; !strings.Contains(d, "seccompDefault") {
		t.Errorf("4.2.14: %s", d)
	}

	// a flag overrides the file
	files["proc/4242/cmdline"] = file{strings.Replace(files["proc/4242/cmdline"].data, "\x00--make", "\x00--anonymous-auth=true\x00--make", 1), 0o444, 0, 0}
	got, _ = results(t, build(t, files))
	if r := got["4.2.1"]; r.Status != Fail || r.Detail != `--anonymous-auth of process 4242 is "true"` {
		t.Errorf("4.2.1 with the flag: %s %s", r.Status, r.Detail)
	}
}

// Owners are the node's own names; a file owned by another user fails.
func TestOwners(t *testing.T) {
	files := kubeadmNode()
	f := files["etc/kubernetes/kubelet.conf"]
	f.uid = 1000
	files["etc/kubernetes/kubelet.conf"] = f
	got, _ := results(t, build(t, files))
	if r := got["4.1.6"]; r.Status != Fail || r.Detail != "/etc/kubernetes/kubelet.conf is owned by ubuntu:root" {
		t.Errorf("4.1.6: %s %s", r.Status, r.Detail)
	}
}

// No kubelet, or one kubeguard cannot read yet, is an error that says
// what was tried, never an empty pass.
func TestNoKubelet(t *testing.T) {
	root := build(t, map[string]file{"etc/passwd": {"root:x:0:0::/:/bin/sh\n", 0o644, 0, 0}})
	if _, _, err := Check(NewHost(root), "cis-1.12"); err == nil || !strings.Contains(err.Error(), "no process named kubelet") {
		t.Errorf("no kubelet: %v", err)
	}
	// a k3s older than v1.32 keeps the kubelet's settings on a command
	// line only its log shows
	root = build(t, map[string]file{"proc/12/cmdline": {"/usr/local/bin/k3s\x00server\x00", 0o444, 0, 0}})
	if _, _, err := Check(NewHost(root), "cis-1.12"); err == nil || !strings.Contains(err.Error(), "00-k3s-defaults.conf does not exist: k3s releases before v1.32") {
		t.Errorf("k3s: %v", err)
	}
}

func TestDetectBenchmark(t *testing.T) {
	root := build(t, map[string]file{"etc/kubernetes/manifests/kube-apiserver.yaml": {"spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:v1.33.2\n", 0o600, 0, 0}})
	if b, err := DetectBenchmark(NewHost(root)); b != "cis-1.12" || err != nil {
		t.Errorf("1.33: %q %v", b, err)
	}
	root = build(t, map[string]file{"etc/hostname": {"worker-1\n", 0o644, 0, 0}})
	if _, err := DetectBenchmark(NewHost(root)); err == nil || !strings.Contains(err.Error(), "tried /etc/kubernetes/manifests/kube-apiserver.yaml (absent)") {
		t.Errorf("undetectable: %v", err)
	}
}

// A kubeadm control-plane node adds section 1.1: manifests, kubeconfigs
// and PKI as kubeadm writes them pass; the etcd data directory is
// root's, not etcd's (1.1.12 fails on every kubeadm node), and a CNI
// configuration readable by all is a warning.
func TestKubeadmControlPlane(t *testing.T) {
	files := kubeadmNode()
	add := func(p string, mode os.FileMode, data string) { files[p] = file{data, mode, 0, 0} }
	// the flags kubeadm sets
	add("etc/kubernetes/manifests/kube-apiserver.yaml", 0o600, manifest("kube-apiserver", "--advertise-address=10.0.0.10", "--allow-privileged=true",
		"--authorization-mode=Node,RBAC", "--client-ca-file=/etc/kubernetes/pki/ca.crt", "--enable-admission-plugins=NodeRestriction",
		"--enable-bootstrap-token-auth=true", "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt", "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
		"--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key", "--etcd-servers=https://127.0.0.1:2379",
		"--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt", "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
		"--secure-port=6443", "--service-account-issuer=https://kubernetes.default.svc.cluster.local", "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
		"--service-account-signing-key-file=/etc/kubernetes/pki/sa.key", "--service-cluster-ip-range=10.96.0.0/12",
		"--tls-cert-file=/etc/kubernetes/pki/apiserver.crt", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key"))
	add("etc/kubernetes/manifests/kube-controller-manager.yaml", 0o600, manifest("kube-controller-manager", "--bind-address=127.0.0.1",
		"--client-ca-file=/etc/kubernetes/pki/ca.crt", "--controllers=*,bootstrapsigner,tokencleaner", "--kubeconfig=/etc/kubernetes/controller-manager.conf",
		"--leader-elect=true", "--root-ca-file=/etc/kubernetes/pki/ca.crt", "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
		"--use-service-account-credentials=true"))
	add("etc/kubernetes/manifests/kube-scheduler.yaml", 0o600, manifest("kube-scheduler", "--bind-address=127.0.0.1", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"))
	add("etc/kubernetes/manifests/etcd.yaml", 0o600, manifest("etcd", "--cert-file=/etc/kubernetes/pki/etcd/server.crt", "--client-cert-auth=true",
		"--data-dir=/var/lib/etcd", "--key-file=/etc/kubernetes/pki/etcd/server.key", "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
		"--peer-client-cert-auth=true", "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key", "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
		"--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"))
	add("var/lib/etcd/member/snap/db", 0o600, "")
	add("etc/kubernetes/admin.conf", 0o600, "")
	add("etc/kubernetes/super-admin.conf", 0o600, "")
	add("etc/kubernetes/scheduler.conf", 0o600, "")
	add("etc/kubernetes/controller-manager.conf", 0o600, "")
	add("etc/kubernetes/pki/apiserver.crt", 0o644, "")
	add("etc/kubernetes/pki/apiserver.key", 0o600, "")
	add("etc/kubernetes/pki/etcd/ca.key", 0o600, "")
	add("etc/cni/net.d/10-calico.conflist", 0o644, "{}")
	root := build(t, files)
	os.Chmod(filepath.Join(root, "var/lib/etcd"), 0o700)
	got, _ := results(t, root)
	// what kube-bench reports on kubeadm's defaults
	want := map[string]Status{"1.1.9": Warn, "1.1.12": Fail,
		"1.2.1": Warn, "1.2.3": Warn, "1.2.5": Fail, "1.2.9": Warn, "1.2.11": Warn, "1.2.15": Fail, "1.2.16": Fail, "1.2.17": Fail,
		"1.2.18": Fail, "1.2.19": Fail, "1.2.20": Manual, "1.2.27": Warn, "1.2.29": Warn, "1.2.30": Fail,
		"1.3.1": Warn, "1.3.2": Fail, "1.4.1": Fail, "1.2.28": Warn,
		"3.1.1": Manual, "3.1.2": Manual, "3.1.3": Manual, "3.2.1": Warn, "3.2.2": Warn}
	for _, sec := range []struct {
		prefix string
		n      int
	}{{"1.1.", 21}, {"1.2.", 30}, {"1.3.", 7}, {"1.4.", 2}, {"2.", 7}} {
		for i := 1; i <= sec.n; i++ {
			id := sec.prefix + strconv.Itoa(i)
			if _, ok := want[id]; !ok {
				want[id] = Pass
			}
		}
	}
	for id, st := range got {
		if strings.HasPrefix(id, "4.") || strings.HasPrefix(id, "K.") {
			want[id] = st.Status // TestKubeadmDefault's and TestKeysAndHost's
		}
	}
	expect(t, got, want)
	if d := got["1.1.12"].Detail; d != "/var/lib/etcd is owned by root:root" {
		t.Errorf("1.1.12: %s", d)
	}
	if d := got["1.1.15"].Detail; d != "/etc/kubernetes/scheduler.conf has permissions 600" {
		t.Errorf("1.1.15 reads the scheduler's --kubeconfig: %s", d)
	}
	// a key readable by others
	os.Chmod(filepath.Join(root, "etc/kubernetes/pki/etcd/ca.key"), 0o644)
	got, _ = results(t, root)
	if r := got["1.1.21"]; r.Status != Warn || !strings.Contains(r.Detail, "/etc/kubernetes/pki/etcd/ca.key has permissions 644, more than 600") {
		t.Errorf("1.1.21: %s %s", r.Status, r.Detail)
	}
	if b, err := DetectBenchmark(NewHost(root)); b != "cis-1.12" || err != nil {
		t.Errorf("benchmark: %q %v", b, err)
	}

	// encryption at rest and the audit policy, read from the files the
	// API server's flags name
	api := files["etc/kubernetes/manifests/kube-apiserver.yaml"]
	api.data = strings.Replace(api.data, "    - --advertise-address", "    - --encryption-provider-config=/etc/kubernetes/enc.yaml\n    - --audit-policy-file=/etc/kubernetes/audit-policy.yaml\n    - --advertise-address", 1)
	files["etc/kubernetes/manifests/kube-apiserver.yaml"] = api
	enc := func(first string) string {
		return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - " + first + "\n  - identity: {}\n"
	}
	for _, c := range []struct {
		first, policy string
		want          map[string]Status
		detail        string
	}{
		{"secretbox:\n      keys:\n      - name: k1\n        secret: c2VjcmV0", auditpolicy.GeneratePolicy(false), map[string]Status{"1.2.28": Pass, "3.2.1": Pass, "3.2.2": Pass},
			"/etc/kubernetes/enc.yaml encrypts secrets first with secretbox (1 keys), written 0 days ago"},
		{"identity: {}", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n", map[string]Status{"1.2.28": Warn, "3.2.1": Pass, "3.2.2": Warn},
			"/etc/kubernetes/enc.yaml stores secrets unencrypted (identity is the first provider)"},
	} {
		files["etc/kubernetes/enc.yaml"] = file{enc(c.first), 0o600, 0, 0}
		files["etc/kubernetes/audit-policy.yaml"] = file{c.policy, 0o600, 0, 0}
		got, _ := results(t, build(t, files))
		for id, st := range c.want {
			if got[id].Status != st {
				t.Errorf("%s: %s (%s), want %s", id, got[id].Status, got[id].Detail, st)
			}
		}
		if !strings.HasPrefix(got["1.2.28"].Detail, c.detail) {
			t.Errorf("1.2.28: %s", got["1.2.28"].Detail)
		}
	}
}

// Certificates, the service-account key's age and the kernel's
// hardening, each with a node that passes and one that does not.
func TestKeysAndHost(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	certFor := func(notBefore, notAfter time.Time) string {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: notBefore, NotAfter: notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	cert := func(notAfter time.Time) string { return certFor(notAfter.AddDate(-1, 0, 0), notAfter) } // kubeadm's year
	good := kubeadmNode()
	good["etc/kubernetes/pki/ca.crt"] = file{cert(now.AddDate(5, 0, 0)), 0o644, 0, 0}
	good["var/lib/kubelet/pki/kubelet.crt"] = file{cert(now.AddDate(0, 6, 0)), 0o644, 0, 0}
	good["sys/module/apparmor/parameters/enabled"] = file{"Y\n", 0o444, 0, 0}
	good["sys/fs/cgroup/cgroup.controllers"] = file{"cpu memory pids\n", 0o444, 0, 0}
	good["proc/sys/kernel/unprivileged_bpf_disabled"] = file{"2\n", 0o644, 0, 0}
	check := func(files map[string]file, want map[string]Status, details map[string]string) {
		t.Helper()
		h := NewHost(build(t, files))
		h.Now = func() time.Time { return now }
		secs, _, err := Check(h, "cis-1.12")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secs {
			for _, r := range s.Results {
				if w, ok := want[r.ID]; ok && r.Status != w {
					t.Errorf("%s: %s (%s), want %s", r.ID, r.Status, r.Detail, w)
				}
				if d, ok := details[r.ID]; ok && !strings.Contains(r.Detail, d) {
					t.Errorf("%s: %q lacks %q", r.ID, r.Detail, d)
				}
			}
		}
	}
	check(good, map[string]Status{"K.1": Pass, "K.2": Pass, "K.4": Pass, "K.5": Pass, "K.6": Pass, "K.10": Pass}, map[string]string{"K.1": "2 certificates"})
	bad := maps.Clone(good)
	bad["var/lib/kubelet/pki/kubelet.crt"] = file{cert(now.AddDate(0, 0, 10)), 0o644, 0, 0}
	bad["etc/kubernetes/pki/front-proxy-ca.crt"] = file{cert(now.AddDate(0, 0, -1)), 0o644, 0, 0}
	bad["sys/module/apparmor/parameters/enabled"] = file{"N\n", 0o444, 0, 0}
	delete(bad, "sys/fs/cgroup/cgroup.controllers")
	bad["sys/fs/cgroup/memory/memory.limit_in_bytes"] = file{"0\n", 0o444, 0, 0}
	bad["proc/sys/kernel/unprivileged_bpf_disabled"] = file{"0\n", 0o644, 0, 0}
	bad["etc/kubernetes/pki/apiserver.crt"] = file{certFor(now.AddDate(-1, 0, 0), now.AddDate(4, 0, 0)), 0o644, 0, 0}
	check(bad, map[string]Status{"K.1": Fail, "K.2": Fail, "K.4": Fail, "K.5": Fail, "K.6": Fail, "K.10": Fail}, map[string]string{
		"K.1": "/etc/kubernetes/pki/front-proxy-ca.crt expired on 2026-11-30", "K.2": "/var/lib/kubelet/pki/kubelet.crt expires on 2026-12-11",
		"K.10": "/etc/kubernetes/pki/apiserver.crt is valid for 1826 days"})
}

// The earlier benchmarks differ in a few items: cis-1.10 wants the
// kubelet's CA and the PKI's certificates at 600 and has no 1.2.30 or
// 4.2.14; cis-1.11 has 4.2.15 (IPAddressDeny) and accepts the CBC and RSA
// suites cis-1.12 dropped.
func TestBenchmarkVersions(t *testing.T) {
	files := kubeadmNode()
	files["var/lib/kubelet/config.yaml"] = file{kubeadmConfig + "tlsCipherSuites: [TLS_RSA_WITH_AES_128_GCM_SHA256]\n", 0o644, 0, 0}
	root := build(t, files)
	ids := func(b string) map[string]Result {
		secs, _, err := Check(NewHost(root), b)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Result{}
		for _, s := range secs {
			for _, r := range s.Results {
				out[r.ID] = r
			}
		}
		return out
	}
	v10, v11, v12 := ids("cis-1.10"), ids("cis-1.11"), ids("cis-1.12")
	if _, ok := v10["4.2.14"]; ok || v10["4.1.7"].Status != Warn || v10["4.2.12"].Status != Pass {
		t.Errorf("cis-1.10: 4.2.14 %v, 4.1.7 %s (%s), 4.2.12 %s", v10["4.2.14"], v10["4.1.7"].Status, v10["4.1.7"].Detail, v10["4.2.12"].Status)
	}
	if v11["4.2.15"].Status != Warn || v11["4.2.12"].Status != Pass || v11["4.1.7"].Status != Pass {
		t.Errorf("cis-1.11: 4.2.15 %s, 4.2.12 %s, 4.1.7 %s", v11["4.2.15"].Status, v11["4.2.12"].Status, v11["4.1.7"].Status)
	}
	if _, ok := v12["4.2.15"]; ok || v12["4.2.12"].Status != Warn {
		t.Errorf("cis-1.12: 4.2.15 %v, 4.2.12 %s", v12["4.2.15"], v12["4.2.12"].Status)
	}
	for _, c := range []struct{ image, want string }{{"v1.28.4", "cis-1.10"}, {"v1.30.1", "cis-1.11"}, {"v1.34.0", "cis-1.12"}} {
		r := build(t, map[string]file{"etc/kubernetes/manifests/kube-apiserver.yaml": {"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:" + c.image + "\n", 0o600, 0, 0}})
		if b, err := DetectBenchmark(NewHost(r)); b != c.want || err != nil {
			t.Errorf("%s: %q %v, want %s", c.image, b, err, c.want)
		}
	}
}

// A manifest is read as the kubelet reads it: flow-style lists and args
// count as well as block lists of command.
func TestStaticPodArgs(t *testing.T) {
	root := build(t, map[string]file{"etc/kubernetes/manifests/kube-scheduler.yaml": {`apiVersion: v1
kind: Pod
spec:
  containers:
  - name: sidecar
    image: registry.example.com/log-shipper:1.0
    command: ["/bin/shipper", "--profiling=true"]
  - name: kube-scheduler
    image: registry.k8s.io/kube-scheduler:v1.33.2
    command: ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"]
    args: ["--profiling=false", "--bind-address", "127.0.0.1"]
`, 0o600, 0, 0}})
	c := NewHost(root).component(nil, "kube-scheduler")
	got := flags(c.args)
	if c.source != "/etc/kubernetes/manifests/kube-scheduler.yaml" || got["profiling"] != "false" || got["bind-address"] != "127.0.0.1" || got["kubeconfig"] != "/etc/kubernetes/scheduler.conf" {
		t.Errorf("%s: %v", c.source, got)
	}
}

// manifest is a static pod manifest running c with flags.
func manifest(c string, flags ...string) string {
	return "spec:\n  containers:\n  - command:\n    - " + c + "\n    - " + strings.Join(flags, "\n    - ") + "\n    image: registry.k8s.io/" + c + ":v1.33.2\n"
}

// A failed item points at the line that sets it: the config file's
// field, the unit file's flag, the manifest's flag; the file itself for
// its mode.
func TestLocations(t *testing.T) {
	files := kubeadmNode()
	files["var/lib/kubelet/config.yaml"] = file{strings.Replace(kubeadmConfig, "  anonymous:\n    enabled: false", "  anonymous:\n    enabled: true", 1), 0o644, 0, 0}
	files["var/lib/kubelet/kubeadm-flags.env"] = file{`KUBELET_KUBEADM_ARGS="--read-only-port=10255 --container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"` + "\n", 0o644, 0, 0}
	got, _ := results(t, build(t, files))
	for id, want := range map[string]struct {
		file, field string
		line, col   int
	}{
		"4.2.1": {"/var/lib/kubelet/config.yaml", "authentication.anonymous.enabled", 5, 5},
		"4.2.4": {"/var/lib/kubelet/kubeadm-flags.env", "--read-only-port", 1, 23},
		"4.1.9": {"/var/lib/kubelet/config.yaml", "", 0, 0},
		// unset: the file where it goes
		"4.2.13": {"/var/lib/kubelet/config.yaml", "podPidsLimit", 0, 0},
	} {
		r := got[id]
		if r.Position.File != want.file || r.Field != want.field || r.Position.Line != want.line || r.Position.Column != want.col {
			t.Errorf("%s: %s %s:%d:%d, want %s:%d:%d %s", id, r.Field, r.Position.File, r.Position.Line, r.Position.Column, want.file, want.line, want.col, want.field)
		}
	}
	if r := got["4.2.2"]; r.Status != Pass || r.Position.File != "" {
		t.Errorf("a passing item has no position: %+v", r)
	}

	// a manifest's flag, and a missing flag at the containers
	cp := kubeadmNode()
	cp["etc/kubernetes/manifests/kube-apiserver.yaml"] = file{manifest("kube-apiserver", "--authorization-mode=Node,RBAC", "--profiling=true"), 0o600, 0, 0}
	got, _ = results(t, build(t, cp))
	if r := got["1.2.15"]; r.Status != Fail || r.Position.File != "/etc/kubernetes/manifests/kube-apiserver.yaml" || r.Field != "--profiling" || r.Position.Line == 0 {
		t.Errorf("1.2.15: %s %+v", r.Status, r)
	}
	if r := got["1.2.16"]; r.Status != Fail || r.Field != "spec.containers" || r.Position.Line == 0 {
		t.Errorf("1.2.16: %s %+v", r.Status, r)
	}
}

// k3sDefaults is the kubelet configuration k3s v1.33 writes into its
// config dir.
const k3sDefaults = `apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 2m0s
    enabled: true
  x509:
    clientCAFile: /var/lib/rancher/%[1]s/agent/client-ca.crt
authorization:
  mode: Webhook
cgroupDriver: systemd
clusterDNS:
- 10.43.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: unix:///run/k3s/containerd/containerd.sock
failSwapOn: false
healthzBindAddress: 127.0.0.1
kind: KubeletConfiguration
serializeImagePulls: false
shutdownGracePeriod: 0s
staticPodPath: /var/lib/rancher/%[1]s/agent/pod-manifests
tlsCertFile: /var/lib/rancher/%[1]s/agent/serving-kubelet.crt
tlsPrivateKeyFile: /var/lib/rancher/%[1]s/agent/serving-kubelet.key
`

// rancherNode is a k3s or RKE2 node as its installer leaves it.
func rancherNode(name, unit string) map[string]file {
	agent := "var/lib/rancher/" + name + "/agent/"
	return map[string]file{
		"etc/passwd":                 {"root:x:0:0:root:/root:/bin/bash\n", 0o644, 0, 0},
		"etc/group":                  {"root:x:0:\n", 0o644, 0, 0},
		"etc/hostname":               {name + "-1\n", 0o644, 0, 0},
		"etc/systemd/system/" + unit: {"[Unit]\nDescription=Lightweight Kubernetes\n[Service]\nType=notify\nExecStart=/usr/local/bin/" + name + " \\\n    server \\\n\n", 0o644, 0, 0},
		agent + "etc/kubelet.conf.d/00-" + name + "-defaults.conf": {strings.ReplaceAll(k3sDefaults, "%[1]s", name), 0o600, 0, 0},
		agent + "kubelet.kubeconfig":                               {"apiVersion: v1\nkind: Config\n", 0o600, 0, 0},
		agent + "client-ca.crt":                                    {"-----BEGIN CERTIFICATE-----\n", 0o600, 0, 0},
	}
}

// A running k3s server: the kubelet inside the k3s process gets k3s's
// own arguments, its config dir's defaults, the kubelet-arg of
// /etc/rancher/k3s/config.yaml and of the command line, later winning.
func TestK3s(t *testing.T) {
	files := rancherNode("k3s", "k3s.service")
	files["etc/rancher/k3s/config.yaml"] = file{"write-kubeconfig-mode: \"0600\"\nkubelet-arg:\n- streaming-connection-idle-timeout=5m\n- \"--pod-max-pids=4096\"\n", 0o600, 0, 0}
	files["etc/rancher/k3s/config.yaml.d/50-seccomp.yaml"] = file{"kubelet-arg+:\n- seccomp-default=true\n", 0o600, 0, 0}
	files["proc/3001/cmdline"] = file{"/usr/local/bin/k3s\x00server\x00--kubelet-arg=event-qps=-1\x00", 0o444, 0, 0}
	got, k := results(t, build(t, files))
	if k.Distribution != "k3s" || k.Process == nil || k.Process.PID != 3001 || k.Service != "/etc/systemd/system/k3s.service" ||
		k.Flags["config-dir"] != "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d" || k.Flags["streaming-connection-idle-timeout"] != "5m" {
		t.Errorf("kubelet: %+v", k)
	}
	expect(t, got, map[string]Status{
		"4.1.1": Fail, "4.1.2": Pass, "4.1.3": NotApplicable, "4.1.4": NotApplicable, "4.1.5": Pass, "4.1.6": Pass,
		"4.1.7": Pass, "4.1.8": Pass, "4.1.9": Pass, "4.1.10": Pass,
		"4.2.1": Pass, "4.2.2": Pass, "4.2.3": Pass, "4.2.4": Pass, "4.2.5": Pass, "4.2.6": Pass, "4.2.7": Warn,
		"4.2.8": Warn, "4.2.9": Pass, "4.2.10": Pass, "4.2.11": Pass, "4.2.12": Warn, "4.2.13": Pass, "4.2.14": Pass, "4.3.1": NotApplicable,
		"K.1": NotApplicable, "K.2": NotApplicable, "K.3": NotApplicable, "K.4": NotApplicable, "K.5": NotApplicable, "K.6": NotApplicable,
		"K.7": NotApplicable, "K.8": NotApplicable, "K.9": NotApplicable, "K.10": NotApplicable, "K.11": NotApplicable,
	})
	for id, want := range map[string]string{
		"4.1.5":  "/var/lib/rancher/k3s/agent/kubelet.kubeconfig has permissions 600",
		"4.1.9":  "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf has permissions 600",
		"4.2.1":  `authentication.anonymous.enabled in /var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf is "false"`,
		"4.2.4":  `--read-only-port from k3s is "0"`,
		"4.2.8":  `--event-qps of process 3001 is "-1"`,
		"4.2.14": `--seccomp-default in /etc/rancher/k3s/config.yaml.d/50-seccomp.yaml is "true"`,
	} {
		if got[id].Detail != want {
			t.Errorf("%s: %s, want %s", id, got[id].Detail, want)
		}
	}
	if r := got["4.1.1"]; r.Position.File != "/etc/systemd/system/k3s.service" {
		t.Errorf("4.1.1 at %v", r.Position)
	}
}

// An RKE2 agent read from its files alone (no /proc): its unit's
// command line, its config's kubelet-arg overriding the defaults drop-in.
func TestRKE2(t *testing.T) {
	files := rancherNode("rke2", "rke2-agent.service")
	files["etc/rancher/rke2/config.yaml"] = file{"server: https://10.0.0.1:9345\nkubelet-arg:\n- anonymous-auth=true\n", 0o600, 0, 0}
	files["usr/local/lib/systemd/system/rke2-agent.service"] = file{"[Service]\nExecStart=/usr/local/bin/rke2 agent\n", 0o644, 0, 0}
	got, k := results(t, build(t, files))
	if k.Distribution != "rke2" || k.Process != nil || k.Service != "/etc/systemd/system/rke2-agent.service" {
		t.Errorf("kubelet: %+v", k)
	}
	expect(t, got, map[string]Status{
		"4.1.1": Fail, "4.1.2": Pass, "4.1.3": NotApplicable, "4.1.4": NotApplicable, "4.1.5": Pass, "4.1.6": Pass,
		"4.1.7": Pass, "4.1.8": Pass, "4.1.9": Pass, "4.1.10": Pass,
		"4.2.1": Fail, "4.2.2": Pass, "4.2.3": Pass, "4.2.4": Pass, "4.2.5": Pass, "4.2.6": Pass, "4.2.7": Warn,
		"4.2.8": Pass, "4.2.9": Pass, "4.2.10": Pass, "4.2.11": Pass, "4.2.12": Warn, "4.2.13": Warn, "4.2.14": Warn, "4.3.1": NotApplicable,
		"K.1": NotApplicable, "K.2": NotApplicable, "K.3": NotApplicable, "K.4": NotApplicable, "K.5": NotApplicable, "K.6": NotApplicable,
		"K.7": NotApplicable, "K.8": NotApplicable, "K.9": NotApplicable, "K.10": NotApplicable, "K.11": NotApplicable,
	})
	if r := got["4.2.1"]; r.Detail != `--anonymous-auth in /etc/rancher/rke2/config.yaml is "true"` || r.Position.File != "/etc/rancher/rke2/config.yaml" || r.Position.Line != 3 {
		t.Errorf("4.2.1: %s at %v", r.Detail, r.Position)
	}
	if d := got["4.2.7"].Detail; d != `--hostname-override from rke2 is "rke2-1"` {
		t.Errorf("4.2.7: %s", d)
	}
	if !strings.Contains(strings.Join(k.Read, ","), "/etc/rancher/rke2/config.yaml") {
		t.Errorf("read: %v", k.Read)
	}
}

// MicroK8s: kubelite runs the kubelet with the arguments of its args
// file, snap variables expanded.
func TestMicroK8s(t *testing.T) {
	snap := "var/snap/microk8s/current/"
	files := map[string]file{
		"etc/passwd": {"root:x:0:0:root:/root:/bin/bash\n", 0o644, 0, 0},
		"etc/group":  {"root:x:0:\n", 0o644, 0, 0},
		"etc/systemd/system/snap.microk8s.daemon-kubelite.service": {"[Service]\nExecStart=/usr/bin/snap run microk8s.daemon-kubelite\n", 0o644, 0, 0},
		snap + "args/kubelet": {"--kubeconfig=${SNAP_DATA}/credentials/kubelet.config\n--cert-dir=${SNAP_DATA}/certs\n--client-ca-file=${SNAP_DATA}/certs/ca.crt\n" +
			"--anonymous-auth=false\n--root-dir=${SNAP_COMMON}/var/lib/kubelet\n# the defaults\n--authentication-token-webhook=true\n--read-only-port=0\n", 0o660, 0, 0},
		snap + "credentials/kubelet.config": {"apiVersion: v1\nkind: Config\n", 0o660, 0, 0},
		snap + "certs/ca.crt":               {"-----BEGIN CERTIFICATE-----\n", 0o660, 0, 0},
		"proc/77/cmdline":                   {"/snap/microk8s/1234/kubelite\x00--kubelet-args-file=/var/snap/microk8s/current/args/kubelet\x00", 0o444, 0, 0},
	}
	got, k := results(t, build(t, files))
	if k.Distribution != "MicroK8s" || k.Flags["kubeconfig"] != "/var/snap/microk8s/current/credentials/kubelet.config" {
		t.Errorf("kubelet: %+v", k)
	}
	// kubelite passes no --authorization-mode, and the flag's default is
	// AlwaysAllow
	expect(t, got, map[string]Status{
		"4.1.1": Fail, "4.1.2": Pass, "4.1.3": NotApplicable, "4.1.4": NotApplicable, "4.1.5": Fail, "4.1.6": Pass,
		"4.1.7": Warn, "4.1.8": Pass, "4.1.9": NotApplicable, "4.1.10": NotApplicable,
		"4.2.1": Pass, "4.2.2": Fail, "4.2.3": Pass, "4.2.4": Pass, "4.2.5": Pass, "4.2.6": Pass, "4.2.7": Pass,
		"4.2.8": Pass, "4.2.9": Warn, "4.2.10": Pass, "4.2.11": Pass, "4.2.12": Warn, "4.2.13": Warn, "4.2.14": Warn, "4.3.1": NotApplicable,
		"K.1": NotApplicable, "K.2": NotApplicable, "K.3": NotApplicable, "K.4": NotApplicable, "K.5": NotApplicable, "K.6": NotApplicable,
		"K.7": NotApplicable, "K.8": NotApplicable, "K.9": NotApplicable, "K.10": NotApplicable, "K.11": NotApplicable,
	})
	if d := got["4.2.1"].Detail; d != `--anonymous-auth of process 77 is "false"` {
		t.Errorf("4.2.1: %s", d)
	}
}

// The container runtime's own settings: containerd (both config
// versions, and hosts.toml) and CRI-O with its drop-ins and
// registries.conf.
func TestRuntime(t *testing.T) {
	base := kubeadmNode()
	files := maps.Clone(base)
	files["etc/containerd/config.toml"] = file{`version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
`, 0o644, 0, 0}
	files["etc/containerd/certs.d/docker.io/hosts.toml"] = file{"server = \"https://registry-1.docker.io\"\n[host.\"https://mirror.internal\"]\n  capabilities = [\"pull\"]\n  ca = \"/etc/ssl/mirror.pem\"\n", 0o644, 0, 0}
	got, _ := results(t, build(t, files))
	expect(t, pick(got, "K.7", "K.8", "K.9"), map[string]Status{"K.7": Pass, "K.8": Pass, "K.9": Pass})

	// containerd 2 turns AppArmor off; a mirror over plain HTTP
	files["etc/containerd/config.toml"] = file{`version = 3
[plugins.'io.containerd.cri.v1.runtime']
  disable_apparmor = true
`, 0o644, 0, 0}
	files["etc/containerd/certs.d/docker.io/hosts.toml"] = file{"server = \"https://registry-1.docker.io\"\n\n[host.\"http://mirror.internal:5000\"]\n  capabilities = [\"pull\"]\n", 0o644, 0, 0}
	got, _ = results(t, build(t, files))
	expect(t, pick(got, "K.7", "K.8", "K.9"), map[string]Status{"K.7": Fail, "K.8": Pass, "K.9": Fail})
	if r := got["K.7"]; r.Detail != "/etc/containerd/config.toml: plugins.io.containerd.cri.v1.runtime.disable_apparmor is true" ||
		r.Position.File != "/etc/containerd/config.toml" || r.Position.Line != 3 || r.Position.Column != 3 {
		t.Errorf("K.7: %s at %v", r.Detail, r.Position)
	}
	if r := got["K.9"]; r.Position.File != "/etc/containerd/certs.d/docker.io/hosts.toml" || r.Position.Line != 3 {
		t.Errorf("K.9: %s at %v", r.Detail, r.Position)
	}

	// CRI-O: a drop-in adds SYS_ADMIN to every container and runs them
	// unconfined; registries.conf allows an insecure registry
	files = maps.Clone(base)
	files["etc/crio/crio.conf"] = file{"[crio.runtime]\ndefault_capabilities = [\"CHOWN\", \"NET_BIND_SERVICE\"]\n", 0o644, 0, 0}
	files["etc/crio/crio.conf.d/10-debug.conf"] = file{"[crio.runtime]\ndefault_capabilities = [\"CHOWN\", \"SYS_ADMIN\"]\nseccomp_profile = \"unconfined\"\n", 0o644, 0, 0}
	files["etc/containers/registries.conf"] = file{"unqualified-search-registries = [\"docker.io\"]\n[[registry]]\nlocation = \"registry.internal:5000\"\ninsecure = true\n", 0o644, 0, 0}
	got, _ = results(t, build(t, files))
	expect(t, pick(got, "K.7", "K.8", "K.9"), map[string]Status{"K.7": Fail, "K.8": Fail, "K.9": Fail})
	if r := got["K.8"]; r.Detail != "/etc/crio/crio.conf.d/10-debug.conf: crio.runtime.default_capabilities adds SYS_ADMIN" || r.Position.Line != 2 {
		t.Errorf("K.8: %s at %v", r.Detail, r.Position)
	}
	if r := got["K.9"]; r.Detail != "/etc/containers/registries.conf: registry[0].insecure is true" || r.Position.Line != 4 {
		t.Errorf("K.9: %s at %v", r.Detail, r.Position)
	}

	// a file that does not decode is a failure that says so
	files["etc/crio/crio.conf"] = file{"[crio.runtime\n", 0o644, 0, 0}
	got, _ = results(t, build(t, files))
	if r := got["K.7"]; r.Status != Fail || !strings.Contains(r.Detail, "/etc/crio/crio.conf:") {
		t.Errorf("broken config: %s %s", r.Status, r.Detail)
	}
}

// pick keeps some results.
func pick(got map[string]Result, ids ...string) map[string]Result {
	out := map[string]Result{}
	for _, id := range ids {
		out[id] = got[id]
	}
	return out
}

// A kubelet's live configuration, as /configz serves it, is judged like
// its files; what only its command line or unit shows is not applicable.
func TestConfigz(t *testing.T) {
	configz := `{"kubeletconfig":{"authentication":{"anonymous":{"enabled":true},"webhook":{"enabled":true,"cacheTTL":"2m0s"},"x509":{"clientCAFile":"/etc/kubernetes/pki/ca.crt"}},
"authorization":{"mode":"Webhook"},"readOnlyPort":10255,"streamingConnectionIdleTimeout":"4h0m0s","makeIPTablesUtilChains":true,"eventRecordQPS":50,
"rotateCertificates":true,"podPidsLimit":-1,"seccompDefault":false,"featureGates":{"RotateKubeletServerCertificate":true}}}`
	c, err := ConfigzChecklist("worker-2", "cis-1.12", []byte(configz))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for _, r := range c.Sections[0].Results {
		got[r.ID] = r
	}
	expect(t, got, map[string]Status{"4.2.1": Fail, "4.2.2": Pass, "4.2.3": Pass, "4.2.4": Warn, "4.2.5": Pass, "4.2.6": Pass, "4.2.7": NotApplicable,
		"4.2.8": Pass, "4.2.9": Warn, "4.2.10": Pass, "4.2.11": Pass, "4.2.12": Warn, "4.2.13": Warn, "4.2.14": Warn})
	if r := got["4.2.1"]; r.Detail != `authentication.anonymous.enabled in /api/v1/nodes/worker-2/proxy/configz is "true"` || r.Position.File != "" || c.Target.Name != "worker-2" {
		t.Errorf("4.2.1: %s at %v", r.Detail, r.Position)
	}
	if d := got["4.2.13"].Detail; d != `podPidsLimit in /api/v1/nodes/worker-2/proxy/configz is "-1"` {
		t.Errorf("4.2.13, no limit: %s", d)
	}
	if c.Sections[0].Counts[NotApplicable] != 1 || c.Sections[0].Counts[Fail] != 1 || c.Sections[0].Counts[Warn] != 5 {
		t.Errorf("counts %v", c.Sections[0].Counts)
	}
	for _, bad := range []string{`{}`, `not json`} {
		if _, err := ConfigzChecklist("w", "cis-1.12", []byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// K.11: a k3s server's scheduled etcd snapshots, recent and root's alone;
// a control-plane node whose snapshots kubeguard cannot find asks a
// person.
func TestEtcdSnapshots(t *testing.T) {
	files := rancherNode("k3s", "k3s.service")
	snap := "var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-k3s-1-1893456000"
	files[snap] = file{"snapshot", 0o600, 0, 0}
	root := build(t, files)
	k11 := func() Result {
		got, _ := results(t, root)
		return got["K.11"]
	}
	if r := k11(); r.Status != Pass || !strings.Contains(r.Detail, "1 snapshots in /var/lib/rancher/k3s/server/db/snapshots") {
		t.Errorf("fresh: %s %s", r.Status, r.Detail)
	}
	os.Chmod(filepath.Join(root, snap), 0o644)
	if r := k11(); r.Status != Fail || !strings.Contains(r.Detail, "has permissions 644") {
		t.Errorf("readable: %s %s", r.Status, r.Detail)
	}
	os.Chmod(filepath.Join(root, snap), 0o600)
	old := time.Now().Add(-5 * 24 * time.Hour)
	os.Chtimes(filepath.Join(root, snap), old, old)
	if r := k11(); r.Status != Fail || !strings.Contains(r.Detail, "written 5 days ago") {
		t.Errorf("stale: %s %s", r.Status, r.Detail)
	}
	cp := kubeadmNode()
	cp["etc/kubernetes/manifests/etcd.yaml"] = file{manifest("etcd", "--data-dir=/var/lib/etcd"), 0o600, 0, 0}
	got, _ := results(t, build(t, cp))
	if r := got["K.11"]; r.Status != Warn {
		t.Errorf("kubeadm etcd: %s %s", r.Status, r.Detail)
	}
}
