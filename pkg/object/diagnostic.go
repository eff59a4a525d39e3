package object

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
