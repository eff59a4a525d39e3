//go:build tools

// Package cluster pins the kube-apiserver that kubeguard's end-to-end tests
// run against; internal/testcluster builds it from this module.
package cluster

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
