package object

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"gopkg.in/yaml.v3"
)

// The fast decoder reads the YAML that manifests are made of (block
// mappings and sequences, plain, quoted and block scalars, one-line flow
// collections, comments) and JSON documents straight into unstructured
// content, and records where each key and list item starts. A general
// YAML parser builds a node tree that is then converted, which was most of
// the cost of a scan.
// Whatever the fast decoder does not read exactly as the YAML parser would
// (anchors, tags, explicit keys, flow collections over several lines in
// block context, escaped line breaks, more-indented folded lines, syntax
// errors) it gives up on, and the document goes to the YAML parser, which
// stays the reference: tests compare both on every document of the corpus
// and under fuzzing.
//
// Strings share the document's bytes: Document.Data must not change once
// decoded (locators keep it for positions anyway).

// fastNode is a key of a mapping or an item of a sequence, with the
// position a finding on it points at (the key; the item's value).
type fastNode struct {
	line, col int32
	k0, k1    int32 // key bytes in the document; k0 < 0 for an item or the root
	child     int32 // first entry of the value when it is a collection, else -1
	next      int32 // next entry of the same collection, else -1
	kind      uint8 // of the value: valScalar, valMap or valSeq
}

const (
	valScalar uint8 = iota
	valMap
	valSeq
)

// giveUp ends a fast decode; the document goes to the YAML parser.
type giveUp struct{}

type fastParser struct {
	doc   Document
	data  []byte
	p     int   // read offset
	ls    int   // offset of the start of the current line
	line  int32 // line of ls within the document, from 1
	ind   int   // indentation of the content line at p; -1 at the end
	depth int
	lim   Limits
	nodes []fastNode
	diags []Diagnostic
	// colAt and colN: an offset on line colLine and its column
	colLine int32
	colAt   int
	colN    int32
	// multi lets flow collections span lines: the root is one (a JSON
	// document, such as kubectl get -o json prints)
	multi bool
}

// fastDecode decodes doc when it holds one object in the subset of YAML
// described above; ok is false when the YAML parser must decide.
func fastDecode(doc Document, lim Limits) (objs []*Object, diags []Diagnostic, ok bool) {
	lim = lim.withDefaults()
	if !plainText(doc.Data) {
		return nil, nil, false
	}
	f := &fastParser{doc: doc, data: doc.Data, lim: lim, line: 1}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(giveUp); !ok {
				panic(r)
			}
			objs, diags, ok = nil, nil, false
		}
	}()
	if !f.start() {
		return nil, nil, false // empty or comments only: the parser says what it is
	}
	// a node per line, and per item or entry of flow collections; in a
	// JSON document, where a line holds an entry or closes a collection,
	// per entry only
	f.multi = f.at(f.p) == '{' // a JSON document: its root is a flow mapping
	text := unsafe.String(unsafe.SliceData(doc.Data), len(doc.Data))
	size := 2 + strings.Count(text, ",") + strings.Count(text, "{")
	if f.multi {
		size += strings.Count(text, "[")
	} else {
		size += strings.Count(text, "\n")
	}
	f.nodes = make([]fastNode, 1, size)
	line, col := f.line, f.col(f.p)
	var content map[string]any
	var first int32
	if f.multi {
		v, c, _ := f.flow()
		content, first = v.(map[string]any), c
		f.rest()
		if f.next() {
			return nil, nil, false // more than the root collection
		}
	} else {
		if !f.isKey() {
			return nil, nil, false
		}
		content, first = f.mapping(f.ind)
		if f.ind >= 0 {
			return nil, nil, false // content left of the root mapping
		}
	}
	f.nodes[0] = fastNode{line: line, col: col, k0: -1, child: first, next: -1, kind: valMap}
	if items, ok := content["items"].([]any); ok && isList(content) {
		// a List (kubectl get -o yaml): its items are the objects
		itemsNode := int32(-1)
		for c := first; c >= 0; c = f.nodes[c].next {
			if n := f.nodes[c]; f.str(int(n.k0), int(n.k1)) == "items" {
				itemsNode = c
			}
		}
		objs = make([]*Object, 0, len(items))
		n := f.nodes[itemsNode].child
		for i, it := range items {
			m, ok := it.(map[string]any)
			if ok {
				typedItem(content, m)
			}
			if !ok || !isObject(m) {
				return nil, nil, false // the parser says what is wrong with it
			}
			objs = append(objs, f.object(m, n, Index("items", i)))
			n = f.nodes[n].next
		}
		return objs, f.diags, true
	}
	if !isObject(content) {
		return nil, nil, false
	}
	return []*Object{f.object(content, 0, "")}, f.diags, true
}

