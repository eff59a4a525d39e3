package userpolicy

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// objectAttributes describes an object as an admission request: the
// request it came with, or a create of it by kubeguard (a manifest, an
// object listed from a cluster).
func objectAttributes(o *object.Object, gvk schema.GroupVersionKind) admission.Attributes {
	gvr, _ := meta.UnsafeGuessKindToResource(gvk)
	u := &unstructured.Unstructured{Object: o.Content}
	r := o.Request
	if r == nil {
		return admission.NewAttributesRecord(u, nil, gvk, o.Ref.Namespace, o.Ref.Name, gvr, "", admission.Create, &metav1.CreateOptions{}, false, &user.DefaultInfo{Name: "kubeguard"})
	}
	var obj, old runtime.Object
	if r.Operation != string(admission.Delete) {
		obj = u
	}
	if r.OldObject != nil {
		old = &unstructured.Unstructured{Object: r.OldObject}
	}
	return admission.NewAttributesRecord(obj, old, gvk, o.Ref.Namespace, o.Ref.Name, gvr, r.SubResource, admission.Operation(r.Operation), nil, r.DryRun,
		&user.DefaultInfo{Name: r.User, Groups: r.Groups, UID: r.UID})
}
