package webhook

// End-to-end tests: a real kube-apiserver (internal/testcluster) calls
// kubeguard's webhook over loopback TLS.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	admregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

const e2eConfig = `
images:
  allowedRegistries: [registry.example.com]
webhook:
  defaultMode: audit
  failurePolicy: Fail
  rules:
  - controls: ["PSS-*", IMG-UNTRUSTED-REGISTRY, NET-NO-INGRESS-POLICY]
    mode: enforce
  - controls: [IMG-PULL-POLICY]
    mode: warn
  - controls: [TEAM-*]
    mode: enforce
  mutate: [seccompProfile, allowPrivilegeEscalation, dropCapabilities, runAsNonRoot, automountServiceAccountToken, readOnlyRootFilesystem]
`

const digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// hardenedPod passes every enforced control.
func hardenedPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](10001),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example.com/app" + digest,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

type e2e struct {
	t        *testing.T
	cluster  *testcluster.Cluster
	client   kubernetes.Interface
	rc       *rest.Config
	warnings *warningRecorder
	warned   kubernetes.Interface
	handler  *Handler
	dir      string
	ca       *tlsutil.CA
	url      string
	stop     context.CancelFunc
	done     chan error
}

type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.msgs = append(w.msgs, text)
	w.mu.Unlock()
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

