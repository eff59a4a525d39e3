//go:build unix

package object

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInputSplit: files found on disk are read whole, whatever else (a
// FIFO, a file over the limit) is streamed, and a file that cannot be
// opened is an error naming it.
func TestInputSplit(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	split := func(in Input, lim Limits) ([]Document, []Diagnostic) {
		var docs []Document
		diags := in.Split(lim, func(b Batch) { docs = append(docs, b.Docs...) })
		return docs, diags
	}
	regular := fileInput(write("a.yaml", doc), false)
	if docs, diags := split(regular, Limits{}); len(docs) != 2 || len(diags) != 0 || docs[1].Line != 4 || string(docs[0].Data) != doc[:strings.Index(doc, "---")] {
		t.Errorf("regular file: %d docs %v", len(docs), diags)
	}
	if data, f, err := openInput(regular.path, 10); f == nil || err != nil || data != nil {
		t.Errorf("a file over the limit is left to the stream: %v %v", f, err)
	} else {
		f.Close()
	}
	big := strings.Repeat("# padding\n", 20) + doc
	docs, diags := split(fileInput(write("big.yaml", big), false), Limits{MaxDocumentBytes: 100})
	if len(docs) != 1 || len(diags) != 1 || !strings.Contains(diags[0].Message, "larger than") {
		t.Errorf("file over the limit: %d docs %v", len(docs), diags)
	}
	missing := fileInput(filepath.Join(dir, "gone.yaml"), true)
	if _, diags := split(missing, Limits{}); len(diags) != 1 || diags[0].Severity != SeverityError ||
		!strings.Contains(diags[0].Message, "open "+missing.Name) || !strings.Contains(diags[0].Message, "no such file") {
		t.Errorf("missing file: %v", diags)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFO:", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			f.WriteString(doc)
			f.Close()
		}
	}()
	if docs, diags := split(fileInput(fifo, true), Limits{}); len(docs) != 2 || len(diags) != 0 {
		t.Errorf("FIFO: %d docs %v", len(docs), diags)
	}
}

// TestExpandSymlinks: a linked manifest in a scanned directory is read (an
// overlay linking a base file, as kubectl apply -R reads it); a linked
// directory is not walked and a broken link to a manifest is reported.
func TestExpandSymlinks(t *testing.T) {
	dir := t.TempDir()
	base, prod := filepath.Join(dir, "base"), filepath.Join(dir, "prod")
	for _, d := range []string{base, prod} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "pod.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		filepath.Join(prod, "pod.yaml"):    "../base/pod.yaml",
		filepath.Join(prod, "gone.yaml"):   "../base/missing.yaml",
		filepath.Join(prod, "gone.sh"):     "../base/missing.sh",
		filepath.Join(prod, "base-linked"): "../base",
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	inputs, diags := Expand([]string{prod}, nil)
	if len(inputs) != 1 || inputs[0].Name != filepath.Join(prod, "pod.yaml") {
		t.Errorf("inputs %v, want the linked pod.yaml alone", inputs)
	}
	got := map[string]DiagSeverity{}
	for _, d := range diags {
		got[filepath.Base(d.Pos.File)] = d.Severity
	}
	want := map[string]DiagSeverity{"gone.yaml": SeverityWarning, "base-linked": SeverityNote}
	if len(got) != len(want) || got["gone.yaml"] != want["gone.yaml"] || got["base-linked"] != want["base-linked"] {
		t.Errorf("diagnostics %v, want a warning for gone.yaml and a note for base-linked", diags)
	}
}
