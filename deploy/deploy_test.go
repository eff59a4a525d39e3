// Package deploy_test checks kubeguard's own deployment: the Helm chart
// lints, and kubeguard's scan of what it renders finds nothing.
package deploy_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"

	"github.com/kubeguard/kubeguard/deploy"
	"github.com/kubeguard/kubeguard/internal/cli"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/live"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/render"
)

const chart = "helm/kubeguard"

const digest = "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestChartLints(t *testing.T) {
	l := lint.All(chart, nil, "kubeguard", false)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// Every combination a user is likely to pick scans clean (suppressions
// carry their reasons) and renders both components when enabled.
func TestChartScansClean(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		set  []string
		want map[string]int
	}{
		{nil, map[string]int{"Deployment": 2, "ValidatingWebhookConfiguration": 1, "MutatingWebhookConfiguration": 0, "Certificate": 1}},
		{[]string{"webhook.mutating=true", "webhook.failurePolicy=Fail"}, map[string]int{"MutatingWebhookConfiguration": 1}},
		{[]string{"webhook.certManager=false", "controller.enabled=false"}, map[string]int{"Deployment": 1, "Certificate": 0}},
		{[]string{"controller.images.enabled=true"}, map[string]int{"Deployment": 2, "Role": 1}},
		{[]string{"controller.images.enabled=true", "controller.images.jobs=4"}, map[string]int{"Role": 2, "RoleBinding": 2}},
		{[]string{"audit.enabled=true", "audit.clientCA=-----BEGIN CERTIFICATE-----", "audit.clusterIP=10.96.0.100"},
			map[string]int{"Deployment": 3, "Role": 2, "Service": 2, "Certificate": 2, "PodDisruptionBudget": 3}},
		{[]string{"node.enabled=true"}, map[string]int{"DaemonSet": 1, "ClusterRole": 3, "Namespace": 1, "NetworkPolicy": 4}},
		{[]string{"webhook.verifyImages=true", "controller.verifyImages=true", "trustedRoot={}"}, map[string]int{"MutatingWebhookConfiguration": 1, "ConfigMap": 1}},
		{[]string{"controller.dashboard.enabled=true"}, map[string]int{"Deployment": 2}},
	} {
		h := &render.Helm{ReleaseName: "kubeguard", Namespace: "kubeguard", Set: append([]string{digest}, tc.set...)}
		inputs, diags := object.Expand([]string{chart}, nil, h)
		res := eng.ScanInputs(inputs)
		for _, d := range append(diags, res.Diagnostics...) {
			t.Errorf("%v: %s", tc.set, d)
		}
		for _, f := range res.Findings {
			if f.Suppressed == nil {
				t.Errorf("%v: %s %s %s: %s", tc.set, f.ControlID, f.Object, f.Path, f.Message)
			}
		}
		for kind, n := range tc.want {
			if got := len(res.Inventory.OfKind(kind)); got != n {
				t.Errorf("%v: %d %s, want %d", tc.set, got, kind, n)
			}
		}
	}
}

// deploy/kubeguard.yaml is what the chart renders (make manifests).
func TestManifestsAreCurrent(t *testing.T) {
	want, err := deploy.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("kubeguard.yaml")
	if err != nil || string(got) != want {
		t.Error("deploy/kubeguard.yaml is stale: run make manifests")
	}
	for _, kind := range []string{"Deployment", "ValidatingWebhookConfiguration", "NetworkPolicy", "ConfigMap"} {
		if !strings.Contains(want, "\nkind: "+kind+"\n") {
			t.Errorf("the rendered manifests hold no %s", kind)
		}
	}
}

// kubeguard scan deploy/ finds nothing at all, as a user runs it: the
// chart with Helm's default release, the plain manifests, the CRDs, and
// deploy/.kubeguard.yaml (which is configuration, not a manifest).
func TestScanDeployDirectory(t *testing.T) {
	var out, errOut strings.Builder
	code := cli.Main([]string{"scan", ".", "--fail-on", "info"}, strings.NewReader(""), &out, &errOut)
	if code != 0 || errOut.Len() > 0 {
		t.Errorf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "no findings") {
		t.Errorf("want no findings:\n%s", out.String())
	}
}

