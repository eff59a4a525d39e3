package inventory

import (
	"reflect"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// sameAsConverter converts content into a new T both ways: the results,
// and whether each failed, must be the same. It reports whether the plan
// converted it itself.
func sameAsConverter[T any](t *testing.T, where string, content map[string]any) bool {
	t.Helper()
	var want, got T
	werr := runtime.DefaultUnstructuredConverter.FromUnstructured(content, &want)
	gerr := convertTo(content, &got)
	if (werr == nil) != (gerr == nil) {
		t.Errorf("%s: converter error %v, convertTo error %v", where, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Errorf("%s: convertTo differs from the converter:\n got %+v\nwant %+v", where, got, want)
	}
	var fast T
	return convert(content, reflect.ValueOf(&fast).Elem())
}

// TestConvertCorpus compares the planned conversion with the converter on
// every pod spec and every object of the typed kinds in the corpus.
func TestConvertCorpus(t *testing.T) {
	inputs, _ := object.Expand([]string{"../../../shared/corpus"}, nil)
	if len(inputs) == 0 {
		t.Skip("corpus not found")
	}
	specs, planned := 0, 0
	for _, in := range inputs {
		in.Split(object.Limits{}, func(b object.Batch) {
			objs, _ := object.DecodeBatch(b, object.Limits{})
			for _, o := range objs {
				where := o.Source.String()
				if w, _ := ExtractWorkload(o); w != nil {
					spec, _ := object.Get(o.Content, w.SpecPath)
					specs++
					if sameAsConverter[corev1.PodSpec](t, where, spec.(map[string]any)) {
						planned++
					}
				}
				switch o.Kind {
				case "Deployment":
					sameAsConverter[appsv1.Deployment](t, where, o.Content)
				case "Service":
					sameAsConverter[corev1.Service](t, where, o.Content)
				case "Ingress":
					sameAsConverter[networkingv1.Ingress](t, where, o.Content)
				case "NetworkPolicy":
					sameAsConverter[networkingv1.NetworkPolicy](t, where, o.Content)
				case "PodDisruptionBudget":
					sameAsConverter[policyv1.PodDisruptionBudget](t, where, o.Content)
				case "HorizontalPodAutoscaler":
					sameAsConverter[autoscalingv2.HorizontalPodAutoscaler](t, where, o.Content)
				case "Role", "ClusterRole":
					sameAsConverter[rbacv1.ClusterRole](t, where, o.Content)
				case "RoleBinding", "ClusterRoleBinding":
					sameAsConverter[rbacv1.RoleBinding](t, where, o.Content)
				}
			}
		})
	}
	t.Logf("%d of %d pod specs converted by plan", planned, specs)
	if planned < specs*9/10 {
		t.Errorf("only %d of %d pod specs converted by plan", planned, specs)
	}
}

// TestConvertCases pins values the plan leaves to the converter, and what
// it converts itself.
func TestConvertCases(t *testing.T) {
	cases := []map[string]any{
		{"containers": []any{map[string]any{"name": "a", "ports": []any{map[string]any{"containerPort": "80"}}}}},
		{"containers": []any{map[string]any{"name": "a", "ports": []any{map[string]any{"containerPort": 80.0}}}}},
		{"containers": []any{map[string]any{"name": "a", "ports": []any{map[string]any{"containerPort": 80.5}}}}},
		{"containers": []any{map[string]any{"name": true}}},
		{"containers": []any{nil, map[string]any{"name": "b", "resources": map[string]any{"limits": map[string]any{"cpu": "100m", "memory": int64(128)}}}}},
		{"containers": []any{map[string]any{"name": "a", "livenessProbe": map[string]any{"httpGet": map[string]any{"port": "http"}}}}},
		{"containers": []any{map[string]any{"name": "a", "livenessProbe": map[string]any{"tcpSocket": map[string]any{"port": int64(8080)}}}}},
		{"containers": []any{map[string]any{"resources": map[string]any{"limits": map[string]any{"cpu": "lots"}}}}},
		{"volumes": []any{map[string]any{"name": "v", "emptyDir": map[string]any{"sizeLimit": "1Gi"}}}, "nodeSelector": map[string]any{"a": nil}},
		{"securityContext": map[string]any{"runAsUser": int64(-1), "sysctls": []any{}}, "containers": "no"},
		{"nodeSelector": map[string]any{"a": int64(1)}},
		// quantities and int-or-strings the JSON round trip would change
		{"containers": []any{map[string]any{"name": "a", "resources": map[string]any{"limits": map[string]any{"cpu": "100m\n", "memory": " 1Gi "}}}}},
		{"containers": []any{map[string]any{"name": "a", "resources": map[string]any{"limits": map[string]any{"cpu": int64(2), "memory": 1.5e9}}}}},
		{"containers": []any{map[string]any{"name": "a", "resources": map[string]any{"limits": map[string]any{"cpu": "1<2"}}}}},
		{"containers": []any{map[string]any{"name": "a", "livenessProbe": map[string]any{"httpGet": map[string]any{"port": "h\xfft"}}}}},
		{"containers": []any{map[string]any{"name": "a", "livenessProbe": map[string]any{"httpGet": map[string]any{"port": int64(1) << 40}}}}},
		{"containers": []any{map[string]any{"name": "a", "livenessProbe": map[string]any{"httpGet": map[string]any{"port": true}}}}},
		{"unknown": true, "containers": []any{map[string]any{"name": "a", "unknown": "x"}}},
	}
	for i, c := range cases {
		sameAsConverter[corev1.PodSpec](t, "case "+strconv.Itoa(i), c)
	}
}
