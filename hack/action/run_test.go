package action

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The action's script downloads a release from a server on loopback laid
// out as GitHub's, verifies it, scans and sets the step outputs.
func TestRunScript(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the script runs on the runner's shell; tested on linux")
	}
	for _, tool := range []string{"curl", "sha256sum", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI", tool)
			}
			t.Skip(tool + " missing")
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubeguard")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kubeguard").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	arch := map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
	archive := "kubeguard_linux_" + runtime.GOARCH + ".tar.gz"
	release := filepath.Join(dir, "releases", "download", "v9.9.9")
	os.MkdirAll(release, 0o755)
	data := tarGz(t, bin)
	os.WriteFile(filepath.Join(release, archive), data, 0o644)
	sum := sha256.Sum256(data)
	os.WriteFile(filepath.Join(release, "SHA256SUMS"), []byte(hex.EncodeToString(sum[:])+"  "+archive+"\n"), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(dir, "releases"))))
	defer srv.Close()

	run := func(extra ...string) (int, string, map[string]string) {
		outputs := filepath.Join(t.TempDir(), "outputs")
		sarif := filepath.Join(t.TempDir(), "k.sarif")
		cmd := exec.Command("./run.sh")
		cmd.Env = append(os.Environ(), "KUBEGUARD_VERSION=v9.9.9", "KUBEGUARD_DOWNLOAD_URL="+srv.URL, "RUNNER_OS=Linux", "RUNNER_ARCH="+arch,
			"RUNNER_TEMP="+t.TempDir(), "GITHUB_OUTPUT="+outputs, "KUBEGUARD_PATHS=../../examples/insecure ../../examples/hardened",
			"KUBEGUARD_SARIF="+sarif)
		cmd.Env = append(cmd.Env, extra...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		data, _ := os.ReadFile(outputs)
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				got[k] = v
			}
		}
		return code, string(out), got
	}
	code, out, outputs := run()
	if code != 1 || outputs["exit-code"] != "1" || !strings.Contains(out, "PSS-PRIVILEGED") {
		t.Fatalf("exit %d, outputs %v\n%s", code, outputs, out)
	}
	var log struct{ Runs []struct{ Results []any } }
	data, err := os.ReadFile(outputs["sarif-file"])
	if err != nil || json.Unmarshal(data, &log) != nil || len(log.Runs[0].Results) == 0 {
		t.Errorf("SARIF %s: %v", outputs["sarif-file"], err)
	}
	if code, _, outputs := run("KUBEGUARD_FAIL_ON=none"); code != 0 || outputs["exit-code"] != "0" {
		t.Errorf("fail-on none: exit %d %v", code, outputs)
	}
	// a tampered archive is refused before it runs
	os.WriteFile(filepath.Join(release, archive), append(data[:0:0], tarGz(t, "run.sh")...), 0o644)
	if code, out, _ := run(); code != 2 || !strings.Contains(out, "does not match the release's SHA256SUMS") {
		t.Errorf("tampered: exit %d\n%s", code, out)
	}
}

func tarGz(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "kubeguard", Mode: 0o755, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	gz.Close()
	return []byte(buf.String())
}
