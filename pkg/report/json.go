package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// JSONSchemaVersion identifies the JSON report layout (docs/json-report.md).
// Fields are only ever added within a version; v2 made each entry of
// findings a problem (several controls, several renders) instead of one
// control's finding.
const JSONSchemaVersion = "kubeguard.io/report/v2"

type jsonTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type jsonFinding struct {
	ControlID   string               `json:"controlID"`
	Title       string               `json:"title"`
	Severity    finding.Severity     `json:"severity"`
	Category    string               `json:"category"`
	Object      jsonObject           `json:"object"`
	Container   string               `json:"container,omitempty"`
	Path        string               `json:"path"`
	Position    object.Position      `json:"position"`
	Origin      string               `json:"origin,omitempty"`
	Message     string               `json:"message"`
	Remediation string               `json:"remediation"`
	Frameworks  []control.Ref        `json:"frameworks"`
	Suppressed  *finding.Suppression `json:"suppressed,omitempty"`
	// Controls are the IDs of every control reporting the problem, this
	// finding's first; Also details the others.
	Controls []string `json:"controls"`
	// Fingerprint identifies the finding across reports (--baseline);
	// BaselineState says whether it is new since the baseline.
	Fingerprint   string               `json:"fingerprint"`
	BaselineState string               `json:"baselineState,omitempty"`
	Also          []jsonAlso           `json:"also,omitempty"`
	Renders       []finding.Render     `json:"renders,omitempty"`
	Expired       *finding.Suppression `json:"expiredSuppression,omitempty"`
	// Vuln details an image vulnerability (IMG-VULN).
	Vuln *finding.Vulnerability `json:"vulnerability,omitempty"`
	// Activity is the audited request (AUD-*).
	Activity *finding.Activity `json:"activity,omitempty"`
}

// jsonAlso is another control's finding on the same problem.
type jsonAlso struct {
	ControlID   string               `json:"controlID"`
	Fingerprint string               `json:"fingerprint"`
	Title       string               `json:"title"`
	Severity    finding.Severity     `json:"severity"`
	Message     string               `json:"message"`
	Frameworks  []control.Ref        `json:"frameworks"`
	Suppressed  *finding.Suppression `json:"suppressed,omitempty"`
}

// jsonObject is object.Ref with the uid of a live object.
type jsonObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

// JSON writes the versioned JSON report.
func JSON(w io.Writer, r *Report) error {
	// Findings are encoded one at a time: a large scan has hundreds of
	// thousands, and encoding the report as one value would hold all of
	// it in memory twice. The report is an object of schemaVersion, tool
	// (name, version), summary, findings and diagnostics, indented.
	bw := bufio.NewWriterSize(w, 256<<10)
	diags := r.Diagnostics
	if diags == nil {
		diags = []object.Diagnostic{}
	}
	field := func(name string, v any, last bool) error {
		data, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "  %q: %s", name, data)
		if !last {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
		return nil
	}
	bw.WriteString("{\n")
	for _, f := range []struct {
		name string
		v    any
	}{{"schemaVersion", JSONSchemaVersion}, {"tool", jsonTool{r.Tool, r.Version}}, {"summary", r.Summarize()}} {
		if err := field(f.name, f.v, false); err != nil {
			return err
		}
	}
	if len(r.Configs) > 0 {
		if err := field("configs", r.Configs, false); err != nil {
			return err
		}
	}
	if fws := r.Frameworks(); len(fws) > 0 {
		if err := field("frameworks", fws, false); err != nil {
			return err
		}
	}
	if len(r.Checklists) > 0 {
		if err := field("checklists", r.Checklists, false); err != nil {
			return err
		}
	}
	listed := r.Listed()
	if len(listed) == 0 {
		bw.WriteString("  \"findings\": [],\n")
	} else {
		bw.WriteString("  \"findings\": [\n")
		encodeChunks(len(listed), func(buf []byte, lo, hi int) []byte {
			controls := map[string]*controlJSON{} // per chunk: chunks are encoded in parallel
			for i := lo; i < hi; i++ {
				f := listed[i]
				o := f.Object
				jf := jsonFinding{ControlID: f.ControlID, Severity: f.Severity, Container: f.Container,
					Object: jsonObject{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, UID: r.UIDs[o]},
					Path:   f.Path, Position: f.Position, Origin: f.Origin, Message: f.Message, Suppressed: f.Suppressed,
					Controls: f.ControlIDs(), Renders: f.Renders, Expired: f.Expired, Vuln: f.Vuln, Activity: f.Activity,
					Fingerprint: fingerprint(f.Finding), BaselineState: r.State(f)}
				for _, a := range f.Also {
					ja := jsonAlso{ControlID: a.ControlID, Fingerprint: fingerprint(a), Severity: a.Severity, Message: a.Message, Frameworks: []control.Ref{}, Suppressed: a.Suppressed}
					if c := r.control(a.ControlID); c != nil {
						ja.Title = c.Title
						if c.Refs != nil {
							ja.Frameworks = c.Refs
						}
					}
					jf.Also = append(jf.Also, ja)
				}
				if c := r.control(f.ControlID); c != nil {
					jf.Title, jf.Category, jf.Remediation, jf.Frameworks = c.Title, c.Category, c.Remediation, c.Refs
				}
				c, ok := controls[f.ControlID]
				if !ok {
					c = newControlJSON(&jf)
					controls[f.ControlID] = c
				}
				buf = appendFinding(append(buf, "    "...), &jf, c)
				if i < len(listed)-1 {
					buf = append(buf, ',')
				}
				buf = append(buf, '\n')
			}
			return buf
		}, func(b []byte) { bw.Write(b) })
		bw.WriteString("  ],\n")
	}
	if r.Baseline != nil {
		fixed := r.Fixed()
		if fixed == nil {
			fixed = []BaselineFinding{}
		}
		if err := field("fixed", fixed, false); err != nil {
			return err
		}
	}
	if err := field("diagnostics", diags, true); err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}
