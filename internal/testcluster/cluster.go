package testcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

// AdminToken authenticates the admin identity (user "admin" in group
// system:masters) of every test cluster. The cluster listens on loopback
// only.
const AdminToken = "kubeguard-e2e-admin"

// Options configure a cluster.
type Options struct {
	// Dir holds certificates, etcd data, logs and the kubeconfig; empty
	// means a new temporary directory, removed by Stop.
	Dir string
	// Detach starts the processes in their own process group so they
	// outlive the caller (make cluster-up); Stop by PID file then.
	Detach bool
	// Log receives progress messages; nil discards them.
	Log func(string)
	// Audit, when set, turns on the API server's audit log and webhook
	// backends.
	Audit *Audit
}

// Audit configures the API server's auditing: the policy, a log file
// (audit.log in the cluster's directory) and a webhook backend posting
// batches to WebhookURL with a client certificate the cluster's CA
// signed (CommonName kube-apiserver-audit).
type Audit struct {
	Policy     []byte
	WebhookURL string
	// InitialBackoff is the webhook's first retry delay (the API server
	// retries a failed batch five times, 1.5 times longer each time).
	InitialBackoff time.Duration
}

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	Dir        string
	URL        string // https://127.0.0.1:PORT
	Kubeconfig string
	CA         *tlsutil.CA // signs the serving and client certificates
	Version    string

	tempDir bool
	procs   []*exec.Cmd
}

// Start builds (once) and starts a cluster, and waits until the API server
// is ready.
func Start(opts Options) (*Cluster, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string) {}
	}
	root, err := Root()
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	for _, comp := range Components {
		if bins[comp], err = Build(root, comp, logf); err != nil {
			return nil, err
		}
	}
	etcd, err := Etcd(logf)
	if err != nil {
		return nil, err
	}
	version, _ := Version(root)
	c := &Cluster{Dir: opts.Dir, Version: version}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "kubeguard-cluster-"); err != nil {
			return nil, err
		}
		c.tempDir = true
	} else if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	c.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])

	if err := c.writeFiles(); err != nil {
		return nil, err
	}
	var auditArgs []string
	if a := opts.Audit; a != nil {
		if auditArgs, err = c.writeAudit(a); err != nil {
			return nil, err
		}
	}
	if err := c.start(opts.Detach, "etcd", etcd,
		"--name=default",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--log-level=warn",
	); err != nil {
		return nil, err
	}
	f := func(name string) string { return filepath.Join(c.Dir, name) }
	if err := c.start(opts.Detach, "kube-apiserver", bins["kube-apiserver"], append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(ports[2]),
		"--tls-cert-file=" + f("apiserver.crt"), "--tls-private-key-file=" + f("apiserver.key"),
		"--client-ca-file=" + f("ca.crt"),
		"--token-auth-file=" + f("tokens.csv"),
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f("sa.pub"), "--service-account-signing-key-file=" + f("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/24",
		// No endpoint reconciliation on loopback, no controller manager to
		// create default ServiceAccounts, and privileged pods allowed so
		// that kubeguard, not the API server's validation, decides.
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
	}, auditArgs...)...); err != nil {
		return nil, err
	}
	if err := c.waitReady(90 * time.Second); err != nil {
		return nil, err
	}
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := c.start(opts.Detach, "kube-controller-manager", bins["kube-controller-manager"],
		"--kubeconfig="+c.Kubeconfig,
		"--controllers=clusterrole-aggregation,serviceaccount,serviceaccount-token,root-ca-cert-publisher",
		"--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file="+f("sa.key"), "--root-ca-file="+f("ca.crt"),
	); err != nil {
		return nil, err
	}
	if err := c.waitAggregated(60 * time.Second); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// writeAudit writes the audit policy and the webhook's kubeconfig and