// isObject reports whether content names its API version and kind.
func isObject(content map[string]any) bool {
	v, _ := content["apiVersion"].(string)
	k, _ := content["kind"].(string)
	return v != "" && k != ""
}

// object returns the object of content, whose node is n, at path prefix
// of the document.
func (f *fastParser) object(content map[string]any, n int32, prefix string) *Object {
	loc := &fastLocator{file: f.doc.File, lineOff: int32(f.doc.Line - 1), raw: f.doc.Data, nodes: f.nodes, root: n, prefix: prefix}
	nd := f.nodes[n]
	o := New(content, Position{File: f.doc.File, Line: int(nd.line) + f.doc.Line - 1, Column: int(nd.col)}, loc)
	o.Origin = f.doc.Origin
	return o
}

// plainText reports whether data holds only characters the fast decoder
// treats like the YAML parser: no carriage returns, control characters,
// byte order marks, or Unicode line separators (line breaks in YAML 1.1).
func plainText(data []byte) bool {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError || r < 0xa0 || r == 0x2028 || r == 0x2029 || r == 0xfeff || r >= 0xfffe && r <= 0xffff {
			return false
		}
		i += n
	}
	return true
}

func (f *fastParser) fail() { panic(giveUp{}) }

// col is the 1-based column of offset p, in characters like the parser's.
// Columns are counted on from the last one asked for on the line: one
// line can hold a flow collection of any size.
func (f *fastParser) col(p int) int32 {
	if f.colLine != f.line || f.colAt > p {
		f.colLine, f.colAt, f.colN = f.line, f.ls, 1
	}
	for i := f.colAt; i < p; i++ {
		if f.data[i] < utf8.RuneSelf || utf8.RuneStart(f.data[i]) {
			f.colN++
		}
	}
	f.colAt = p
	return f.colN
}

func (f *fastParser) str(a, b int) string {
	if a == b {
		return ""
	}
	return unsafe.String(&f.data[a], b-a)
}

func (f *fastParser) at(p int) byte {
	if p < len(f.data) {
		return f.data[p]
	}
	return 0
}

// blank reports whether offset p ends a token: a space, a line end or the
// end of the document.
func (f *fastParser) blank(p int) bool {
	c := f.at(p)
	return c == ' ' || c == '\n' || c == 0
}

// start skips a leading document marker and moves to the first content.
func (f *fastParser) start() bool {
	if len(f.data) >= 3 && f.str(0, 3) == "---" {
		f.p = 3
		f.rest()
	}
	if f.at(0) == '%' {
		return false
	}
	return f.next()
}

// next moves from a line start to the next line with content, setting ind;
// false (and ind -1) at the end of the document.
func (f *fastParser) next() bool {
	for f.p < len(f.data) {
		i := f.p
		for i < len(f.data) && f.data[i] == ' ' {
			i++
		}
		switch f.at(i) {
		case '\n':
			f.newline(i + 1)
			continue
		case 0:
			f.p = i
			f.ind = -1
			return false
		case '#':
			f.p = i
			f.rest()
			continue
		case '\t':
			f.fail() // tabs around indentation: the parser decides
		}
		if i == f.ls && (f.str(i, min(i+3, len(f.data))) == "---" || f.str(i, min(i+3, len(f.data))) == "...") {
			f.fail()
		}
		f.p, f.ind = i, i-f.ls
		return true
	}
	f.ind = -1
	return false
}

func (f *fastParser) newline(p int) {
	f.p, f.ls = p, p
	f.line++
}

// rest expects the rest of the line to be blank or a comment, and moves
// to the next line.
func (f *fastParser) rest() {
	for f.p < len(f.data) && f.data[f.p] == ' ' {
		f.p++
	}
	switch f.at(f.p) {
	case 0:
		return
	case '\n':
	case '#':
		if f.p > f.ls && f.data[f.p-1] != ' ' {
			f.fail()
		}
	default:
		f.fail()
	}
	for f.p < len(f.data) && f.data[f.p] != '\n' {
		f.p++
	}
	if f.p < len(f.data) {
		f.newline(f.p + 1)
	}
}

// entries are the nodes of one collection, linked in order.
type entries struct{ first, last int32 }

var noEntries = entries{-1, -1}

