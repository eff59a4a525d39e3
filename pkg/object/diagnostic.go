package object

import (
	"cmp"
	"slices"
)

// DiagSeverity says how bad an input problem is. Errors make the scan exit
// with code 2 (after everything else has been analysed); warnings and notes
// are shown but do not change the exit code.
type DiagSeverity string

const (
	SeverityError   DiagSeverity = "error"
	SeverityWarning DiagSeverity = "warning"
	SeverityNote    DiagSeverity = "note"
)

// Diagnostic is a problem with the input itself, not a finding.
type Diagnostic struct {
	Pos      Position     `json:"position"`
	Severity DiagSeverity `json:"severity"`
	Message  string       `json:"message"`
}

func (d Diagnostic) String() string {
	if p := d.Pos.String(); p != "" {
		return p + ": " + string(d.Severity) + ": " + d.Message
	}
	return string(d.Severity) + ": " + d.Message
}

// SortDiagnostics orders diagnostics by position, keeping the order of
// those at the same place.
func SortDiagnostics(d []Diagnostic) {
	slices.SortStableFunc(d, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
}
