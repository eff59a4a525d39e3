package control

import (
	"testing"

	"github.com/kubeguard/kubeguard/internal/intern"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// TestReportFormatsIntoOneBuffer: with a message table, every report
// formats into the pass's buffer; earlier findings must keep their text.
func TestReportFormatsIntoOneBuffer(t *testing.T) {
	var got []finding.Finding
	c := &Control{ID: "X", Severity: finding.Low}
	o := &object.Object{Ref: object.Ref{Kind: "Pod", Name: "p"}}
	p := NewPass(c, o, nil, nil, func(f finding.Finding) { got = append(got, f) })
	p.Messages = intern.New()
	p.Report("spec", "container %q runs as root", "app")
	p.Reset(c, o, nil, nil, p.report)
	p.ReportContainer("sidecar", "spec", "container %q runs as root", "sidecar")
	p.Report("spec", "no format arguments")
	p.ReportContainer("app", "spec", "container %q runs as root", "app")
	want := []string{`container "app" runs as root`, `container "sidecar" runs as root`, "no format arguments", `container "app" runs as root`}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d", len(got), len(want))
	}
	for i, f := range got {
		if f.Message != want[i] {
			t.Errorf("finding %d: message %q, want %q", i, f.Message, want[i])
		}
	}
	if p.Messages == nil {
		t.Error("Reset dropped the message table")
	}
}
