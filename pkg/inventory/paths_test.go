package inventory

import (
	"fmt"
	"testing"
	"unsafe"
)

func TestJoinInterns(t *testing.T) {
	buf := []byte("spec.template.spec.containers[0]")
	base := unsafe.String(&buf[0], len(buf)) // as the decoder's strings alias files
	a := join(base, "securityContext")
	buf[len(buf)-2] = '9' // the buffer is reused: the table must not see it
	b := join("spec.template.spec.containers[0]", "securityContext")
	if a != "spec.template.spec.containers[0].securityContext" || a != b {
		t.Fatalf("join: %q, %q", a, b)
	}
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the same path was built twice")
	}
	if c := join(base, "securityContext"); c != "spec.template.spec.containers[9].securityContext" {
		t.Errorf("join after the buffer changed: %q", c)
	}
	// past the bound, paths are still right
	for i := range maxPaths + 10 {
		if got, want := join("spec", fmt.Sprint("f", i)), fmt.Sprint("spec.f", i); got != want {
			t.Fatalf("join: %q, want %q", got, want)
		}
	}
	if n := pathsCount.Load(); n > maxPaths {
		t.Errorf("%d paths interned, bound %d", n, maxPaths)
	}
}
