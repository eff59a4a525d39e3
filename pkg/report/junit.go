package report

import (
	"encoding/xml"
	"fmt"
	"io"

	"github.com/kubeguard/kubeguard/pkg/object"
)

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
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes one test suite per control with findings (a failing test
// case per finding, a skipped one per suppressed finding) and one suite
// for input errors, so CI systems show each violation as a failed test.
func JUnit(w io.Writer, r *Report) error {
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
		tc := junitCase{Name: fmt.Sprintf("%s %s", f.Object, f.Path), Classname: f.ControlID, File: f.Position.File, Line: f.Position.Line}
		text := fmt.Sprintf("%s\n%s\n", f.Position, f.Message)
		if f.Origin != "" {
			text += "rendered by " + f.Origin + "\n"
		}
		if c := r.control(f.ControlID); c != nil {
			text += "Remediation: " + c.Remediation + "\n"
		}
		if f.Suppressed != nil {
			tc.Skipped = &junitMessage{Message: "suppressed: " + f.Suppressed.Reason, Type: f.Suppressed.Kind}
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
	var errs []junitCase
	for _, d := range r.Diagnostics {
		if d.Severity != object.SeverityError {
			continue
		}
		errs = append(errs, junitCase{Name: d.Pos.String(), Classname: "input", File: d.Pos.File, Line: d.Pos.Line,
			Error: &junitMessage{Message: d.Message, Type: "input-error", Text: d.String()}})
	}
	if len(errs) > 0 {
		out.Suites = append(out.Suites, junitSuite{Name: "input", Tests: len(errs), Errors: len(errs), Cases: errs})
		out.Tests += len(errs)
		out.Errors += len(errs)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
