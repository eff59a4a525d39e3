package object

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
)

// load splits and decodes data like a scan of stdin does, one document at
// a time, and checks that a scan of a file, which decodes runs of documents
// with one parser, finds exactly the same.
func load(t *testing.T, data string) ([]*Object, []Diagnostic) {
	t.Helper()
	objs, diags := loadDocs(data, Limits{})
	if err := sameAsBatches([]byte(data), objs, diags, Limits{}, false); err != "" {
		t.Error(err)
	}
	return objs, diags
}

func loadDocs(data string, lim Limits) ([]*Object, []Diagnostic) {
	var objs []*Object
	var diags []Diagnostic
	diags = append(diags, Split("f.yaml", strings.NewReader(data), lim, func(b Batch) {
		for _, d := range b.Docs {
			o, ds := Decode(d, lim)
			objs = append(objs, o...)
			diags = append(diags, ds...)
		}
	})...)
	return objs, diags
}

// sameAsBatches decodes data in batches and compares with the reference.
// Positions after compaction are compared too unless quick.
func sameAsBatches(data []byte, objs []*Object, diags []Diagnostic, lim Limits, quick bool) string {
	var bObjs []*Object
	var bDiags []Diagnostic
	sd := splitBatches("f.yaml", data, func(b Batch) {
		o, ds := DecodeBatch(b, lim)
		bObjs = append(bObjs, o...)
		bDiags = append(bDiags, ds...)
	})
	bDiags = append(sd, bDiags...)
	if len(bObjs) != len(objs) || !reflect.DeepEqual(bDiags, diags) && len(bDiags)+len(diags) > 0 {
		return fmt.Sprintf("batch decode: %d objects, diags %v; per document: %d objects, diags %v", len(bObjs), bDiags, len(objs), diags)
	}
	for i, o := range objs {
		b := bObjs[i]
		if o.Ref != b.Ref || o.Source != b.Source || !reflect.DeepEqual(o.Content, b.Content) {
			return fmt.Sprintf("object %d: batch %v at %v, per document %v at %v", i, b.Ref, b.Source, o.Ref, o.Source)
		}
		for _, p := range []string{"metadata.name", "spec.containers[0].securityContext", "items[1]"} {
			if o.Locate(p) != b.Locate(p) {
				return fmt.Sprintf("object %d: %s at %v in batch, %v per document", i, p, b.Locate(p), o.Locate(p))
			}
			if quick {
				continue
			}
			b.Compact(nil)
			if o.Locate(p) != b.Locate(p) {
				return fmt.Sprintf("object %d: %s at %v in batch after compaction, %v per document", i, p, b.Locate(p), o.Locate(p))
			}
		}
	}
	return ""
}

func TestMultiDocumentPositions(t *testing.T) {
	data := "\ufeff# leading comment\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\n---\r\n---\r\n# empty documents are skipped\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: b}\r\nspec:\r\n  containers:\r\n  - name: c\r\n    securityContext:\r\n      privileged: true\r\n"
	objs, diags := load(t, data)
	if len(diags) != 0 || len(objs) != 2 {
		t.Fatalf("got %d objects, diags %v", len(objs), diags)
	}
	if objs[0].Name != "a" || objs[0].Source.Line != 2 {
		t.Errorf("first object at %v", objs[0].Source)
	}
	p := objs[1].Locate("spec.containers[0].securityContext.privileged")
	if p.Line != 17 || p.Column != 7 {
		t.Errorf("privileged at %v, want line 17 col 7", p)
	}
	// a missing field points at its nearest ancestor
	if p := objs[1].Locate("spec.containers[0].securityContext.runAsUser"); p.Line != 16 {
		t.Errorf("missing field at %v, want the securityContext line 16", p)
	}
	// positions survive compaction (re-parse on demand)
	objs[1].Compact(nil)
	if p := objs[1].Locate("spec.containers[0].securityContext.privileged"); p.Line != 17 {
		t.Errorf("after compaction: %v", p)
	}
}

