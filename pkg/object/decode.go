package object

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"
)

// Limits bound what one document may cost, so that hostile input (alias
// bombs, huge or absurdly deep documents) is refused instead of exhausting
// memory.
type Limits struct {
	// MaxDocumentBytes is the largest document accepted. Kubernetes itself
	// stores at most 1.5 MiB per object; the default leaves room for big
	// CRDs and List documents.
	MaxDocumentBytes int
	// MaxDepth is the deepest nesting of maps and lists accepted.
	MaxDepth int
}

// DefaultLimits are used when a Limits field is zero.
var DefaultLimits = Limits{MaxDocumentBytes: 32 << 20, MaxDepth: 200}

func (l Limits) withDefaults() Limits {
	if l.MaxDocumentBytes <= 0 {
		l.MaxDocumentBytes = DefaultLimits.MaxDocumentBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	return l
}

// Document is one YAML or JSON document of an input.
type Document struct {
	File string
	// Line is the line of File on which the document starts (1-based).
	Line int
	Data []byte
	// Origin names what produced the document when it is not the file
	// itself (a chart, a kustomization); objects inherit it.
	Origin string
}

// Decode parses a document into objects. A document holding a List yields
// its items. Empty documents yield nothing. Problems are returned as
// diagnostics; a document with an error yields no objects. The objects
// share doc.Data, which must not change afterwards.
func Decode(doc Document, lim Limits) ([]*Object, []Diagnostic) {
	if directivesOnly(doc.Data) {
		return nil, nil
	}
	if objs, diags, ok := fastDecode(doc, lim); ok {
		return objs, diags
	}
	return decodeYAML(doc, lim)
}

// directivesOnly reports whether data holds YAML directives (%YAML 1.2,
// %TAG) and nothing but comments and blank lines besides: what precedes a
// document's "---", which splitting leaves on its own. yaml.v3 refuses
// "%YAML 1.2" (it knows only 1.1); the directives change nothing
// kubeguard reads, so such a part is no document rather than an error.
func directivesOnly(data []byte) bool {
	directive := false
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimPrefix(line, []byte("\ufeff"))
		switch t := bytes.TrimSpace(line); {
		case len(t) == 0 || t[0] == '#':
		case line[0] == '%':
			directive = true
		default:
			return false
		}
	}
	return directive
}

// decodeYAML decodes doc with the YAML parser, the reference for every
// document.
func decodeYAML(doc Document, lim Limits) ([]*Object, []Diagnostic) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc.Data, &root); err != nil {
		// JSON the fast decoder leaves to the parser (indented with
		// tabs, say) may hold escapes the parser refuses: written as
		// YAML escapes, it reads. Lines stay; columns after such an
		// escape on its line move by up to two.
		if data, ok := yamlEscapes(doc.Data); ok {
			var again yaml.Node
			if yaml.Unmarshal(data, &again) == nil {
				doc.Data = data
				return decodeRoot(doc, &again, lim)
			}
		}
		if i := invalidUTF8(doc.Data); i >= 0 {
			return repairedUTF8(doc, lim, i)
		}
		return nil, []Diagnostic{syntaxError(doc, err)}
	}
	return decodeRoot(doc, &root, lim)
}

// invalidUTF8 returns the offset of the first byte of data that is not
// UTF-8, or -1.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// repairedUTF8 reports the first byte that is not UTF-8 at its line and
// column, and decodes the document with every such byte replaced by "?"
// (one byte for one, so positions stay), so that the rest is analysed.
func repairedUTF8(doc Document, lim Limits, first int) ([]*Object, []Diagnostic) {
	line := doc.Line + bytes.Count(doc.Data[:first], []byte("\n"))
	col := first + 1
	if nl := bytes.LastIndexByte(doc.Data[:first], '\n'); nl >= 0 {
		col = first - nl
	}
	diag := Diagnostic{Pos: Position{File: doc.File, Line: line, Column: col}, Severity: SeverityError,
		Message: fmt.Sprintf("invalid UTF-8: byte 0x%02x (the file must be UTF-8; analysed with such bytes read as \"?\")", doc.Data[first])}
	data := make([]byte, len(doc.Data))
	copy(data, doc.Data)
	for i := first; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			data[i] = '?'
		}
		i += n
	}
	doc.Data = data
	objs, diags := Decode(doc, lim)
	return objs, append([]Diagnostic{diag}, diags...)
}

