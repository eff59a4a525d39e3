package webhook

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/config"
)

// BenchmarkValidate measures one review of a typical hardened pod through
// the HTTP handler, without network or TLS (make bench-webhook measures
// those).
func BenchmarkValidate(b *testing.B) {
	h := newHandler(&testing.T{}, nil, config.Webhook{})
	p := hardenedPod("apps", "p")
	body, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": request(&testing.T{}, p)})
	v := h.Validate()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		v.ServeHTTP(w, httptest.NewRequest("POST", "/validate", bytes.NewReader(body)))
		if w.Code != 200 {
			b.Fatal(w.Body.String())
		}
	}
}
