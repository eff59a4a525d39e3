package policy_test

// The exported ValidatingAdmissionPolicies, loaded into a real
// kube-apiserver, must deny exactly what kubeguard's webhook denies, and
// kubeguard scan, reading them as a team's policies, must agree.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/policy"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
	"github.com/kubeguard/kubeguard/pkg/webhook"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

const digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func hardened() corev1.PodSpec {
	return corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](10001),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name: "app", Image: "registry.example.com/app:1.0" + digest,
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		}},
	}
}

// fixtures are hardened pod specs with one change each (or none).
var fixtures = map[string]func(*corev1.PodSpec){
	"hardened": func(*corev1.PodSpec) {},
	// Privileged containers cannot forbid escalation (API validation), so
	// these break two controls.
	"privileged": func(s *corev1.PodSpec) {
		s.Containers[0].SecurityContext.Privileged = ptr.To(true)
		s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	},
	"host-network": func(s *corev1.PodSpec) { s.HostNetwork = true },
	"host-pid":     func(s *corev1.PodSpec) { s.HostPID = true },
	"host-path": func(s *corev1.PodSpec) {
		s.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}}}
	},
	"host-port": func(s *corev1.PodSpec) {
		s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080}}
	},
	"escalation-unset":  func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil },
	"non-root-unset":    func(s *corev1.PodSpec) { s.SecurityContext.RunAsNonRoot = nil },
	"non-root-override": func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsNonRoot = ptr.To(false) },
	"non-root-per-container": func(s *corev1.PodSpec) {
		s.SecurityContext.RunAsNonRoot = nil
		s.Containers[0].SecurityContext.RunAsNonRoot = ptr.To(true)
	},
	"uid-0-userns": func(s *corev1.PodSpec) {
		s.HostUsers = ptr.To(false)
		s.SecurityContext.RunAsNonRoot, s.SecurityContext.RunAsUser = nil, ptr.To[int64](0)
	},
	"uid-0":            func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsUser = ptr.To[int64](0) },
	"caps-not-dropped": func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities = nil },
	"caps-added": func(s *corev1.PodSpec) {
		s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
	},
	"caps-bind": func(s *corev1.PodSpec) {
		s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
	},
	"latest-tag":    func(s *corev1.PodSpec) { s.Containers[0].Image = "registry.example.com/app:latest" },
	"no-tag":        func(s *corev1.PodSpec) { s.Containers[0].Image = "registry.example.com:5000/app" },
	"latest-digest": func(s *corev1.PodSpec) { s.Containers[0].Image = "registry.example.com/app:latest" + digest },
	"writable-root": func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil },
	"init-privileged": func(s *corev1.PodSpec) {
		init := *s.Containers[0].DeepCopy()
		init.Name = "init"
		init.SecurityContext.Privileged = ptr.To(true)
		init.SecurityContext.AllowPrivilegeEscalation = nil
		s.InitContainers = []corev1.Container{init}
	},
}

// objects wraps a fixture as a Pod, a Deployment and a CronJob.
func objects(name string, spec corev1.PodSpec) []runtime.Object {
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: spec}
	job := spec.DeepCopy()
	job.RestartPolicy = corev1.RestartPolicyNever
	return []runtime.Object{
		&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vap"}, Spec: spec},
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vap"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: tmpl}},
		&batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vap"},
			Spec: batchv1.CronJobSpec{Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: corev1.PodTemplateSpec{Spec: *job}}}}},
	}
}