// yamlEscapes rewrites, in the double-quoted strings of a JSON document,
// the escapes YAML parsers refuse: \/ becomes /, a pair of escaped
// surrogates one \U escape, a lone surrogate U+FFFD (as encoding/json
// reads them). It reports whether data is JSON and anything changed.
func yamlEscapes(data []byte) ([]byte, bool) {
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) == 0 || t[0] != '{' && t[0] != '[' {
		return nil, false
	}
	var out []byte
	changed := false
	var quote byte // the quote of the string being read, 0 outside
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case quote == 0:
			if c == '"' || c == '\'' {
				quote = c
			}
		case c == quote:
			quote = 0
		case c == '\\' && quote == '"' && i+1 < len(data):
			switch n := data[i+1]; {
			case n == '/':
				out, changed = append(out, '/'), true
				i++
				continue
			case n == 'u':
				c, w, ok := jsonSurrogates(data[i:])
				if !ok {
					break
				}
				if c == utf8.RuneError {
					out = append(out, `\uFFFD`...)
				} else {
					out = fmt.Appendf(out, "\\U%08X", c)
				}
				i += w - 1
				changed = true
				continue
			}
			out = append(out, c, data[i+1]) // the escaped character stays
			i++
			continue
		}
		out = append(out, c)
	}
	return out, changed
}

// DecodeBatch decodes every document of b.
func DecodeBatch(b Batch, lim Limits) ([]*Object, []Diagnostic) {
	objs := b.Objects
	var diags []Diagnostic
	for _, d := range b.Docs {
		o, ds := Decode(d, lim)
		objs, diags = append(objs, o...), append(diags, ds...)
	}
	return objs, diags
}

// decodeRoot converts the parse tree of doc.
func decodeRoot(doc Document, root *yaml.Node, lim Limits) ([]*Object, []Diagnostic) {
	lim = lim.withDefaults()
	if len(root.Content) == 0 {
		return nil, nil // empty document or comments only
	}
	top := root.Content[0]
	d := &decoder{doc: doc, lim: lim, budget: len(doc.Data) + 1024}
	pos := d.pos(top)
	if top.Kind != yaml.MappingNode {
		if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
			return nil, nil
		}
		return nil, []Diagnostic{{Pos: pos, Severity: SeverityWarning,
			Message: "not a Kubernetes object: the document is a " + kindName(top) + ", not a mapping"}}
	}
	v, err := d.value(top, 0)
	if err != nil {
		return nil, append(d.diags, Diagnostic{Pos: d.errPos, Severity: SeverityError, Message: err.Error()})
	}
	content := v.(map[string]any)
	locator := func(n *yaml.Node, prefix string) *nodeLocator {
		return &nodeLocator{file: doc.File, lineOff: doc.Line - 1, node: n, raw: doc.Data, prefix: prefix}
	}
	if items, ok := content["items"].([]any); ok && isList(content) {
		itemsNode := mapValue(top, "items")
		objs := make([]*Object, 0, len(items))
		for i, it := range items {
			n := itemsNode.Content[i]
			m, ok := it.(map[string]any)
			if !ok {
				d.diags = append(d.diags, Diagnostic{Pos: d.pos(n), Severity: SeverityWarning,
					Message: fmt.Sprintf("not a Kubernetes object: items[%d] is a %s, not a mapping", i, kindName(n))})
				continue
			}
			typedItem(content, m)
			if o := d.object(m, n, locator(resolve(n), Index("items", i))); o != nil {
				objs = append(objs, o)
			}
		}
		return objs, d.diags
	}
	if o := d.object(content, top, locator(top, "")); o != nil {
		return []*Object{o}, d.diags
	}
	return nil, d.diags
}

// typedItem gives an item of a typed list (PodList, what GET /api/v1/pods
// returns) the kind and API version the API server leaves out of items:
// the list's kind without "List", and the list's API version.
func typedItem(list, item map[string]any) {
	kind, _ := list["kind"].(string)
	if kind == "List" {
		return
	}
	if k, _ := item["kind"].(string); k == "" {
		item["kind"] = strings.TrimSuffix(kind, "List")
	}
	if v, _ := item["apiVersion"].(string); v == "" {
		if lv, _ := list["apiVersion"].(string); lv != "" {
			item["apiVersion"] = lv
		}
	}
}

// isList reports whether content is a v1 List or a typed list (PodList...).
func isList(content map[string]any) bool {
	kind, _ := content["kind"].(string)
	return kind == "List" || strings.HasSuffix(kind, "List")
}

func (d *decoder) object(content map[string]any, n *yaml.Node, loc *nodeLocator) *Object {
	var missing []string
	if s, _ := content["apiVersion"].(string); s == "" {
		missing = append(missing, "apiVersion")
	}
	if s, _ := content["kind"].(string); s == "" {
		missing = append(missing, "kind")
	}
	if len(missing) > 0 {
		d.diags = append(d.diags, Diagnostic{Pos: d.pos(n), Severity: SeverityWarning,
			Message: "not a Kubernetes object: missing " + strings.Join(missing, " and ")})
		return nil
	}
	o := New(content, d.pos(n), loc)
	o.Origin = d.doc.Origin
	return o
}

