package report_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// The HTML report is one self-contained page: nothing it loads comes from
// elsewhere, its script data is every listed problem with its source
// lines, and the summary, compliance and namespaces are in the markup.
func TestHTMLReport(t *testing.T) {
	r := scanned(t)
	var out bytes.Buffer
	if err := report.Write(&out, "html", r); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	if !strings.Contains(page, `content="default-src 'none';`) {
		t.Error("no content security policy forbidding requests")
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:|//)`).FindString(page); m != "" {
		t.Errorf("the page loads %s", m)
	}
	for _, tag := range []string{"<link", "<iframe", "@import", "url("} {
		if strings.Contains(page, tag) {
			t.Errorf("the page holds %s", tag)
		}
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="data">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no findings data")
	}
	var data struct {
		Findings []struct {
			Control, Severity, Object, Where, Suppressed string
			File, Line                                   int
		}
		Controls map[string]struct{ Title, Remediation string }
		Files    []struct{ Lines map[int]string }
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Findings) != len(r.Listed()) {
		t.Fatalf("%d findings in the page, %d listed", len(data.Findings), len(r.Listed()))
	}
	suppressed, excerpts := 0, 0
	lineOf := regexp.MustCompile(`:(\d+):\d+$`)
	for _, f := range data.Findings {
		if data.Controls[f.Control].Remediation == "" {
			t.Errorf("%s: no remediation", f.Control)
		}
		if f.Suppressed != "" {
			suppressed++
		}
		// the finding's own line is among its file's quoted lines
		line := lineOf.FindStringSubmatch(f.Where)
		if f.File > 0 && line != nil && strconv.Itoa(f.Line) == line[1] && data.Files[f.File-1].Lines[f.Line] != "" {
			excerpts++
		}
	}
	if suppressed == 0 || excerpts < len(data.Findings)/2 {
		t.Errorf("%d suppressed, %d findings with their line in an excerpt, of %d", suppressed, excerpts, len(data.Findings))
	}
	s := r.Summarize()
	if !strings.Contains(page, `<div class="card" id="open"><b>`+strconv.Itoa(s.Findings)+`</b>`) {
		t.Errorf("the summary does not show %d open findings", s.Findings)
	}
	for _, fw := range []string{"CIS", "NSA", "PSS", "NIST", "MITRE"} {
		if !strings.Contains(page, `<tr data-framework="`+fw+`">`) {
			t.Errorf("no compliance row for %s", fw)
		}
	}
}

// A namespace meets restricted with no open PSS finding, baseline with
// restricted ones only, and privileged with a baseline one; a suppressed
// finding does not count.
func TestHTMLNamespaceLevels(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := func(ns string) object.Ref { return object.Ref{Kind: "Pod", Namespace: ns, Name: "app"} }
	r := &report.Report{Tool: "kubeguard", Catalog: cat, Checked: []report.Checked{
		{Ref: pod("shop"), Workload: true}, {Ref: pod("batch"), Workload: true}, {Ref: pod("tools"), Workload: true}, {Ref: pod("quiet"), Workload: true}},
		Findings: []*finding.Finding{
			{ControlID: "PSS-PRIVILEGED", Severity: finding.Critical, Object: pod("shop"), Path: "a", Message: "m"},
			{ControlID: "PSS-RUN-AS-NON-ROOT", Severity: finding.Medium, Object: pod("shop"), Path: "b", Message: "m"},
			{ControlID: "PSS-RUN-AS-NON-ROOT", Severity: finding.Medium, Object: pod("batch"), Path: "b", Message: "m"},
			{ControlID: "PSS-PRIVILEGED", Severity: finding.Critical, Object: pod("quiet"), Path: "a", Message: "m",
				Suppressed: &finding.Suppression{Reason: "accepted"}},
		}}
	var out bytes.Buffer
	if err := report.HTML(&out, r); err != nil {
		t.Fatal(err)
	}
	for ns, level := range map[string]string{"shop": "privileged", "batch": "baseline", "tools": "restricted", "quiet": "restricted"} {
		if !strings.Contains(out.String(), "<tr><td>"+ns+`</td><td class="lvl `+level+`">`) {
			t.Errorf("namespace %s should meet %s", ns, level)
		}
	}
}

