package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// The hand-written encoder produces exactly what encoding/json does.
func TestAppendFindingMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<tag> & amp", "tab\tnew\nline\rcr\b\f\x01\x1f",
		"ünïcödé ✓", "bad \xff utf8 \xc3", "line\u2028sep\u2029", "emoji 🚀"}
	refs := [][]control.Ref{nil, control.Refs("CIS:5.2.1"), control.Refs("CIS:5.2.1", "NSA:pod-security", "MITRE:T1611")}
	n := 0
	for i, s := range strs {
		for j, pos := range []object.Position{{}, {File: s}, {File: "a.yaml", Line: 3}, {File: "a.yaml", Line: 3, Column: 7}, {Line: 2}} {
			for k, sup := range []*finding.Suppression{nil, {Kind: "annotation", Reason: s}, {Kind: "config", Reason: "r", Expires: "2027-01-01"}} {
				jf := jsonFinding{ControlID: "ID-" + s, Title: s, Severity: finding.Severity(1 + (i+j+k)%5), Category: s,
					Object:    jsonObject{APIVersion: "v1", Kind: s, Namespace: strs[(i+1)%len(strs)], Name: s, UID: strs[(i+k+1)%len(strs)]},
					Container: strs[(i+j)%len(strs)], Path: s, Position: pos, Origin: strs[(i+k)%len(strs)], Message: s,
					Remediation: s, Frameworks: refs[(i+j+k)%len(refs)], Suppressed: sup, Controls: []string{"ID-" + s}}
				switch (i + j + k) % 3 {
				case 1:
					jf.Controls = append(jf.Controls, "PSS-"+s)
					jf.Also = []jsonAlso{{ControlID: "PSS-" + s, Title: s, Severity: finding.High, Message: s, Frameworks: []control.Ref{}, Suppressed: sup}}
					jf.Renders = []finding.Render{{Object: object.Ref{Kind: s, Name: s}, Origin: s}}
				case 2:
					jf.Expired = &finding.Suppression{Kind: "config", Reason: s, Expires: "2020-01-01"}
				}
				want, err := json.MarshalIndent(jf, "    ", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if jf.Frameworks == nil {
					// JSON() always passes a non-nil list ([] for none).
					jf.Frameworks = []control.Ref{}
					want, _ = json.MarshalIndent(jf, "    ", "  ")
				}
				got := appendFinding(nil, &jf, newControlJSON(&jf))
				if string(got) != string(want) {
					t.Fatalf("case %d/%d/%d:\ngot  %s\nwant %s", i, j, k, got, want)
				}
				n++
			}
		}
	}
	t.Logf("%d findings encoded identically", n)
}

// The hand-written SARIF result encoder produces exactly what
// encoding/json does at the depth of results in the log.
func TestAppendSARIFResultMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<tag> & amp", "tab\tnew\nline\x01", "ünïcödé ✓", "bad \xff utf8", "line\u2028sep"}
	n := 0
	for i, s := range strs {
		for j, ph := range []*sarifPhysical{nil, physical(object.Position{File: s}), physical(object.Position{File: "a.yaml", Line: 3}),
			physical(object.Position{File: "a b.yaml", Line: 3, Column: 7})} {
			for k, sup := range [][]sarifSuppression{nil, {{Kind: "inSource", Justification: s}}, {{Kind: "external"}, {Kind: "x", Justification: "y"}}} {
				locs := [][]sarifLocation{{{PhysicalLocation: ph, LogicalLocations: []sarifLogical{{FullyQualifiedName: s, Kind: "object"}}}},
					{{PhysicalLocation: ph}}, nil, {{}, {PhysicalLocation: ph}}}[(i+j+k)%4]
				r := sarifResult{RuleID: s, RuleIndex: i * j, Level: strs[(i+1)%len(strs)], Message: sarifText{Text: s, Markdown: strs[(i+k)%len(strs)]},
					Locations: locs, Suppressions: sup, Related: [][]sarifRelated{nil, {{ID: 1, Message: sarifText{Text: s}}}, {{ID: 1}, {ID: 2, Message: sarifText{Text: "x"}}}}[(i+k)%3],
					Properties: resultProperties{Container: strs[(i+j)%len(strs)], Object: object.Ref{APIVersion: s, Kind: "K", Namespace: strs[(j+k)%len(strs)], Name: s},
						Origin: strs[(i+k)%len(strs)], Path: s, Severity: "high", Controls: [][]string{nil, {s, "X"}}[(i+j)%2]},
					PartialFingerprints: sarifFingerprints{Primary: s}}
				want, err := json.MarshalIndent(r, "        ", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if r.Locations == nil {
					want = []byte(strings.Replace(string(want), `"locations": null`, `"locations": []`, 1))
				}
				if got := appendSARIFResult(nil, &r); string(got) != string(want) {
					t.Fatalf("case %d/%d/%d:\ngot  %s\nwant %s", i, j, k, got, want)
				}
				n++
			}
		}
	}
	t.Logf("%d results encoded identically", n)
}