type decoder struct {
	doc    Document
	lim    Limits
	budget int // nodes left to visit; aliases count every time they expand
	diags  []Diagnostic
	errPos Position
}

func (d *decoder) pos(n *yaml.Node) Position {
	return Position{File: d.doc.File, Line: n.Line + d.doc.Line - 1, Column: n.Column}
}

var errBudget = errors.New("document expands to too many values (alias bomb?); refused")

func (d *decoder) fail(n *yaml.Node, err error) error {
	if d.errPos.Line == 0 {
		d.errPos = d.pos(n)
	}
	return err
}

// value converts a YAML node into its JSON-compatible unstructured value.
func (d *decoder) value(n *yaml.Node, depth int) (any, error) {
	d.budget--
	if d.budget < 0 {
		return nil, d.fail(n, errBudget)
	}
	if depth > d.lim.MaxDepth {
		return nil, d.fail(n, fmt.Errorf("document nests deeper than %d levels; refused", d.lim.MaxDepth))
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, d.fail(n, errors.New("unknown alias"))
		}
		return d.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		return scalar(n), nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := d.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				merges = append(merges, n.Content[i+1])
				continue
			}
			key := k.Value
			if k.Kind != yaml.ScalarNode {
				return nil, d.fail(k, fmt.Errorf("a %s cannot be a mapping key", kindName(k)))
			}
			v, err := d.value(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := out[key]; dup {
				d.diags = append(d.diags, duplicateKey(d.pos(k), key))
			}
			out[key] = v
		}
		// YAML 1.1 merge keys: explicit keys win over merged ones.
		for _, m := range merges {
			srcs := []*yaml.Node{resolve(m)}
			if srcs[0].Kind == yaml.SequenceNode {
				srcs = srcs[0].Content
			}
			for _, s := range srcs {
				v, err := d.value(s, depth+1)
				if err != nil {
					return nil, err
				}
				mm, ok := v.(map[string]any)
				if !ok {
					return nil, d.fail(s, errors.New("merge key (<<) needs a mapping"))
				}
				for k, v := range mm {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
			}
		}
		return out, nil
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.value(n.Content[0], depth)
	}
	return nil, d.fail(n, errors.New("unsupported YAML node"))
}

// duplicateKey warns of a key a mapping holds twice, at pos.
func duplicateKey(pos Position, key string) Diagnostic {
	return Diagnostic{Pos: pos, Severity: SeverityWarning, Message: fmt.Sprintf("duplicate key %q; the last value wins", key)}
}

// scalar resolves a scalar the way a YAML-to-JSON conversion does.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!str", "!!binary", "!!timestamp":
		return n.Value
	case "!!null":
		return nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err == nil {
			return b
		}
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	}
	return n.Value
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

// mapValue returns the value node of key in mapping n (last wins).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k.Value == key && k.Tag != "!!merge" {
			v = n.Content[i+1]
		}
	}
	return v
}

var v3LineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns a parser error into file:line:col. The YAML parser used
// for speed reports lines only; the position comes from a second parser that
// runs on this error path only.
func syntaxError(doc Document, err error) Diagnostic {
	msg := err.Error()
	line := 0
	if m := v3LineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	col := 0
	if _, gerr := goccyparser.ParseBytes(doc.Data, 0); gerr != nil {
		var se *goccy.SyntaxError
		// yaml.v3 reports some parser errors one line early; the second
		// parser's position is exact, so it wins when both reject the input.
		if errors.As(gerr, &se) && se.Token != nil && se.Token.Position != nil && se.Token.Position.Line > 0 {
			line, col = se.Token.Position.Line, se.Token.Position.Column
		}
	}
	if line == 0 {
		line = 1
	}
	if col == 0 {
		col = firstColumn(doc.Data, line)
	}
	return Diagnostic{
		Pos:      Position{File: doc.File, Line: line + doc.Line - 1, Column: col},
		Severity: SeverityError,
		Message:  "invalid YAML: " + msg,
	}
}

// firstColumn returns the column of the first non-blank character of line.
func firstColumn(data []byte, line int) int {
	l := 1
	for i := 0; i < len(data); i++ {
		if l == line {
			c := 1
			for j := i; j < len(data) && (data[j] == ' ' || data[j] == '\t'); j++ {
				c++
			}
			return c
		}
		if data[i] == '\n' {
			l++
		}
	}
	return 1
}
