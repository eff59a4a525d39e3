package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/finding"
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

// TestFoldOwned: in a cluster dump, objects whose controller is in the
// input too are left out with their findings (they repeat those of the
// controller's pod template), as kubeguard cluster does; a static pod's
// mirror (controlled by its Node) and pods whose controller is not in the
// input stay. Manifests without uids fold nothing.
func TestFoldOwned(t *testing.T) {
	spec := `{"containers": [{"name": "c", "image": "nginx:1.27", "securityContext": {"privileged": true}}]}`
	owner := func(kind, uid string) string {
		if kind == "" {
			return ""
		}
		return fmt.Sprintf(`, "ownerReferences": [{"apiVersion": "v1", "kind": "%s", "name": "o", "uid": "%s", "controller": true}]`, kind, uid)
	}
	item := func(kind, name, uid, ownerKind, ownerUID string) string {
		meta := fmt.Sprintf(`{"name": "%s", "namespace": "shop", "uid": "%s"%s}`, name, uid, owner(ownerKind, ownerUID))
		if kind == "Pod" {
			return fmt.Sprintf(`{"apiVersion": "v1", "kind": "Pod", "metadata": %s, "spec": %s}`, meta, spec)
		}
		return fmt.Sprintf(`{"apiVersion": "apps/v1", "kind": "%s", "metadata": %s, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": %s}}}`, kind, meta, spec)
	}
	kept := []string{
		item("Deployment", "web", "d1", "", ""),
		item("Pod", "mirror", "p3", "Node", "n1"),
		item("Pod", "bare", "p4", "", ""),
		item("Pod", "orphan", "p5", "ReplicaSet", "r-gone"),
	}
	folded := []string{
		item("ReplicaSet", "web-1", "r1", "Deployment", "d1"),
		item("Pod", "web-1-a", "p1", "ReplicaSet", "r1"),
		item("Pod", "web-1-b", "p2", "ReplicaSet", "r1"),
	}
	list := func(items []string) string {
		return `{"apiVersion": "v1", "kind": "List", "items": [` + strings.Join(items, ",\n") + "]}\n"
	}
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(data string) *Result {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "dump.json"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		eng, err := New(Options{Catalog: cat, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		inputs, _ := object.Expand([]string{dir}, nil)
		return eng.ScanInputs(inputs)
	}
	all := scan(list(append(append([]string{}, folded[:2]...), append(kept, folded[2])...)))
	if all.Objects != 4 || all.Folded != 3 {
		t.Fatalf("%d objects, %d folded; want 4 and 3", all.Objects, all.Folded)
	}
	only := scan(list(kept))
	if a, b := keys(all.Findings), keys(only.Findings); !reflect.DeepEqual(a, b) {
		t.Errorf("findings with the folded objects differ from those without them:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	privileged := 0
	for _, f := range all.Findings {
		if f.ControlID == "PSS-PRIVILEGED" {
			privileged++
		}
	}
	if privileged != 4 {
		t.Errorf("%d privileged findings, want one per kept object", privileged)
	}
	// the same objects written by hand: no uids, nothing folded
	noUIDs := strings.NewReplacer(`"uid": "`, `"x-uid": "`).Replace(list(append(kept, folded...)))
	if res := scan(noUIDs); res.Objects != 7 || res.Folded != 0 {
		t.Errorf("without uids: %d objects, %d folded; want 7 and 0", res.Objects, res.Folded)
	}
}

// TestMessagesInterned: findings with the same message share one string.
func TestMessagesInterned(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for i := range 50 {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: shop}\nspec:\n  containers:\n  - {name: app, image: nginx}\n", i))
	}
	path := filepath.Join(t.TempDir(), "pods.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs, _ := object.Expand([]string{path}, nil)
	res := eng.ScanInputs(inputs)
	byMessage := map[string]*byte{}
	n := 0
	for _, f := range res.Findings {
		p := unsafe.StringData(f.Message)
		if q, ok := byMessage[f.Message]; ok && q != p {
			t.Fatalf("message %q held twice", f.Message)
		}
		byMessage[f.Message] = p
		n++
	}
	if n < 100 || len(byMessage) > n/10 {
		t.Fatalf("%d findings with %d messages: want many findings sharing few messages", n, len(byMessage))
	}
}

// TestPrepareStarts: an enabled control's Prepare runs as the engine is
// created, a disabled one's never.
func TestPrepareStarts(t *testing.T) {
	started := make(chan string, 2)
	mk := func(id string) *control.Control {
		return &control.Control{ID: id, Title: id, Severity: finding.Low, Check: func(*control.Pass) {},
			Prepare: func() { started <- id }}
	}
	cat := control.NewCatalog(mk("ON"), mk("OFF"))
	cfg := &config.Config{}
	cfg.Controls.Disable = []string{"OFF"}
	if _, err := New(Options{Catalog: cat, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-started:
		if id != "ON" {
			t.Fatalf("Prepare of %s ran", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Prepare did not run")
	}
	select {
	case id := <-started:
		t.Fatalf("Prepare of %s ran too", id)
	case <-time.After(100 * time.Millisecond):
	}
}
