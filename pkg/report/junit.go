package report

import (
	"encoding/xml"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// JUnit writes one test suite per control with findings (a failing test
// case per finding, a skipped one per suppressed finding) and one suite
// for input errors, so CI systems show each violation as a failed test.
//
// The document is written as it goes, in the layout encoding/xml gives
// with two-space indentation (a test holds the two to the same bytes):
// large scans have hundreds of thousands of test cases, and building them
// as values for the reflective encoder took longer than the scan.
func JUnit(w io.Writer, r *Report) error {
	type suite struct {
		id                string
		failures, skipped int
		items             []int
	}
	listed := r.Listed()
	var suites []*suite
	byID := map[string]*suite{}
	inChecklist := r.inChecklist()
	for i, f := range listed {
		if inChecklist(f.Finding) { // a checklist's cases have them
			continue
		}
		s, ok := byID[f.ControlID]
		if !ok {
			s = &suite{id: f.ControlID}
			byID[f.ControlID] = s
			suites = append(suites, s)
		}
		if f.Suppressed != nil {
			s.skipped++
		} else {
			s.failures++
		}
		s.items = append(s.items, i)
	}
	var errs []object.Diagnostic
	for _, d := range r.Diagnostics {
		if d.Severity == object.SeverityError {
			errs = append(errs, d)
		}
	}
	failures := 0
	for _, s := range suites {
		failures += s.failures
	}
	passed := r.Passed()
	cases, checkFailures := 0, 0
	for _, c := range r.Checklists {
		passed = slices.DeleteFunc(passed, func(p Checked) bool { return p.Ref == c.Target })
		for _, sec := range c.Sections {
			for _, it := range sec.Results {
				cases++
				if it.failing() {
					checkFailures++
				}
			}
		}
	}
	failures += checkFailures
	tests := cases
	for _, s := range suites {
		tests += len(s.items)
	}

	b := make([]byte, 0, 64<<10)
	var werr error
	flush := func() {
		if werr == nil {
			_, werr = w.Write(b)
		}
		b = b[:0]
	}
	b = append(b, xml.Header...)
	b = append(b, `<testsuites`...)
	b = appendAttr(b, "name", r.Tool)
	b = appendAttrInt(b, "tests", tests+len(passed)+len(errs))
	b = appendAttrInt(b, "failures", failures)
	b = appendAttrInt(b, "errors", len(errs))
	b = append(b, '>')
	if len(suites) == 0 && len(passed) == 0 && len(errs) == 0 && cases == 0 {
		b = append(b, "</testsuites>\n"...)
		flush()
		return werr
	}
	for _, s := range suites {
		name, ctl := s.id, r.control(s.id)
		if ctl != nil {
			name = s.id + ": " + ctl.Title
		}
		b = appendSuiteStart(b, name, len(s.items), s.failures, 0, s.skipped)
		for _, i := range s.items {
			f := listed[i]
			b = append(b, "\n    <testcase name=\""...)
			b = appendXML(b, f.Object.Kind)
			b = append(b, '/')
			if f.Object.Namespace != "" {
				b = appendXML(b, f.Object.Namespace)
				b = append(b, '/')
			}
			b = appendXML(b, f.Object.Name)
			b = append(b, ' ')
			b = appendXML(b, f.Path)
			b = appendCaseAttrs(b, f.ControlID)
			if f.Suppressed != nil {
				b = append(b, "\n      <skipped>suppressed ("...)
				b = appendXML(b, f.Suppressed.Kind)
				b = append(b, "): "...)
				b = appendXML(b, f.Suppressed.Reason)
				b = append(b, "</skipped>"...)
			} else {
				b = append(b, "\n      <failure"...)
				b = appendAttr(b, "message", f.Message)
				b = appendAttr(b, "type", f.Severity.String())
				b = append(b, '>')
				b = appendPosition(b, f.Position)
				b = append(b, "&#xA;"...)
				b = appendXML(b, f.Message)
				b = append(b, "&#xA;"...)
				if f.Origin != "" {
					b = append(b, "rendered by "...)
					b = appendXML(b, f.Origin)
					b = append(b, "&#xA;"...)
				}
				if ctl != nil {
					b = append(b, "Remediation: "...)
					b = appendXML(b, ctl.Remediation)
					b = append(b, "&#xA;"...)
				}
				b = append(b, "</failure>"...)
			}
			b = append(b, "\n    </testcase>"...)
			if len(b) > 48<<10 {
				flush()
			}
		}
		b = append(b, "\n  </testsuite>"...)
	}
	b = appendChecklistSuites(b, r)
	if len(passed) > 0 {
		// a passing case per object without findings: a clean run is
		// a count of what passed, not an empty report
		b = appendSuiteStart(b, "objects without findings", len(passed), 0, 0, 0)
		for _, c := range passed {
			b = append(b, "\n    <testcase name=\""...)
			b = appendXML(b, c.Ref.String())
			b = appendCaseAttrs(b, "passed")
			b = append(b, "</testcase>"...)
			if len(b) > 48<<10 {
				flush()
			}
		}
		b = append(b, "\n  </testsuite>"...)
	}
	if len(errs) > 0 {
		b = appendSuiteStart(b, "input", len(errs), 0, len(errs), 0)
		for _, d := range errs {
			b = append(b, "\n    <testcase name=\""...)
			b = appendPosition(b, d.Pos)
			b = appendCaseAttrs(b, "input")
			b = append(b, "\n      <error"...)
			b = appendAttr(b, "message", d.Message)
			b = append(b, ` type="input-error">`...)
			b = appendXML(b, d.String())
			b = append(b, "</error>\n    </testcase>"...)
		}
		b = append(b, "\n  </testsuite>"...)
	}
	b = append(b, "\n</testsuites>\n"...)
	flush()
	return werr
}

func appendSuiteStart(b []byte, name string, tests, failures, errors, skipped int) []byte {
	b = append(b, "\n  <testsuite"...)
	b = appendAttr(b, "name", name)
	b = appendAttrInt(b, "tests", tests)
	b = appendAttrInt(b, "failures", failures)
	b = appendAttrInt(b, "errors", errors)
	b = appendAttrInt(b, "skipped", skipped)
	return append(b, '>')
}

// appendCaseAttrs closes the name of a test case and writes the rest of
// its start tag. Positions are in the failure text: the Jenkins schema
// most CI systems follow has no file or line attribute.
func appendCaseAttrs(b []byte, classname string) []byte {
	b = append(b, '"')
	b = appendAttr(b, "classname", classname)
	return append(b, '>')
}

// appendPosition writes what pos.String() returns, escaped.
func appendPosition(b []byte, pos object.Position) []byte {
	if pos.File == "" {
		return b
	}
	b = appendXML(b, pos.File)
	if pos.Line != 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(pos.Line), 10)
		if pos.Column != 0 {
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(pos.Column), 10)
		}
	}
	return b
}

func appendAttr(b []byte, name, v string) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, `="`...)
	b = appendXML(b, v)
	return append(b, '"')
}

func appendAttrInt(b []byte, name string, v int) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, `="`...)
	b = strconv.AppendInt(b, int64(v), 10)
	return append(b, '"')
}

// appendXML escapes s for an attribute value or character data exactly as
// encoding/xml does: markup characters and whitespace other than spaces
// as character references, and what XML cannot hold as U+FFFD.
func appendXML(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf && c >= 0x20 && !xmlMarkup[c] {
			i++ // the common case: printable ASCII that is not markup
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if !xmlChar(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
				break
			}
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, esc...)
		last = i
	}
	return append(b, s[last:]...)
}

var xmlMarkup = [utf8.RuneSelf]bool{'"': true, '\'': true, '&': true, '<': true, '>': true}

// xmlChar reports whether r may appear in an XML document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
