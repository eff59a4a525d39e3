package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

const insecure = "../../examples/insecure"

func summaryOf(t *testing.T, out string) map[string]any {
	t.Helper()
	var rep struct{ Summary map[string]any }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep.Summary
}

// Display filters change what is shown and what fails the run, never
// what is checked: the hidden findings are counted.
func TestDisplayFilters(t *testing.T) {
	_, all, _ := run(t, "", "scan", "-o", "json", insecure)
	total := summaryOf(t, all)["findings"].(float64)
	for _, c := range []struct {
		args  []string
		check func(id, sev string) bool
	}{
		{[]string{"--severity", "critical"}, func(id, sev string) bool { return sev == "critical" }},
		{[]string{"--severity", "high+"}, func(id, sev string) bool { return sev == "critical" || sev == "high" }},
		{[]string{"--controls", "pss-*,RBAC-*"}, func(id, sev string) bool { return strings.HasPrefix(id, "PSS-") || strings.HasPrefix(id, "RBAC-") }},
		{[]string{"--skip-controls", "PSS-*,NS-DEFAULT"}, func(id, sev string) bool { return !strings.HasPrefix(id, "PSS-") && id != "NS-DEFAULT" }},
		{[]string{"--framework", "cis"}, nil},
	} {
		code, out, errOut := run(t, "", append([]string{"scan", "-o", "json", insecure}, c.args...)...)
		var rep struct {
			Summary  struct{ Findings, Hidden int }
			Findings []struct {
				ControlID, Severity string
				Frameworks          []struct{ Framework string }
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code == ExitError {
			t.Fatalf("%v: exit %d %v %s", c.args, code, err, errOut)
		}
		if len(rep.Findings) == 0 || rep.Summary.Hidden == 0 || rep.Summary.Findings != len(rep.Findings) || float64(rep.Summary.Findings) >= total {
			t.Errorf("%v: %d listed, %+v, of %v", c.args, len(rep.Findings), rep.Summary, total)
		}
		for _, f := range rep.Findings {
			ok := c.check == nil
			if c.check != nil {
				ok = c.check(f.ControlID, f.Severity)
			}
			for _, fw := range f.Frameworks {
				ok = ok || fw.Framework == "CIS"
			}
			if !ok {
				t.Errorf("%v: shows %s (%s)", c.args, f.ControlID, f.Severity)
			}
		}
	}
	// what fails the run is what is shown
	if code, _, _ := run(t, "", "scan", insecure, "--severity", "low,info"); code != ExitOK {
		t.Errorf("only low findings shown: exit %d", code)
	}
	if code, _, _ := run(t, "", "scan", insecure, "--fail-on", "none"); code != ExitOK {
		t.Errorf("--fail-on none: exit %d", code)
	}
	for _, args := range [][]string{
		{"--severity", "severe"}, {"--controls", "NOPE-*"}, {"--framework", "ISO"}, {"--color", "rainbow"},
		{"--group-by", "colour"}, {"--pss-version", "v1.99"}, {"-o", "table,xml"}, {"-o", "json", "-o", "sarif"},
		{"--fail-on", "sometimes"},
	} {
		if code, _, errOut := run(t, "", append([]string{"scan", insecure}, args...)...); code != ExitError || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// --exclude and .kubeguardignore hide the findings and diagnostics of
// matching files (gitignore syntax, relative to the ignore file).
func TestExclude(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(insecure, "app.yaml"))
	for _, p := range []string{"app/app.yaml", "vendor/chart/app.yaml", "test/fixtures/app.yaml", "test/keep.yaml"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "test/fixtures/broken.yaml"), []byte("a: [\n"), 0o644)
	files := func(args ...string) (int, map[string]int, map[string]any) {
		code, out, _ := run(t, "", append([]string{"scan", "-o", "json", "--fail-on", "none", dir}, args...)...)
		var rep struct {
			Findings []struct{ Position struct{ File string } }
		}
		json.Unmarshal([]byte(out), &rep)
		n := map[string]int{}
		for _, f := range rep.Findings {
			rel, _ := filepath.Rel(dir, f.Position.File)
			n[filepath.Dir(rel)]++
		}
		return code, n, summaryOf(t, out)
	}
	code, n, _ := files()
	if code != ExitError || len(n) != 4 {
		t.Fatalf("without excludes: exit %d, %v", code, n)
	}
	os.WriteFile(filepath.Join(dir, ".kubeguardignore"), []byte("# vendored\nvendor/\ntest/**\n!test/keep.yaml\n"), 0o644)
	code, n, sum := files()
	if code != ExitOK || n["app"] == 0 || n["test"] == 0 || n["vendor/chart"] != 0 || n["test/fixtures"] != 0 || sum["hiddenDiagnostics"] != 1.0 {
		t.Errorf(".kubeguardignore: exit %d, %v, %v", code, n, sum)
	}
	if _, n, _ = files("--exclude", filepath.Join(dir, "app")+"/*.yaml"); n["app"] != 0 || n["test"] == 0 {
		t.Errorf("--exclude: %v", n)
	}
}

// A named path without Kubernetes objects is an input error, unless
// --allow-empty.
func TestEmptyPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	code, _, errOut := run(t, "", "scan", insecure, dir)
	if code != ExitError || !strings.Contains(errOut, dir+": error: no Kubernetes objects found here") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run(t, "", "scan", "--allow-empty", "--fail-on", "none", insecure, dir); code != ExitOK {
		t.Errorf("--allow-empty: exit %d %s", code, errOut)
	}
}

// Several formats in one run; the table's last line says what was
// scanned; colour never breaks alignment.
func TestOutputsAndTable(t *testing.T) {
	dir := t.TempDir()
	sarif, junit := filepath.Join(dir, "k.sarif"), filepath.Join(dir, "k.xml")
	code, out, _ := run(t, "", "scan", insecure, "-o", "table", "-o", "sarif="+sarif)
	if c, o, _ := run(t, "", "scan", insecure, "-o", "junit", "--output-file", junit); c != ExitFindings || o != "" {
		t.Errorf("--output-file: exit %d, stdout %q", c, o)
	}
	if code != ExitFindings || !strings.HasSuffix(out, "6 objects in 1 file: 4 critical, 5 high, 13 medium, 14 low, 1 info\n") {
		t.Errorf("exit %d\n%s", code, out)
	}
	for _, f := range []string{sarif, junit} {
		if data, err := os.ReadFile(f); err != nil || len(data) < 1000 || strings.Contains(string(data), "\x1b[") {
			t.Errorf("%s: %v, %d bytes", f, err, len(data))
		}
	}
	_, colour, _ := run(t, "", "scan", insecure, "--color", "always")
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(colour, "")
	if plain != out || plain == colour {
		t.Error("coloured table differs from the plain one once the colours are removed")
	}

	_, sum, _ := run(t, "", "scan", insecure, "--summary")
	for _, want := range []string{"By control\n", "  CTR-DANGEROUS-CAPABILITIES  Dangerous capability added", "By file\n", "Top objects\n", "  Deployment/default/shop ", "6 objects in 1 file: "} {
		if !strings.Contains(sum, want) {
			t.Errorf("--summary lacks %q\n%s", want, sum)
		}
	}
	if strings.Contains(sum, "fix: ") {
		t.Error("--summary lists findings")
	}
	_, byCtl, _ := run(t, "", "scan", insecure, "--group-by", "control")
	if !strings.HasPrefix(byCtl, "CTR-DANGEROUS-CAPABILITIES  Dangerous capability added\n  CRITICAL") || !strings.Contains(byCtl, "at examples/insecure/app.yaml:59:19") && !strings.Contains(byCtl, "insecure/app.yaml:59:19") {
		t.Errorf("--group-by control:\n%s", byCtl)
	}
}

// Suppressions accept globs; an expired one is named on stderr and in
// the table, and its finding counts again.
func TestSuppressionGlobsAndExpiry(t *testing.T) {
	pod := func(ann string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: x\n  annotations:\n" + ann +
			"    kubeguard.io/ignore-reason: lab\nspec:\n  containers:\n  - name: c\n    image: a:1\n    securityContext: {privileged: true}\n"
	}
	code, out, _ := run(t, pod("    kubeguard.io/ignore: \"PSS-*, CTR-*\"\n"), "scan", "-", "-o", "json")
	var rep struct {
		Findings []struct{ ControlID string }
		Summary  struct{ Suppressed int }
	}
	json.Unmarshal([]byte(out), &rep)
	for _, f := range rep.Findings {
		if strings.HasPrefix(f.ControlID, "PSS-") || strings.HasPrefix(f.ControlID, "CTR-") {
			t.Errorf("glob suppression missed %s", f.ControlID)
		}
	}
	if rep.Summary.Suppressed == 0 || code == ExitError {
		t.Errorf("exit %d, %+v", code, rep.Summary)
	}
	code, out, errOut := run(t, pod("    kubeguard.io/ignore: PSS-PRIVILEGED\n    kubeguard.io/ignore-until: \"2020-01-31\"\n"), "scan", "-")
	if code != ExitFindings || !strings.Contains(errOut, "the annotation suppression of PSS-PRIVILEGED on Pod/x/p expired on 2020-01-31") ||
		!strings.Contains(out, "suppression expired 2020-01-31 (annotation): lab") || !strings.Contains(out, "1 expired suppressions") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, ".kubeguard.yaml")
	os.WriteFile(cfg, []byte("controls:\n  disable: [PSS-*, \"CTR-*\"]\n"), 0o644)
	_, out, _ = run(t, "", "scan", "--config", cfg, insecure)
	if strings.Contains(out, " PSS-") || strings.Contains(out, " CTR-") || !strings.Contains(out, "VOL-HOSTPATH-SENSITIVE") {
		t.Errorf("controls.disable globs:\n%s", out)
	}
}

