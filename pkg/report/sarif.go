package report

import (
	"bufio"
	"crypto/sha256"
	hexenc "encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// SARIF 2.1.0 output, as consumed by GitHub code scanning and other SARIF
// viewers. Only the properties kubeguard fills are modelled. The log holds
// one run: its tool, its results and one invocation.

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	HelpURI              string         `json:"helpUri"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	RuleIndex    int                `json:"ruleIndex"`
	Level        string             `json:"level"`
	Message      sarifText          `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Related      []sarifRelated     `json:"relatedLocations,omitempty"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
	// BaselineState is new or unchanged against --baseline.
	BaselineState string `json:"baselineState,omitempty"`
	// PartialFingerprints identify the result without its line, so that
	// code scanning follows an alert when lines move.
	PartialFingerprints sarifFingerprints `json:"partialFingerprints"`
	Properties          resultProperties  `json:"properties"`
}

type sarifFingerprints struct {
	Primary string `json:"kubeguard/v1"`
}

// resultProperties are a result's properties, in the order of their keys.
type resultProperties struct {
	Container string     `json:"container,omitempty"`
	Controls  []string   `json:"controls,omitempty"` // of a problem several controls report
	Object    object.Ref `json:"object"`
	Origin    string     `json:"origin,omitempty"`
	Path      string     `json:"path"`
	Severity  string     `json:"severity"`
}

// sarifRelated is where a finding of a chart or kustomization is in the
// rendered output, which is no file: a message, not a physical location.
type sarifRelated struct {
	ID      int       `json:"id"`
	Message sarifText `json:"message"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

func sarifLevel(s finding.Severity) string {
	switch {
	case s >= finding.High:
		return "error"
	case s == finding.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score GitHub uses to rank alerts.
var securitySeverity = map[finding.Severity]string{
	finding.Critical: "9.5", finding.High: "8.0", finding.Medium: "5.5", finding.Low: "3.0", finding.Info: "1.0",
}

func sarifURI(file string) string {
	if file == object.StdinName {
		return "stdin"
	}
	u := url.URL{Path: filepath.ToSlash(file)}
	return u.String()
}

func physical(p object.Position) *sarifPhysical {
	if p.File == "" {
		return nil
	}
	ph := &sarifPhysical{ArtifactLocation: sarifArtifact{URI: sarifURI(p.File)}}
	if p.Line > 0 {
		ph.Region = &sarifRegion{StartLine: p.Line, StartColumn: p.Column}
	}
	return ph
}

// SARIF writes a SARIF 2.1.0 log with one rule per control.
func SARIF(w io.Writer, r *Report) error {
	var ctls []*control.Control
	if r.Catalog != nil {
		ctls = r.Catalog.All()
	}
	ruleIndex := map[string]int{}
	rules := make([]sarifRule, 0, len(ctls))
	for i, c := range ctls {
		ruleIndex[c.ID] = i
		tags := []string{"security", c.Category}
		for _, ref := range c.Refs {
			tags = append(tags, ref.String())
		}
		help := fmt.Sprintf("%s\n\nRemediation: %s", c.Rationale, c.Remediation)
		md := fmt.Sprintf("**%s** (%s)\n\n%s\n\n**Remediation:** %s\n\n**Frameworks:** %s",
			c.Title, c.Severity, c.Rationale, c.Remediation, refList(c.Refs))
		rules = append(rules, sarifRule{
			ID: c.ID, Name: ruleName(c.Title),
			ShortDescription:     sarifText{Text: c.Title},
			FullDescription:      sarifText{Text: c.Rationale},
			Help:                 sarifText{Text: help, Markdown: md},
			HelpURI:              ControlDocsURL(c.ID),
			DefaultConfiguration: sarifConfig{Level: sarifLevel(c.Severity)},
			Properties: map[string]any{
				"tags": tags, "security-severity": securitySeverity[c.Severity],
				"precision": "very-high", "severity": c.Severity.String(),
			},
		})
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, d := range r.Diagnostics {
		n := sarifNotification{Level: "note", Message: sarifText{Text: d.Message}}
		switch d.Severity {
		case object.SeverityError:
			n.Level = "error"
			inv.ExecutionSuccessful = false
		case object.SeverityWarning:
			n.Level = "warning"
		}
		if ph := physical(d.Pos); ph != nil {
			n.Locations = []sarifLocation{{PhysicalLocation: ph}}
		}
		inv.Notifications = append(inv.Notifications, n)
	}
	listed, dropped := capResults(r.Listed(), r.maxResults())
	if dropped > 0 {
		inv.Notifications = append(inv.Notifications, sarifNotification{Level: "warning", Message: sarifText{Text: fmt.Sprintf(
			"%d of %d results left out, the least severe first: code scanning accepts at most %d per run; narrow the scan with --severity, --controls or --exclude",
			dropped, dropped+len(listed), r.maxResults())}})
	}
	tool := sarifTool{Driver: sarifDriver{Name: r.Tool, Version: r.Version, InformationURI: ProjectURL, Rules: rules}}

	// The log is written as it is built, a result at a time, indented as
	// one encoding of the whole would be: large scans have hundreds of
	// thousands of results, and the whole would be held in memory twice.
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {\n      \"tool\": ")
	if err := writeIndented(bw, tool, "      "); err != nil {
		return err
	}
	bw.WriteString(",\n      \"results\": [")
	encodeChunks(len(listed), func(buf []byte, lo, hi int) []byte {
		for i := lo; i < hi; i++ {
			f := listed[i]
			loc := sarifLocation{PhysicalLocation: physical(f.Position),
				LogicalLocations: []sarifLogical{{FullyQualifiedName: f.Object.String() + ":" + f.Path, Kind: "object"}}}
			res := sarifResult{RuleID: f.ControlID, RuleIndex: ruleIndex[f.ControlID], Level: sarifLevel(f.Severity),
				Message: sarifText{Text: f.Message}, Locations: []sarifLocation{loc},
				Properties: resultProperties{Severity: f.Severity.String(), Object: f.Object, Path: f.Path, Container: f.Container}}
			if f.Origin != "" {
				res.Properties.Origin = f.Origin
				res.Message.Text += " (" + f.Origin + ")"
			}
			if r := f.Rendered; r != nil && r.Line > 0 {
				res.Related = []sarifRelated{{ID: 1, Message: sarifText{Text: fmt.Sprintf("line %d, column %d of the rendered output of %s", r.Line, r.Column, f.Origin)}}}
			}
			for _, rd := range f.Renders {
				text := "also " + rd.Object.String()
				if rd.Origin != "" {
					text += " in " + rd.Origin
				}
				res.Related = append(res.Related, sarifRelated{ID: len(res.Related) + 1, Message: sarifText{Text: text}})
			}
			if ids := f.ControlIDs(); len(ids) > 1 {
				res.Properties.Controls = ids
				res.Message.Text += " (also " + strings.Join(ids[1:], ", ") + ")"
			}
			res.PartialFingerprints.Primary = fingerprint(f.Finding)
			res.BaselineState = r.State(f)
			if f.Suppressed != nil {
				kind := "external"
				if f.Suppressed.Kind == "annotation" {
					kind = "inSource"
				}
				res.Suppressions = []sarifSuppression{{Kind: kind, Justification: f.Suppressed.Reason}}
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, "\n        "...)
			buf = appendSARIFResult(buf, &res)
		}
		return buf
	}, func(b []byte) { bw.Write(b) })
	if len(listed) > 0 {
		bw.WriteString("\n      ")
	}
	bw.WriteString("],\n      \"invocations\": ")
	if err := writeIndented(bw, []sarifInvocation{inv}, "      "); err != nil {
		return err
	}
	props := map[string]any{}
	if len(r.Configs) > 0 {
		props["configs"] = r.Configs
	}
	if len(r.Checklists) > 0 {
		// what passed or did not apply has no result in SARIF, whose
		// consumers list results as alerts
		props["checklists"] = r.Checklists
	}
	if len(props) > 0 {
		bw.WriteString(",\n      \"properties\": ")
		if err := writeIndented(bw, props, "      "); err != nil {
			return err
		}
	}
	bw.WriteString("\n    }\n  ]\n}\n")
	return bw.Flush()
}

// writeIndented writes v as JSON indented by two spaces, its lines after
// the first prefixed by prefix.
func writeIndented(w *bufio.Writer, v any, prefix string) error {
	b, err := json.MarshalIndent(v, prefix, "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func refList(refs []control.Ref) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// ruleName turns a title into the PascalCase name SARIF viewers show.
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// ProjectURL is kubeguard's home; ControlDocsURL points at a control's
// entry in the catalog documentation.
const ProjectURL = "https://github.com/kubeguard/kubeguard"

func ControlDocsURL(id string) string {
	return ProjectURL + "/blob/main/docs/controls.md#" + strings.ToLower(id)
}

// DefaultMaxResults is GitHub code scanning's limit of results per run.
const DefaultMaxResults = 25000

func (r *Report) maxResults() int {
	if r.MaxResults > 0 {
		return r.MaxResults
	}
	return DefaultMaxResults
}

// capResults keeps the max most severe problems, in their order, and
// says how many it left out.
func capResults(ps []*finding.Problem, max int) ([]*finding.Problem, int) {
	if len(ps) <= max {
		return ps, 0
	}
	var bySev [finding.Critical + 1]int
	for _, p := range ps {
		bySev[p.Severity]++
	}
	// the lowest severity kept, and how many of it fit
	keep, room := finding.Critical, max
	for ; keep > finding.Info && room > bySev[keep]; keep-- {
		room -= bySev[keep]
	}
	out := make([]*finding.Problem, 0, max)
	for _, p := range ps {
		switch {
		case p.Severity > keep:
			out = append(out, p)
		case p.Severity == keep && room > 0:
			out = append(out, p)
			room--
		}
	}
	return out, len(ps) - len(out)
}

// fingerprint identifies a finding by control, object, field and file,
// not by line: the same problem keeps its fingerprint when lines move.
func fingerprint(f *finding.Finding) string {
	h := sha256.New()
	for _, s := range []string{f.ControlID, f.Object.APIVersion, f.Object.Kind, f.Object.Namespace, f.Object.Name, f.Container, f.Path, f.Position.File, f.Origin} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hexenc.EncodeToString(h.Sum(nil)[:16])
}
