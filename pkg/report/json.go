package report

import (
	"encoding/json"
	"io"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// JSONSchemaVersion identifies the JSON report layout (docs/json-report.md).
// Fields are only ever added within a version.
const JSONSchemaVersion = "kubeguard.io/report/v1"

type jsonReport struct {
	SchemaVersion string              `json:"schemaVersion"`
	Tool          jsonTool            `json:"tool"`
	Summary       Summary             `json:"summary"`
	Findings      []jsonFinding       `json:"findings"`
	Diagnostics   []object.Diagnostic `json:"diagnostics"`
}

type jsonTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type jsonFinding struct {
	ControlID   string               `json:"controlID"`
	Title       string               `json:"title"`
	Severity    finding.Severity     `json:"severity"`
	Category    string               `json:"category"`
	Object      object.Ref           `json:"object"`
	Container   string               `json:"container,omitempty"`
	Path        string               `json:"path"`
	Position    object.Position      `json:"position"`
	Origin      string               `json:"origin,omitempty"`
	Message     string               `json:"message"`
	Remediation string               `json:"remediation"`
	Frameworks  []control.Ref        `json:"frameworks"`
	Suppressed  *finding.Suppression `json:"suppressed,omitempty"`
}

// JSON writes the versioned JSON report.
func JSON(w io.Writer, r *Report) error {
	out := jsonReport{
		SchemaVersion: JSONSchemaVersion,
		Tool:          jsonTool{r.Tool, r.Version},
		Summary:       r.Summarize(),
		Findings:      []jsonFinding{},
		Diagnostics:   r.Diagnostics,
	}
	if out.Diagnostics == nil {
		out.Diagnostics = []object.Diagnostic{}
	}
	for _, f := range r.Listed() {
		jf := jsonFinding{ControlID: f.ControlID, Severity: f.Severity, Object: f.Object, Container: f.Container,
			Path: f.Path, Position: f.Position, Origin: f.Origin, Message: f.Message, Suppressed: f.Suppressed,
			Frameworks: []control.Ref{}}
		if c := r.control(f.ControlID); c != nil {
			jf.Title, jf.Category, jf.Remediation = c.Title, c.Category, c.Remediation
			jf.Frameworks = append(jf.Frameworks, c.Refs...)
		}
		out.Findings = append(out.Findings, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
