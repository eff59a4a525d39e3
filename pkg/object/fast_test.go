package object

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// sameAsParser compares the fast decoder with the YAML parser on doc: when
// the fast decoder reads a document, objects, diagnostics and the position
// of every field (before and after compaction) must be the parser's. It
// returns whether the fast decoder read it.
func sameAsParser(doc Document, lim Limits) (bool, string) {
	fObjs, fDiags, ok := fastDecode(doc, lim)
	if !ok {
		return false, ""
	}
	rObjs, rDiags := decodeYAML(doc, lim)
	// the parser reads JSON's escapes only rewritten, which moves columns
	// (TestJSONEscapes): positions are compared only without them
	escapes := jsonEscape.Match(doc.Data)
	if len(fObjs) != len(rObjs) || !reflect.DeepEqual(fDiags, rDiags) {
		return true, fmt.Sprintf("fast: %d objects, %v; parser: %d objects, %v", len(fObjs), fDiags, len(rObjs), rDiags)
	}
	for i, f := range fObjs {
		r := rObjs[i]
		if f.Ref != r.Ref || f.Source != r.Source || f.Origin != r.Origin {
			return true, fmt.Sprintf("fast %v at %v, parser %v at %v", f.Ref, f.Source, r.Ref, r.Source)
		}
		if !reflect.DeepEqual(f.Content, r.Content) {
			return true, fmt.Sprintf("content differs:\nfast   %#v\nparser %#v", f.Content, r.Content)
		}
		if escapes {
			continue
		}
		paths := fieldPaths(f.Content)
		for _, p := range paths {
			if a, b := f.Locate(p), r.Locate(p); a != b {
				return true, fmt.Sprintf("%s: fast %v, parser %v", p, a, b)
			}
		}
		// positions kept by compaction, and those found again after it
		anchors := paths[:min(len(paths), 8)]
		f.Compact(anchors)
		r.Compact(anchors)
		for _, p := range paths[:min(len(paths), 16)] {
			if a, b := f.Locate(p), r.Locate(p); a != b {
				return true, fmt.Sprintf("%s after compaction: fast %v, parser %v", p, a, b)
			}
		}
	}
	return true, ""
}

var jsonEscape = regexp.MustCompile(`\\/|\\u[dD][89a-fA-F]`)

// fieldPaths lists the path of every field and item of v, and paths that
// leave it (missing keys, indexes past the end, keys of scalars).
func fieldPaths(v any) []string {
	out := []string{"", "nope", "[0]"}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := Key(path, k)
				out = append(out, p)
				walk(p, t[k])
			}
			out = append(out, Key(path, "missing"), Index(path, 0))
		case []any:
			for i, e := range t {
				p := Index(path, i)
				out = append(out, p)
				walk(p, e)
			}
			out = append(out, Index(path, len(t)), Key(path, "k"))
		default:
			out = append(out, Key(path, "below"))
		}
	}
	walk("", v)
	return out
}

// TestFastCorpus compares the fast decoder with the YAML parser on every
// document of the shared corpus of real-world manifests, and checks that
// it reads most of them: otherwise it would silently stop being fast.
func TestFastCorpus(t *testing.T) {
	inputs, _ := Expand([]string{"../../../shared/corpus"}, nil)
	if len(inputs) == 0 {
		t.Skip("corpus not found")
	}
	docs, fast := 0, 0
	var bytes, fastBytes int
	for _, in := range inputs {
		data, err := os.ReadFile(in.Name)
		if err != nil {
			t.Fatal(err)
		}
		SplitBytes(in.Name, data, func(d Document) {
			docs++
			bytes += len(d.Data)
			ok, diff := sameAsParser(d, Limits{})
			if ok {
				fast++
				fastBytes += len(d.Data)
			}
			if diff != "" {
				t.Errorf("%s:%d: %s", d.File, d.Line, diff)
			}
		})
	}
	t.Logf("fast decoder read %d of %d documents (%.1f%% of %d MB)", fast, docs, 100*float64(fastBytes)/float64(bytes), bytes>>20)
	if fast < docs*9/10 {
		t.Errorf("fast decoder read only %d of %d documents", fast, docs)
	}
}

