package controls_test

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/dockerfile"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Fixtures carry their own expectations: "# want: ID[, ID...]" on the very
// line a finding must point at. Every fixture must produce exactly the
// wanted controls on the wanted lines; a fixture without wants scans clean.
// "# only: GLOB[, GLOB...]" limits a fixture to the controls of its area
// (e.g. "RBAC-*"); files named good-*.yaml may not use it, so they prove
// that hardened objects pass every control. Files named cluster-*.yaml are
// scanned as objects read from a cluster.

var (
	wantRE = regexp.MustCompile(`#\s*want(-next)?:\s*(.+)$`)
	onlyRE = regexp.MustCompile(`^#\s*only:\s*(.+)$`)
)

// only returns the control patterns a fixture is limited to (nil: all).
func only(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if m := onlyRE.FindStringSubmatch(l); m != nil {
			var out []string
			for _, g := range strings.Split(m[1], ",") {
				out = append(out, strings.TrimSpace(g))
			}
			return out
		}
	}
	return nil
}

func inScope(patterns []string, id string) bool {
	if patterns == nil {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}

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
		// "# want-next:" expects the finding on the next line, for
		// formats without end-of-line comments (Dockerfiles)
		if m := wantRE.FindStringSubmatch(sc.Text()); m != nil {
			at := line
			if m[1] != "" {
				at++
			}
			for _, id := range strings.Split(m[2], ",") {
				out[fmt.Sprintf("%d %s", at, strings.TrimSpace(id))] = true
			}
		}
	}
	return out
}

func scanFile(t *testing.T, path string) *engine.Result {
	t.Helper()
	cat, err := controls.Catalog(fixtureOptions)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Now: fixtureNow, Live: strings.HasPrefix(filepath.Base(path), "cluster-")})
	if err != nil {
		t.Fatal(err)
	}
	inputs, diags := object.Expand([]string{path}, nil, dockerfile.Renderer{})
	if len(diags) > 0 {
		t.Fatalf("expand: %v", diags)
	}
	return eng.ScanInputs(inputs)
}

// fixtureNow is the fixtures' clock, so that certificates stay expired,
// expiring and fresh whatever the date.
var fixtureNow = time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)

// fixtureOptions trust registry.example.com, so fixtures exercise the
// registry allow-list.
var fixtureOptions = controls.Options{AllowedRegistries: []string{"registry.example.com"}}

func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	dockerfiles, _ := filepath.Glob("testdata/*.Dockerfile")
	files = append(files, dockerfiles...)
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	cat, _ := controls.Catalog(fixtureOptions)
	covered := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := wants(t, file)
			scope := only(t, file)
			if scope != nil && strings.HasPrefix(filepath.Base(file), "good-") {
				t.Fatal("good-* fixtures must pass every control; remove # only")
			}
			res := scanFile(t, file)
			for _, d := range res.Diagnostics {
				t.Errorf("diagnostic: %s", d)
			}
			got := map[string]bool{}
			for _, f := range res.Findings {
				if f.Suppressed == nil && inScope(scope, f.ControlID) {
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
	// every control has at least one positive fixture; External ones
	// have theirs with their front door (IMG-VULN: package imagescan)
	for _, c := range cat.All() {
		if !covered[c.ID] && !c.External && c.ID != "PSS-APPARMOR-PROFILE" && c.ID != "PSS-WINDOWS-HOST-PROCESS" {
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
