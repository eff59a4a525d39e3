package userpolicy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"gopkg.in/yaml.v3"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// GatorSuite is a Gatekeeper test file (apiVersion
// test.gatekeeper.sh/v1alpha1, kind Suite), as gator verify reads it:
// tests of a template and a constraint, each with cases of an object,
// the objects it may see in data.inventory, and assertions on the
// violations.
type GatorSuite struct {
	Kind  string      `yaml:"kind"`
	Tests []GatorTest `yaml:"tests"`
	Skip  bool        `yaml:"skip"`
	Path  string      `yaml:"-"`
}

// GatorTest is a template, a constraint and its cases. Invalid says the
// constraint must be refused by the template's schema.
type GatorTest struct {
	Name       string      `yaml:"name"`
	Template   string      `yaml:"template"`
	Constraint string      `yaml:"constraint"`
	Expansion  string      `yaml:"expansion"`
	Invalid    bool        `yaml:"invalid"`
	Skip       bool        `yaml:"skip"`
	Cases      []GatorCase `yaml:"cases"`
}

// GatorCase is an object (or an AdmissionReview), its inventory and the
// assertions on its violations.
type GatorCase struct {
	Name       string      `yaml:"name"`
	Object     string      `yaml:"object"`
	Inventory  []string    `yaml:"inventory"`
	Assertions []Assertion `yaml:"assertions"`
	Skip       bool        `yaml:"skip"`
}

// Assertion counts the violations whose message matches Message (a
// regular expression; unset: all): exactly Violations if a number, at
// least one if "yes" (the default), none if "no".
type Assertion struct {
	Violations *intstr.IntOrString `yaml:"violations"`
	Message    *string             `yaml:"message"`
}

// IsGatorSuite says whether a file is a Gatekeeper Suite.
func IsGatorSuite(data []byte) bool {
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	return yaml.Unmarshal(data, &head) == nil && head.Kind == "Suite" && head.APIVersion == "test.gatekeeper.sh/v1alpha1"
}

