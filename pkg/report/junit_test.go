package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// The streaming JUnit writer produces exactly what encoding/xml does for
// the same document built as values.
func TestJUnitMatchesEncodingXML(t *testing.T) {
	strs := []string{"", "plain", `quote " and ' apostrophe`, "<tag> & amp", "tab\tnew\nline\rcr\x01\x1f",
		"ünïcödé ✓", "bad \xff utf8 \xc3", "replacement \uFFFD char", "emoji 🚀", "nul \x00 del \x7f", "\uFFFE\uFFFF"}
	cat := control.NewCatalog(
		&control.Control{ID: "A-ONE", Title: "First <one>", Severity: finding.High, Remediation: "Fix & \"test\"\nagain", Check: func(*control.Pass) {}},
		&control.Control{ID: "B-TWO", Title: "Second", Severity: finding.Low, Check: func(*control.Pass) {}},
	)
	var fs []*finding.Finding
	for i, s := range strs {
		for j, pos := range []object.Position{{}, {File: s}, {File: "a.yaml", Line: 3}, {File: s, Line: 3, Column: 7}} {
			f := &finding.Finding{ControlID: []string{"A-ONE", "B-TWO", "C-UNKNOWN"}[(i+j)%3],
				Severity: finding.Severity(1 + (i+j)%5), Position: pos, Path: s, Message: strs[(i+j)%len(strs)],
				Object:    object.Ref{APIVersion: "v1", Kind: s, Namespace: strs[(i+1)%len(strs)], Name: s},
				Container: s, Origin: strs[(i+2*j)%len(strs)]}
			if (i+j)%4 == 0 {
				f.Suppressed = &finding.Suppression{Kind: "annotation", Reason: s}
			}
			fs = append(fs, f)
		}
	}
	var diags []object.Diagnostic
	for i, s := range strs {
		diags = append(diags, object.Diagnostic{Pos: object.Position{File: s, Line: i, Column: i % 2},
			Severity: []object.DiagSeverity{object.SeverityError, object.SeverityWarning}[i%2], Message: s})
	}
	var checked []Checked
	for i, s := range strs {
		checked = append(checked, Checked{Ref: object.Ref{APIVersion: "v1", Kind: "Pod", Namespace: s, Name: "p" + s}, Source: object.Position{File: s, Line: i}})
	}
	checked = append(checked, Checked{Ref: fs[1].Object}) // has findings: not a passing case
	cases := map[string]*Report{
		"findings and errors": {Tool: "kube<guard>", Catalog: cat, Findings: fs, Diagnostics: diags, ShowSuppressed: true, Checked: checked},
		"clean":               {Tool: "kubeguard", Catalog: cat, Checked: checked},
		"unsuppressed only":   {Tool: "kubeguard", Catalog: cat, Findings: fs},
		"errors only":         {Tool: "kubeguard", Catalog: cat, Diagnostics: diags},
		"nothing":             {Tool: "kubeguard", Catalog: cat},
		"no catalog":          {Tool: "kubeguard", Findings: fs},
	}
	for name, r := range cases {
		var got, want bytes.Buffer
		if err := JUnit(&got, r); err != nil {
			t.Fatal(err)
		}
		if err := junitReference(&want, r); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
			for i := range min(len(g), len(w)) {
				if g[i] != w[i] {
					t.Fatalf("%s: line %d differs:\ngot  %s\nwant %s", name, i+1, g[i], w[i])
				}
			}
			t.Fatalf("%s: %d lines, want %d", name, len(g), len(w))
		}
		if err := xml.Unmarshal(got.Bytes(), new(junitSuites)); err != nil {
			t.Errorf("%s: output is not well-formed: %v", name, err)
		}
	}
}

// junitReference is the document as encoding/xml writes it from values.
func junitReference(w io.Writer, r *Report) error {
	out := junitSuites{Name: r.Tool}
	suites := map[string]*junitSuite{}
	var order []string
	for _, f := range r.Listed() {
		s, ok := suites[f.ControlID]
		if !ok {
			s = &junitSuite{Name: f.ControlID}
			if c := r.control(f.ControlID); c != nil {
				s.Name = f.ControlID + ": " + c.Title
			}
			suites[f.ControlID] = s
			order = append(order, f.ControlID)
		}
		tc := junitCase{Name: fmt.Sprintf("%s %s", f.Object, f.Path), Classname: f.ControlID}
		text := fmt.Sprintf("%s\n%s\n", f.Position, f.Message)
		if f.Origin != "" {
			text += "rendered by " + f.Origin + "\n"
		}
		if c := r.control(f.ControlID); c != nil {
			text += "Remediation: " + c.Remediation + "\n"
		}
		if f.Suppressed != nil {
			text := "suppressed (" + f.Suppressed.Kind + "): " + f.Suppressed.Reason
			tc.Skipped = &text
			s.Skipped++
		} else {
			tc.Failure = &junitMessage{Message: f.Message, Type: f.Severity.String(), Text: text}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	for _, id := range order {
		s := suites[id]
		out.Suites = append(out.Suites, *s)
		out.Tests += s.Tests
		out.Failures += s.Failures
	}
	if passed := r.Passed(); len(passed) > 0 {
		s := junitSuite{Name: "objects without findings", Tests: len(passed)}
		for _, c := range passed {
			s.Cases = append(s.Cases, junitCase{Name: c.Ref.String(), Classname: "passed"})
		}
		out.Suites = append(out.Suites, s)
		out.Tests += len(passed)
	}
	var errs []junitCase
	for _, d := range r.Diagnostics {
		if d.Severity != object.SeverityError {
			continue
		}
		errs = append(errs, junitCase{Name: d.Pos.String(), Classname: "input",
			Error: &junitMessage{Message: d.Message, Type: "input-error", Text: d.String()}})
	}
	if len(errs) > 0 {
		out.Suites = append(out.Suites, junitSuite{Name: "input", Tests: len(errs), Errors: len(errs), Cases: errs})
		out.Tests += len(errs)
		out.Errors += len(errs)
	}
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *string       `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}
