//go:build tools

// Package cluster pins the Kubernetes components that kubeguard's
// end-to-end tests run against; internal/testcluster builds them from this
// module.
package cluster

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