// returns the API server's audit flags: batches sent within 100ms, so
// that alerts follow requests closely.
func (c *Cluster) writeAudit(a *Audit) ([]string, error) {
	certPEM, keyPEM, err := c.CA.Issue(tlsutil.Leaf{CommonName: "kube-apiserver-audit"})
	if err != nil {
		return nil, err
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: audit
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: kube-apiserver
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: audit
  context: {cluster: audit, user: kube-apiserver}
current-context: audit
`, a.WebhookURL, base64.StdEncoding.EncodeToString(c.CA.CertPEM), base64.StdEncoding.EncodeToString(certPEM), base64.StdEncoding.EncodeToString(keyPEM))
	f := func(name string) string { return filepath.Join(c.Dir, name) }
	if err := os.WriteFile(f("audit-policy.yaml"), a.Policy, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f("audit-webhook.kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
		return nil, err
	}
	backoff := a.InitialBackoff
	if backoff <= 0 {
		backoff = time.Second
	}
	return []string{"--audit-policy-file=" + f("audit-policy.yaml"), "--audit-log-path=" + f("audit.log"),
		"--audit-webhook-config-file=" + f("audit-webhook.kubeconfig"), "--audit-webhook-batch-max-wait=100ms",
		"--audit-webhook-initial-backoff=" + backoff.String()}, nil
}

// writeFiles generates the CA, the API server's serving certificate, the
// service-account signing key and the token file.
func (c *Cluster) writeFiles() error {
	ca, err := tlsutil.NewCA("kubeguard-e2e-ca", 24*time.Hour)
	if err != nil {
		return err
	}
	c.CA = ca
	certPEM, keyPEM, err := ca.Issue(tlsutil.Leaf{CommonName: "kube-apiserver", DNSNames: []string{"localhost", "kubernetes", "kubernetes.default"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP("10.96.0.1")}, Server: true})
	if err != nil {
		return err
	}
	saPub, saKey, err := tlsutil.SigningKey()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt":        ca.CertPEM,
		"ca.key":        ca.KeyPEM,
		"apiserver.crt": certPEM,
		"apiserver.key": keyPEM,
		"sa.pub":        saPub,
		"sa.key":        saKey,
		"tokens.csv":    []byte(AdminToken + `,admin,admin-uid,"system:masters"` + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.Dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) start(detach bool, name, bin string, args ...string) error {
	logFile, err := os.Create(filepath.Join(c.Dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: a detached cluster survives make, and Stop can
	// signal the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !detach {
		// Die with the test binary even if it is killed before Stop.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %v", name, err)
	}
	logFile.Close()
	c.procs = append(c.procs, cmd)
	return os.WriteFile(filepath.Join(c.Dir, name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

func (c *Cluster) waitReady(timeout time.Duration) error {
	client := c.AdminHTTPClient()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		for _, p := range c.procs {
			if p.ProcessState != nil || p.Process.Signal(syscall.Signal(0)) != nil {
				return fmt.Errorf("%s exited during startup; log:\n%s", filepath.Base(p.Path), c.logTail(filepath.Base(p.Path)))
			}
		}
		req, _ := http.NewRequest("GET", c.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s (%s); log:\n%s", timeout, last, c.logTail("kube-apiserver"))
}

// waitAggregated waits until the controller manager has filled in the
// bootstrap "admin" ClusterRole, which is built by aggregation only.
func (c *Cluster) waitAggregated(timeout time.Duration) error {
	client := c.AdminHTTPClient()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, p := range c.procs {
			if p.Process.Signal(syscall.Signal(0)) != nil {
				return fmt.Errorf("%s exited; log:\n%s", filepath.Base(p.Path), c.logTail(filepath.Base(p.Path)))
			}
		}
		req, _ := http.NewRequest("GET", c.URL+"/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		if resp, err := client.Do(req); err == nil {
			var role struct{ Rules []json.RawMessage }
			err := json.NewDecoder(resp.Body).Decode(&role)
			resp.Body.Close()
			if err == nil && len(role.Rules) > 0 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-controller-manager did not aggregate ClusterRoles within %s; log:\n%s", timeout, c.logTail("kube-controller-manager"))
}

func (c *Cluster) logTail(name string) string {
	data, _ := os.ReadFile(filepath.Join(c.Dir, name+".log"))
	return lastLines(data, 30)
}

// AdminHTTPClient returns an HTTP client that trusts the cluster CA; send
// "Authorization: Bearer AdminToken" for admin access.
func (c *Cluster) AdminHTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CA.CertPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (c *Cluster) writeKubeconfig() error {
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	return os.WriteFile(c.Kubeconfig, []byte(Kubeconfig(c.URL, c.CA.CertPEM, AdminToken)), 0o600)
}

// Kubeconfig renders a kubeconfig for a server, CA and bearer token.
func Kubeconfig(server string, caPEM []byte, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubeguard-e2e
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: kubeguard-e2e
  context:
    cluster: kubeguard-e2e
    user: admin
current-context: kubeguard-e2e
`, server, base64.StdEncoding.EncodeToString(caPEM), token)
}

// Stop terminates the API server and etcd and removes a temporary
// directory. It is safe to call more than once.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		stopProcess(c.procs[i])
	}
	c.procs = nil
	if c.tempDir && c.Dir != "" {
		os.RemoveAll(c.Dir)
		c.Dir = ""
	}
}

func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// StopDir stops a detached cluster by the PID files in dir and removes the
// directory.
func StopDir(dir string) error {
	var errs []error
	for _, name := range []string{"kube-controller-manager", "kube-apiserver", "etcd"} {
		data, err := os.ReadFile(filepath.Join(dir, name+".pid"))
		if err != nil {
			if !os.IsNotExist(err) {
				errs = append(errs, err)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.pid: %v", name, err))
			continue
		}
		syscall.Kill(-pid, syscall.SIGTERM)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for syscall.Kill(pid, 0) == nil && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		if syscall.Kill(pid, 0) == nil {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// freePorts reserves n distinct loopback ports. The listeners are closed
// before the processes bind them; the window is small and loopback ports
// are plentiful.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
