package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --baseline marks findings new or unchanged in every format, survives
// lines moving, lists what was fixed, and with --fail-on-new only new
// findings fail the run: a team adopts kubeguard on an old repository
// without fixing everything first.
func TestBaseline(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.yaml")
	orig, err := os.ReadFile("../../examples/insecure/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(app, orig, 0o644)
	base := filepath.Join(dir, "base.json")
	if code, _, errs := run(t, "", "scan", dir, "-o", "json="+base); code != ExitFindings {
		t.Fatalf("exit %d %s", code, errs)
	}
	// the same findings, every line moved: nothing is new, and nothing fails
	os.WriteFile(app, append([]byte("# moved\n# every line\n"), orig...), 0o644)
	code, out, errs := run(t, "", "scan", dir, "--baseline", base, "--fail-on-new")
	if code != ExitOK || !strings.Contains(out, "since the baseline: 0 new") || !strings.Contains(out, ", 0 fixed") || strings.Contains(out, "[new]") {
		t.Fatalf("moved lines: exit %d\n%s%s", code, out, errs)
	}
	// one problem fixed, one pod added
	fixed := strings.Replace(string(orig), "privileged: true", "privileged: false", 1)
	os.WriteFile(app, []byte(fixed+`---
apiVersion: v1
kind: Pod
metadata: {name: newpod, namespace: default}
spec:
  containers:
  - name: c
    image: nginx
    securityContext: {privileged: true}
`), 0o644)
	sarif := filepath.Join(dir, "now.sarif")
	code, out, errs = run(t, "", "scan", dir, "--baseline", base, "--fail-on-new", "-o", "json", "-o", "sarif="+sarif)
	if code != ExitFindings {
		t.Fatalf("a new privileged pod: exit %d %s", code, errs)
	}
	var rep struct {
		Summary struct {
			Baseline struct{ New, Unchanged, Fixed int }
		}
		Findings []struct {
			ControlID     string `json:"controlID"`
			Object        struct{ Name string }
			Fingerprint   string `json:"fingerprint"`
			BaselineState string `json:"baselineState"`
		}
		Fixed []struct {
			ControlID string `json:"controlID"`
			Object    struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	news := 0
	for _, f := range rep.Findings {
		if (f.BaselineState == "new") != (f.Object.Name == "newpod") || f.Fingerprint == "" {
			t.Errorf("%s on %s: state %q", f.ControlID, f.Object.Name, f.BaselineState)
		}
		if f.BaselineState == "new" {
			news++
		}
	}
	if rep.Summary.Baseline.New != news || rep.Summary.Baseline.Fixed != 1 || len(rep.Fixed) != 1 || rep.Fixed[0].ControlID != "PSS-PRIVILEGED" {
		t.Errorf("summary %+v, fixed %+v", rep.Summary.Baseline, rep.Fixed)
	}
	data, _ := os.ReadFile(sarif)
	if !strings.Contains(string(data), `"baselineState": "new"`) || !strings.Contains(string(data), `"baselineState": "unchanged"`) {
		t.Error("SARIF results carry no baselineState")
	}
	// without --fail-on-new the old findings fail too; a baseline that is
	// not a report is a usage error
	if code, _, _ := run(t, "", "scan", dir, "--baseline", base); code != ExitFindings {
		t.Errorf("without --fail-on-new: exit %d", code)
	}
	if code, _, errs := run(t, "", "scan", dir, "--baseline", app); code != ExitError || !strings.Contains(errs, "--baseline: ") {
		t.Errorf("a manifest as baseline: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "", "scan", dir, "--fail-on-new"); code != ExitError || !strings.Contains(errs, "--fail-on-new needs --baseline") {
		t.Errorf("--fail-on-new alone: exit %d %s", code, errs)
	}
}
