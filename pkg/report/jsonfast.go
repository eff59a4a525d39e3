package report

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/kubeguard/kubeguard/pkg/control"
)

// appendFinding writes jf exactly as json.MarshalIndent(jf, "    ", "  ")
// would, without reflection or a second indentation pass: large scans
// write hundreds of thousands of findings. A test holds the two to the
// same bytes.
func appendFinding(b []byte, jf *jsonFinding, c *controlJSON) []byte {
	const f = "\n      " // field indentation inside a finding
	b = append(b, "{"+f+`"controlID": `...)
	b = appendString(b, jf.ControlID)
	b = append(b, ","+f+`"title": `...)
	b = append(b, c.title...)
	b = append(b, ","+f+`"severity": `...)
	b = appendString(b, jf.Severity.String())
	b = append(b, ","+f+`"category": `...)
	b = append(b, c.category...)
	b = append(b, ","+f+`"object": {`...)
	b = appendRef(b, f+"  ", jf.Object.APIVersion, jf.Object.Kind, jf.Object.Namespace, jf.Object.Name)
	if jf.Object.UID != "" {
		b = append(b, ","+f+`  "uid": `...)
		b = appendString(b, jf.Object.UID)
	}
	b = append(b, f+"}"...)
	if jf.Container != "" {
		b = append(b, ","+f+`"container": `...)
		b = appendString(b, jf.Container)
	}
	b = append(b, ","+f+`"path": `...)
	b = appendString(b, jf.Path)
	b = append(b, ","+f+`"position": `...)
	p := jf.Position
	if p.File == "" && p.Line == 0 && p.Column == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, '{')
		sep := f + "  "
		if p.File != "" {
			b = append(b, sep+`"file": `...)
			b = appendString(b, p.File)
			sep = "," + f + "  "
		}
		if p.Line != 0 {
			b = append(b, sep+`"line": `...)
			b = strconv.AppendInt(b, int64(p.Line), 10)
			sep = "," + f + "  "
		}
		if p.Column != 0 {
			b = append(b, sep+`"column": `...)
			b = strconv.AppendInt(b, int64(p.Column), 10)
		}
		b = append(b, f+"}"...)
	}
	if jf.Origin != "" {
		b = append(b, ","+f+`"origin": `...)
		b = appendString(b, jf.Origin)
	}
	b = append(b, ","+f+`"message": `...)
	b = appendString(b, jf.Message)
	b = append(b, ","+f+`"remediation": `...)
	b = append(b, c.remediation...)
	b = append(b, ","+f+`"frameworks": `...)
	b = append(b, c.frameworks...)
	if s := jf.Suppressed; s != nil {
		b = append(b, ","+f+`"suppressed": {`+f+`  "kind": `...)
		b = appendString(b, s.Kind)
		b = append(b, ","+f+`  "reason": `...)
		b = appendString(b, s.Reason)
		if s.Expires != "" {
			b = append(b, ","+f+`  "expires": `...)
			b = appendString(b, s.Expires)
		}
		b = append(b, f+"}"...)
	}
	b = append(b, ","+f+`"controls": [`...)
	for i, id := range jf.Controls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f+"  "...)
		b = appendString(b, id)
	}
	if len(jf.Controls) > 0 {
		b = append(b, f...)
	}
	b = append(b, ']')
	b = append(b, ","+f+`"fingerprint": `...)
	b = appendString(b, jf.Fingerprint)
	if jf.BaselineState != "" {
		b = append(b, ","+f+`"baselineState": `...)
		b = appendString(b, jf.BaselineState)
	}
	// rare fields: encoding/json writes them at their depth
	for _, x := range []struct {
		name string
		v    any
		set  bool
	}{{"also", jf.Also, len(jf.Also) > 0}, {"renders", jf.Renders, len(jf.Renders) > 0}, {"expiredSuppression", jf.Expired, jf.Expired != nil},
		{"vulnerability", jf.Vuln, jf.Vuln != nil}, {"activity", jf.Activity, jf.Activity != nil}} {
		if !x.set {
			continue
		}
		data, _ := json.MarshalIndent(x.v, "      ", "  ")
		b = append(b, ","+f+`"`+x.name+`": `...)
		b = append(b, data...)
	}
	return append(b, "\n    }"...)
}

// controlJSON is what a control contributes to each of its findings,
// quoted once per control: remediation texts are long, and a large report
// repeats them hundreds of thousands of times.
type controlJSON struct{ title, category, remediation, frameworks []byte }

func newControlJSON(jf *jsonFinding) *controlJSON {
	return &controlJSON{appendString(nil, jf.Title), appendString(nil, jf.Category),
		appendString(nil, jf.Remediation), appendFrameworks(nil, jf.Frameworks)}
}

// appendFrameworks writes a control's references as they appear inside a
// finding.
func appendFrameworks(b []byte, refs []control.Ref) []byte {
	if len(refs) == 0 {
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n        {\n          \"framework\": "...)
		b = appendString(b, string(r.Framework))
		b = append(b, ",\n          \"id\": "...)
		b = appendString(b, r.ID)
		b = append(b, "\n        }"...)
	}
	return append(b, "\n      ]"...)
}

const hex = "0123456789abcdef"

// appendRef writes the fields of an object reference, each on a line
// starting with in (a line break and the indentation): apiVersion, kind,
// namespace when set, and name.
func appendRef(b []byte, in, apiVersion, kind, namespace, name string) []byte {
	b = append(b, in...)
	b = append(b, `"apiVersion": `...)
	b = appendString(b, apiVersion)
	b = append(b, ',')
	b = append(b, in...)
	b = append(b, `"kind": `...)
	b = appendString(b, kind)
	if namespace != "" {
		b = append(b, ',')
		b = append(b, in...)
		b = append(b, `"namespace": `...)
		b = appendString(b, namespace)
	}
	b = append(b, ',')
	b = append(b, in...)
	b = append(b, `"name": `...)
	return appendString(b, name)
}

// appendString quotes s as encoding/json does: <, > and & escaped for
// HTML, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