// Configuration errors say file:line:col in kubeguard's words.
func TestConfigErrorPositions(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".kubeguard.yaml")
	for text, want := range map[string]string{
		"controls:\n  bogus: [A]\n":                                 ":2:3: unknown field \"bogus\"",
		"controls:\n  disable: NS-DEFAULT\n":                        ":2:12: expected a list, got the string \"NS-DEFAULT\"",
		"severity:\n  CTR-LOW-UID: huge\n":                          ":2:16: unknown severity \"huge\"",
		"exclude:\n- reason: accepted\n":                            ":2:3: exclude[0]: name the controls it accepts",
		"exclude:\n- controls: [A]\n  reason: x\n  expires: soon\n": ":4:12: \"soon\" is not a date",
		"controls:\n  disable: [NS-DEFAULT, NOPE]\n":                ":2:25: unknown control ID \"NOPE\"",
		"webhook:\n  failurePolicy: maybe\n":                        ":2:18: webhook.failurePolicy: \"maybe\" is not Fail or Ignore",
	} {
		os.WriteFile(cfg, []byte(text), 0o644)
		code, _, errOut := run(t, "", "scan", "--config", cfg, insecure)
		if code != ExitError || !strings.Contains(errOut, cfg+want) || strings.Contains(errOut, "config.") || strings.Contains(errOut, "[]string") {
			t.Errorf("%q: exit %d, stderr %q, want %q", text, code, errOut, want)
		}
	}
}