// webhook install-manifests renders the chart: everything a webhook
// needs, the configuration's failure policy, selectors and mutations in
// the webhook configurations, and nothing kubeguard would flag.
func TestInstallManifests(t *testing.T) {
	cfg := &config.Config{Webhook: config.Webhook{Mutate: []string{"seccompProfile"}, FailurePolicy: "Fail",
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
		ObjectSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"kubeguard.io/admit": "true"}}}}
	out, err := deploy.InstallManifests(deploy.InstallOptions{Namespace: "guard", Image: "registry.example.com:5000/kubeguard/kubeguard:v1@sha256:" + strings.Repeat("ab", 32),
		CertManager: true, Config: cfg, ConfigYAML: "webhook:\n  failurePolicy: Fail\n  mutate: [seccompProfile]\n"})
	if err != nil {
		t.Fatal(err)
	}
	var objs []*object.Object
	object.SplitBytes("install.yaml", []byte(out), func(d object.Document) {
		os, diags := object.Decode(d, object.Limits{})
		if len(diags) > 0 {
			t.Fatalf("manifests do not parse: %v", diags)
		}
		objs = append(objs, os...)
	})
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
		if o.Namespace != "" && o.Namespace != "guard" {
			t.Errorf("%s in namespace %s", o.Ref, o.Namespace)
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PodDisruptionBudget",
		"Service", "NetworkPolicy", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Certificate"} {
		if kinds[k] == 0 {
			t.Errorf("manifests lack a %s", k)
		}
	}
	if kinds["Deployment"] != 1 {
		t.Errorf("%d Deployments: the controller is not part of a webhook install", kinds["Deployment"])
	}
	for _, want := range []string{"image: registry.example.com:5000/kubeguard/kubeguard:v1@sha256:", "failurePolicy: Fail", "team: shop",
		"kubeguard.io/admit: \"true\"", "values: [kube-system, guard]", "mutate: [seccompProfile]", "name: guard\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("manifests lack %q", want)
		}
	}
	cat, _ := controls.Catalog(controls.Options{})
	eng, _ := engine.New(engine.Options{Catalog: cat})
	for _, f := range eng.ScanObjects(objs).Findings {
		if f.Suppressed == nil {
			t.Errorf("kubeguard's own manifests: %s %s %s: %s", f.ControlID, f.Object, f.Path, f.Message)
		}
	}
	if _, err := deploy.InstallManifests(deploy.InstallOptions{Image: "kubeguard"}); err == nil {
		t.Error("an image without tag or digest accepted")
	}
}

// The webhook's ClusterRole grants exactly what its live inventory
// watches: get, list and watch on live.Kinds, nothing else.
// With the dashboard, the controller serves it on its loopback and may
// review tokens and access.
func TestChartDashboard(t *testing.T) {
	out, err := deploy.Render("kubeguard", "kubeguard", map[string]any{"controller": map[string]any{"dashboard": map[string]any{"enabled": true}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- --dashboard-listen=127.0.0.1:8081", "resources: [tokenreviews]", "resources: [subjectaccessreviews]"} {
		if !strings.Contains(out, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
}

// With verifyImages, the webhook and the controller get the flag and may
// read ClusterImagePolicies, the mutating webhook pins digests, and the
// trusted root ships beside config.yaml.
func TestChartVerifyImages(t *testing.T) {
	out, err := deploy.Render("kubeguard", "kubeguard", map[string]any{"trustedRoot": `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`,
		"webhook": map[string]any{"verifyImages": true}, "controller": map[string]any{"verifyImages": true}})
	if err != nil {
		t.Fatal(err)
	}
	flags, roles, mutating, root := 0, 0, false, false
	object.SplitBytes("chart.yaml", []byte(out), func(d object.Document) {
		os, _ := object.Decode(d, object.Limits{})
		for _, o := range os {
			switch o.Kind {
			case "Deployment":
				args, _ := object.Get(o.Content, "spec.template.spec.containers[0].args")
				if strings.Contains(fmt.Sprint(args), "--verify-images") {
					flags++
				}
			case "ClusterRole":
				if strings.Contains(fmt.Sprint(o.Content["rules"]), "clusterimagepolicies") {
					roles++
				}
			case "MutatingWebhookConfiguration":
				mutating = true
			case "ConfigMap":
				data, _ := o.Content["data"].(map[string]any)
				root = strings.Contains(fmt.Sprint(data["trusted_root.json"]), "trustedroot")
			}
		}
	})
	if flags != 2 || roles != 2 || !mutating || !root {
		t.Errorf("flags %d, roles %d (want 2 each), mutating %v, trusted root %v", flags, roles, mutating, root)
	}
}

func TestWebhookRoleMatchesInventory(t *testing.T) {
	out, err := deploy.Render("kubeguard", "kubeguard", nil)
	if err != nil {
		t.Fatal(err)
	}
	var granted []string
	object.SplitBytes("chart.yaml", []byte(out), func(d object.Document) {
		os, _ := object.Decode(d, object.Limits{})
		for _, o := range os {
			if o.Kind != "ClusterRole" || o.Name != "kubeguard-webhook" {
				continue
			}
			for _, r := range o.Content["rules"].([]any) {
				rule := r.(map[string]any)
				if fmt.Sprint(rule["verbs"]) != "[get list watch]" {
					t.Errorf("rule %v grants more than reading", rule)
				}
				for _, g := range rule["apiGroups"].([]any) {
					for _, res := range rule["resources"].([]any) {
						granted = append(granted, g.(string)+"/"+res.(string))
					}
				}
			}
		}
	})
	var want []string
	for _, k := range live.Kinds {
		gvr, _ := meta.UnsafeGuessKindToResource(k)
		want = append(want, k.Group+"/"+gvr.Resource)
	}
	slices.Sort(granted)
	slices.Sort(want)
	if !slices.Equal(granted, want) {
		t.Errorf("the webhook's ClusterRole grants %v; its inventory watches %v", granted, want)
	}
}