// TestDirectives: "%YAML 1.2" (which yaml.v3 refuses) and %TAG lines
// before a document's "---" are no document of their own.
func TestDirectives(t *testing.T) {
	data := "%YAML 1.2\n# a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n---\n" +
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\nspec:\n  hostNetwork: true\n"
	objs, diags := load(t, data)
	if len(diags) != 0 || len(objs) != 2 {
		t.Fatalf("got %d objects, diags %v", len(objs), diags)
	}
	if p := objs[1].Locate("spec.hostNetwork"); p.Line != 14 || p.Column != 3 {
		t.Errorf("hostNetwork at %v, want 14:3", p)
	}
	for _, doc := range []string{"%YAML 1.2\n", "\ufeff%YAML 1.2\n%TAG ! tag:example.com,2000:\n\n# c\n"} {
		if !directivesOnly([]byte(doc)) {
			t.Errorf("%q: not read as directives only", doc)
		}
	}
	for _, doc := range []string{"", "# only a comment\n", "%YAML 1.2\na: 1\n", " %x: 1\n"} {
		if directivesOnly([]byte(doc)) {
			t.Errorf("%q: read as directives only", doc)
		}
	}
}

func TestJSONAndLists(t *testing.T) {
	data := `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
   "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x"}]}}
]}`
	objs, diags := load(t, data)
	if len(diags) != 0 || len(objs) != 2 {
		t.Fatalf("got %d objects, diags %v", len(objs), diags)
	}
	if p := objs[1].Locate("spec.hostNetwork"); p.Line != 4 || p.Column != 13 {
		t.Errorf("hostNetwork at %v", p)
	}
	objs[1].Compact(nil)
	if p := objs[1].Locate("spec.hostNetwork"); p.Line != 4 {
		t.Errorf("compacted list item: %v", p)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	data := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx-sc: &sc\n  privileged: true\nspec:\n  containers:\n  - name: c\n    securityContext: *sc\n  - name: d\n    securityContext:\n      <<: *sc\n      runAsUser: 5\n"
	objs, diags := load(t, data)
	if len(diags) != 0 || len(objs) != 1 {
		t.Fatalf("%v", diags)
	}
	v, _ := Get(objs[0].Content, "spec.containers[1].securityContext.privileged")
	if v != true {
		t.Errorf("merged value = %v", v)
	}
	if v, _ := Get(objs[0].Content, "spec.containers[1].securityContext.runAsUser"); v != int64(5) {
		t.Errorf("runAsUser = %#v", v)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct{ name, data, want string }{
		{"syntax", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n", "f.yaml:4:"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "missing kind"},
		{"scalar", "just a string\n", "not a mapping"},
		{"alias bomb", aliasBomb(), "alias bomb"},
		{"deep", "apiVersion: v1\nkind: X\nspec: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n", "deeper than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// a good document after the bad one is still read
			objs, diags := load(t, c.data+"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
			if len(objs) != 1 || objs[0].Name != "ok" {
				t.Errorf("good document lost: %d objects", len(objs))
			}
			if len(diags) == 0 || !strings.Contains(diags[0].String(), c.want) {
				t.Errorf("diagnostics %v, want %q", diags, c.want)
			}
		})
	}
}

func aliasBomb() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: X\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestOversizedDocumentStreams(t *testing.T) {
	// a document over the limit is refused without being held whole
	big := "apiVersion: v1\nkind: ConfigMap\ndata:\n" + strings.Repeat("  k: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n", 40000)
	var docs []Document
	diags := Split("big.yaml", strings.NewReader(big+"---\napiVersion: v1\nkind: ConfigMap\n"), Limits{MaxDocumentBytes: 1 << 20},
		func(b Batch) { docs = append(docs, b.Docs...) })
	if len(docs) != 1 || len(diags) != 1 || !strings.Contains(diags[0].Message, "larger than") {
		t.Fatalf("docs %d, diags %v", len(docs), diags)
	}
	if docs[0].Line != 40004 {
		t.Errorf("next document starts at line %d", docs[0].Line)
	}
}

func TestBinarySkipped(t *testing.T) {
	diags := Split("bin.yaml", bytes.NewReader([]byte{0x7f, 'E', 'L', 'F', 0, 0, 1}), Limits{}, func(Batch) { t.Error("emitted") })
	if len(diags) != 1 || diags[0].Severity != SeverityNote {
		t.Errorf("%v", diags)
	}
}

// TestUTF16: files with a UTF-16 byte order mark (Windows PowerShell 5's
// redirections) are read, in memory and streamed, in both byte orders.
func TestUTF16(t *testing.T) {
	text := "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: é\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: b}\r\nspec:\r\n  hostNetwork: true\r\n"
	for _, big := range []bool{false, true} {
		data := []byte{0xff, 0xfe}
		if big {
			data = []byte{0xfe, 0xff}
		}
		for _, u := range utf16.Encode([]rune(text)) {
			if big {
				data = append(data, byte(u>>8), byte(u))
			} else {
				data = append(data, byte(u), byte(u>>8))
			}
		}
		var viaBytes, viaStream []*Object
		if diags := SplitBytes("w.yaml", data, func(d Document) {
			o, _ := Decode(d, Limits{})
			viaBytes = append(viaBytes, o...)
		}); len(diags) != 0 {
			t.Fatalf("big-endian %v: %v", big, diags)
		}
		if diags := Split("w.yaml", bytes.NewReader(data), Limits{}, func(b Batch) {
			o, _ := DecodeBatch(b, Limits{})
			viaStream = append(viaStream, o...)
		}); len(diags) != 0 {
			t.Fatalf("big-endian %v, streamed: %v", big, diags)
		}
		for _, objs := range [][]*Object{viaBytes, viaStream} {
			if len(objs) != 2 || objs[0].Name != "é" {
				t.Fatalf("big-endian %v: %d objects", big, len(objs))
			}
			if p := objs[1].Locate("spec.hostNetwork"); p.Line != 10 || p.Column != 3 {
				t.Errorf("big-endian %v: hostNetwork at %v, want 10:3", big, p)
			}
		}
	}
}

// FuzzDecode checks that no input makes the loader panic or hang, and that
// decoding runs of documents with one parser finds what decoding them one
// by one finds.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n"))
	f.Add([]byte(aliasBomb()))
	f.Add([]byte("{\"kind\": \"List\", \"apiVersion\": \"v1\", \"items\": [1, {}]}"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("---\n...\n--- !!map\n? [a]\n: b\n"))
	f.Add([]byte("a: &x 1\n---\nb: *x\n---\nkind: K\napiVersion: v\n"))
	f.Add([]byte("kind: K\napiVersion: v\n...\nkind: L\napiVersion: v\n---\n[1\n---\nkind: M\napiVersion: v\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxDepth: 50}
		var objs []*Object
		var diags []Diagnostic
		diags = append(diags, SplitBytes("f.yaml", data, func(d Document) {
			o, ds := Decode(d, lim)
			objs, diags = append(objs, o...), append(diags, ds...)
		})...)
		if err := sameAsBatches(data, objs, diags, lim, false); err != "" {
			t.Error(err)
		}
		for _, o := range objs {
			o.Locate("spec.containers[0].securityContext")
			o.Compact([]string{"metadata"})
			o.Locate("metadata.name")
		}
	})
}

// TestCorpusBatches checks batch decoding against per-document decoding on
// every file of the shared corpus of real-world manifests.
func TestCorpusBatches(t *testing.T) {
	inputs, _ := Expand([]string{"../../../shared/corpus"}, nil)
	if len(inputs) == 0 {
		t.Skip("corpus not found")
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in.Name)
		if err != nil {
			t.Fatal(err)
		}
		var objs []*Object
		var diags []Diagnostic
		diags = append(diags, SplitBytes("f.yaml", data, func(d Document) {
			o, ds := Decode(d, Limits{})
			objs, diags = append(objs, o...), append(diags, ds...)
		})...)
		if err := sameAsBatches(data, objs, diags, Limits{}, true); err != "" {
			t.Errorf("%s: %s", in.Name, err)
		}
	}
}

// Bytes that are not UTF-8 are an error at the first of them, and the
// document is still analysed.
func TestInvalidUTF8(t *testing.T) {
	objs, diags := load(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: ok\n  b: \"bad \xff\xfe here\"\n")
	if len(diags) != 1 || diags[0].Severity != SeverityError || diags[0].Pos.Line != 6 || diags[0].Pos.Column != 11 ||
		!strings.Contains(diags[0].Message, "invalid UTF-8: byte 0xff") {
		t.Errorf("diagnostics %v", diags)
	}
	if len(objs) != 1 || objs[0].Name != "x" {
		t.Errorf("objects %v", objs)
	}
}