// A clean run in JUnit is one passing test case per object.
func TestJUnitCleanRun(t *testing.T) {
	_, js, _ := run(t, "", "scan", "-o", "json", "../../examples/hardened")
	objects := int(summaryOf(t, js)["objects"].(float64))
	code, out, _ := run(t, "", "scan", "-o", "junit", "--fail-on", "info", "../../examples/hardened")
	if code != ExitOK || objects < 5 || strings.Count(out, `classname="passed"`) != objects || !strings.Contains(out, fmt.Sprintf(`tests="%d" failures="0"`, objects)) {
		t.Errorf("exit %d, %d objects\n%s", code, objects, out)
	}
}

// Flags mean one thing everywhere: every command that reads a cluster
// takes --kubeconfig and --context, -n is the namespace wherever a
// command has one, and enumerated flags refuse unknown values.
func TestFlagsEverywhere(t *testing.T) {
	root := newRootForTest()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		fl := c.Flags()
		if fl.Lookup("kubeconfig") != nil && fl.Lookup("context") == nil {
			t.Errorf("%s: --kubeconfig without --context", c.CommandPath())
		}
		if n := fl.Lookup("namespace"); n != nil && n.Shorthand != "n" {
			t.Errorf("%s: --namespace without -n", c.CommandPath())
		}
		if n := fl.ShorthandLookup("n"); n != nil && n.Name != "namespace" {
			t.Errorf("%s: -n is --%s", c.CommandPath(), n.Name)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, args := range [][]string{
		{"controls", "-o", "rainbow"}, {"controls", "--framework", "ISO"}, {"rbac", "risks", "-o", "rainbow", insecure},
		{"netpol", "matrix", "-o", "rainbow", "../../examples/netpol/shop.yaml"}, {"policy", "export", "--format", "x"},
		{"version", "-o", "x"}, {"cluster", "--color", "rainbow"}, {"cluster", "--severity", "dire"},
	} {
		if code, _, errOut := run(t, "", args...); code != ExitError || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	// case does not matter where a value names something
	if code, _, _ := run(t, "", "scan", insecure, "--severity", "CRITICAL", "--framework", "cis", "-o", "JSON", "--fail-on", "NONE"); code != ExitOK {
		t.Errorf("upper case values: exit %d", code)
	}
}

func newRootForTest() *cobra.Command {
	root := &cobra.Command{Use: "kubeguard"}
	root.AddCommand(commands(&streams{})...)
	return root
}

// Shell completions exist for every shell cobra supports.
func TestCompletions(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, _ := run(t, "", "completion", sh)
		if code != ExitOK || !strings.Contains(out, "kubeguard") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes", sh, code, len(out))
		}
	}
}

