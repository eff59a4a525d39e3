package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Baseline is an earlier kubeguard JSON report (--baseline): each
// finding of a report is new or unchanged against it, and its findings
// that no longer occur are fixed. Findings are matched by fingerprint
// (control, object, container, field, file and origin; not the line), so
// one that moved keeps its identity, as SARIF's partialFingerprints do.
type Baseline struct {
	Path  string
	known map[string]bool
	all   []BaselineFinding
}

// BaselineFinding is a finding of the baseline, as a report lists the
// fixed ones.
type BaselineFinding struct {
	Fingerprint string           `json:"fingerprint"`
	ControlID   string           `json:"controlID"`
	Severity    finding.Severity `json:"severity"`
	Object      jsonObject       `json:"object"`
	Path        string           `json:"path"`
	Message     string           `json:"message"`
}

// Baseline states of a finding.
const (
	StateNew       = "new"
	StateUnchanged = "unchanged"
)

// LoadBaseline reads a JSON report written by kubeguard -o json.
func LoadBaseline(path string) (*Baseline, error) {
	var rep struct {
		Findings []struct {
			BaselineFinding
			Also []struct {
				Fingerprint string `json:"fingerprint"`
			} `json:"also"`
		} `json:"findings"`
	}
	if err := readReport(path, &rep); err != nil {
		return nil, err
	}
	b := &Baseline{Path: path, known: map[string]bool{}}
	for i, f := range rep.Findings {
		if f.Fingerprint == "" {
			return nil, fmt.Errorf("%s: finding %d has no fingerprint (write the baseline with this kubeguard's -o json)", path, i+1)
		}
		b.known[f.Fingerprint] = true
		for _, a := range f.Also {
			b.known[a.Fingerprint] = true
		}
		b.all = append(b.all, f.BaselineFinding)
	}
	return b, nil
}

// State says whether a problem is new since the baseline or was in it
// already (under any of its controls); "" without a baseline.
func (r *Report) State(p *finding.Problem) string {
	if r.Baseline == nil {
		return ""
	}
	r.Problems()
	return r.merged.states[p]
}

// Fixed are the baseline's findings that no finding of the report has.
func (r *Report) Fixed() []BaselineFinding {
	if r.Baseline == nil {
		return nil
	}
	r.Problems()
	return r.merged.fixed
}

// compare fingerprints a report's findings once: the state of each
// problem, and the baseline's findings none of them has.
func (b *Baseline) compare(all []*finding.Finding, problems []*finding.Problem) (map[*finding.Problem]string, []BaselineFinding) {
	now := make(map[*finding.Finding]string, len(all))
	present := make(map[string]bool, len(all))
	for _, f := range all {
		fp := fingerprint(f)
		now[f], present[fp] = fp, true
	}
	states := make(map[*finding.Problem]string, len(problems))
	for _, p := range problems {
		states[p] = StateNew
		for _, f := range p.Findings() {
			fp, ok := now[f]
			if !ok {
				fp = fingerprint(f)
			}
			if b.known[fp] {
				states[p] = StateUnchanged
				break
			}
		}
	}
	var fixed []BaselineFinding
	for _, f := range b.all {
		if !present[f.Fingerprint] {
			fixed = append(fixed, f)
		}
	}
	return states, fixed
}

// HistoryPoint is an earlier report's counts, for the HTML report's
// trend.
type HistoryPoint struct {
	Label      string
	Findings   int
	BySeverity map[string]int
}

// LoadHistory reads the summary of an earlier JSON report; label names it
// in the trend (the file name, if empty).
func LoadHistory(path, label string) (HistoryPoint, error) {
	var rep struct {
		Summary Summary `json:"summary"`
	}
	if err := readReport(path, &rep); err != nil {
		return HistoryPoint{}, err
	}
	if label == "" {
		label = filepath.Base(path)
	}
	return HistoryPoint{Label: label, Findings: rep.Summary.Findings, BySeverity: rep.Summary.BySeverity}, nil
}

// readReport decodes a kubeguard JSON report into v, after checking its
// schema version.
func readReport(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var head struct {
		SchemaVersion string `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("%s: not a kubeguard JSON report: %v", path, err)
	}
	if head.SchemaVersion != JSONSchemaVersion {
		return fmt.Errorf("%s: schemaVersion %q, want %q (a report of kubeguard -o json)", path, head.SchemaVersion, JSONSchemaVersion)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: not a kubeguard JSON report: %v", path, err)
	}
	return nil
}