// add records n as the next entry of es.
func (f *fastParser) add(es *entries, n fastNode) int32 {
	f.nodes = append(f.nodes, n)
	i := int32(len(f.nodes) - 1)
	if es.last >= 0 {
		f.nodes[es.last].next = i
	} else {
		es.first = i
	}
	es.last = i
	return i
}

// duplicate reports a key seen before in its mapping, at line and col.
func (f *fastParser) duplicate(key string, line, col int32) {
	f.diags = append(f.diags, duplicateKey(Position{File: f.doc.File, Line: int(line) + f.doc.Line - 1, Column: int(col)}, key))
}

func (f *fastParser) enter() {
	f.depth++
	if f.depth > f.lim.MaxDepth {
		f.fail()
	}
}

// isKey reports whether the line at p starts a mapping entry.
func (f *fastParser) isKey() bool {
	_, _, _, ok := f.keyAt(f.p)
	return ok
}

// keyAt reads an implicit key at p: its bytes and the offset just past
// its colon.
func (f *fastParser) keyAt(p int) (k0, k1, after int, ok bool) {
	switch c := f.at(p); c {
	case '"', '\'':
		end := f.quotedEnd(p)
		if end < 0 {
			return 0, 0, 0, false
		}
		i := end
		for f.at(i) == ' ' {
			i++
		}
		if f.at(i) != ':' || !f.blank(i+1) {
			return 0, 0, 0, false
		}
		if strings.IndexByte(f.str(p+1, end-1), '\\') >= 0 || c == '\'' && strings.Contains(f.str(p+1, end-1), "''") {
			f.fail() // keys that need unescaping
		}
		return p + 1, end - 1, i + 1, true
	case '-', '?', ':':
		if f.blank(p + 1) {
			return 0, 0, 0, false
		}
	}
	if isIndicator(f.at(p)) {
		return 0, 0, 0, false
	}
	for i := p; i < len(f.data) && f.data[i] != '\n'; i++ {
		switch f.data[i] {
		case ':':
			if f.blank(i + 1) {
				j := i
				for j > p && f.data[j-1] == ' ' {
					j--
				}
				if j-p > 1000 {
					f.fail()
				}
				return p, j, i + 1, true
			}
		case '#':
			if f.data[i-1] == ' ' {
				return 0, 0, 0, false
			}
		case '\t':
			f.fail()
		}
	}
	return 0, 0, 0, false
}

// isIndicator reports characters a plain scalar cannot start with.
func isIndicator(c byte) bool {
	switch c {
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return true
	}
	return false
}

// quotedEnd returns the offset just past the closing quote of the quoted
// scalar at p, or -1 when it does not close on its line.
func (f *fastParser) quotedEnd(p int) int {
	q := f.data[p]
	for i := p + 1; i < len(f.data); i++ {
		switch c := f.data[i]; {
		case c == '\n':
			return -1
		case c == '\\' && q == '"':
			i++
			if f.at(i) == '\n' || f.at(i) == 0 {
				return -1
			}
		case c == q:
			if q == '\'' && f.at(i+1) == '\'' {
				i++
				continue
			}
			return i + 1
		}
	}
	return -1
}

// mapping reads a block mapping whose keys are at indentation ind.
func (f *fastParser) mapping(ind int) (map[string]any, int32) {
	f.enter()
	defer func() { f.depth-- }()
	m := map[string]any{}
	es := noEntries
	for {
		k0, k1, after, ok := f.keyAt(f.p)
		if !ok {
			f.fail()
		}
		n := f.add(&es, fastNode{line: f.line, col: f.col(f.p), k0: int32(k0), k1: int32(k1), child: -1, next: -1})
		key, kline, kcol := f.str(k0, k1), f.line, f.nodes[n].col
		if key == "<<" && f.at(f.p) != '"' && f.at(f.p) != '\'' {
			f.fail() // merge keys
		}
		f.p = after
		v, child, kind := f.value(ind)
		f.nodes[n].child, f.nodes[n].kind = child, kind
		if _, dup := m[key]; dup {
			f.duplicate(key, kline, kcol)
		}
		m[key] = v
		if f.ind < ind {
			return m, es.first
		}
		if f.ind > ind {
			f.fail()
		}
	}
}

