package action

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The pre-commit hook (.pre-commit-hooks.yaml), run by pre-commit itself
// on a sample repository: it builds kubeguard from this checkout, passes
// the manifests and Dockerfiles (and skips other files) to one scan, and
// fails the commit on findings.
func TestPreCommitHook(t *testing.T) {
	if _, err := exec.LookPath("pre-commit"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pre-commit missing under CI")
		}
		t.Skip("pre-commit missing")
	}
	if testing.Short() {
		t.Skip("builds kubeguard in pre-commit's environment")
	}
	repo := t.TempDir()
	files := map[string]string{
		"k8s/app.yaml":             mustRead(t, "../../examples/insecure/app.yaml"),
		"k8s/hardened.yaml":        mustRead(t, "../../examples/hardened/app.yaml"),
		"build/Dockerfile":         "FROM alpine:latest\nRUN apk add curl\n",
		".github/workflows/ci.yml": "on: push\njobs: {}\n",
		"README.md":                "# sample\n",
	}
	for name, text := range files {
		os.MkdirAll(filepath.Join(repo, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(repo, name), []byte(text), 0o644)
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.test", "-c", "user.name=t"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-qm", "sample")
	self, _ := filepath.Abs("../..")
	modcache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	cmd := exec.Command("pre-commit", "try-repo", self, "kubeguard", "--all-files", "--verbose")
	cmd.Dir = repo
	// the module and build caches of this machine: pre-commit builds in a
	// GOPATH of its own
	cmd.Env = append(os.Environ(), "PRE_COMMIT_HOME="+t.TempDir(), "GOMODCACHE="+strings.TrimSpace(string(modcache)), "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	s := string(out)
	if err == nil || !strings.Contains(s, "Failed") || !strings.Contains(s, "PSS-PRIVILEGED") || !strings.Contains(s, "DF-PKG-UNPINNED") || strings.Contains(s, "also: DF-PKG-UNPINNED") ||
		!strings.Contains(s, "objects in 1 Dockerfile and 3 files") {
		t.Fatalf("pre-commit: %v\n%s", err, s)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
