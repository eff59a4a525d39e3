package node

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Benchmarks are the CIS Kubernetes Benchmark versions kubeguard node
// evaluates.
var Benchmarks = []string{"cis-1.10", "cis-1.11", "cis-1.12"}

var imageVersion = regexp.MustCompile(`:v1\.(\d+)\.\d+`)

// DetectBenchmark finds the benchmark for the node's Kubernetes release,
// or says everything it tried. It never falls back to a default.
func DetectBenchmark(h *Host) (string, error) {
	p, absent := h.findManifest("kube-apiserver")
	var tried []string
	for _, a := range absent {
		tried = append(tried, a+" (absent)")
	}
	if p != "" {
		image, _, err := h.staticPod(p, "kube-apiserver")
		m := imageVersion.FindStringSubmatch(image)
		if err != nil || m == nil {
			tried = append(tried, p+" (no versioned kube-apiserver image)")
		} else {
			b, err := BenchmarkFor("v1." + m[1] + ".0")
			if err != nil {
				return "", fmt.Errorf("%v (from %s)", err, p)
			}
			return b, nil
		}
	}
	return "", fmt.Errorf("cannot tell the node's Kubernetes release (tried %s); give --benchmark (%s)", strings.Join(tried, ", "), strings.Join(Benchmarks, ", "))
}

var releaseVersion = regexp.MustCompile(`^v?1\.(\d+)\.`)

// BenchmarkFor maps a Kubernetes release (v1.33.2, as a kubelet or image
// reports it) to the benchmark written for it, as kube-bench maps them.
func BenchmarkFor(version string) (string, error) {
	m := releaseVersion.FindStringSubmatch(version)
	if m == nil {
		return "", fmt.Errorf("%q is not a Kubernetes release; give --benchmark (%s)", version, strings.Join(Benchmarks, ", "))
	}
	switch minor, _ := strconv.Atoi(m[1]); {
	case minor >= 32:
		return "cis-1.12", nil
	case minor >= 29:
		return "cis-1.11", nil
	case minor == 28:
		return "cis-1.10", nil
	default:
		return "", fmt.Errorf("Kubernetes 1.%d is covered by an earlier CIS benchmark than %s; give --benchmark to check against one of those anyway", minor, strings.Join(Benchmarks, ", "))
	}
}