func TestE2EPolicyExportDeniesWhatTheWebhookDenies(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 200, 200
	client := kubernetes.NewForConfigOrDie(rc)
	ctx := context.Background()

	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Enforce exactly the exported controls, in both front doors.
	var exported []string
	for _, ctl := range cat.All() {
		if ctl.CEL != "" {
			exported = append(exported, ctl.ID)
		}
	}
	if len(exported) < 8 {
		t.Fatalf("only %d controls have a CEL form", len(exported))
	}
	wc := config.Webhook{DefaultMode: config.Audit, Rules: []config.ModeRule{{Controls: exported, Mode: config.Enforce}}}
	eng, err := engine.New(engine.Options{Catalog: cat, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.New(webhook.Options{Engine: eng, Config: &wc})
	if err != nil {
		t.Fatal(err)
	}

	// Each control is checked in a namespace of its own where only its
	// binding applies, so a denial is attributable even when a fixture
	// breaks several controls (a privileged container cannot forbid
	// escalation).
	nsOf := func(id string) string { return "vap-" + strings.ToLower(id) }
	for _, id := range exported {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsOf(id), Labels: map[string]string{"e2e-control": strings.ToLower(id)}}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	exportedObjs, err := policy.Export(cat, policy.Options{Config: &config.Config{Webhook: wc}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range exportedObjs {
		switch o := o.(type) {
		case *admregv1.ValidatingAdmissionPolicy:
			_, err = client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
		case *admregv1.ValidatingAdmissionPolicyBinding:
			if len(o.Spec.ValidationActions) != 1 || o.Spec.ValidationActions[0] != admregv1.Deny {
				t.Errorf("%s: actions %v, want Deny for an enforced control", o.Name, o.Spec.ValidationActions)
			}
			sel := o.Spec.MatchResources.NamespaceSelector
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: "e2e-control",
				Operator: metav1.LabelSelectorOpIn, Values: []string{strings.TrimPrefix(o.Name, "kubeguard-")}})
			_, err = client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("loading the exported policy: %v", err)
		}
	}

	create := func(ns string, o runtime.Object) error {
		opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
		var err error
		switch o := o.(type) {
		case *corev1.Pod:
			o.Namespace = ns
			_, err = client.CoreV1().Pods(ns).Create(ctx, o, opts)
		case *appsv1.Deployment:
			o.Namespace = ns
			_, err = client.AppsV1().Deployments(ns).Create(ctx, o, opts)
		case *batchv1.CronJob:
			o.Namespace = ns
			_, err = client.BatchV1().CronJobs(ns).Create(ctx, o, opts)
		}
		return err
	}
	var names []string
	for n := range fixtures {
		names = append(names, n)
	}
	sort.Strings(names)
	type fixture struct {
		name string
		obj  runtime.Object
		want []string // what the webhook denies it for
	}
	var all []fixture
	for _, name := range names {
		spec := hardened()
		fixtures[name](&spec)
		for _, o := range objects(name, spec) {
			all = append(all, fixture{name, o, webhookDenies(t, h, o, cat)})
		}
	}

	// The same exported policies, read by kubeguard as a team's own,
	// must give the API server's verdicts in a scan.
	var policyObjs []*object.Object
	for _, o := range exportedObjs {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		u["apiVersion"], u["kind"] = "admissionregistration.k8s.io/v1", strings.TrimPrefix(fmt.Sprintf("%T", o), "*v1.")
		policyObjs = append(policyObjs, object.New(u, object.Position{File: "exported.yaml", Line: 1}, nil))
	}
	team, diags := userpolicy.Load(policyObjs)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	teamCat, err := controls.Catalog(controls.Options{Extra: team.Controls()})
	if err != nil {
		t.Fatal(err)
	}
	teamIDs := map[string]bool{}
	for _, c := range team.Controls() {
		teamIDs[c.ID] = true
	}
	scanner, err := engine.New(engine.Options{Catalog: teamCat})
	if err != nil {
		t.Fatal(err)
	}
	scanDenies := func(ns string, o runtime.Object) bool {
		nsObj, _ := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		nsU, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(nsObj)
		nsU["apiVersion"], nsU["kind"] = "v1", "Namespace"
		u, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		res := scanner.ScanObjects([]*object.Object{object.New(nsU, object.Position{}, nil), object.New(u, object.Position{}, nil)})
		for _, f := range res.Findings {
			if teamIDs[f.ControlID] && f.Object.Kind != "Namespace" {
				return true
			}
		}
		return false
	}

	compared, agreed := 0, 0
	for _, id := range exported {
		ns := nsOf(id)
		// The API server activates each policy asynchronously.
		var trigger runtime.Object
		for _, f := range all {
			if slices.Contains(f.want, id) {
				trigger = f.obj
				break
			}
		}
		if trigger == nil {
			t.Errorf("no fixture exercises %s", id)
			continue
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := create(ns, trigger)
			if err != nil && strings.Contains(err.Error(), "["+id+"]") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("policy for %s not active after 30s: %v", id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, f := range all {
			kind := f.obj.GetObjectKind().GroupVersionKind().Kind
			want := slices.Contains(f.want, id)
			err := create(ns, f.obj)
			got := err != nil && strings.Contains(err.Error(), "["+id+"]")
			if err != nil && !got {
				t.Errorf("%s %s in %s: the API server refused it for another reason: %v", kind, f.name, ns, err)
				continue
			}
			if got != want {
				t.Errorf("%s: %s %s: ValidatingAdmissionPolicy denies=%v, webhook denies=%v", id, kind, f.name, got, want)
			}
			compared++
			if scanned := scanDenies(ns, f.obj); scanned != got {
				t.Errorf("%s: %s %s: the API server denies=%v, kubeguard scan with the exported policies denies=%v", id, kind, f.name, got, scanned)
			} else {
				agreed++
			}
		}
	}
	t.Logf("%d verdicts compared: %d fixtures (Pod, Deployment, CronJob) x %d exported controls; kubeguard scan with the exported policies agrees with the API server on %d", compared, len(all), len(exported), agreed)
}

// webhookDenies returns the controls the webhook denies o for.
func webhookDenies(t *testing.T, h *webhook.Handler, o runtime.Object, cat *control.Catalog) []string {
	return webhookDeniesAs(t, h, o, cat, authnv1.UserInfo{})
}

// Exemptions, exclusions and annotation suppressions the webhook honours
// must hold in the exported policies too: the same privileged workloads,
// sent by different users into different namespaces, are denied by both
// front doors or by neither.
func TestE2EPolicyExportHonoursExemptions(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(rc)
	ctx := context.Background()
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const id = "PSS-PRIVILEGED"
	cfg := &config.Config{Exclude: []config.Exclusion{{Controls: []string{id}, Namespaces: []string{"exm-excl"}, Kinds: []string{"deployment"}, Reason: "test"}}}
	cfg.Webhook.DefaultMode = config.Audit
	cfg.Webhook.Rules = []config.ModeRule{{Controls: []string{id}, Mode: config.Enforce}}
	cfg.Webhook.Exempt.Users = []string{"alice"}
	cfg.Webhook.Exempt.Groups = []string{"break-glass"}
	cfg.Webhook.Exempt.Namespaces = []string{"exm-mon-*", "exm-ops"}
	eng, err := engine.New(engine.Options{Catalog: cat, Config: cfg, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.New(webhook.Options{Engine: eng, Config: &cfg.Webhook})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := policy.Export(cat, policy.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *admregv1.ValidatingAdmissionPolicy:
			if o.Annotations["kubeguard.io/control"] == id {
				o.Name = "exm-" + o.Name
				_, err = admin.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
			}
		case *admregv1.ValidatingAdmissionPolicyBinding:
			if o.Spec.PolicyName == "kubeguard-"+strings.ToLower(id) {
				o.Name, o.Spec.PolicyName = "exm-"+o.Name, "exm-"+o.Spec.PolicyName
				o.Spec.MatchResources.NamespaceSelector.MatchExpressions = append(o.Spec.MatchResources.NamespaceSelector.MatchExpressions,
					metav1.LabelSelectorRequirement{Key: "e2e-exemptions", Operator: metav1.LabelSelectorOpExists})
				_, err = admin.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	namespaces := []string{"exm-plain", "exm-mon-a", "exm-ops", "exm-excl"}
	for _, ns := range namespaces {
		if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"e2e-exemptions": "true"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The impersonated users may create workloads, so only admission decides.
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "exm-create"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"create"}, APIGroups: []string{"", "apps"}, Resources: []string{"pods", "deployments"}}}}
	bind := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "exm-create"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "exm-create"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}, {Kind: "User", APIGroup: rbacv1.GroupName, Name: "bob"}}}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	as := func(user string, groups ...string) *kubernetes.Clientset {
		irc := *rc
		irc.Impersonate.UserName, irc.Impersonate.Groups = user, append(groups, "system:authenticated")
		return kubernetes.NewForConfigOrDie(&irc)
	}
	priv := hardened()
	priv.Containers[0].SecurityContext.Privileged = ptr.To(true)
	priv.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	suppressed := map[string]string{"kubeguard.io/ignore": "CTR-X, " + id, "kubeguard.io/ignore-reason": "device plugin"}
	type actor struct {
		name   string
		groups []string
	}
	actors := []actor{{"bob", nil}, {"alice", nil}, {"bob", []string{"break-glass"}}}

	// Wait until the policy is active.
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Spec: priv}
		_, err := as("bob").CoreV1().Pods("exm-plain").Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "["+id+"]") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy not active after 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	compared, denied := 0, 0
	for _, ns := range namespaces {
		for _, a := range actors {
			for _, ann := range []map[string]string{nil, suppressed} {
				for _, o := range objects("exm", priv) {
					if _, ok := o.(*batchv1.CronJob); ok {
						continue
					}
					m := o.(metav1.Object)
					m.SetNamespace(ns)
					m.SetAnnotations(ann)
					want := len(webhookDeniesAs(t, h, o, cat, authnv1.UserInfo{Username: a.name, Groups: append(a.groups, "system:authenticated")})) > 0
					var err error
					opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
					switch o := o.(type) {
					case *corev1.Pod:
						_, err = as(a.name, a.groups...).CoreV1().Pods(ns).Create(ctx, o, opts)
					case *appsv1.Deployment:
						_, err = as(a.name, a.groups...).AppsV1().Deployments(ns).Create(ctx, o, opts)
					}
					got := err != nil && strings.Contains(err.Error(), "["+id+"]")
					if err != nil && !got {
						t.Errorf("%s in %s as %v: refused for another reason: %v", o.GetObjectKind().GroupVersionKind().Kind, ns, a, err)
						continue
					}
					if got != want {
						t.Errorf("%s in %s as %v, annotations %v: policy denies=%v, webhook denies=%v", o.GetObjectKind().GroupVersionKind().Kind, ns, a, ann, got, want)
					}
					compared++
					if got {
						denied++
					}
				}
			}
		}
	}
	if denied == 0 || denied == compared {
		t.Errorf("%d of %d denied: the cases do not tell exemptions apart", denied, compared)
	}
	t.Logf("%d verdicts compared, %d denials", compared, denied)

	// An exclusion with an expiry cannot be stated in CEL: refused.
	cfg.Exclude[0].Expires = config.Date{Time: time.Now().AddDate(0, 1, 0)}
	if _, err := policy.Export(cat, policy.Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "expires") {
		t.Errorf("an expiring exclusion was exported: %v", err)
	}
}

// webhookDeniesAs returns the controls the webhook denies o for, sent by
// user.
func webhookDeniesAs(t *testing.T, h *webhook.Handler, o runtime.Object, cat *control.Catalog, user authnv1.UserInfo) []string {
	raw, _ := json.Marshal(o)
	m := o.(metav1.Object)
	gvk := o.GetObjectKind().GroupVersionKind()
	review := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "x", Kind: metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Namespace: m.GetNamespace(), Name: m.GetName(), Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}, UserInfo: user}}
	body, _ := json.Marshal(review)
	w := httptest.NewRecorder()
	h.Validate().ServeHTTP(w, httptest.NewRequest("POST", "/validate", bytes.NewReader(body)))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("webhook answered %d %q", w.Code, w.Body.String())
	}
	if out.Response.Allowed {
		return nil
	}
	var ids []string
	for _, c := range cat.All() {
		if strings.Contains(out.Response.Result.Message, "["+c.ID+"]") {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
