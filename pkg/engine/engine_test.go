package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// TestListSharedByWorkers: the items of a large List are checked by every
// worker, with the same findings, in the same order, as by one worker,
// including when all items sit on one line.
func TestListSharedByWorkers(t *testing.T) {
	var items []string
	for i := range 1000 {
		items = append(items, fmt.Sprintf(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p%d", "namespace": "ns%d"}, `+
			`"spec": {"containers": [{"name": "c", "image": "nginx:1.27", "securityContext": {"privileged": %t}}]}}`, i, i%7, i%3 == 0))
	}
	dir := t.TempDir()
	files := map[string]string{
		"pretty.json": "{\n\"apiVersion\": \"v1\",\n\"kind\": \"List\",\n\"items\": [\n" + strings.Join(items, ",\n") + "\n]\n}\n",
		"line.json":   `{"apiVersion": "v1", "kind": "List", "items": [` + strings.Join(items, ", ") + "]}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(workers int) *Result {
		eng, err := New(Options{Catalog: cat, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		inputs, _ := object.Expand([]string{dir}, nil)
		return eng.ScanInputs(inputs)
	}
	one := scan(1)
	if one.Objects != 2000 || len(one.Diagnostics) > 0 {
		t.Fatalf("one worker: %d objects, diagnostics %v", one.Objects, one.Diagnostics)
	}
	privileged := 0
	for _, f := range one.Findings {
		if f.ControlID == "PSS-PRIVILEGED" {
			privileged++
		}
	}
	if privileged != 2*334 {
		t.Fatalf("%d privileged containers found, want %d", privileged, 2*334)
	}
	for range 3 {
		many := scan(4)
		if many.Objects != one.Objects || !reflect.DeepEqual(many.Findings, one.Findings) {
			t.Fatalf("4 workers: %d objects and %d findings; one worker: %d and %d, or in another order",
				many.Objects, len(many.Findings), one.Objects, len(one.Findings))
		}
	}
}
