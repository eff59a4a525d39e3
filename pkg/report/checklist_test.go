package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// checklisted is a node's report: a checklist with every verdict (one
// failed item suppressed) and the findings of its failed items.
func checklisted() *report.Report {
	node := object.Ref{APIVersion: "v1", Kind: "Node", Name: "n1"}
	at := object.Position{File: "/var/lib/kubelet/config.yaml", Line: 5, Column: 5}
	items := []report.ChecklistItem{
		{ID: "4.2.1", Title: "--anonymous-auth is false", Scored: true, Status: report.Fail, Detail: `authentication.anonymous.enabled is "true"`,
			Remediation: "set it false", Control: "CIS-4.2.1", Severity: finding.High, Position: at, Field: "authentication.anonymous.enabled"},
		{ID: "4.2.2", Title: "--authorization-mode is not AlwaysAllow", Scored: true, Status: report.Pass, Detail: "Webhook", Control: "CIS-4.2.2"},
		{ID: "4.2.13", Title: "a limit is set on pod PIDs", Status: report.Warn, Detail: "podPidsLimit is not set", Control: "CIS-4.2.13", Severity: finding.Low},
		{ID: "4.1.1", Title: "kubelet service file permissions", Scored: true, Status: report.Fail, Detail: "644", Control: "CIS-4.1.1",
			Severity: finding.Medium, Suppressed: "baked into the image"},
		{ID: "3.1.1", Title: "client certificates are not used for users", Status: report.Manual, Detail: "a person checks: kubectl get csr"},
		{ID: "4.3.1", Title: "kube-proxy metrics are bound to localhost", Scored: true, Status: report.NotApplicable, Detail: "no kube-proxy", Control: "CIS-4.3.1"},
	}
	c := report.Checklist{Benchmark: "cis-1.12", Target: node, Kind: "worker node", Sections: []report.ChecklistSection{{ID: "4.2", Title: "Kubelet", Results: items,
		Counts: map[report.Status]int{report.Pass: 1, report.Fail: 2, report.Warn: 1, report.Manual: 1, report.NotApplicable: 1}}}}
	fs := []*finding.Finding{
		{ControlID: "CIS-4.2.1", Severity: finding.High, Object: node, Position: at, Path: "authentication.anonymous.enabled", Message: "4.2.1 anonymous"},
		{ControlID: "CIS-4.2.13", Severity: finding.Low, Object: node, Message: "4.2.13 pids"},
		{ControlID: "CIS-4.1.1", Severity: finding.Medium, Object: node, Message: "4.1.1 mode", Suppressed: &finding.Suppression{Kind: "config", Reason: "baked into the image"}},
	}
	return &report.Report{Tool: "kubeguard", Version: "test", Findings: fs, Objects: 1, Inputs: 1,
		Checked: []report.Checked{{Ref: node}}, Checklists: []report.Checklist{c}, Scanned: "node n1"}
}

// Every format carries the whole checklist beside the findings.
func TestChecklistFormats(t *testing.T) {
	r := checklisted()
	var buf bytes.Buffer
	if err := report.JUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	junit := buf.String()
	// six cases, one failure (the suppressed one is skipped), and no
	// second case for the findings the checklist already has
	for _, want := range []string{`<testsuites name="kubeguard" tests="6" failures="1" errors="0">`, `tests="6" failures="1" errors="0" skipped="3"`,
		`name="4.2.1 --anonymous-auth is false"`, `/var/lib/kubelet/config.yaml:5:5`, `<skipped>suppressed: baked into the image</skipped>`, `<skipped>manual: a person checks: kubectl get csr</skipped>`} {
		if !strings.Contains(junit, want) {
			t.Errorf("junit lacks %s:\n%s", want, junit)
		}
	}
	if strings.Contains(junit, "objects without findings") || strings.Count(junit, "<testcase") != 6 {
		t.Errorf("junit repeats the checklist:\n%s", junit)
	}

	reps := report.PolicyReports(r, time.Unix(0, 0))
	if len(reps) != 1 {
		t.Fatalf("%d policy reports, want the node's alone: %v", len(reps), reps)
	}
	md := reps[0]["metadata"].(map[string]any)
	sum, _ := json.Marshal(reps[0]["summary"])
	if reps[0]["kind"] != "ClusterPolicyReport" || md["name"] != "kubeguard-node-n1" ||
		string(sum) != `{"error":0,"fail":1,"pass":1,"skip":2,"warn":2}` {
		t.Errorf("%v %v %s", reps[0]["kind"], md, sum)
	}
	res := reps[0]["results"].([]any)[0].(map[string]any)
	if res["result"] != "fail" || res["severity"] != "high" || res["properties"].(map[string]any)["file"] != "/var/lib/kubelet/config.yaml:5:5" {
		t.Errorf("first result: %v", res)
	}

	buf.Reset()
	if err := report.Table(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cis-1.12 on n1 (worker node)", "  [FAIL]   4.2.1   --anonymous-auth is false", "(suppressed: baked into the image)",
		"  [MANUAL] 3.1.1", "  1 pass, 2 fail, 1 warn, 1 manual, 1 not applicable", "6 checks: 1 pass, 2 fail, 1 warn, 1 manual, 1 not applicable",
		"Node/n1  /var/lib/kubelet/config.yaml"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}

	for format, path := range map[string]string{"json": "checklists", "sarif": "runs.0.properties.checklists"} {
		buf.Reset()
		if err := report.Write(&buf, format, r); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		for _, k := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any:
				v = x[0]
			}
		}
		lists, _ := v.([]any)
		if len(lists) != 1 || len(lists[0].(map[string]any)["sections"].([]any)[0].(map[string]any)["results"].([]any)) != 6 {
			t.Errorf("%s: %s lacks the checklist", format, path)
		}
	}
}
