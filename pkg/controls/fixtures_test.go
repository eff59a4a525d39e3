package controls_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Fixtures carry their own expectations: "# want: ID[, ID...]" on the very
// line a finding must point at. Every fixture must produce exactly the
// wanted controls on the wanted lines; a fixture without wants scans clean.

var wantRE = regexp.MustCompile(`#\s*want:\s*(.+)$`)

func wants(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if m := wantRE.FindStringSubmatch(sc.Text()); m != nil {
			for _, id := range strings.Split(m[1], ",") {
				out[fmt.Sprintf("%d %s", line, strings.TrimSpace(id))] = true
			}
		}
	}
	return out
}

func scanFile(t *testing.T, path string) *engine.Result {
	t.Helper()
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	inputs, diags := object.Expand([]string{path}, nil)
	if len(diags) > 0 {
		t.Fatalf("expand: %v", diags)
	}
	return eng.ScanInputs(inputs)
}

func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	cat, _ := controls.Catalog(controls.Options{})
	covered := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := wants(t, file)
			res := scanFile(t, file)
			for _, d := range res.Diagnostics {
				t.Errorf("diagnostic: %s", d)
			}
			got := map[string]bool{}
			for _, f := range res.Findings {
				if f.Suppressed == nil {
					got[fmt.Sprintf("%d %s", f.Position.Line, f.ControlID)] = true
					covered[f.ControlID] = true
				}
			}
			for _, k := range sortedKeys(want) {
				if !got[k] {
					t.Errorf("%s:%s: missing finding", file, k)
				}
			}
			for _, k := range sortedKeys(got) {
				if !want[k] {
					t.Errorf("%s:%s: unexpected finding", file, k)
				}
			}
		})
	}
	// every control has at least one positive fixture
	for _, c := range cat.All() {
		if !covered[c.ID] && c.ID != "PSS-APPARMOR-PROFILE" && c.ID != "PSS-WINDOWS-HOST-PROCESS" {
			t.Errorf("control %s has no positive fixture", c.ID)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
