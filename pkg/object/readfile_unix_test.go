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
