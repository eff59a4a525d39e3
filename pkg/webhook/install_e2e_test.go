package webhook

import (
	"bytes"
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/deploy"
	"github.com/kubeguard/kubeguard/internal/testcluster"
	"github.com/kubeguard/kubeguard/pkg/config"
)

// The installation manifests are valid for the real API server, and
// --self-signed writes its CA into the webhook configurations they create.
func TestE2EInstallManifestsAndSelfSigned(t *testing.T) {
	c := testcluster.Shared(t)
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(rc)
	client := kubernetes.NewForConfigOrDie(rc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(rc)))

	out, err := deploy.InstallManifests(deploy.InstallOptions{Namespace: "kubeguard-install", Image: "ghcr.io/kubeguard/kubeguard:v1" + digest,
		Config: &config.Config{Webhook: config.Webhook{Mutate: []string{"seccompProfile"}}}})
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(out, "\n---\n")
	created := 0
	for i, doc := range docs {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if u.Object == nil {
			continue // comments only
		}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if ns := u.GetNamespace(); ns != "" {
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		// The namespace and the webhook configurations are created for
		// real (the latter pointing at no running webhook, with failure
		// policy Ignore and a selector that matches no test namespace
		// here); everything else only validated.
		opts := metav1.CreateOptions{FieldValidation: "Strict"}
		real := gvk.Kind == "Namespace" || strings.HasSuffix(gvk.Kind, "WebhookConfiguration")
		if !real {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if real && gvk.Kind != "Namespace" {
			// Keep the configurations from intercepting other tests.
			u.Object["webhooks"].([]any)[0].(map[string]any)["objectSelector"] = map[string]any{
				"matchLabels": map[string]any{"kubeguard.io/e2e-install": "never-set"}}
		}
		if _, err := ri.Create(ctx, &u, opts); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("%s %s rejected by the API server: %v", gvk.Kind, u.GetName(), err)
		}
		created++
	}
	if created < 12 {
		t.Errorf("only %d objects in the manifests", created)
	}

	ca, _, err := SelfSigned("kubeguard", "kubeguard-install", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := PatchCABundle(ctx, client, Name, ca.CertPEM)
	if err != nil || n != 2 {
		t.Fatalf("patched %d configurations: %v", n, err)
	}
	v, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Webhooks[0].ClientConfig.CABundle, ca.CertPEM) || !bytes.Equal(m.Webhooks[0].ClientConfig.CABundle, ca.CertPEM) {
		t.Error("caBundle not written into both webhook configurations")
	}
}
