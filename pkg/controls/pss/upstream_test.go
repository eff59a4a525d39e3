package pss_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls/pss"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// TestUpstreamFixtures runs every fixture of the reference implementation
// (k8s.io/pod-security-admission/test/testdata) for the latest version:
// each "fail" fixture must yield a finding at its level, each "pass"
// fixture none.
func TestUpstreamFixtures(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/pod-security-admission").Output()
	if err != nil {
		t.Fatalf("locating the pod-security-admission module: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	latest := api.LatestVersion()
	ctls, err := pss.Controls(latest)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: control.NewCatalog(ctls...)})
	if err != nil {
		t.Fatal(err)
	}
	total, agree := 0, 0
	// the newest version the module has fixtures for is what "latest" means
	newest := 0
	for _, d := range must(filepath.Glob(filepath.Join(dir, "test", "testdata", "baseline", "v1.*"))) {
		var minor int
		if _, err := fmt.Sscanf(filepath.Base(d), "v1.%d", &minor); err == nil && minor > newest {
			newest = minor
		}
	}
	for _, level := range []string{"baseline", "restricted"} {
		for _, verdict := range []string{"pass", "fail"} {
			glob := filepath.Join(dir, "test", "testdata", level, fmt.Sprintf("v1.%d", newest), verdict, "*.yaml")
			files, _ := filepath.Glob(glob)
			if len(files) == 0 {
				t.Fatalf("no fixtures at %s", glob)
			}
			for _, f := range files {
				inputs, _ := object.Expand([]string{f}, nil)
				res := eng.ScanInputs(inputs)
				if len(res.Diagnostics) > 0 {
					t.Errorf("%s: %v", f, res.Diagnostics)
				}
				hits := 0
				for _, fd := range res.Findings {
					c, _ := eng.Catalog().Get(fd.ControlID)
					// the restricted level includes every baseline check
					if l := pss.Level(c); l == level || level == "restricted" {
						hits++
						if fd.Position.Line == 0 {
							t.Errorf("%s: %s without a line", f, fd.ControlID)
						}
					}
				}
				total++
				if (verdict == "fail") == (hits > 0) {
					agree++
				} else {
					t.Errorf("%s/%s/%s: %d findings", level, verdict, filepath.Base(f), hits)
				}
			}
		}
	}
	t.Logf("pod-security-admission v1.%d fixtures: %d/%d agree", newest, agree, total)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestEveryCheckHasMetadata fails when the reference implementation gains
// a check kubeguard does not describe yet.
func TestEveryCheckHasMetadata(t *testing.T) {
	ctls, err := pss.Controls(api.LatestVersion())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(policy.DefaultChecks()); len(ctls) != n {
		t.Fatalf("%d controls for %d checks", len(ctls), n)
	}
	if got := pss.ControlID("hostNamespaces"); got != "PSS-HOST-NAMESPACES" {
		t.Errorf("ControlID = %q", got)
	}
}

// Older policy versions leave out checks that did not exist yet.
func TestOlderVersion(t *testing.T) {
	v, _ := api.ParseVersion("v1.0")
	ctls, err := pss.Controls(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctls {
		if c.ID == "PSS-HOST-PROBES-LIFECYCLE" {
			t.Error("v1.0 has no hostProbesAndHostLifecycle check")
		}
	}
}

// Newest follows the linked pod-security-admission release.
func TestNewestFollowsModule(t *testing.T) {
	data, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`k8s.io/pod-security-admission v0\.(\d+)\.`).FindSubmatch(data)
	if m == nil || "v1."+string(m[1]) != pss.Newest.String() {
		t.Errorf("go.mod links pod-security-admission %q; Newest is %s", m, pss.Newest)
	}
}
