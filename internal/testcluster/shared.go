package testcluster

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// Main runs a test binary's tests and stops the shared cluster afterwards,
// if one was started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Shared returns the cluster of this test binary, starting it on first
// use. End-to-end tests skip under -short; under CI=true they never skip,
// they fail when the cluster cannot start.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("end-to-end test against a real kube-apiserver; skipped with -short")
	}
	sharedOnce.Do(func() {
		shared, sharedErr = Start(Options{Log: func(s string) { fmt.Fprintln(os.Stderr, "testcluster:", s) }})
	})
	if sharedErr != nil {
		t.Fatalf("starting the test cluster: %v", sharedErr)
	}
	return shared
}