func setup(t *testing.T) *e2e {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 500, 500 // the rotation test sends traffic
	client := kubernetes.NewForConfigOrDie(rc)
	rec := &warningRecorder{}
	wrc := rest.CopyConfig(rc)
	wrc.WarningHandler = rec
	x := &e2e{t: t, cluster: c, client: client, rc: rc, warnings: rec, warned: kubernetes.NewForConfigOrDie(wrc), dir: t.TempDir()}

	dir := filepath.Join(x.dir, "config.yaml")
	os.WriteFile(dir, []byte(e2eConfig), 0o600)
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// the team's Gatekeeper constraint of the README
	team, diags := userpolicy.LoadFiles([]string{"../../examples/policies/gatekeeper/template.yaml", "../../examples/policies/gatekeeper/constraint.yaml"})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	cat, err := controls.Catalog(controls.Options{AllowedRegistries: cfg.Images.AllowedRegistries, Extra: team.Controls()})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Config: cfg, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.stop = cancel
	t.Cleanup(cancel)
	inv := live.NewWatcher(dynamic.NewForConfigOrDie(rc), nil, client.Discovery(), live.WatchOptions{Kinds: live.Kinds})
	inv.StartSnapshots(ctx)
	if x.handler, err = New(Options{Engine: eng, Config: &cfg.Webhook, Inventory: inv}); err != nil {
		t.Fatal(err)
	}

	// Serving certificate from files, signed by a CA the API server
	// trusts through the caBundle.
	if x.ca, err = tlsutil.NewCA("e2e-webhook-ca", time.Hour); err != nil {
		t.Fatal(err)
	}
	x.writeCert()
	kp, err := tlsutil.NewReloadingKeyPair(filepath.Join(x.dir, "tls.crt"), filepath.Join(x.dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x.url = "https://" + l.Addr().String()
	x.done = make(chan error, 1)
	go func() {
		x.done <- Serve(ctx, l, ServerOptions{Handler: x.handler, TLS: tlsutil.ServerConfig(kp.GetCertificate), ShutdownGrace: 5 * time.Second})
	}()

	for _, ns := range []string{"e2e", "e2e-open", "e2e-mutate"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// e2e and e2e-mutate deny ingress by default; e2e-open has no policy.
	for _, ns := range []string{"e2e", "e2e-mutate"} {
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}}
		if _, err := client.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	x.register(admregv1.Fail)
	// Wait until the inventory holds the policies and the API server calls
	// the webhook: an insecure pod is denied by kubeguard.
	deadline := time.Now().Add(30 * time.Second)
	for {
		snap, synced := inv.Snapshot()
		_, err := x.client.CoreV1().Pods("e2e").Create(ctx, x.privileged("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if synced && len(snap.OfKind("NetworkPolicy")) == 2 && err != nil && strings.Contains(err.Error(), "kubeguard denied") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook not active after 30s: synced=%v, last error %v", synced, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return x
}

// writeCert issues a new serving certificate for 127.0.0.1 and returns its
// serial number.
func (x *e2e) writeCert() string {
	certPEM, keyPEM, err := x.ca.Issue(tlsutil.Leaf{CommonName: "kubeguard", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		x.t.Fatal(err)
	}
	// Write the key first and the certificate last, each atomically; the
	// reloader only accepts a matching pair.
	for _, f := range []struct {
		name string
		data []byte
	}{{"tls.key", keyPEM}, {"tls.crt", certPEM}} {
		tmp := filepath.Join(x.dir, f.name+".tmp")
		os.WriteFile(tmp, f.data, 0o600)
		os.Rename(tmp, filepath.Join(x.dir, f.name))
	}
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	return leaf.SerialNumber.String()
}

func (x *e2e) register(fp admregv1.FailurePolicyType) {
	ctx := context.Background()
	rules := func(ops ...admregv1.OperationType) []admregv1.RuleWithOperations {
		return []admregv1.RuleWithOperations{
			{Operations: ops, Rule: admregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}},
			{Operations: ops, Rule: admregv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}},
		}
	}
	sel := func(op metav1.LabelSelectorOperator, ns ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name", Operator: op, Values: ns}}}
	}
	none := admregv1.SideEffectClassNone
	v := &admregv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kubeguard-e2e"}, Webhooks: []admregv1.ValidatingWebhook{{
		Name: "validate.kubeguard.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fp,
		ClientConfig:      admregv1.WebhookClientConfig{URL: ptr.To(x.url + "/validate"), CABundle: x.ca.CertPEM},
		NamespaceSelector: sel(metav1.LabelSelectorOpIn, "e2e", "e2e-open", "e2e-mutate"),
		Rules:             rules(admregv1.Create, admregv1.Update), TimeoutSeconds: ptr.To[int32](5),
	}}}
	m := &admregv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kubeguard-e2e"}, Webhooks: []admregv1.MutatingWebhook{{
		Name: "mutate.kubeguard.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fp,
		ClientConfig:      admregv1.WebhookClientConfig{URL: ptr.To(x.url + "/mutate"), CABundle: x.ca.CertPEM},
		NamespaceSelector: sel(metav1.LabelSelectorOpIn, "e2e-mutate"),
		Rules:             rules(admregv1.Create, admregv1.Update), TimeoutSeconds: ptr.To[int32](5),
	}}}
	vc := x.client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	mc := x.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if old, err := vc.Get(ctx, v.Name, metav1.GetOptions{}); err == nil {
		v.ResourceVersion = old.ResourceVersion
		_, err = vc.Update(ctx, v, metav1.UpdateOptions{})
		if err != nil {
			x.t.Fatal(err)
		}
		m.ResourceVersion = ""
		if oldM, err := mc.Get(ctx, m.Name, metav1.GetOptions{}); err == nil {
			m.ResourceVersion = oldM.ResourceVersion
		}
		if _, err := mc.Update(ctx, m, metav1.UpdateOptions{}); err != nil {
			x.t.Fatal(err)
		}
		return
	}
	if _, err := vc.Create(ctx, v, metav1.CreateOptions{}); err != nil {
		x.t.Fatal(err)
	}
	if _, err := mc.Create(ctx, m, metav1.CreateOptions{}); err != nil {
		x.t.Fatal(err)
	}
}

func (x *e2e) privileged(name string) *corev1.Pod {
	p := hardenedPod("e2e", name)
	p.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
	p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	return p
}