// sequence reads a block sequence whose dashes are at indentation ind.
func (f *fastParser) sequence(ind int) ([]any, int32) {
	f.enter()
	defer func() { f.depth-- }()
	var out []any
	es := noEntries
	for {
		f.p++ // the dash
		for f.at(f.p) == ' ' {
			f.p++
		}
		if c := f.at(f.p); c == '\n' || c == 0 || c == '#' {
			f.rest()
			if !f.next() || f.ind <= ind {
				f.fail() // an empty item
			}
		}
		n := f.add(&es, fastNode{line: f.line, col: f.col(f.p), k0: -1, child: -1, next: -1})
		v, child, kind := f.node(f.p-f.ls, ind)
		f.nodes[n].child, f.nodes[n].kind = child, kind
		out = append(out, v)
		if f.ind < ind {
			return out, es.first
		}
		if f.ind > ind {
			f.fail()
		}
		if f.data[f.p] != '-' || !f.blank(f.p+1) {
			return out, es.first // a key of the mapping this sequence is the value of
		}
	}
}

// node reads the value at p, at column c (0-based), in a collection
// indented by parent.
func (f *fastParser) node(c, parent int) (any, int32, uint8) {
	if f.data[f.p] == '-' && f.blank(f.p+1) {
		v, first := f.sequence(c)
		return v, first, valSeq
	}
	if f.isKey() {
		v, first := f.mapping(c)
		return v, first, valMap
	}
	return f.inline(parent)
}

// value reads what follows the colon of a key of a mapping indented by
// ind: a value on the same line, or a block on the next ones (a sequence
// may sit at the mapping's own indentation).
func (f *fastParser) value(ind int) (any, int32, uint8) {
	for f.at(f.p) == ' ' {
		f.p++
	}
	if c := f.at(f.p); c == '\n' || c == 0 || c == '#' {
		f.rest()
		if !f.next() {
			return nil, -1, valScalar
		}
		switch {
		case f.ind > ind:
			return f.node(f.ind, ind)
		case f.ind == ind && f.data[f.p] == '-' && f.blank(f.p+1):
			v, first := f.sequence(ind)
			return v, first, valSeq
		}
		return nil, -1, valScalar
	}
	return f.inline(ind)
}

// inline reads a scalar or flow collection starting at p, within a block
// indented by parent, and moves to the next content line.
func (f *fastParser) inline(parent int) (any, int32, uint8) {
	var v any
	first, kind := int32(-1), valScalar
	switch c := f.data[f.p]; c {
	case '|', '>':
		return f.blockScalar(parent), -1, valScalar
	case '[', '{':
		v, first, kind = f.flow()
		f.rest()
	case '"', '\'':
		if f.quotedEnd(f.p) < 0 {
			v = f.quotedLines(parent)
		} else {
			v = f.quoted()
		}
		f.rest()
	default:
		v = f.plain(parent)
	}
	if f.next() && f.ind > parent {
		f.fail() // continuation lines of quoted scalars, and errors
	}
	return v, first, kind
}

// plain reads a plain scalar in block context: its first line, and the
// lines indented deeper than parent that continue it (folded: a line
// break becomes a space, an empty line a line break).
func (f *fastParser) plain(parent int) any {
	start := f.p
	if plainStart(f.data[start], f.at(start+1)) {
		f.fail()
	}
	end := f.plainLine(start)
	if f.at(f.p) == '#' {
		f.rest()
		return resolvePlain(f.str(start, end))
	}
	s := f.str(start, end)
	var b strings.Builder
	for f.p < len(f.data) {
		f.newline(f.p + 1)
		empty := 0
		for f.p < len(f.data) {
			i := f.p
			for i < len(f.data) && f.data[i] == ' ' {
				i++
			}
			if f.at(i) != '\n' {
				break
			}
			empty++
			f.newline(i + 1)
		}
		i := f.p
		for i < len(f.data) && f.data[i] == ' ' {
			i++
		}
		if i == len(f.data) || i-f.ls <= parent || f.data[i] == '#' || f.data[i] == '\t' {
			break // not a continuation: next decides what it is
		}
		cEnd := f.plainLine(i)
		if b.Len() == 0 {
			b.WriteString(s)
		}
		if empty == 0 {
			b.WriteByte(' ')
		}
		for range empty {
			b.WriteByte('\n')
		}
		b.WriteString(f.str(i, cEnd))
		if f.at(f.p) == '#' {
			f.rest() // a comment ends the scalar
			break
		}
	}
	if b.Len() > 0 {
		s = b.String()
	}
	return resolvePlain(s)
}

// plainStart reports characters a plain scalar cannot start with (c
// followed by next).
func plainStart(c, next byte) bool {
	return isIndicator(c) || (c == '-' || c == '?' || c == ':') && (next == ' ' || next == '\n' || next == 0)
}

