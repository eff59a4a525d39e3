package cli

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/internal/auditgen"
	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
)

func TestAuditScan(t *testing.T) {
	log := "../../pkg/audit/testdata/attacks.jsonl"
	code, out, errs := run(t, "", "audit", "scan", log, "-o", "json", "--controls", "AUD-*")
	if code != ExitFindings || strings.Count(out, `"controlID": "AUD-`) != 18 {
		t.Fatalf("exit %d, %d AUD findings\n%s\n%s", code, strings.Count(out, `"controlID": "AUD-`), out, errs)
	}
	// a configuration exclusion accepts a rule's findings like any other
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".kubeguard.yaml")
	os.WriteFile(cfg, []byte("exclude:\n  - controls: [AUD-PORT-FORWARD]\n    reason: the database team forwards ports\n"), 0o644)
	if _, out, _ := run(t, "", "audit", "scan", log, "--config", cfg, "-o", "json", "--controls", "AUD-*"); !strings.Contains(out, `"suppressed": 1,`) {
		t.Errorf("exclusion:\n%s", out)
	}
	// bad lines are named, the rest still read; gzip and stdin work
	body, _ := os.ReadFile(log)
	bad := filepath.Join(dir, "audit.log")
	os.WriteFile(bad, append([]byte("{not json\n"), body...), 0o644)
	code, out, errs = run(t, "", "audit", "scan", bad, "--controls", "AUD-EXEC")
	if code != ExitError || !strings.Contains(errs, bad+":1: error: not JSON") || !strings.Contains(out, "AUD-EXEC") {
		t.Errorf("bad line: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = run(t, string(body), "audit", "scan", "-", "--controls", "AUD-EXEC")
	if code != 0 || !strings.Contains(out, "AUD-EXEC") { // medium: below the default --fail-on high
		t.Errorf("stdin: exit %d\n%s", code, out)
	}
}

// --stream writes each alert as a JSON line as it is found.
func TestAuditScanStream(t *testing.T) {
	log := "../../pkg/audit/testdata/attacks.jsonl"
	code, out, errs := run(t, "", "audit", "scan", log, "--stream", "--controls", "AUD-*")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != ExitFindings || len(lines) != 18 || !strings.HasPrefix(lines[0], `{"controlID":"AUD-EXEC","severity":"medium"`) ||
		!strings.Contains(lines[0], `"position":{"file":"../../pkg/audit/testdata/attacks.jsonl","line":4}`) || !strings.Contains(errs, "41 audit events, 18 alerts") {
		t.Errorf("exit %d, %d lines\n%s\n%s", code, len(lines), out, errs)
	}
	if code, out, _ := run(t, "", "audit", "scan", log, "--stream", "--controls", "AUD-EXEC", "--fail-on", "none"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("filtered: exit %d\n%s", code, out)
	}
}

// examples/audit is what hack/exampleaudit and audit-policy generate
// write.
func TestAuditExamplesCurrent(t *testing.T) {
	var history, today bytes.Buffer
	zw := gzip.NewWriter(&history)
	if err := auditgen.Example(zw, &today); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	for name, want := range map[string][]byte{"history.jsonl.gz": history.Bytes(), "today.jsonl": today.Bytes(), "policy.yaml": []byte(auditpolicy.GeneratePolicy(false))} {
		if got, err := os.ReadFile(filepath.Join("../../examples/audit", name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("examples/audit/%s is stale: run go run ./hack/exampleaudit and kubeguard audit-policy generate", name)
		}
	}
}

// Usage mistakes are exit 2 before anything runs.
func TestAuditUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "serve"}, // no TLS, no client CA
		{"audit", "serve", "--tls-cert-file", "a", "--tls-key-file", "b", "--client-ca-file", "c", "--baseline", "x", "--baseline-configmap", "y"},
		{"audit", "rbac", "../../examples/audit/history.jsonl.gz", "--unused"}, // no RBAC to compare with
		{"audit", "learn", "../../examples/audit/history.jsonl.gz"},            // no baseline file
		{"audit", "scan", "--follow", "a.log", "b.log"},
		{"audit", "baseline", "show", "--baseline", "../../examples/audit/today.jsonl"}, // not a baseline
		{"audit-policy", "check", "../../examples/audit/rbac.yaml"},                     // not a policy
	} {
		if code, out, errOut := run(t, "", args...); code != ExitError {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out, errOut)
		}
	}
}
