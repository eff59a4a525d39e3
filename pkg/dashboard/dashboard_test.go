package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// A PolicyReport's file property reads back as the position it was.
func TestPosition(t *testing.T) {
	for in, want := range map[string]object.Position{
		"deploy/app.yaml:12:7": {File: "deploy/app.yaml", Line: 12, Column: 7},
		"deploy/app.yaml:12":   {File: "deploy/app.yaml", Line: 12},
		"deploy/app.yaml":      {File: "deploy/app.yaml"},
		"":                     {},
	} {
		if got := position(in); got != want {
			t.Errorf("%q: %+v, want %+v", in, got, want)
		}
	}
}

// Reviews are reused for ReviewTTL: a reload within it makes no
// TokenReview or SubjectAccessReview, after it they are made again; a
// refused token is reviewed every time.
func TestReviewsCached(t *testing.T) {
	client := fake.NewClientset()
	var tokenReviews, accessReviews atomic.Int32
	client.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tokenReviews.Add(1)
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		if tr.Spec.Token == "good" {
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "viewer", Groups: []string{"team"}}}
		}
		return true, tr, nil
	})
	client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		accessReviews.Add(1)
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		sar.Status.Allowed = sar.Spec.User == "viewer" && sar.Spec.ResourceAttributes.Namespace == "shop"
		return true, sar, nil
	})
	report := func(ns string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
			"metadata": map[string]any{"name": "kubeguard", "namespace": ns},
			"results": []any{map[string]any{"source": "kubeguard", "result": "fail", "policy": "PSS-PRIVILEGED", "severity": "critical",
				"message": "privileged in " + ns, "resources": []any{map[string]any{"apiVersion": "v1", "kind": "Pod", "namespace": ns, "name": "app-" + ns}}}}}}
		return u
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		controller.PolicyReports: "PolicyReportList", controller.ClusterPolicyReports: "ClusterPolicyReportList"}, report("shop"), report("payments"))
	now := clocktesting.NewFakeClock(time.Now())
	s := &Server{Client: client, Dynamic: dyn, Catalog: control.NewCatalog(), ReviewTTL: time.Minute, clock: now}
	get := func(token string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	counts := func() [2]int32 { return [2]int32{tokenReviews.Load(), accessReviews.Load()} }
	for i, step := range []struct {
		token   string
		advance time.Duration
		code    int
		reviews [2]int32 // token and access reviews so far
	}{
		{"good", 0, http.StatusOK, [2]int32{1, 3}}, // cluster reports, shop, payments
		{"good", 30 * time.Second, http.StatusOK, [2]int32{1, 3}},
		{"good", 31 * time.Second, http.StatusOK, [2]int32{2, 6}},
		{"bad", 0, http.StatusUnauthorized, [2]int32{3, 6}},
		{"bad", 0, http.StatusUnauthorized, [2]int32{4, 6}},
	} {
		now.Step(step.advance)
		code, page := get(step.token)
		if code != step.code || counts() != step.reviews {
			t.Fatalf("request %d: %d with %v reviews, want %d with %v", i+1, code, counts(), step.code, step.reviews)
		}
		if code == http.StatusOK && (!strings.Contains(page, "app-shop") || strings.Contains(page, "app-payments")) {
			t.Fatalf("request %d: the page shows another namespace, or not the allowed one", i+1)
		}
	}
	// a page's poll for changes needs a token the API server accepts
	for token, want := range map[string]int{"": http.StatusUnauthorized, "bad": http.StatusUnauthorized, "good": http.StatusOK} {
		req := httptest.NewRequest("GET", "/changes", nil)
		if token != "" {
			req.AddCookie(&http.Cookie{Name: cookie, Value: token})
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != want || want == http.StatusOK && strings.TrimSpace(w.Body.String()) != "0" {
			t.Errorf("/changes with token %q: %d %q, want %d", token, w.Code, w.Body.String(), want)
		}
	}
}

// The watch counts a change when a report's findings change, not when
// the controller rewrites it with new timestamps: an open page then
// offers a reload only for something new.
func TestGenerationCountsFindingChanges(t *testing.T) {
	rep := func(msg string, seconds int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
			"metadata": map[string]any{"name": "kubeguard", "namespace": "shop"},
			"results": []any{map[string]any{"source": "kubeguard", "result": "fail", "policy": "PSS-PRIVILEGED", "severity": "critical",
				"message": msg, "timestamp": map[string]any{"seconds": seconds, "nanos": int64(0)},
				"resources": []any{map[string]any{"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": "app"}}}}}}
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		controller.PolicyReports: "PolicyReportList", controller.ClusterPolicyReports: "ClusterPolicyReportList"}, rep("privileged", 1))
	s := &Server{Dynamic: dyn}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	start := s.generation.Load()
	ri := dyn.Resource(controller.PolicyReports).Namespace("shop")
	for _, u := range []*unstructured.Unstructured{rep("privileged", 2), rep("privileged: container web", 3)} {
		if _, err := ri.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// events arrive in order: once the second update counted, the first
	// has been seen
	for deadline := time.Now().Add(10 * time.Second); s.generation.Load() == start && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	time.Sleep(100 * time.Millisecond)
	if got := s.generation.Load() - start; got != 1 {
		t.Errorf("%d changes counted for a rewrite with new timestamps and a new message, want 1", got)
	}
}
