package node

import "testing"

// BenchmarkCheck is a full check of the example control-plane node (every
// section, certificates parsed); make compare-node times the binary
// beside kube-bench on the same files.
func BenchmarkCheck(b *testing.B) {
	h := NewHost("../../examples/node/kubeadm-control-plane")
	for b.Loop() {
		secs, _, err := Check(h, "cis-1.12")
		if err != nil || len(secs) < 5 {
			b.Fatal(err, len(secs))
		}
	}
}
