package testcluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// Objects decodes a stream of YAML documents separated by "---" lines.
func Objects(manifests string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(manifests, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// Resource returns the client for u's kind, in u's namespace if it has
// one.
func Resource(dyn dynamic.Interface, u *unstructured.Unstructured) dynamic.ResourceInterface {
	gvr, _ := meta.UnsafeGuessKindToResource(u.GroupVersionKind())
	if ns := u.GetNamespace(); ns != "" {
		return dyn.Resource(gvr).Namespace(ns)
	}
	return dyn.Resource(gvr)
}

// InstallCRD creates the CustomResourceDefinition of a manifest file
// (one the cluster holds already is kept) and waits until it is
// established, as kubectl apply and kubectl wait would.
func InstallCRD(dyn dynamic.Interface, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var u unstructured.Unstructured
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	ctx := context.Background()
	if _, err := crds.Create(ctx, &u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%s: %v", file, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, err := crds.Get(ctx, u.GetName(), metav1.GetOptions{})
		if err == nil && Established(got.Object) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CustomResourceDefinition %s not established after 30s", u.GetName())
		}
	}
}

// Established reports whether a CustomResourceDefinition is served.
func Established(crd map[string]any) bool {
	conds, _, _ := unstructured.NestedSlice(crd, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