// LoadGatorSuite reads a Suite, refusing fields it does not know.
func LoadGatorSuite(file string) (*GatorSuite, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var raw struct {
		GatorSuite `yaml:",inline"`
		APIVersion string         `yaml:"apiVersion"`
		Metadata   map[string]any `yaml:"metadata"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	s := raw.GatorSuite
	s.Path = file
	return &s, nil
}

// UnmarshalYAML reads an assertion's count as gator does: a number, or
// "yes" or "no".
func (a *Assertion) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Violations yaml.Node `yaml:"violations"`
		Message    *string   `yaml:"message"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	a.Message = raw.Message
	if v := &raw.Violations; v.Kind != 0 {
		var i int
		if v.Tag == "!!int" && v.Decode(&i) == nil {
			x := intstr.FromInt32(int32(i))
			a.Violations = &x
		} else {
			// YAML 1.1 reads an unquoted yes/no as a boolean
			s := v.Value
			switch s {
			case "true":
				s = "yes"
			case "false":
				s = "no"
			}
			x := intstr.FromString(s)
			a.Violations = &x
		}
	}
	return nil
}

// Check says whether the messages of an object's violations satisfy the
// assertion.
func (a *Assertion) Check(messages []string) error {
	var re *regexp.Regexp
	if a.Message != nil {
		var err error
		if re, err = regexp.Compile(*a.Message); err != nil {
			return fmt.Errorf("message %q is not a regular expression: %v", *a.Message, err)
		}
	}
	n := 0
	for _, m := range messages {
		if re == nil || re.MatchString(m) {
			n++
		}
	}
	what := "violations"
	if a.Message != nil {
		what = fmt.Sprintf("violations matching %q", *a.Message)
	}
	want := intstr.FromString("yes")
	if a.Violations != nil {
		want = *a.Violations
	}
	switch {
	case want.Type == intstr.Int && want.IntVal >= 0:
		if n != int(want.IntVal) {
			return fmt.Errorf("got %d %s, want %d; messages %q", n, what, want.IntVal, messages)
		}
	case want.Type == intstr.String && want.StrVal == "yes":
		if n == 0 {
			return fmt.Errorf("got no %s, want some; messages %q", what, messages)
		}
	case want.Type == intstr.String && want.StrVal == "no":
		if n > 0 {
			return fmt.Errorf("got %d %s, want none; messages %q", n, what, messages)
		}
	default:
		return fmt.Errorf(`violations must be a number, "yes" or "no", not %q`, want.String())
	}
	return nil
}

// GatorResult is the outcome of one case, or of a test that cannot run
// its cases (Case empty).
type GatorResult struct {
	Test, Case string
	Skipped    bool
	// Err is a failed assertion (Failed) or a problem reading or running
	// the test.
	Err    error
	Failed bool
}

// Evaluator judges one object with the given controls, against an
// inventory (the case's), as an admission request is judged: the
// engine's Admit.
type Evaluator func(ctls []*control.Control, o *object.Object, base *inventory.Inventory) ([]finding.Finding, []object.Diagnostic)

// Run runs every test of the suite through eval, with templates run by
// engines.
func (s *GatorSuite) Run(engines []string, eval Evaluator) []GatorResult {
	var out []GatorResult
	for _, t := range s.Tests {
		if s.Skip || t.Skip {
			out = append(out, GatorResult{Test: t.Name, Skipped: true})
			continue
		}
		out = append(out, s.runTest(&t, engines, eval)...)
	}
	return out
}

func (s *GatorSuite) resolve(p string) string { return filepath.Join(filepath.Dir(s.Path), p) }

func (s *GatorSuite) runTest(t *GatorTest, engines []string, eval Evaluator) []GatorResult {
	broken := func(err error) []GatorResult { return []GatorResult{{Test: t.Name, Err: err}} }
	if t.Template == "" || t.Constraint == "" {
		return broken(errors.New("a test needs a template and a constraint"))
	}
	if t.Expansion != "" {
		return broken(errors.New("expansion templates are not supported"))
	}
	objs, err := readObjects(s.resolve(t.Template), s.resolve(t.Constraint))
	if err != nil {
		return broken(err)
	}
	set, diags := LoadEngines(objs, engines)
	var loadErr error
	for _, d := range diags {
		if d.Severity == object.SeverityError {
			loadErr = errors.New(d.String())
			break
		}
	}
	if t.Invalid {
		if loadErr == nil {
			return []GatorResult{{Test: t.Name, Failed: true, Err: errors.New("the constraint was accepted; want it refused by the template's schema")}}
		}
		return []GatorResult{{Test: t.Name}}
	}
	if loadErr != nil {
		return broken(loadErr)
	}
	ctls := set.Controls()
	if len(ctls) != 1 {
		return broken(fmt.Errorf("want one constraint, read %d", len(ctls)))
	}
	var out []GatorResult
	for _, c := range t.Cases {
		r := GatorResult{Test: t.Name, Case: c.Name, Skipped: c.Skip}
		if !c.Skip {
			r.Failed, r.Err = s.runCase(&c, ctls, eval)
		}
		out = append(out, r)
	}
	return out
}

// runCase says whether an assertion failed (and how), or why the case
// could not be run.
func (s *GatorSuite) runCase(c *GatorCase, ctls []*control.Control, eval Evaluator) (bool, error) {
	if c.Object == "" || len(c.Assertions) == 0 {
		return false, errors.New("a case needs an object and at least one assertion")
	}
	objs, err := readObjects(s.resolve(c.Object))
	if err != nil {
		return false, err
	}
	if len(objs) != 1 {
		return false, fmt.Errorf("%s holds %d objects, want one", c.Object, len(objs))
	}
	o := objs[0]
	if o.Ref.Kind == "AdmissionReview" && o.Ref.Group() == admissionv1.GroupName {
		if o, err = fromAdmissionReview(o); err != nil {
			return false, err
		}
	}
	base := inventory.New()
	for _, p := range c.Inventory {
		inv, err := readObjects(s.resolve(p))
		if err != nil {
			return false, err
		}
		for _, io := range inv {
			base.Add(io, nil)
		}
	}
	fs, diags := eval(ctls, o, base)
	for _, d := range diags {
		if d.Severity == object.SeverityError {
			return false, errors.New(d.String())
		}
	}
	var messages []string
	for _, f := range fs {
		if f.ControlID == ctls[0].ID {
			messages = append(messages, f.Message)
		}
	}
	for i := range c.Assertions {
		if err := c.Assertions[i].Check(messages); err != nil {
			return true, err
		}
	}
	return false, nil
}

// fromAdmissionReview is the object of an AdmissionReview's request,
// with the request: its old object for a delete.
func fromAdmissionReview(o *object.Object) (*object.Object, error) {
	req, _ := o.Content["request"].(map[string]any)
	if req == nil {
		return nil, fmt.Errorf("%s: an AdmissionReview without a request", o.Source)
	}
	content, _ := req["object"].(map[string]any)
	old, _ := req["oldObject"].(map[string]any)
	if content == nil {
		content = old
	}
	if content == nil {
		return nil, fmt.Errorf("%s: the AdmissionReview's request has neither object nor oldObject", o.Source)
	}
	r := &object.Request{OldObject: old}
	r.Operation, _ = req["operation"].(string)
	r.SubResource, _ = req["subResource"].(string)
	if ui, ok := req["userInfo"].(map[string]any); ok {
		r.User, _ = ui["username"].(string)
		r.UID, _ = ui["uid"].(string)
		gs, _ := ui["groups"].([]any)
		for _, g := range gs {
			if s, ok := g.(string); ok {
				r.Groups = append(r.Groups, s)
			}
		}
	}
	out := object.New(content, o.Source, nil)
	if ns, _ := req["namespace"].(string); out.Ref.Namespace == "" && ns != "" {
		out.Ref.Namespace = ns
	}
	out.Request = r
	return out, nil
}

// readObjects decodes the objects of files.
func readObjects(files ...string) ([]*object.Object, error) {
	var objs []*object.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var derr error
		diags := object.SplitBytes(f, data, func(d object.Document) {
			o, ds := object.Decode(d, object.DefaultLimits)
			for _, x := range ds {
				if x.Severity == object.SeverityError && derr == nil {
					derr = errors.New(x.String())
				}
			}
			objs = append(objs, o...)
		})
		for _, x := range diags {
			if x.Severity == object.SeverityError && derr == nil {
				derr = errors.New(x.String())
			}
		}
		if derr != nil {
			return nil, derr
		}
	}
	return objs, nil
}