// readAsParser fails t unless the fast decoder reads doc, and reads it as
// the parser does; what names the input in messages.
func readAsParser(t *testing.T, doc Document, what string) {
	t.Helper()
	ok, diff := sameAsParser(doc, Limits{})
	if !ok {
		t.Errorf("fast decoder gave up on:\n%s", what)
	}
	if diff != "" {
		t.Errorf("%s\n%s", what, diff)
	}
}

// leftToParser fails t when the fast decoder reads doc, which the parser
// must decide.
func leftToParser(t *testing.T, doc Document, what string) {
	t.Helper()
	if _, _, ok := fastDecode(doc, Limits{}); ok {
		t.Errorf("fast decoder read what the parser must decide:\n%s", what)
	}
}

// TestFastCases pins the constructs the fast decoder reads, and those it
// leaves to the parser.
func TestFastCases(t *testing.T) {
	head := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	read := []string{
		"data:\n  m: multi\n    line\n\n     plain # comment\n  n: x\n  q: \"a \\\" b\n\n    c  \n    d\"\n  r: 'x''\n     y'\n  # comment\n  o: y\n  a: 1\n  b: -2\n  c: 0777\n  d: 08\n  e: 1.5e3\n  f: .5\n  g: 1_000\n  h: 0x1F\n  i: +3\n  j: 12345678901234567890\n",
		"data:\n  a: true\n  b: False\n  c: ~\n  d: null\n  e:\n  f: yes\n  g: 'it''s'\n  h: \"tab\\there \\u00e9\"\n",
		"data:\n  a: 2024-01-02\n  b: .inf\n  c: -.Inf\n  d: 1.2.3\n  e: 100m\n  f: 10.0.0.1\n  g: -Xmx1g\n",
		"data:\n  lit: |\n    one\n\n    two\n\n  keep: |+\n    x\n\n  strip: >-\n    a\n    b\n\n    c\n  fold: >\n\n    p\n    q\n",
		"spec:\n  list:\n  - a\n  - b: 1\n    c: [x, {y: z}, \"q\", []]\n  -   - n\n      - m\n  flow: {a: 1, b: [2, 3], \"c\": d,}\n  url: http://x:80/p#frag\n",
		"spec:\n  # comment\n  a: b # trailing\n\n  c:   # on its own\n    d: e\n  \"quoted key\": 1\n  'single': 2\n  dup: 1\n  dup: 2\n",
		"data:\n  a: |\n    no final break",
		"data:\n  a: >+\n    no final break",
		"data:\n  a: text\n    - more\n    * and `more`\n",
		"kind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n  spec:\n    containers:\n    - name: c\n- {apiVersion: v1, kind: Service, metadata: {name: b}}\n",
		"kind: List\nitems: []\n",
		"kind: PodList\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata:\n      name: a\n",
		"spec:\n  é: ü\n  list: [é, x]\n  k: {a: ü, b: c}\n",
	}
	for i, body := range read {
		data := head + body
		if strings.HasPrefix(body, "kind: List") {
			data = "apiVersion: v1\n" + body
		}
		if i%2 == 1 {
			data = "--- # comment\n" + data // a document marker, as split
		}
		readAsParser(t, Document{File: "f.yaml", Line: 3, Data: []byte(data)}, body)
	}
	left := []string{
		"data:\n  a: &x 1\n  b: *x\n",
		"data:\n  a: !!str 1\n",
		"data:\n  a: \"multi\\\n    line\"\n",
		"data:\n  a: [1,\n    2]\n",
		"data:\n  ? a\n  : b\n",
		"data:\n  a: |2\n     x\n",
		"data:\n  a: >\n    x\n      more\n",
		"data:\n  <<: {a: 1}\n",
		"data:\n\ta: 1\n",
		"data:\r\n  a: 1\r\n",
		"data:\n  a: b: c\n",
		"data:\n  a: 1\n - b\n",
		"kind: List\nitems:\n- 1\n",
		"kind: List\nitems:\n- metadata: {name: no-kind}\n",
	}
	for _, body := range left {
		data := head + body
		if strings.HasPrefix(body, "kind: List") {
			data = "apiVersion: v1\n" + body
		}
		leftToParser(t, Document{File: "f.yaml", Line: 1, Data: []byte(data)}, body)
	}
}

