package userpolicy

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// SuiteKind is the kind of a policy test file (apiVersion
// kubeguard.io/v1).
const SuiteKind = "PolicyTest"

// Suite is a policy test file: policies, and cases of objects with the
// controls each must, or must not, break.
type Suite struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		// Policies are files or directories of ValidatingAdmissionPolicies,
		// bindings and parameters, relative to the suite.
		Policies []string `yaml:"policies"`
		Cases    []Case   `yaml:"cases"`
	} `yaml:"spec"`
	// Path is the suite's file.
	Path string `yaml:"-"`
}

// Case is one expectation: the objects of a file (namespaces and
// parameters included), the object it is about, and the controls (IDs
// or globs) among which exactly Expect fail.
type Case struct {
	Name   string `yaml:"name"`
	Object string `yaml:"object"`
	Select struct {
		Kind      string `yaml:"kind"`
		Namespace string `yaml:"namespace"`
		Name      string `yaml:"name"`
	} `yaml:"select"`
	Controls []string `yaml:"controls"`
	Expect   []string `yaml:"expect"`
	Line     int      `yaml:"-"`
}

// LoadSuite reads a suite, refusing unknown fields, a wrong kind, and a
// case without an object or expectation.
func LoadSuite(file string) (*Suite, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	s := &Suite{Path: file}
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if s.APIVersion != "kubeguard.io/v1" || s.Kind != SuiteKind {
		return nil, fmt.Errorf("%s: not a policy test (want apiVersion kubeguard.io/v1, kind %s)", file, SuiteKind)
	}
	lines := caseLines(&root)
	for i := range s.Spec.Cases {
		c := &s.Spec.Cases[i]
		if i < len(lines) {
			c.Line = lines[i]
		}
		if c.Object == "" || c.Expect == nil {
			return nil, fmt.Errorf("%s:%d: case %q needs an object file and an expect list (empty: nothing fails)", file, c.Line, c.Name)
		}
	}
	return s, nil
}

// caseLines finds the line of each case in spec.cases.
func caseLines(root *yaml.Node) []int {
	var out []int
	n := root
	for _, key := range []string{"", "spec", "cases"} {
		if key == "" {
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
			continue
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	for _, c := range n.Content {
		out = append(out, c.Line)
	}
	return out
}

// Resolve returns a path of the suite relative to the suite's file.
func (s *Suite) Resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(s.Path), p)
}

// Outcome is a case's result: the controls that failed on the selected
// object among those the case judges, and whether that is what it
// expected.
type Outcome struct {
	Case   *Case
	Got    []string
	Passed bool
	// Problem says why the case could not be judged (no such object).
	Problem string
}

// Judge compares a case with the findings of a scan of its object file:
// the selected object's unsuppressed findings among the case's controls
// (default: the suite's policies, policyIDs).
func (c *Case) Judge(findings []*finding.Finding, objects []object.Ref, policyIDs []string) Outcome {
	patterns := c.Controls
	if len(patterns) == 0 {
		patterns = policyIDs
	}
	matches := func(r object.Ref) bool {
		return (c.Select.Kind == "" || r.Kind == c.Select.Kind) && (c.Select.Name == "" || r.Name == c.Select.Name) &&
			(c.Select.Namespace == "" || r.Namespace == c.Select.Namespace)
	}
	if !slices.ContainsFunc(objects, matches) {
		return Outcome{Case: c, Problem: fmt.Sprintf("no object of %s matches the case's select", c.Object)}
	}
	got := []string{}
	for _, f := range findings {
		if f.Suppressed != nil || !matches(f.Object) {
			continue
		}
		for _, id := range []string{f.ControlID} {
			if slices.ContainsFunc(patterns, func(p string) bool { ok, _ := path.Match(p, id); return ok }) && !slices.Contains(got, id) {
				got = append(got, id)
			}
		}
	}
	slices.Sort(got)
	want := slices.Clone(c.Expect)
	slices.Sort(want)
	return Outcome{Case: c, Got: got, Passed: strings.Join(got, ",") == strings.Join(want, ",")}
}
