package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// TestJUnitSchema validates JUnit reports (with findings, suppressions
// and input errors; and a clean run, one passing case per object) against
// the Jenkins JUnit XSD with xmllint.
func TestJUnitSchema(t *testing.T) {
	xsd := os.Getenv("KUBEGUARD_JUNIT_SCHEMA")
	if xsd == "" {
		xsd = "../../.cache/jenkins-junit.xsd"
	}
	_, err := os.Stat(xsd)
	xmllint, lerr := exec.LookPath("xmllint")
	if err != nil || lerr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("JUnit schema or xmllint missing under CI: %v %v (make schemas; apt-get install libxml2-utils)", err, lerr)
		}
		t.Skip("JUnit schema or xmllint missing; run make schemas")
	}
	validate := func(name string, doc []byte) error {
		f := filepath.Join(t.TempDir(), name+".xml")
		os.WriteFile(f, doc, 0o644)
		out, err := exec.Command(xmllint, "--noout", "--schema", xsd, f).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	rep := scanned(t)
	clean := &report.Report{Tool: "kubeguard", Catalog: rep.Catalog, Objects: 2,
		Checked: []report.Checked{{Ref: object.Ref{APIVersion: "v1", Kind: "Pod", Namespace: "a", Name: "p"}, Source: object.Position{File: "a.yaml", Line: 1}},
			{Ref: object.Ref{APIVersion: "v1", Kind: "Namespace", Name: "a"}, Source: object.Position{File: "a.yaml", Line: 9}}}}
	for name, r := range map[string]*report.Report{"findings": rep, "clean": clean, "checklist": checklisted()} {
		var buf bytes.Buffer
		if err := report.JUnit(&buf, r); err != nil {
			t.Fatal(err)
		}
		if err := validate(name, buf.Bytes()); err != nil {
			t.Errorf("%s: %v\n%s", name, err, buf.String())
		}
		if name == "clean" && (!strings.Contains(buf.String(), `<testsuites name="kubeguard" tests="2" failures="0" errors="0">`) ||
			strings.Count(buf.String(), `classname="passed"`) != 2) {
			t.Errorf("clean run:\n%s", buf.String())
		}
	}
	// the schema is not vacuous
	if err := validate("bad", []byte(`<?xml version="1.0"?><testsuites><testsuite tests="x"/></testsuites>`)); err == nil {
		t.Error("the schema accepted a suite without a name and a non-numeric count")
	}
}

// SARIF results carry fingerprints that survive line moves, link the
// control's docs, and a run keeps at most MaxResults, the most severe.
func TestSARIFFingerprintsAndCap(t *testing.T) {
	type result struct {
		RuleID, Level       string
		PartialFingerprints map[string]string
	}
	results := func(r *report.Report) ([]result, string) {
		var buf bytes.Buffer
		if err := report.SARIF(&buf, r); err != nil {
			t.Fatal(err)
		}
		var log struct {
			Runs []struct {
				Results     []result
				Invocations []struct {
					ToolExecutionNotifications []struct{ Message struct{ Text string } }
				}
				Tool struct {
					Driver struct {
						Rules []struct {
							HelpURI    string
							Properties map[string]any
						}
					}
				}
			}
		}
		if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
			t.Fatal(err)
		}
		run := log.Runs[0]
		for _, rule := range run.Tool.Driver.Rules {
			if !strings.HasPrefix(rule.HelpURI, "https://github.com/kubeguard/kubeguard/blob/main/docs/controls.md#") || rule.Properties["security-severity"] == nil || rule.Properties["tags"] == nil {
				t.Fatalf("rule %+v", rule)
			}
		}
		var notes []string
		for _, inv := range run.Invocations {
			for _, n := range inv.ToolExecutionNotifications {
				notes = append(notes, n.Message.Text)
			}
		}
		return run.Results, strings.Join(notes, "\n")
	}
	rep := scanned(t)
	rep.ShowSuppressed = false
	before, _ := results(rep)
	// the same findings two lines lower
	moved := scanned(t)
	moved.ShowSuppressed = false
	for i, f := range moved.Findings {
		g := *f
		g.Position.Line += 2
		moved.Findings[i] = &g
	}
	after, _ := results(moved)
	if len(before) != len(after) || len(before) < 10 {
		t.Fatalf("%d and %d results", len(before), len(after))
	}
	seen := map[string]bool{}
	for i := range before {
		fp := before[i].PartialFingerprints["kubeguard/v1"]
		if fp == "" || fp != after[i].PartialFingerprints["kubeguard/v1"] || seen[fp] {
			t.Errorf("result %d: fingerprint %q, after the move %q, duplicate %v", i, fp, after[i].PartialFingerprints["kubeguard/v1"], seen[fp])
		}
		seen[fp] = true
	}

	rep = scanned(t)
	rep.ShowSuppressed, rep.MaxResults = false, 5
	capped, note := results(rep)
	if len(capped) != 5 || !strings.Contains(note, fmt.Sprintf("%d of %d results left out", len(before)-5, len(before))) {
		t.Errorf("%d results, note %q", len(capped), note)
	}
	for _, r := range capped {
		if r.Level != "error" { // high and critical only: the least severe go first
			t.Errorf("kept %s (%s)", r.RuleID, r.Level)
		}
	}
}