// plainLine reads a line of a plain scalar from i, leaving p at the end of
// the line or at a comment, and returns where its text ends.
func (f *fastParser) plainLine(i int) int {
	end := i
	for ; i < len(f.data) && f.data[i] != '\n'; i++ {
		switch f.data[i] {
		case ' ':
			continue
		case ':':
			if f.blank(i + 1) {
				f.fail()
			}
		case '#':
			if f.data[i-1] == ' ' {
				f.p = i
				return end
			}
		case '\t':
			f.fail()
		}
		end = i + 1
	}
	f.p = i
	return end
}

// quoted reads a single- or double-quoted scalar of one line.
func (f *fastParser) quoted() string {
	p := f.p
	end := f.quotedEnd(p)
	if end < 0 {
		f.fail()
	}
	f.p = end
	return f.unquote(f.data[p], f.str(p+1, end-1))
}

// unquote decodes the text of a quoted scalar of quote q.
func (f *fastParser) unquote(q byte, inner string) string {
	if q == '\'' {
		if strings.Contains(inner, "''") {
			return strings.ReplaceAll(inner, "''", "'")
		}
		return inner
	}
	if strings.IndexByte(inner, '\\') < 0 {
		return inner
	}
	s, ok := unescape(inner)
	if !ok {
		f.fail()
	}
	return s
}

// quotedLines reads a quoted scalar in block context, over several lines
// indented deeper than parent: line breaks fold into a space, empty lines
// into line breaks, and the spaces around breaks go.
func (f *fastParser) quotedLines(parent int) string {
	q := f.data[f.p]
	var parts []string // a part per line; "" in the middle for an empty line
	i := f.p + 1
	seg := i
	for {
		switch c := f.at(i); {
		case c == 0 || c == '\t':
			f.fail()
		case c == '\\' && q == '"':
			if n := f.at(i + 1); n == '\n' || n == 0 {
				f.fail() // escaped line breaks
			}
			i += 2
			continue
		case c == q && q == '\'' && f.at(i+1) == '\'':
			i += 2
			continue
		case c == q:
			parts = append(parts, f.unquote(q, f.str(seg, i)))
			f.p = i + 1
			var b strings.Builder
			b.WriteString(parts[0])
			empty := 0
			for k, part := range parts[1:] {
				if part == "" && k < len(parts)-2 {
					empty++
					continue
				}
				if empty == 0 {
					b.WriteByte(' ')
				}
				for range empty {
					b.WriteByte('\n')
				}
				b.WriteString(part)
				empty = 0
			}
			return b.String()
		case c == '\n':
			text := strings.TrimRight(f.str(seg, i), " ")
			if q == '"' && strings.HasSuffix(text, "\\") {
				f.fail()
			}
			parts = append(parts, f.unquote(q, text))
			f.newline(i + 1)
			j := f.p
			for f.at(j) == ' ' {
				j++
			}
			if f.at(j) != '\n' && j-f.ls <= parent {
				f.fail()
			}
			i, seg = j, j
			continue
		}
		i++
	}
}

// unescape decodes the escapes of a double-quoted scalar.
func unescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", false
		}
		switch s[i] {
		case '0':
			b.WriteByte(0)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 't', '\t':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case ' ', '"', '\\', '/': // \/ is JSON's, and YAML 1.2's
			b.WriteByte(s[i])
		case 'N':
			b.WriteRune(0x85)
		case '_':
			b.WriteRune(0xa0)
		case 'L':
			b.WriteRune(0x2028)
		case 'P':
			b.WriteRune(0x2029)
		case 'x', 'u', 'U':
			if c, n, ok := jsonSurrogates(s[i-1:]); ok {
				b.WriteRune(c)
				i += n - 2 // from the u to the last character taken
				continue
			}
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+n >= len(s) {
				return "", false
			}
			r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(r)) {
				return "", false
			}
			b.WriteRune(rune(r))
			i += n
		default:
			return "", false
		}
	}
	return b.String(), true
}

// jsonSurrogates decodes s, which starts with the escape \uXXXX of a
// UTF-16 surrogate, as encoding/json does: JSON writes a character beyond
// the BMP as a pair of escaped surrogates (Python's json.dumps by
// default), which is one character; a lone surrogate is U+FFFD. It returns
// the character and how many bytes of s it took (12 or 6); ok is false
// when s does not start with the escape of a surrogate.
func jsonSurrogates[T ~string | ~[]byte](s T) (r rune, n int, ok bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, 0, false
	}
	hi, err := strconv.ParseUint(string(s[2:6]), 16, 32)
	if err != nil || !utf16.IsSurrogate(rune(hi)) {
		return 0, 0, false
	}
	if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if lo, err := strconv.ParseUint(string(s[8:12]), 16, 32); err == nil {
			if c := utf16.DecodeRune(rune(hi), rune(lo)); c != utf8.RuneError {
				return c, 12, true
			}
		}
	}
	return utf8.RuneError, 6, true
}

