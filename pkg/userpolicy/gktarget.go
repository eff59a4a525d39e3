package userpolicy

import (
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/frameworks/constraint/pkg/core/constraints"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/match"
	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// k8sTarget is Gatekeeper's Kubernetes target, given the objects kubeguard
// has already decoded: Gatekeeper's own matcher decodes the request's
// object again for every constraint it tries, which made matching most
// of the cost of a review. Matching itself is Gatekeeper's
// (mutation/match), on the same objects.
type k8sTarget struct {
	*target.K8sValidationTarget
}

// decodedReview is an admission request with its objects decoded. It
// serialises as the request, as Gatekeeper's review does, so Rego sees
// the same input.review.
type decodedReview struct {
	admissionv1.AdmissionRequest
	source            *object.Object // the object under review, with its request
	object, oldObject *unstructured.Unstructured
	namespace         *corev1.Namespace
	isAdmission       bool
}

func (r *decodedReview) GetAdmissionRequest() *admissionv1.AdmissionRequest {
	return &r.AdmissionRequest
}
func (r *decodedReview) IsAdmissionRequest() bool { return r.isAdmission }

// MarshalJSON is the request's, without the decoded copies.
func (r *decodedReview) MarshalJSON() ([]byte, error) { return json.Marshal(&r.AdmissionRequest) }

// HandleReview takes the reviews kubeguard makes (newDecodedReview)
// only.
func (t k8sTarget) HandleReview(obj any) (bool, any, error) {
	r, ok := obj.(*decodedReview)
	if !ok {
		return false, nil, fmt.Errorf("kubeguard's Gatekeeper target cannot review a %T", obj)
	}
	return true, r, nil
}

func (t k8sTarget) ToMatcher(u *unstructured.Unstructured) (constraints.Matcher, error) {
	m := &decodedMatcher{}
	spec, found, err := unstructured.NestedMap(u.Object, "spec", "match")
	if err != nil {
		return nil, err
	}
	if found && spec != nil {
		raw, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		m.match = &match.Match{}
		if err := json.Unmarshal(raw, m.match); err != nil {
			return nil, fmt.Errorf("spec.match: %v", err)
		}
	}
	return m, nil
}

type decodedMatcher struct{ match *match.Match }

// Match is Gatekeeper's: a constraint selects a request whose object or
// old object it matches.
func (m *decodedMatcher) Match(review any) (bool, error) {
	r, ok := review.(*decodedReview)
	if !ok {
		return false, fmt.Errorf("kubeguard's Gatekeeper matcher cannot match a %T", review)
	}
	if m.match == nil {
		return true, nil
	}
	if r.object == nil && r.oldObject == nil {
		return false, fmt.Errorf("neither object nor old object are defined")
	}
	for _, obj := range []*unstructured.Unstructured{r.object, r.oldObject} {
		if obj == nil {
			continue
		}
		ok, err := match.Matches(m.match, &match.Matchable{Object: obj, Namespace: r.namespace, Source: mutationtypes.SourceTypeOriginal})
		if err != nil {
			return false, fmt.Errorf("matching %s: %w", obj.GetName(), err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