// TestFastJSON: JSON documents (kubectl get -o json) are flow collections
// over many lines, read by the fast decoder as the parser reads them.
func TestFastJSON(t *testing.T) {
	read := []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{}},"spec":{"containers":[{"name":"c","args":["-x","y z"]}]}}`,
		"{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"name\": \"p\",\n        \"annotations\": {\n            \"a\": \"tab\\there \\u00e9 \\\"q\\\" \\\\ \\u00fc\"\n        }\n    },\n    \"spec\": {\n        \"hostNetwork\": true,\n        \"priority\": -5,\n        \"x\": 1.5e3,\n        \"y\": null,\n        \"z\": false,\n        \"big\": 12345678901234567890,\n        \"empty\": [\n        ],\n        \"none\": {\n        },\n        \"containers\": [\n            {\n                \"name\": \"c\",\n                \"ports\": [\n                    {\n                        \"containerPort\": 80\n                    }\n                ]\n            }\n        ]\n    }\n}\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}},\n  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"b\"}}\n]}\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"data\":\n  {\"a\":\n    \"1\", \"a\": 2\n  }\n} # comment\n\n",
		"{apiVersion: v1, kind: ConfigMap,\ndata: {a: b c,\n b: [1, 2\n]}}\n",
	}
	for i, data := range read {
		readAsParser(t, Document{File: "f.json", Line: 1 + i, Data: []byte(data)}, data)
	}
	left := []string{
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\" # comment\n}",
		"{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\"\n}",
		"{apiVersion: v1, kind: Pod, a: b\n c}",
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}\n{\"b\": 2}",
		"[{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}]",
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}: x",
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n---\n}",
	}
	for _, data := range left {
		leftToParser(t, Document{File: "f.json", Line: 1, Data: []byte(data)}, data)
	}
}

// TestJSONEscapes: JSON's escaped solidus and surrogate pairs, which the
// YAML parser refuses, are read as encoding/json reads them (Python's
// json.dumps writes every character beyond the BMP as a pair).
func TestJSONEscapes(t *testing.T) {
	data := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"url": "http:\/\/x\/y", ` +
		`"emoji": "\ud83d\ude00!", "lone": "\ud83d-\ude00", "swapped": "\ude00\ud83d", "after": "\ud83d\u0041", "z": "end"}}`
	objs, diags, ok := fastDecode(Document{File: "f.json", Line: 1, Data: []byte(data)}, Limits{})
	if !ok || len(diags) != 0 || len(objs) != 1 {
		t.Fatalf("fast decoder: ok %v, %d objects, %v", ok, len(objs), diags)
	}
	want := map[string]any{"url": "http://x/y", "emoji": "\U0001F600!", "lone": "\uFFFD-\uFFFD", "swapped": "\uFFFD\uFFFD", "after": "\uFFFDA", "z": "end"}
	if got := objs[0].Content["data"]; !reflect.DeepEqual(got, want) {
		t.Errorf("data %q, want %q", got, want)
	}
	// positions after the escapes count the bytes of the file
	if p, col := objs[0].Locate("data.z"), strings.Index(data, `"z"`)+1; p.Line != 1 || p.Column != col {
		t.Errorf("data.z at %v, want 1:%d", p, col)
	}
	// JSON the fast decoder leaves to the parser (tabs) reads too: the
	// escapes are rewritten for it, lines stay
	tabbed := "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"ConfigMap\",\n\t\"metadata\": {\"name\": \"c\"},\n\t\"data\": {\n" +
		"\t\t\"url\": \"http:\\/\\/x\",\n\t\t\"emoji\": \"\\ud83d\\ude00 \\ud83d '\\/\",\n\t\t\"plain\": \"a\\\\/b \\\" \\u00e9\",\n\t\t\"z\": \"end\"\n\t}\n}\n"
	doc := Document{File: "f.json", Line: 1, Data: []byte(tabbed)}
	if _, _, ok := fastDecode(doc, Limits{}); ok {
		t.Fatal("the fast decoder read tabs; the test needs the parser")
	}
	objs, diags = Decode(doc, Limits{})
	if len(diags) != 0 || len(objs) != 1 {
		t.Fatalf("parser: %d objects, %v", len(objs), diags)
	}
	want = map[string]any{"url": "http://x", "emoji": "\U0001F600 \uFFFD '/", "plain": "a\\/b \" \u00e9", "z": "end"}
	if got := objs[0].Content["data"]; !reflect.DeepEqual(got, want) {
		t.Errorf("data %q, want %q", got, want)
	}
	if p := objs[0].Locate("data.z"); p.Line != 9 || p.Column != 3 {
		t.Errorf("data.z at %v, want 9:3", p)
	}
	for _, bad := range []string{`"\ud83d\u12"`, `"\U0000d83d"`, `"\x"`} {
		doc := `{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": ` + bad + `}}`
		if _, _, ok := fastDecode(Document{File: "f.json", Line: 1, Data: []byte(doc)}, Limits{}); ok {
			t.Errorf("%s: read, want left to the parser", bad)
		}
	}
}

