package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// scanned returns a report over the insecure example plus a broken file,
// so every format is exercised with findings, suppressions and diagnostics.
func scanned(t *testing.T) *report.Report {
	t.Helper()
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := object.Expand([]string{"../../examples/insecure", "../controls/testdata/suppressed.yaml", "testdata/broken.yaml"}, nil)
	res := eng.ScanInputs(inputs)
	if len(res.Findings) == 0 || len(res.Diagnostics) == 0 {
		t.Fatalf("want findings and diagnostics, got %d and %d", len(res.Findings), len(res.Diagnostics))
	}
	return &report.Report{Tool: "kubeguard", Version: "test", Catalog: cat, Findings: res.Findings,
		Diagnostics: res.Diagnostics, Objects: res.Objects, Inputs: res.Inputs, ShowSuppressed: true}
}

// TestSARIFSchema validates the SARIF output against the official SARIF
// 2.1.0 schema (fetched by `make schemas`).
func TestSARIFSchema(t *testing.T) {
	path := os.Getenv("KUBEGUARD_SARIF_SCHEMA")
	if path == "" {
		path = "../../.cache/sarif-schema-2.1.0.json"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SARIF schema missing under CI: %v (run make schemas)", err)
		}
		t.Skip("SARIF schema not fetched; run make schemas")
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep := scanned(t)
	// a finding of a rendered chart carries its rendered position as a
	// related location
	f := *rep.Findings[0]
	f.Origin, f.Rendered = "helm chart shop 1.2.0 (release r)", &object.Position{File: "t.yaml", Line: 40, Column: 3}
	rep.Findings = append(rep.Findings, &f)
	if err := report.SARIF(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"relatedLocations"`)) {
		t.Error("no related location written")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("SARIF output does not validate: %v", err)
	}
	// and the schema is not vacuous: a result without a message is refused
	var log map[string]any
	json.Unmarshal(buf.Bytes(), &log)
	res := log["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)
	delete(res, "message")
	if err := sch.Validate(log); err == nil {
		t.Fatal("schema accepted a result without a message")
	}
}

func TestSARIFLocations(t *testing.T) {
	var buf bytes.Buffer
	if err := report.SARIF(&buf, scanned(t)); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine, StartColumn int }
					}
				}
				Suppressions []struct{ Kind string }
			}
			Tool struct {
				Driver struct{ Rules []struct{ ID string } }
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	suppressed := 0
	for _, r := range log.Runs[0].Results {
		l := r.Locations[0].PhysicalLocation
		if l.ArtifactLocation.URI == "" || l.Region.StartLine == 0 || l.Region.StartColumn == 0 {
			t.Errorf("%s: result without file, line and column: %+v", r.RuleID, l)
		}
		suppressed += len(r.Suppressions)
	}
	if suppressed == 0 {
		t.Error("suppressed findings carry no SARIF suppressions")
	}
	if len(log.Runs[0].Tool.Driver.Rules) < 20 {
		t.Errorf("only %d rules", len(log.Runs[0].Tool.Driver.Rules))
	}
}

func TestJSONReport(t *testing.T) {
	r := scanned(t)
	var buf bytes.Buffer
	if err := report.JSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var out struct {
		SchemaVersion string
		Summary       report.Summary
		Findings      []struct {
			ControlID  string
			Severity   string
			Position   object.Position
			Frameworks []struct{ Framework, ID string }
			Suppressed *struct{ Kind, Reason string }
		}
		Diagnostics []object.Diagnostic
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.SchemaVersion != report.JSONSchemaVersion {
		t.Errorf("schemaVersion %q", out.SchemaVersion)
	}
	if out.Summary.Suppressed == 0 || out.Summary.Errors == 0 || len(out.Diagnostics) == 0 {
		t.Errorf("summary misses suppressions or errors: %+v", out.Summary)
	}
	for _, f := range out.Findings {
		if len(f.Frameworks) == 0 || f.Position.Line == 0 || f.Severity == "" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	// without --show-suppressed they are counted but not listed
	r.ShowSuppressed = false
	buf.Reset()
	report.JSON(&buf, r)
	if strings.Contains(buf.String(), `"suppressed": {`) {
		t.Error("suppressed finding listed without ShowSuppressed")
	}
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := report.JUnit(&buf, scanned(t)); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Failures == 0 || raw.Errors == 0 || raw.Tests < raw.Failures+raw.Errors {
		t.Errorf("junit counts: %+v", raw)
	}
}

func TestTableGroupsAndSummary(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Table(&buf, scanned(t)); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{"PSS-PRIVILEGED", "fix: ", "suppressed", "input errors"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if strings.Contains(s, "\x1b[") {
		t.Error("colour without Color")
	}
}

// Objects folded into their controllers are counted in the summary of the
// table and of the JSON report, which leaves the field out when none are.
func TestFoldedSummary(t *testing.T) {
	r := &report.Report{Tool: "kubeguard", Objects: 2, Inputs: 1, Folded: 3}
	var table, js bytes.Buffer
	report.Table(&table, r)
	if !strings.Contains(table.String(), "2 objects in 1 inputs (3 more folded into their controllers): no findings") {
		t.Errorf("table summary: %s", table.String())
	}
	report.JSON(&js, r)
	if !strings.Contains(js.String(), `"folded": 3`) {
		t.Errorf("JSON summary: %s", js.String())
	}
	r.Folded = 0
	table.Reset()
	js.Reset()
	report.Table(&table, r)
	report.JSON(&js, r)
	if strings.Contains(table.String()+js.String(), "folded") {
		t.Errorf("folded said with none folded:\n%s\n%s", table.String(), js.String())
	}
}