// blockScalar reads a literal (|) or folded (>) block scalar whose header
// is at p, in a block indented by parent.
func (f *fastParser) blockScalar(parent int) string {
	folded := f.data[f.p] == '>'
	f.p++
	chomp := byte(0)
	if c := f.at(f.p); c == '-' || c == '+' {
		chomp = c
		f.p++
	}
	if !f.blank(f.p) {
		f.fail() // indentation indicators
	}
	f.rest()
	// Lines indented deeper than parent, or blank, are the scalar's; the
	// first non-blank one sets its indentation.
	var lines []string
	ind, leading := -1, 0
	eof := false
	for f.p < len(f.data) {
		i := f.p
		for i < len(f.data) && f.data[i] == ' ' {
			i++
		}
		end := i
		for end < len(f.data) && f.data[end] != '\n' {
			end++
		}
		n := i - f.ls
		if i == end { // blank
			if ind < 0 {
				leading = max(leading, n)
			} else if n > ind {
				f.fail() // spaces that are content
			}
			lines = append(lines, "")
		} else {
			if ind < 0 {
				if n <= parent {
					break
				}
				if leading > n {
					f.fail()
				}
				ind = n
			}
			if n < ind {
				break
			}
			if f.data[i] == '\t' || folded && n > ind {
				f.fail() // more-indented lines
			}
			lines = append(lines, f.str(f.ls+ind, end))
		}
		if end == len(f.data) {
			// the document ends without a line break: none to keep
			if i == end {
				f.fail()
			}
			f.p, eof = end, true
			break
		}
		f.newline(end + 1)
	}
	// trailing blank lines belong to the chomping, not the content
	n := len(lines)
	for n > 0 && lines[n-1] == "" {
		n--
	}
	if n == 0 {
		f.fail()
	}
	var b strings.Builder
	for i, l := range lines[:n] {
		switch {
		case !folded:
			if i > 0 {
				b.WriteByte('\n')
			}
		case l == "":
			b.WriteByte('\n') // leading, or between paragraphs
			continue
		case i > 0 && lines[i-1] != "":
			b.WriteByte(' ') // the lines of a paragraph are folded
		}
		b.WriteString(l)
	}
	switch {
	case chomp == '-' || eof:
	case chomp == '+':
		b.WriteString(strings.Repeat("\n", 1+len(lines)-n))
	default:
		b.WriteByte('\n')
	}
	if f.next() && f.ind > parent {
		f.fail()
	}
	return b.String()
}

// flow reads a flow sequence or mapping at p: of one line, or of any
// number at the root.
func (f *fastParser) flow() (any, int32, uint8) {
	f.enter()
	defer func() { f.depth-- }()
	open := f.data[f.p]
	f.p++
	es := noEntries
	if open == '[' {
		var out []any
		for {
			f.spaces()
			if f.at(f.p) == ']' {
				f.p++
				if out == nil {
					out = []any{}
				}
				return out, es.first, valSeq
			}
			n := f.add(&es, fastNode{line: f.line, col: f.col(f.p), k0: -1, child: -1, next: -1})
			v, child, kind := f.flowValue()
			f.nodes[n].child, f.nodes[n].kind = child, kind
			out = append(out, v)
			f.spaces()
			switch f.at(f.p) {
			case ',':
				f.p++
			case ']':
			default:
				f.fail()
			}
		}
	}
	m := map[string]any{}
	for {
		f.spaces()
		if f.at(f.p) == '}' {
			f.p++
			return m, es.first, valMap
		}
		var k0, k1 int
		line, col := f.line, f.col(f.p)
		if c := f.at(f.p); c == '"' || c == '\'' {
			end := f.quotedEnd(f.p)
			if end < 0 || strings.IndexByte(f.str(f.p+1, end-1), '\\') >= 0 || strings.Contains(f.str(f.p+1, end-1), "''") {
				f.fail()
			}
			k0, k1, f.p = f.p+1, end-1, end
			f.spaces()
			if f.at(f.p) != ':' {
				f.fail()
			}
		} else {
			k0 = f.p
			k1 = f.flowPlainEnd()
			if k1 == k0 || f.at(f.p) != ':' {
				f.fail()
			}
		}
		key := f.str(k0, k1)
		if key == "<<" {
			f.fail()
		}
		f.p++ // the colon
		n := f.add(&es, fastNode{line: line, col: col, k0: int32(k0), k1: int32(k1), child: -1, next: -1})
		f.spaces()
		var v any
		if c := f.at(f.p); c != ',' && c != '}' {
			var child int32
			var kind uint8
			v, child, kind = f.flowValue()
			f.nodes[n].child, f.nodes[n].kind = child, kind
		}
		if _, dup := m[key]; dup {
			f.duplicate(key, line, col)
		}
		m[key] = v
		f.spaces()
		switch f.at(f.p) {
		case ',':
			f.p++
		case '}':
		default:
			f.fail()
		}
	}
}