// FuzzFast compares the fast decoder with the YAML parser on arbitrary
// input.
func FuzzFast(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    args: [\"-x\", 'y']\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: |-\n    x\n\n    y\n  b: >\n    p\n    q\n"))
	f.Add([]byte("kind: K\napiVersion: v\nx: 0o17\ny: 2001-12-14\nz: -.5\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- {apiVersion: v1, kind: Secret}\n"))
	f.Add([]byte("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n    {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"spec\": {\"n\": 1\n}}\n  ]\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, diff := sameAsParser(Document{File: "f.yaml", Line: 1, Data: data}, Limits{MaxDepth: 50}); diff != "" {
			t.Error(diff)
		}
	})
}

// A long line (a large flow mapping) is read in one pass: positions on it
// must not be counted from its start each time.
func TestFastLongLine(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: é}\ndata: {")
	for i := range 100_000 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"k%d": "ü%d"`, i, i)
	}
	b.WriteString("}\n")
	doc := Document{File: "f.yaml", Line: 1, Data: []byte(b.String())}
	f, _, ok := fastDecode(doc, Limits{})
	if !ok {
		t.Fatal("fast decoder gave up")
	}
	r, _ := decodeYAML(doc, Limits{})
	if !reflect.DeepEqual(f[0].Content, r[0].Content) {
		t.Fatal("content differs from the parser's")
	}
	for _, p := range []string{"data.k0", "data.k50000", "data.k99999", "metadata.name"} {
		if a, b := f[0].Locate(p), r[0].Locate(p); a != b {
			t.Errorf("%s: fast %v, parser %v", p, a, b)
		}
	}
}

// TestCompactUnlessSmall: a small object alone in its document keeps every
// position, without the document being parsed again; an item of a List and
// a document over the bound are compacted, and all of them still place
// each path where the full locator does.
func TestCompactUnlessSmall(t *testing.T) {
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: ns}\nrules:\n" +
		"- apiGroups: ['']\n  resources: [pods]\n  verbs: [get]\n- apiGroups: ['']\n  resources: [secrets]\n  verbs: [get, list]\n"
	list := "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(role, "\n"), "\n", "\n  ") + "\n"
	paths := []string{"rules[1]", "rules[1].verbs[1]", "rules[0].resources[0]", "metadata.name", "rules[5]"}
	for _, c := range []struct {
		name, doc string
		max       int
		kept      bool
	}{{"small", role, 4096, true}, {"over the bound", role, 5, false}, {"List item", list, 4096, false}} {
		decode := func() *Object {
			objs, diags, ok := fastDecode(Document{File: "r.yaml", Line: 1, Data: []byte(c.doc)}, Limits{})
			if !ok || len(objs) != 1 || len(diags) != 0 {
				t.Fatalf("%s: decode: %d objects, %v", c.name, len(objs), diags)
			}
			return objs[0]
		}
		full, o := decode(), decode()
		o.CompactUnlessSmall([]string{"metadata"}, c.max)
		if _, kept := o.loc.(*fastLocator); kept != c.kept {
			t.Errorf("%s: positions kept %v, want %v", c.name, kept, c.kept)
		}
		for _, p := range paths {
			if got, want := o.Locate(p), full.Locate(p); got != want {
				t.Errorf("%s: %s at %v, want %v", c.name, p, got, want)
			}
		}
	}
}