// The worst risks rank findings of one severity by their object's reach,
// then by how many objects share the control, say what the reach is, and
// show each object once.
func TestHTMLWorstRisksByReach(t *testing.T) {
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dep := func(name string) object.Ref {
		return object.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: name}
	}
	at := func(line int) object.Position { return object.Position{File: "shop.yaml", Line: line} }
	f := func(control, name string, line int) *finding.Finding {
		return &finding.Finding{ControlID: control, Severity: finding.High, Object: dep(name), ObjectAt: at(line), Path: control, Message: control + " on " + name}
	}
	r := &report.Report{Tool: "kubeguard", Catalog: cat, Findings: []*finding.Finding{
		f("PSS-HOST-PATH", "shared-a", 1), f("PSS-HOST-PATH", "shared-b", 20), f("PSS-HOST-PATH", "shared-c", 40),
		f("PSS-PRIVILEGED-PORTS", "alone", 60), f("PSS-PRIVILEGED-PORTS", "admin", 80), f("PSS-PRIVILEGED-PORTS", "exposed", 100),
		f("PSS-HOST-PORTS", "admin", 80),
	}, Reach: map[string]report.Reach{
		report.ReachKey(dep("admin"), at(80)):    {Score: 160, Why: []string{"runs as sa:shop/admin with its token mounted", "LoadBalancer Service shop/admin"}},
		report.ReachKey(dep("exposed"), at(100)): {Score: 60, Why: []string{"LoadBalancer Service shop/exposed"}},
		report.ReachKey(dep("alone"), at(1)):     {Score: 100, Why: []string{"keyed by another object's position"}},
	}}
	var out bytes.Buffer
	if err := report.HTML(&out, r); err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)<h2 id="risks">.*?</section>`).FindString(out.String())
	var order []string
	for _, m := range regexp.MustCompile(`(PSS-[A-Z-]+) on ([a-z-]+)`).FindAllStringSubmatch(section, -1) {
		order = append(order, m[2])
	}
	if got, want := strings.Join(order, " "), "admin exposed shared-a shared-b shared-c alone"; got != want {
		t.Errorf("worst risks in order %q, want %q", got, want)
	}
	if !strings.Contains(section, `<ul class="reach" aria-label="Reach"><li>runs as sa:shop/admin with its token mounted</li><li>LoadBalancer Service shop/admin</li></ul>`) {
		t.Errorf("the admin card does not say its reach:\n%s", section)
	}
	// one card per object: admin's other finding is counted on it
	if strings.Count(section, "on admin") != 1 || !strings.Contains(section, "and 1 more open finding on this object") {
		t.Errorf("the admin card does not fold its second finding:\n%s", section)
	}
	if strings.Contains(section, "another object's position") {
		t.Error("a reach keyed by another position was shown")
	}
}

// Against a baseline the page counts new and fixed findings and marks
// each; the same scan as its own baseline has nothing new.
func TestHTMLBaseline(t *testing.T) {
	r := scanned(t)
	path := t.TempDir() + "/base.json"
	var js bytes.Buffer
	if err := report.Write(&js, "json", r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, js.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := report.LoadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	r2 := scanned(t)
	r2.Baseline = b
	var out bytes.Buffer
	if err := report.HTML(&out, r2); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<div class="card" id="new"><b>0</b>new since the baseline</div>`, `<div class="card" id="fixed"><b>0</b>fixed since the baseline</div>`, `id="newonly"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// a report that is not kubeguard's is refused with the reason
	os.WriteFile(path, []byte(`{"schemaVersion":"other"}`), 0o644)
	if _, err := report.LoadBaseline(path); err == nil || !strings.Contains(err.Error(), `schemaVersion "other"`) {
		t.Errorf("a foreign report as baseline: %v", err)
	}
}

// Large findings data travels gzipped in base64 and inflates to the same
// findings.
func TestHTMLPacked(t *testing.T) {
	r := scanned(t)
	many := make([]*finding.Finding, 0, 20000)
	for i := range 20000 {
		f := *r.Findings[0]
		f.Object.Name, f.Path, f.Position = "copy-"+strconv.Itoa(i), "spec.x["+strconv.Itoa(i)+"]", object.Position{File: "gen.yaml", Line: i + 1, Column: 1}
		many = append(many, &f)
	}
	r.Findings = many
	var out bytes.Buffer
	if err := report.HTML(&out, r); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<script type="application/octet-stream" id="data">(.*?)</script>`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("large data is not packed")
	}
	packed, err := base64.RawURLEncoding.DecodeString(m[1])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(packed))
	if err != nil {
		t.Fatal(err)
	}
	var data struct{ Findings []struct{ Object string } }
	if err := json.NewDecoder(zr).Decode(&data); err != nil {
		t.Fatal(err)
	}
	if len(data.Findings) != len(r.Listed()) || out.Len() > 1<<20 {
		t.Errorf("%d findings packed of %d; page %d bytes", len(data.Findings), len(r.Listed()), out.Len())
	}
}
