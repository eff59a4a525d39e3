package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/audit"
	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

// receivedAlert is an alert audit serve wrote, and when it arrived.
type receivedAlert struct {
	audit.Alert
	At time.Time
}

// auditServer is one audit serve process, run in-process.
type auditServer struct {
	listen string
	cancel context.CancelFunc
	done   chan int
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAuditServe runs audit serve with args; its alerts go to alerts.
func startAuditServe(t *testing.T, alerts chan<- receivedAlert, args ...string) *auditServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	srv := &auditServer{cancel: cancel, done: make(chan int, 1), stderr: &syncBuffer{}}
	go func() {
		code := MainContext(ctx, append([]string{"audit", "serve"}, args...), strings.NewReader(""), pw, srv.stderr)
		pw.Close()
		srv.done <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var a receivedAlert
			if err := json.Unmarshal(sc.Bytes(), &a.Alert); err != nil {
				t.Errorf("alert line %q: %v", sc.Text(), err)
				continue
			}
			a.At = time.Now()
			alerts <- a
		}
	}()
	return srv
}

func (s *auditServer) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("audit serve exited %d:\n%s", code, s.stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("audit serve did not stop:\n%s", s.stderr.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The API server's audit webhook backend posts to audit serve: a script
// of attacks yields its alerts within 2 seconds each, a benign script run
// again after learning yields none, and events sent while the receiver
// restarts arrive when it is back (the API server retries).
func TestE2EAuditServe(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("end-to-end test against a real kube-apiserver; skipped with -short")
	}
	addr := freeAddr(t)
	c, err := testcluster.Start(testcluster.Options{Log: func(s string) { t.Log(s) },
		Audit: &testcluster.Audit{Policy: []byte(auditpolicy.GeneratePolicy(true)), WebhookURL: "https://" + addr + "/", InitialBackoff: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	dir := t.TempDir()
	certPEM, keyPEM, err := c.CA.Issue(tlsutil.Leaf{CommonName: "kubeguard-audit", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// learn for 12 seconds: a person's, a workload's and the control
	// plane's habits (the API server renews its lease every 10s)
	cfg := write("kubeguard.yaml", []byte("audit:\n  baseline:\n    window: 12s\n"))
	tlsArgs := []string{"--tls-cert-file", write("tls.crt", certPEM), "--tls-key-file", write("tls.key", keyPEM),
		"--client-ca-file", write("ca.crt", c.CA.CertPEM), "--config", cfg}
	serveArgs := append([]string{"--listen", addr, "--metrics-listen", "", "--baseline", filepath.Join(dir, "baseline.json.gz")}, tlsArgs...)
	alerts := make(chan receivedAlert, 1000)
	srv := startAuditServe(t, alerts, serveArgs...)
	defer func() { srv.cancel() }()

	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(rc)
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// a client-certificate request from another CA is refused
	if resp, err := http.Post("https://"+addr+"/", "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
		t.Errorf("a request without a client certificate got %s", resp.Status)
	}

	// setup, then the benign script twice: learned, then judged
	must(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ServiceAccounts("shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{}))
	must(admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: "shop"}}}, metav1.CreateOptions{}))
	deployerCfg := tokenConfig(t, admin, rc, "shop", "deployer")
	deployerClient := kubernetes.NewForConfigOrDie(deployerCfg)
	benign := func(round int) {
		t.Helper()
		name := fmt.Sprintf("web-%d", round)
		must(deployerClient.AppsV1().Deployments("shop").Create(ctx, hardenedDeployment(name, "registry.example.com/web:1.0.0@sha256:"+strings.Repeat("a", 64)), metav1.CreateOptions{}))
		must(deployerClient.AppsV1().Deployments("shop").Update(ctx, hardenedDeployment(name, "registry.example.com/web:1.0.1@sha256:"+strings.Repeat("b", 64)), metav1.UpdateOptions{}))
		must(deployerClient.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}))
		must(deployerClient.CoreV1().ConfigMaps("shop").List(ctx, metav1.ListOptions{}))
		must(admin.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}))
		must(admin.AppsV1().Deployments("shop").Get(ctx, name, metav1.GetOptions{}))
	}
	benign(1)
	time.Sleep(13 * time.Second) // past the learning window
	drain(alerts)
	benign(2)
	if got := collect(alerts, 3*time.Second); len(got) > 0 {
		t.Errorf("the benign script after learning raised %d alerts:\n%s", len(got), alertLines(got))
	}

	// the attacks, each timed
	type attack struct {
		name    string
		control string
		do      func()
	}
	hardenedPod := func(name string, mutate func(*corev1.Pod)) *corev1.Pod {
		d := hardenedDeployment(name, "registry.example.com/web:1.0.0@sha256:"+strings.Repeat("a", 64))
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: d.Spec.Template.Labels}, Spec: d.Spec.Template.Spec}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	raw := func(method, path, token string) {
		t.Helper()
		req, _ := http.NewRequest(method, c.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.AdminHTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	must(admin.CoreV1().Pods("shop").Create(ctx, hardenedPod("target", func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }), metav1.CreateOptions{}))
	must(admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ServiceAccounts("shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reporter"}}, metav1.CreateOptions{}))
	must(admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reporter-secrets"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "secret-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reporter", Namespace: "shop"}}}, metav1.CreateOptions{}))
	must(admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "anonymous-config"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "system:anonymous", APIGroup: rbacv1.GroupName}}}, metav1.CreateOptions{}))
	reporterToken := tokenConfig(t, admin, rc, "shop", "reporter").BearerToken
	drain(alerts)
	attacks := []attack{
		{"privileged pod", "PSS-PRIVILEGED", func() {
			must(admin.CoreV1().Pods("shop").Create(ctx, hardenedPod("miner", func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
				p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
			}), metav1.CreateOptions{}))
		}},
		{"runtime socket", "VOL-HOSTPATH-SENSITIVE", func() {
			must(admin.CoreV1().Pods("shop").Create(ctx, hardenedPod("sock", func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "sock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/run/containerd/containerd.sock"}}}}
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "sock", MountPath: "/run/containerd/containerd.sock"}}
			}), metav1.CreateOptions{}))
		}},
		{"exec", "AUD-EXEC", func() {
			raw("POST", "/api/v1/namespaces/shop/pods/target/exec?command=sh&stdin=true&stdout=true&container=web", testcluster.AdminToken)
		}},
		{"port-forward", "AUD-PORT-FORWARD", func() {
			raw("POST", "/api/v1/namespaces/shop/pods/target/portforward?ports=8080", testcluster.AdminToken)
		}},
		{"ephemeral container", "AUD-EPHEMERAL-CONTAINER", func() {
			patch := `{"spec":{"ephemeralContainers":[{"name":"debug","image":"busybox:1.36","stdin":true,"tty":true}]}}`
			must(admin.CoreV1().Pods("shop").Patch(ctx, "target", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "ephemeralcontainers"))
		}},
		{"cluster-admin binding", "AUD-CLUSTER-ADMIN-BINDING", func() {
			must(admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "backdoor"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects: []rbacv1.Subject{{Kind: "User", Name: "mallory", APIGroup: rbacv1.GroupName}}}, metav1.CreateOptions{}))
		}},
		{"account in kube-system", "AUD-SA-KUBE-SYSTEM", func() {
			must(admin.CoreV1().ServiceAccounts("kube-system").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "kube-helper"}}, metav1.CreateOptions{}))
		}},
		{"secrets listed by a workload's token", "AUD-SECRETS-ALL-NAMESPACES", func() { raw("GET", "/api/v1/secrets", reporterToken) }},
		{"anonymous request", "AUD-ANONYMOUS", func() { raw("GET", "/api/v1/namespaces/shop/configmaps", "") }},
		{"AWS key in a ConfigMap", "AUD-CONFIGMAP-CREDENTIALS", func() {
			must(admin.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cloud"},
				Data: map[string]string{"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}}, metav1.CreateOptions{}))
		}},
		{"NodePort Service", "AUD-NODEPORT", func() {
			must(admin.CoreV1().Services("shop").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "open"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}))
		}},
		{"impersonation", "AUD-IMPERSONATION", func() {
			must(kubernetes.NewForConfigOrDie(impersonating(rc, "system:serviceaccount:shop:deployer")).CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}))
		}},
	}
	var rules []string
	for _, a := range attacks {
		start := time.Now()
		a.do()
		got := collect(alerts, 2*time.Second)
		idx := slices.IndexFunc(got, func(r receivedAlert) bool { return r.ControlID == a.control })
		if idx < 0 {
			t.Errorf("%s: no %s within 2s; got:\n%s", a.name, a.control, alertLines(got))
			continue
		}
		t.Logf("%s: %s after %s", a.name, a.control, got[idx].At.Sub(start).Round(time.Millisecond))
		for _, r := range got {
			if strings.HasPrefix(r.ControlID, "AUD-") && !strings.HasPrefix(r.ControlID, "AUD-ANOMALY-") {
				rules = append(rules, r.ControlID)
			}
		}
	}
	var want []string
	for _, a := range attacks {
		if strings.HasPrefix(a.control, "AUD-") {
			want = append(want, a.control)
		}
	}
	slices.Sort(rules)
	slices.Sort(want)
	if !slices.Equal(rules, want) {
		t.Errorf("rule alerts %v\nwant exactly %v", rules, want)
	}

	// the receiver restarts: what happens meanwhile arrives afterwards
	srv.stop(t)
	must(admin.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cloud-2"},
		Data: map[string]string{"credentials": "aws_secret_access_key = wJalrXUtnFEMI"}}, metav1.CreateOptions{}))
	time.Sleep(time.Second)
	srv = startAuditServe(t, alerts, serveArgs...)
	got := collect(alerts, 8*time.Second)
	if !slices.ContainsFunc(got, func(r receivedAlert) bool {
		return r.ControlID == "AUD-CONFIGMAP-CREDENTIALS" && strings.Contains(r.Message, "cloud-2")
	}) {
		t.Errorf("the event sent while the receiver was down did not arrive; got:\n%s\nstderr:\n%s", alertLines(got), srv.stderr.String())
	}
	srv.stop(t)

	// two replicas on a Lease behind a Service: losing the leader loses
	// no event
	must(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubeguard"}}, metav1.CreateOptions{}))
	var replicas []*auditServer
	var ready []string
	for _, ident := range []string{"audit-0", "audit-1"} {
		listen, metrics := freeAddr(t), freeAddr(t)
		r := startAuditServe(t, alerts, append(slices.Clone(tlsArgs), "--listen", listen, "--metrics-listen", metrics, "--leader-elect", "--identity", ident,
			"--kubeconfig", c.Kubeconfig, "--namespace", "kubeguard", "--baseline-configmap", "audit-baseline",
			"--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "500ms")...)
		r.listen = listen
		replicas = append(replicas, r)
		ready = append(ready, metrics)
	}
	svc := serviceProxy(t, addr, replicas, ready)
	defer svc.Close()
	leader := waitLeader(t, ready, 20*time.Second)
	must(admin.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cloud-3"},
		Data: map[string]string{"key": "AKIAIOSFODNN7EXAMPLE"}}, metav1.CreateOptions{}))
	if got := collect(alerts, 3*time.Second); !slices.ContainsFunc(got, func(r receivedAlert) bool { return strings.Contains(r.Message, "cloud-3") }) {
		t.Errorf("through the leader: no alert for cloud-3:\n%s", alertLines(got))
	}
	replicas[leader].stop(t)
	must(admin.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cloud-4"},
		Data: map[string]string{"key": "AKIAIOSFODNN7EXAMPLE"}}, metav1.CreateOptions{}))
	if got := collect(alerts, 8*time.Second); !slices.ContainsFunc(got, func(r receivedAlert) bool { return strings.Contains(r.Message, "cloud-4") }) {
		t.Errorf("after the leader was lost: no alert for cloud-4:\n%s\nstandby's log:\n%s", alertLines(got), replicas[1-leader].stderr.String())
	}
	replicas[1-leader].stop(t)
	if _, err := admin.CoreV1().ConfigMaps("kubeguard").Get(ctx, "audit-baseline", metav1.GetOptions{}); err != nil {
		t.Errorf("the baseline ConfigMap: %v", err)
	}

	// the log backend saw the same requests: audit scan of it agrees
	code, out, errOut := run(t, "", "audit", "scan", filepath.Join(c.Dir, "audit.log"), "--controls", "AUD-*", "-o", "json", "--fail-on", "none")
	if code != 0 {
		t.Fatalf("audit scan of the log: exit %d\n%s", code, errOut)
	}
	for _, id := range want {
		if !strings.Contains(out, `"`+id+`"`) {
			t.Errorf("audit scan of the log misses %s", id)
		}
	}
	// the baseline was saved and can be reviewed
	code, out, errOut = run(t, "", "audit", "baseline", "show", "sa:shop/deployer", "--baseline", filepath.Join(dir, "baseline.json.gz"), "--config", cfg)
	if code != 0 || !strings.Contains(out, "create deployments.apps in shop") || !strings.Contains(out, "(learned") {
		t.Errorf("baseline show: exit %d\n%s%s", code, out, errOut)
	}
}