// With one configuration per directory, the HTML report draws each
// group's RBAC graph and NetworkPolicy matrix under its configuration's
// name, and its worst risks say what reaches the workloads: the
// ServiceAccount bound to cluster-admin and the open LoadBalancer.
func TestHTMLPicturesAndReachPerGroup(t *testing.T) {
	dir := t.TempDir()
	shop, err := os.ReadFile("../../pkg/reach/testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(dir, g), 0o755)
		os.WriteFile(filepath.Join(dir, g, ".kubeguard.yaml"), []byte("controls:\n  disable: [NS-DEFAULT]\n"), 0o644)
		os.WriteFile(filepath.Join(dir, g, "shop.yaml"), shop, 0o644)
	}
	code, out, errs := run(t, "", "scan", filepath.Join(dir, "a"), filepath.Join(dir, "b"), "-o", "html", "--fail-on", "none")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	titles := regexp.MustCompile(`<figcaption><b>([^<]*)</b>`).FindAllStringSubmatch(out, -1)
	var got []string
	for _, m := range titles {
		got = append(got, strings.ReplaceAll(m[1], dir+"/", ""))
	}
	want := "RBAC escalation paths (a/.kubeguard.yaml); NetworkPolicy connectivity (a/.kubeguard.yaml); " +
		"RBAC escalation paths (b/.kubeguard.yaml); NetworkPolicy connectivity (b/.kubeguard.yaml)"
	if strings.Join(got, "; ") != want {
		t.Errorf("pictures %q, want %q", strings.Join(got, "; "), want)
	}
	if n := strings.Count(out, "<svg"); n < 4+1 { // and the severity bars
		t.Errorf("%d SVGs in the page", n)
	}
	risks := regexp.MustCompile(`(?s)<h2 id="risks">.*?</section>`).FindString(out)
	for _, want := range []string{
		"<li>runs as sa:shop/deployer with its token mounted, which holds every verb on every resource cluster-wide: full control of the cluster</li>",
		"<li>LoadBalancer Service/shop/web accepts connections from any address</li>",
	} {
		if !strings.Contains(risks, want) {
			t.Errorf("the worst risks do not say %s", want)
		}
	}
}
