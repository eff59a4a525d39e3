package userpolicy

import (
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
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

// requestAttributes describes an admission request as the CEL library
// reads it.
func requestAttributes(req *admissionv1.AdmissionRequest) (*admission.VersionedAttributes, error) {
	decode := func(raw []byte) (runtime.Object, error) {
		if len(raw) == 0 {
			return nil, nil
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(raw, &u.Object); err != nil {
			return nil, fmt.Errorf("the request's object is not JSON: %v", err)
		}
		return u, nil
	}
	obj, err := decode(req.Object.Raw)
	if err != nil {
		return nil, err
	}
	old, err := decode(req.OldObject.Raw)
	if err != nil {
		return nil, err
	}
	return decodedAttributes(req, obj, old)
}

// decodedAttributes is requestAttributes with the objects decoded.
func decodedAttributes(req *admissionv1.AdmissionRequest, obj, old runtime.Object) (*admission.VersionedAttributes, error) {
	if req.Operation == admissionv1.Delete {
		// the API server gives a delete no object, whatever Gatekeeper
		// puts there
		obj = nil
	}
	gvk := schema.GroupVersionKind(req.Kind)
	gvr := schema.GroupVersionResource(req.Resource)
	if gvr.Resource == "" {
		gvr, _ = meta.UnsafeGuessKindToResource(gvk)
	}
	dryRun := req.DryRun != nil && *req.DryRun
	attr := admission.NewAttributesRecord(obj, old, gvk, req.Namespace, req.Name, gvr, req.SubResource, admission.Operation(req.Operation), nil, dryRun,
		&user.DefaultInfo{Name: req.UserInfo.Username, Groups: req.UserInfo.Groups, UID: req.UserInfo.UID})
	return admission.NewVersionedAttributes(attr, gvk, objectInterfaces)
}