// spaces moves past the spaces between the tokens of a flow collection,
// and past line breaks when it may span lines.
func (f *fastParser) spaces() {
	for {
		for f.at(f.p) == ' ' {
			f.p++
		}
		c := f.at(f.p)
		if c == '\n' && f.multi {
			f.newline(f.p + 1)
			if m := f.str(f.p, min(f.p+3, len(f.data))); m == "---" || m == "..." {
				f.fail()
			}
			continue
		}
		if c == '\n' || c == 0 || c == '#' || c == '\t' {
			f.fail() // comments, tabs, and line breaks in a one-line collection
		}
		return
	}
}

// flowValue reads a value inside a flow collection.
func (f *fastParser) flowValue() (any, int32, uint8) {
	switch f.at(f.p) {
	case '[', '{':
		return f.flow()
	case '"', '\'':
		v := f.quoted()
		f.spaces()
		if f.at(f.p) == ':' {
			f.fail() // a pair inside a sequence
		}
		return v, -1, valScalar
	}
	start := f.p
	end := f.flowPlainEnd()
	if end == start || f.at(f.p) == ':' {
		f.fail()
	}
	return resolvePlain(f.str(start, end)), -1, valScalar
}

// flowPlainEnd reads a plain scalar inside a flow collection and returns
// its end, leaving p at the indicator that ends it.
func (f *fastParser) flowPlainEnd() int {
	start := f.p
	// inside flow collections ? and : always start a key or a value
	if c := f.at(start); isIndicator(c) || c == '?' || c == ':' || c == '-' && (f.blank(start+1) || strings.IndexByte(",[]{}", f.at(start+1)) >= 0) {
		f.fail()
	}
	end := start
	for i := start; ; i++ {
		switch c := f.at(i); c {
		case '\n':
			if f.multi && f.flowEnds(i) {
				f.p = i
				return end
			}
			f.fail() // a plain scalar over several lines folds
		case 0, '\t':
			f.fail()
		case ',', '[', ']', '{', '}':
			f.p = i
			return end
		case ':':
			if f.blank(i + 1) { // as the parser reads it, a:b is one scalar here too
				f.p = i
				return end
			}
		case '#':
			if f.data[i-1] == ' ' {
				f.fail()
			}
		case ' ':
			continue
		}
		end = i + 1
	}
}

// flowEnds reports whether the first token after the line break at i
// ends a flow entry or collection (a plain scalar before it then ends at
// the break rather than going on over the next line).
func (f *fastParser) flowEnds(i int) bool {
	for ; i < len(f.data); i++ {
		switch f.data[i] {
		case ' ', '\n':
		case ',', ']', '}':
			return true
		default:
			return false
		}
	}
	return false
}

// resolvePlain gives a plain scalar the value the YAML parser gives it
// (the rules of yaml.v3's resolve, then scalar's conversion): null, a
// boolean, a number or a string.
func resolvePlain(s string) any {
	if s == "" {
		return nil
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.':
		return number(s)
	case c == '~' || c == 'n' || c == 'N':
		switch s {
		case "~", "null", "Null", "NULL":
			return nil
		}
	case c == 't' || c == 'T':
		switch s {
		case "true", "True", "TRUE":
			return true
		}
	case c == 'f' || c == 'F':
		switch s {
		case "false", "False", "FALSE":
			return false
		}
	}
	return s
}

