package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
)

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	// the hardened example passes every control, whatever its severity
	if code, out, _ := run(t, "", "scan", "--fail-on", "info", "../../examples/hardened"); code != ExitOK {
		t.Errorf("hardened example: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, "", "scan", "../../examples/insecure"); code != ExitFindings {
		t.Errorf("insecure example: exit %d, want 1", code)
	}
	// below the threshold: still exit 0
	if code, _, _ := run(t, "", "scan", "--fail-on", "critical", "../../pkg/controls/testdata/serviceaccount.yaml"); code != ExitOK {
		t.Errorf("--fail-on critical: exit %d", code)
	}
	// a parse error is exit 2 even with findings, after scanning the rest
	code, out, errOut := run(t, "", "scan", "../../examples/insecure", "../../pkg/report/testdata/broken.yaml")
	if code != ExitError || !strings.Contains(out, "PSS-PRIVILEGED") || !strings.Contains(errOut, "broken.yaml:6:8") || strings.Contains(out, "broken.yaml:6:8") {
		t.Errorf("exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"scan", "--fail-on", "severe", "x"},
		{"scan", "-o", "xml", "x"},
		{"scan"},
		{"explain", "NOPE"},
		{"controls", "--framework", "ISO"},
	} {
		if code, _, _ := run(t, "", args...); code != ExitError {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestStdin(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers:\n  - name: c\n    image: a:1\n    securityContext: {privileged: true}\n"
	code, out, _ := run(t, pod, "scan", "-", "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	var rep struct {
		Findings []struct {
			ControlID string
			Position  struct {
				File string
				Line int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		if f.ControlID == "PSS-PRIVILEGED" {
			found = f.Position.File == "<stdin>" && f.Position.Line == 8
		}
	}
	if !found {
		t.Errorf("no PSS-PRIVILEGED at <stdin>:8 in %s", out)
	}
}

// TestMaxDocumentSize: a document over --max-document-size is refused (exit
// 2, saying how to raise the limit) while the rest is scanned, from files
// and from stdin, and a higher limit reads it.
func TestMaxDocumentSize(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"apiVersion": "v1", "kind": "List", "items": [`)
	for i := range 40 {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p%d", "namespace": "x"}, "spec": {"containers": [{"name": "c", "image": "a:1", "securityContext": {"privileged": true}}]}}`, i)
	}
	b.WriteString("]}\n")
	list := b.String() // about 7 KiB
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dump.json"), []byte(list), 0o644)
	os.WriteFile(filepath.Join(dir, "pod.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: small, namespace: x}\nspec:\n  containers:\n  - name: c\n    image: a:1\n"), 0o644)
	objects := func(out string) int {
		var rep struct{ Summary struct{ Objects int } }
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.Summary.Objects
	}
	code, out, errs := run(t, "", "scan", "-o", "json", "--max-document-size", "4Ki", dir)
	if code != ExitError || objects(out) != 1 || !strings.Contains(errs, "dump.json:1:1: error: document is larger than 4096 bytes; refused (--max-document-size raises the limit)") {
		t.Errorf("4Ki: exit %d, %d objects, stderr %s", code, objects(out), errs)
	}
	code, out, _ = run(t, list, "scan", "-o", "json", "--max-document-size", "4Ki", "-")
	if code != ExitError || objects(out) != 0 {
		t.Errorf("4Ki from stdin: exit %d, %d objects", code, objects(out))
	}
	code, out, errs = run(t, "", "scan", "-o", "json", "--max-document-size", "1Mi", dir)
	if code != ExitFindings || objects(out) != 41 || errs != "" {
		t.Errorf("1Mi: exit %d, %d objects, stderr %s", code, objects(out), errs)
	}
	if code, _, errs := run(t, "", "scan", "--max-document-size", "-1", dir); code != ExitError || !strings.Contains(errs, "--max-document-size") {
		t.Errorf("negative size: exit %d, stderr %s", code, errs)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: ops}\nspec:\n  hostPID: true\n  containers:\n  - {name: c, image: 'a:1'}\n"
	os.WriteFile(filepath.Join(dir, "pod.yaml"), []byte(pod), 0o644)
	cfg := filepath.Join(dir, ".kubeguard.yaml")

	// found upward from the scanned path; exclusions need a reason
	os.WriteFile(cfg, []byte("exclude:\n- controls: [PSS-HOST-NAMESPACES]\n  names: ['age*']\n  reason: host agent\nseverity:\n  PSS-RUN-AS-NON-ROOT: critical\n"), 0o644)
	code, out, _ := run(t, "", "scan", "-o", "json", "--show-suppressed", filepath.Join(dir, "pod.yaml"))
	if code != ExitFindings || !strings.Contains(out, `"reason": "host agent"`) || !strings.Contains(out, `"critical": 1`) {
		t.Errorf("exit %d\n%s", code, out)
	}
	for _, bad := range []string{
		"exclude:\n- controls: [PSS-HOST-NAMESPACES]\n", // no reason
		"controls:\n  disable: [NO-SUCH-CONTROL]\n",     // unknown ID
		"severity:\n  PSS-PRIVILEGED: extreme\n",        // bad severity
		"unknownKey: true\n",                            // typo
	} {
		os.WriteFile(cfg, []byte(bad), 0o644)
		if code, _, errOut := run(t, "", "scan", dir); code != ExitError || !strings.Contains(errOut, ".kubeguard.yaml") {
			t.Errorf("config %q: exit %d, stderr %q", bad, code, errOut)
		}
	}
	// forbidding annotation suppressions
	os.WriteFile(cfg, []byte("forbidAnnotationSuppressions: true\n"), 0o644)
	code, out, errOut := run(t, "", "scan", "--config", cfg, "../../pkg/controls/testdata/suppressed.yaml")
	if code != ExitFindings || strings.Contains(out, "suppressed (") || !strings.Contains(errOut, "ignored") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestUnknownAnnotationID(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    kubeguard.io/ignore: NOT-A-CONTROL\n    kubeguard.io/ignore-reason: x\nspec: {containers: [{name: c, image: 'a:1'}]}\n"
	code, _, out := run(t, pod, "scan", "-")
	if code != ExitError || !strings.Contains(out, `<stdin>:6:5: error: kubeguard.io/ignore: unknown control ID "NOT-A-CONTROL"`) {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestControlsAndExplain(t *testing.T) {
	_, out, _ := run(t, "", "controls", "--framework", "cis")
	if !strings.Contains(out, "PSS-PRIVILEGED") || strings.Contains(out, "PSS-SYSCTLS") {
		t.Errorf("CIS filter:\n%s", out)
	}
	_, out, _ = run(t, "", "controls", "--category", "image")
	if !strings.Contains(out, "IMG-LATEST-TAG") || strings.Contains(out, "PSS-") {
		t.Errorf("category filter:\n%s", out)
	}
	code, out, _ := run(t, "", "explain", "pss-privileged")
	if code != 0 || !strings.Contains(out, "CIS 5.2.2") || !strings.Contains(out, "Fix:") {
		t.Errorf("explain: %d\n%s", code, out)
	}
}

// TestDocsUpToDate fails when docs/controls.md no longer matches the code;
// regenerate it with `make docs`.
func TestDocsUpToDate(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ControlsMarkdown(&buf, cat.All()); err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../docs/controls.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, buf.Bytes()) {
		t.Error("docs/controls.md is stale: run make docs")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("The catalog (%d controls)", len(cat.All())); !bytes.Contains(readme, []byte(want)) {
		t.Errorf("README.md does not say %q", want)
	}
}

// TestCorpusParses scans every file of the shared corpus of real-world
// manifests: none may fail to parse, and the only input errors are the
// values the API server would reject.
func TestCorpusParses(t *testing.T) {
	const corpus = "../../../shared/corpus"
	if _, err := os.Stat(corpus); err != nil {
		t.Skip("corpus not present beside this checkout")
	}
	page := filepath.Join(t.TempDir(), "corpus.html")
	code, out, _ := run(t, "", "scan", "-o", "json", "-o", "html="+page, "--fail-on", "critical", corpus)
	var rep struct {
		Summary struct {
			Objects, InputErrors, Findings int
		}
		Diagnostics []struct {
			Severity, Message string
			Position          struct{ File string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	rejected := map[string]string{
		"sctp-deployment.yaml": `containerPort: expected an integer, got string "PORT"`, // a placeholder without a template syntax
		"vouch-proxy.yaml":     "env[0].value: expected a string, got boolean true",     // kubectl apply refuses it too
	}
	errs := 0
	for _, d := range rep.Diagnostics {
		if d.Severity == "error" {
			errs++
			if want, ok := rejected[filepath.Base(d.Position.File)]; !ok || !strings.Contains(d.Message, want) {
				t.Errorf("%s: %s", d.Position.File, d.Message)
			}
		}
	}
	if rep.Summary.Objects < 17000 || code != ExitError || errs != len(rejected) {
		t.Errorf("objects %d, exit %d, %d input errors", rep.Summary.Objects, code, errs)
	}
	// the HTML report of the same scan counts what the JSON counts, and
	// stays small enough to open (its findings travel gzipped)
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`<div class="card" id="open"><b>%d</b>`, rep.Summary.Findings); !bytes.Contains(html, []byte(want)) || len(html) > 20<<20 {
		t.Errorf("the corpus's HTML report (%d bytes) does not count %d open findings", len(html), rep.Summary.Findings)
	}
}

// A kustomization file or a chart's files passed one by one (pre-commit,
// changed-files CI jobs) render the overlay or chart they belong to, once.
func TestFileOfRenderedInput(t *testing.T) {
	code, out, errOut := run(t, "", "scan", "../../pkg/render/testdata/kustomize/overlays/dev/kustomization.yaml")
	if code != ExitFindings || !strings.Contains(out, "PSS-PRIVILEGED") || !strings.Contains(errOut, "rendered and scanned instead") {
		t.Errorf("kustomization.yaml: exit %d\n%s", code, out)
	}
	const chart = "../../pkg/render/testdata/charts/shop/"
	code, out, _ = run(t, "", "scan", "-o", "json", chart+"Chart.yaml", chart+"values.yaml", chart+"templates/deployment.yaml", chart+"templates")
	var rep struct {
		Summary struct{ Objects, Inputs int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitFindings || rep.Summary.Inputs != 1 || rep.Summary.Objects == 0 {
		t.Errorf("chart files: exit %d, %+v %v\n%s", code, rep.Summary, err, out)
	}
}

// Values the API server rejects are input errors at their field, and no
// finding is built on them; values it accepts are analysed as written.
func TestInvalidNumbers(t *testing.T) {
	pod := func(v string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  securityContext:\n    runAsUser: " + v +
			"\n  containers:\n  - name: c\n    image: a:1\n    securityContext: {runAsGroup: " + v + "}\n"
	}
	for v, want := range map[string]string{
		"1.5":                  "expected an integer, got number 1.5",
		"1e400":                `expected an integer, got string "1e400"`,
		`"0"`:                  `expected an integer, got string "0"`,
		"99999999999999999999": "expected an integer, got number 1e+20",
		"-1":                   "-1 is not a valid ID: must be between 0 and 2147483647",
		"2147483648":           "2147483648 is not a valid ID",
	} {
		code, out, errOut := run(t, pod(v), "scan", "-")
		if code != ExitError || !strings.Contains(errOut, "<stdin>:6:5: error: Pod/x/p: spec.securityContext.runAsUser: "+want) ||
			!strings.Contains(errOut, "<stdin>:10:23: error: Pod/x/p: spec.containers[0].securityContext.runAsGroup: ") ||
			strings.Contains(out, "PSS-RUN-AS-USER") || strings.Contains(out, "GID 0") {
			t.Errorf("runAsUser: %s: exit %d\n%s", v, code, out)
		}
	}
	// kubectl sends YAML's 1.0 as 1: a valid UID of 1, so CTR-LOW-UID
	code, out, _ := run(t, pod("1.0"), "scan", "--fail-on", "low", "-")
	if code != ExitFindings || strings.Contains(out, "error") || !strings.Contains(out, "CTR-LOW-UID") {
		t.Errorf("runAsUser: 1.0: exit %d\n%s", code, out)
	}
}

// Cross-object findings resolve references within each path given (a
// chart, a kustomization, a directory): adding an unrelated directory to a
// scan never changes another's findings. Objects without a namespace are
// in default (or -n), never "".
func TestScopes(t *testing.T) {
	const app, other = "testdata/scope/app", "testdata/scope/other"
	findings := func(args ...string) []string {
		t.Helper()
		_, out, errOut := run(t, "", append([]string{"scan", "-o", "json", "--fail-on", "critical"}, args...)...)
		var rep struct {
			Findings []struct {
				ControlID string
				Object    struct{ Namespace string }
				Message   string
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
		var ids []string
		for _, f := range rep.Findings {
			if f.Object.Namespace == "" || strings.Contains(f.Message, `""`) {
				t.Errorf("%v: %s without a namespace: %s", args, f.ControlID, f.Message)
			}
			if f.ControlID == "SEC-MISSING-REF" {
				ids = append(ids, f.ControlID+" "+f.Object.Namespace)
			}
		}
		return ids
	}
	if got := findings(app); len(got) != 0 {
		t.Errorf("app alone: %v", got)
	}
	if got := findings(app, other); len(got) != 0 {
		t.Errorf("app with an unrelated directory: %v", got)
	}
	if got := findings("--scope", "all", app, other); len(got) != 1 || got[0] != "SEC-MISSING-REF default" {
		t.Errorf("--scope all: %v", got)
	}
	if got := findings("--scope", "all", "-n", "shop", app, other); len(got) != 1 || got[0] != "SEC-MISSING-REF shop" {
		t.Errorf("--scope all -n shop: %v", got)
	}
	if code, _, _ := run(t, "", "scan", "--scope", "everything", app); code != ExitError {
		t.Errorf("--scope everything: exit %d", code)
	}
}

// Each file gets the nearest .kubeguard.yaml above it, whatever the order
// of the arguments, and the reports say which applied where.
func TestNestedConfigs(t *testing.T) {
	const root = "testdata/configs"
	for _, args := range [][]string{{root, root + "/team/sub/app.yaml"}, {root + "/team/sub/app.yaml", root}} {
		code, out, errOut := run(t, "", append([]string{"scan", "-v", "-o", "json", "--fail-on", "critical"}, args...)...)
		var rep struct {
			Configs []struct {
				Path   string
				Inputs []string
			}
			Findings []struct {
				ControlID string
				Object    struct{ Name string }
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitOK {
			t.Fatalf("%v: exit %d %v\n%s", args, code, err, out)
		}
		got := map[string]bool{}
		for _, f := range rep.Findings {
			got[f.Object.Name+" "+f.ControlID] = true
		}
		// the root config disables NS-DEFAULT, the team's IMG-LATEST-TAG
		if got["root-app NS-DEFAULT"] || !got["root-app IMG-LATEST-TAG"] || !got["team-app NS-DEFAULT"] || got["team-app IMG-LATEST-TAG"] {
			t.Errorf("%v: findings %v", args, got)
		}
		if len(rep.Configs) != 2 || len(rep.Findings) == 0 {
			t.Errorf("%v: configs %+v", args, rep.Configs)
		}
		want := map[string]string{root + "/.kubeguard.yaml": root + "/app.yaml", root + "/team/.kubeguard.yaml": root + "/team/sub/app.yaml"}
		for _, c := range rep.Configs {
			if len(c.Inputs) != 1 || want[c.Path] != c.Inputs[0] {
				t.Errorf("%v: %+v", args, c)
			}
		}
		if !strings.Contains(errOut, "testdata/configs/team/.kubeguard.yaml applies to 1 inputs: testdata/configs/team/sub/app.yaml") {
			t.Errorf("--verbose: %s", errOut)
		}
	}
}

// explain says what the check does: a non-zero runAsUser alone does not
// satisfy PSS-RUN-AS-NON-ROOT (as in the reference implementation); a pod
// in a user namespace does.
func TestExplainRunAsNonRootAgreesWithCheck(t *testing.T) {
	_, text, _ := run(t, "", "explain", "PSS-RUN-AS-NON-ROOT")
	if !strings.Contains(text, "A non-zero runAsUser does not satisfy") || !strings.Contains(text, "hostUsers: false") {
		t.Errorf("explain:\n%s", text)
	}
	pod := func(extra string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n" + extra +
			"  securityContext: {runAsUser: 10001}\n  containers: [{name: c, image: 'i:1'}]\n"
	}
	if _, out, _ := run(t, pod(""), "scan", "-", "--fail-on", "critical"); !strings.Contains(out, "PSS-RUN-AS-NON-ROOT") {
		t.Errorf("runAsUser 10001 without runAsNonRoot passes:\n%s", out)
	}
	if _, out, _ := run(t, pod("  hostUsers: false\n"), "scan", "-", "--fail-on", "critical"); strings.Contains(out, "PSS-RUN-AS-NON-ROOT") {
		t.Errorf("a pod in a user namespace is reported:\n%s", out)
	}
}

// One problem, one finding: the controls reporting one field are listed
// on one finding, and a base line built by several overlays is reported
// once, naming the other renders.
func TestOneProblemOneFinding(t *testing.T) {
	type problem struct {
		ControlID string
		Controls  []string
		Path      string
		Renders   []struct{ Origin string }
	}
	scan := func(args ...string) (int, []problem, map[string]int) {
		t.Helper()
		_, out, _ := run(t, "", append([]string{"scan", "-o", "json"}, args...)...)
		var rep struct {
			Summary struct {
				Findings   int
				BySeverity map[string]int
			}
			Findings []problem
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return rep.Summary.Findings, rep.Findings, rep.Summary.BySeverity
	}
	n, ps, _ := scan("../../examples/insecure", "../../examples/insecure/app.yaml")
	if n != len(ps) {
		t.Errorf("summary counts %d findings, lists %d", n, len(ps))
	}
	want := map[string][]string{
		"spec.template.spec.volumes[0].hostPath":                                  {"PSS-HOST-PATH-VOLUMES", "PSS-RESTRICTED-VOLUMES"},
		"spec.template.spec.containers[0].securityContext.capabilities.add[0]":    {"CTR-DANGEROUS-CAPABILITIES", "PSS-CAPABILITIES-BASELINE", "PSS-CAPABILITIES-RESTRICTED"},
		"spec.template.spec.containers[0].securityContext.capabilities.drop":      {"CTR-NET-RAW", "PSS-CAPABILITIES-RESTRICTED"},
		"spec.template.spec.containers[0].resources.limits.cpu":                   {"CTR-CPU-LIMIT"},
		"spec.template.spec.containers[0].resources.limits.memory":                {"CTR-MEMORY-LIMIT"},
		"spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem": {"CTR-READONLY-ROOTFS"},
		"spec.template.spec.containers[0].securityContext.seccompProfile":         {"CTR-NO-SECURITY-PROFILE", "PSS-SECCOMP-PROFILE-RESTRICTED"},
		"spec.template.spec.containers[0].livenessProbe":                          {"REL-LIVENESS-PROBE"},
	}
	seen := map[string]int{}
	for _, p := range ps {
		if w, ok := want[p.Path]; ok {
			seen[p.Path]++
			if strings.Join(p.Controls, ",") != strings.Join(w, ",") {
				t.Errorf("%s: controls %v, want %v", p.Path, p.Controls, w)
			}
		}
	}
	for path := range want {
		if seen[path] != 1 {
			t.Errorf("%s: %d findings, want 1 (the file was named twice)", path, seen[path])
		}
	}

	// three renders of one base: each base line once, with two renders
	n, ps, _ = scan("testdata/overlays/prod", "testdata/overlays/dev", "testdata/overlays/base")
	privileged := 0
	for _, p := range ps {
		if p.ControlID == "PSS-PRIVILEGED" {
			privileged++
			if len(p.Renders) != 2 {
				t.Errorf("privileged: renders %+v, want the two others", p.Renders)
			}
		}
	}
	if privileged != 1 || n != len(ps) {
		t.Errorf("%d privileged findings (want 1), %d counted, %d listed", privileged, n, len(ps))
	}
	_, out, _ := run(t, "", "scan", "testdata/overlays/prod", "testdata/overlays/dev", "testdata/overlays/base")
	if !strings.Contains(out, "also in: Deployment/") || !strings.Contains(out, " in 3 kustomizations: ") {
		t.Errorf("table:\n%s", out)
	}
}