// serviceProxy stands in for the receiver's Service: each connection
// goes to a ready replica (as endpoints list only ready pods).
func serviceProxy(t *testing.T, addr string, replicas []*auditServer, readyz []string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				i := readyReplica(readyz)
				if i < 0 {
					return // no endpoint: the connection is refused, the API server retries
				}
				up, err := net.Dial("tcp", replicas[i].listen)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, conn)
				io.Copy(conn, up)
			}()
		}
	}()
	return l
}

func readyReplica(readyz []string) int {
	for i, m := range readyz {
		resp, err := http.Get("http://" + m + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return i
		}
	}
	return -1
}

func waitLeader(t *testing.T, readyz []string, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if i := readyReplica(readyz); i >= 0 {
			return i
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("no replica became the leader")
	return -1
}

func impersonating(rc *rest.Config, user string) *rest.Config {
	cp := rest.CopyConfig(rc)
	cp.Impersonate = rest.ImpersonationConfig{UserName: user}
	return cp
}

// tokenConfig is rc with a legacy token of the service account, which
// the token controller fills in (no TokenRequest, so no alert).
func tokenConfig(t *testing.T, admin kubernetes.Interface, rc *rest.Config, ns, name string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	s, err := admin.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-token",
		Annotations: map[string]string{corev1.ServiceAccountNameKey: name}}, Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(s.Data[corev1.ServiceAccountTokenKey]) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no token in %s/%s", ns, s.Name)
		}
		time.Sleep(200 * time.Millisecond)
		if s, err = admin.CoreV1().Secrets(ns).Get(ctx, s.Name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cp := rest.AnonymousClientConfig(rc)
	cp.BearerToken = string(s.Data[corev1.ServiceAccountTokenKey])
	return cp
}

// hardenedDeployment passes every control of the catalog.
func hardenedDeployment(name, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), ServiceAccountName: "deployer", HostUsers: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](10001), RunAsGroup: ptr.To[int64](10001),
						FSGroup: ptr.To[int64](10001), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{Name: "web", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
							RunAsNonRoot: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")}},
						LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}},
					}}}}}}
}

func drain(ch <-chan receivedAlert) {
	for {
		select {
		case <-ch:
		case <-time.After(500 * time.Millisecond):
			return
		}
	}
}

// collect gathers the alerts that arrive within d.
func collect(ch <-chan receivedAlert, d time.Duration) []receivedAlert {
	var out []receivedAlert
	deadline := time.After(d)
	for {
		select {
		case a := <-ch:
			out = append(out, a)
		case <-deadline:
			return out
		}
	}
}

func alertLines(as []receivedAlert) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "  %s %s: %s\n", a.ControlID, a.Severity, a.Message)
	}
	return b.String()
}