var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// number resolves a scalar that starts like a number: an integer, a float
// or a string. Timestamps, infinities, NaN and binary or octal prefixes
// are rare and left to the parser.
func number(s string) any {
	if v, ok := simpleInt(s); ok {
		return v
	}
	if timestampLike(s) || strings.Contains(s, "inf") || strings.Contains(s, "Inf") || strings.Contains(s, "INF") ||
		strings.Contains(s, "nan") || strings.Contains(s, "NaN") || strings.Contains(s, "NAN") ||
		strings.Contains(s, "0b") || strings.Contains(s, "0o") {
		return slowScalar(s)
	}
	if s[0] == '.' {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return s
	}
	plain := s
	if strings.IndexByte(s, '_') >= 0 {
		plain = strings.ReplaceAll(s, "_", "")
	}
	if intChars(plain) {
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return i
		}
		if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return slowScalar(s)
		}
	}
	if floatChars(plain) && yamlFloat.MatchString(plain) {
		if f, err := strconv.ParseFloat(plain, 64); err == nil {
			return f
		}
	}
	return s
}

// intChars reports whether s could be an integer in some base (ParseInt
// with base 0 fails on anything else, allocating an error to say so).
func intChars(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == 'x', c == 'X', c == 'o', c == 'O', c == '+', c == '-':
		default:
			return false
		}
	}
	return true
}

// timestampLike reports the shape the parser tries as a timestamp.
func timestampLike(s string) bool {
	return len(s) > 4 && s[4] == '-' && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
		s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9'
}

func floatChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// simpleInt parses a decimal integer without sign, leading zero or
// separator, which is what nearly every number of a manifest looks like.
func simpleInt(s string) (int64, bool) {
	if len(s) > 18 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

var (
	slowMu    sync.RWMutex
	slowCache = map[string]any{}
)

// slowScalar resolves a plain scalar with the YAML parser, caching the
// result (up to a bound: arbitrary inputs must not grow it without end).
func slowScalar(s string) any {
	slowMu.RLock()
	v, ok := slowCache[s]
	slowMu.RUnlock()
	if !ok {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(s), &root); err != nil || len(root.Content) != 1 ||
			root.Content[0].Kind != yaml.ScalarNode || root.Content[0].Value != s || root.Content[0].Tag == "!!merge" {
			panic(giveUp{})
		}
		key := strings.Clone(s)
		v = scalar(root.Content[0])
		if _, isStr := v.(string); isStr {
			v = key // the cache must not keep documents alive
		}
		slowMu.Lock()
		if len(slowCache) < 4096 {
			slowCache[key] = v
		}
		slowMu.Unlock()
	}
	if _, isStr := v.(string); isStr {
		return s
	}
	return v
}

// fastLocator finds positions in the nodes the fast decoder recorded.
type fastLocator struct {
	file    string
	lineOff int32
	raw     []byte
	nodes   []fastNode // of the whole document
	root    int32      // the object's node: 0, or an item of a List
	prefix  string     // the object's path in the document
}

func (l *fastLocator) Locate(path string) Position {
	best := l.root
	eachElem(path, func(e PathElem) bool {
		n := l.nodes[best]
		next := int32(-1)
		switch {
		case e.IsIdx && n.kind == valSeq && e.Index >= 0:
			next = n.child
			for i := 0; next >= 0 && i < e.Index; i++ {
				next = l.nodes[next].next
			}
		case !e.IsIdx && n.kind == valMap:
			for c := n.child; c >= 0; c = l.nodes[c].next {
				if k := l.nodes[c]; unsafe.String(unsafe.SliceData(l.raw[k.k0:]), int(k.k1-k.k0)) == e.Key {
					next = c // the last of duplicate keys, as decoded
				}
			}
		}
		if next < 0 {
			return false
		}
		best = next
		return true
	})
	n := l.nodes[best]
	return Position{File: l.file, Line: int(n.line + l.lineOff), Column: int(n.col)}
}

// small returns the locator with its nodes in an array of their own when
// the object is alone in its document and has at most max of them, else
// nil.
func (l *fastLocator) small(max int) Locator {
	if l.root != 0 || len(l.nodes) > max {
		return nil
	}
	c := *l
	c.nodes = slices.Clone(l.nodes) // the parser sized the array for the document
	return &c
}

// Compact keeps the positions of anchors; others are found again by the
// YAML parser, which places them where this locator does.
func (l *fastLocator) Compact(anchors []string) Locator {
	c := &nodeLocator{file: l.file, lineOff: int(l.lineOff), raw: l.raw, prefix: l.prefix,
		anchors: anchors, at: make([]int32, 2*len(anchors))}
	for i, a := range anchors {
		p := l.Locate(a)
		c.at[2*i], c.at[2*i+1] = int32(p.Line), int32(p.Column)
	}
	return c
}