func TestE2EAdmission(t *testing.T) {
	x := setup(t)
	ctx := context.Background()
	pods := func(ns string) func(*corev1.Pod) error {
		return func(p *corev1.Pod) error {
			_, err := x.warned.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			return err
		}
	}

	t.Run("enforce denies with control, field and fix", func(t *testing.T) {
		err := pods("e2e")(x.privileged("insecure"))
		if err == nil {
			t.Fatal("privileged pod admitted")
		}
		for _, want := range []string{"kubeguard denied Pod insecure", "[PSS-PRIVILEGED]", "field: spec.containers[0].securityContext.privileged", "fix: "} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("denial lacks %q:\n%v", want, err)
			}
		}
	})

	t.Run("hardened pod admitted", func(t *testing.T) {
		if err := pods("e2e")(hardenedPod("e2e", "hardened")); err != nil {
			t.Fatal(err)
		}
		if w := x.warnings.take(); len(w) > 0 {
			t.Errorf("hardened pod drew warnings: %q", w)
		}
	})

	t.Run("image allow-list", func(t *testing.T) {
		p := hardenedPod("e2e", "untrusted")
		p.Spec.Containers[0].Image = "docker.io/library/nginx" + digest
		err := pods("e2e")(p)
		if err == nil || !strings.Contains(err.Error(), "[IMG-UNTRUSTED-REGISTRY]") {
			t.Fatalf("image from an untrusted registry: %v", err)
		}
	})

	t.Run("warn mode admits with a warning", func(t *testing.T) {
		p := hardenedPod("e2e", "tagged")
		p.Spec.Containers[0].Image = "registry.example.com/app:1.2.3"
		if err := pods("e2e")(p); err != nil {
			t.Fatal(err)
		}
		w := x.warnings.take()
		if len(w) != 1 || !strings.Contains(w[0], "[IMG-PULL-POLICY]") || !strings.Contains(w[0], "imagePullPolicy") {
			t.Errorf("warnings = %q, want one IMG-PULL-POLICY warning", w)
		}
	})

	t.Run("cross-object control reads the live inventory", func(t *testing.T) {
		err := pods("e2e-open")(hardenedPod("e2e-open", "unisolated"))
		if err == nil || !strings.Contains(err.Error(), "[NET-NO-INGRESS-POLICY]") {
			t.Fatalf("pod in a namespace without NetworkPolicy: %v", err)
		}
	})

	t.Run("unsynced inventory degrades cross-object controls to audit", func(t *testing.T) {
		cold := live.NewWatcher(dynamic.NewForConfigOrDie(x.rc), nil, x.client.Discovery(), live.WatchOptions{Kinds: live.Kinds}) // never started: not synced
		h, err := New(Options{Engine: x.handler.opts.Engine, Config: x.handler.opts.Config, Inventory: cold})
		if err != nil {
			t.Fatal(err)
		}
		resp := h.validate(context.Background(), request(t, hardenedPod("e2e-open", "cold")))
		if !resp.Allowed {
			t.Fatalf("denied on an unsynced inventory: %s", resp.Result.Message)
		}
	})

	t.Run("dry-run does not record audit findings", func(t *testing.T) {
		audited := x.handler.opts.Metrics.findings.WithLabelValues("REL-LIVENESS-PROBE", "audit")
		before := testutil.ToFloat64(audited)
		if _, err := x.client.CoreV1().Pods("e2e").Create(ctx, hardenedPod("e2e", "dry"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(audited); got != before {
			t.Errorf("dry-run recorded %v audit findings", got-before)
		}
		if err := pods("e2e")(hardenedPod("e2e", "wet")); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(audited); got != before+1 {
			t.Errorf("real create recorded %v audit findings, want 1", got-before)
		}
	})

	t.Run("mutation shows in the stored object and is idempotent", func(t *testing.T) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: "e2e-mutate"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app" + digest}}}}
		if err := pods("e2e-mutate")(p); err != nil {
			t.Fatalf("bare pod, which the mutations make compliant: %v", err)
		}
		got, err := x.client.CoreV1().Pods("e2e-mutate").Get(ctx, "bare", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc, csc := got.Spec.SecurityContext, got.Spec.Containers[0].SecurityContext
		switch {
		case sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("seccompProfile not set: %+v", sc)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("runAsNonRoot not set: %+v", sc)
		case got.Spec.AutomountServiceAccountToken == nil || *got.Spec.AutomountServiceAccountToken:
			t.Errorf("automountServiceAccountToken not false")
		case csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
			csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
			csc.Capabilities == nil || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL":
			t.Errorf("container securityContext not hardened: %+v", csc)
		}
		// A second pass over the stored object changes nothing.
		got.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
		got.ResourceVersion, got.UID = "", ""
		if resp := x.handler.mutate(context.Background(), request(t, got)); len(resp.Patch) != 0 {
			t.Errorf("second mutation pass patched: %s", resp.Patch)
		}
	})

	t.Run("certificate rotation under traffic loses no request", func(t *testing.T) {
		var sent, failed atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					p := hardenedPod("e2e", "rotate-"+string(rune('a'+i)))
					_, err := x.client.CoreV1().Pods("e2e").Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
					sent.Add(1)
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
			}()
		}
		var serial string
		for range 3 {
			time.Sleep(1100 * time.Millisecond)
			serial = x.writeCert()
		}
		time.Sleep(1100 * time.Millisecond)
		close(stop)
		wg.Wait()
		if failed.Load() > 0 {
			t.Errorf("%d of %d requests failed during rotation; first: %v", failed.Load(), sent.Load(), firstErr.Load())
		}
		if sent.Load() < 20 {
			t.Errorf("only %d requests sent during rotation", sent.Load())
		}
		// New connections get the newest certificate.
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(x.ca.CertPEM)
		conn, err := tls.Dial("tcp", strings.TrimPrefix(x.url, "https://"), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := conn.ConnectionState().PeerCertificates[0].SerialNumber.String(); got != serial {
			t.Errorf("served certificate serial %s, want the rotated %s", got, serial)
		}
		t.Logf("%d requests during 3 rotations, 0 failed", sent.Load())
	})

	t.Run("the team's Gatekeeper constraint is enforced", func(t *testing.T) {
		// the constraint selects Deployments in namespaces labelled env=prod
		patch := []byte(`{"metadata":{"labels":{"env":"prod"}}}`)
		if _, err := x.client.CoreV1().Namespaces().Patch(ctx, "e2e", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		defer x.client.CoreV1().Namespaces().Patch(ctx, "e2e", types.MergePatchType, []byte(`{"metadata":{"labels":{"env":null}}}`), metav1.PatchOptions{})
		deploy := func(name, memory string) error {
			p := hardenedPod("e2e", name)
			if memory != "" {
				p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)}
			}
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "e2e"}, Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: p.Labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: p.Labels}, Spec: p.Spec}}}
			_, err := x.client.AppsV1().Deployments("e2e").Create(ctx, d, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		}
		// the webhook sees the label once its inventory has the change
		deadline := time.Now().Add(20 * time.Second)
		var err error
		for err = deploy("unlimited", ""); err == nil && time.Now().Before(deadline); err = deploy("unlimited", "") {
			time.Sleep(200 * time.Millisecond)
		}
		if err == nil {
			t.Fatal("Deployment without a memory limit admitted in an env=prod namespace")
		}
		for _, want := range []string{"kubeguard denied Deployment unlimited", "[TEAM-MEMORY-LIMIT]", "container <app> has no limit on memory", "fix: Set resources.limits.memory"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("denial lacks %q:\n%v", want, err)
			}
		}
		if err := deploy("limited", "256Mi"); err != nil {
			t.Errorf("Deployment with a memory limit: %v", err)
		}
	})

	t.Run("stopped webhook follows failurePolicy", func(t *testing.T) {
		x.stop()
		if err := <-x.done; err != nil {
			t.Fatalf("graceful shutdown: %v", err)
		}
		err := pods("e2e")(hardenedPod("e2e", "while-down"))
		if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
			t.Fatalf("failurePolicy Fail with the webhook down: %v", err)
		}
		x.register(admregv1.Ignore)
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := pods("e2e")(hardenedPod("e2e", "ignored"))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("failurePolicy Ignore with the webhook down: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// request wraps an object in an admission request for a CREATE.
func request(t *testing.T, obj runtime.Object) *admissionv1.AdmissionRequest {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	m := obj.(metav1.Object)
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" { // typed pods built in tests carry no TypeMeta
		gvk.Version, gvk.Kind = "v1", "Pod"
		var content map[string]any
		json.Unmarshal(raw, &content)
		content["apiVersion"], content["kind"] = "v1", "Pod"
		raw, _ = json.Marshal(content)
	}
	return &admissionv1.AdmissionRequest{UID: "test", Kind: metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Namespace: m.GetNamespace(), Name: m.GetName(), Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}}
}
