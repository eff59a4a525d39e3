package report_test

import (
	"slices"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// A framework view counts every control of the framework once per
// section it serves: failed with an open finding, not applicable without
// an object it checks, else passed.
func TestFrameworkView(t *testing.T) {
	rep := scanned(t)
	rep.Compliance = []control.Framework{control.CIS}
	for _, f := range rep.Findings {
		rep.Checked = append(rep.Checked, report.Checked{Ref: f.Object, Workload: f.Object.Kind == "Deployment"})
	}
	views := rep.Frameworks()
	if len(views) != 1 {
		t.Fatalf("%d views", len(views))
	}
	v := views[0]
	sum := report.SectionView{}
	var s52 *report.SectionView
	for i, s := range v.Sections {
		sum.Passed += s.Passed
		sum.Failed += s.Failed
		sum.NotApplicable += s.NotApplicable
		if s.ID == "5.2" {
			s52 = &v.Sections[i]
		}
		if s.ID[0] == '1' && (s.Passed > 0 || s.Failed > 0) {
			t.Errorf("section %s (control plane) applies to manifests without a control plane: %+v", s.ID, s)
		}
	}
	if s52 == nil || !slices.Contains(s52.FailedIDs, "PSS-PRIVILEGED") || s52.Score >= 50 {
		t.Errorf("5.2: %+v", s52)
	}
	// a control serving two sections counts in both, and once in the total
	if sum.Passed+sum.Failed+sum.NotApplicable < v.Total.Passed+v.Total.Failed+v.Total.NotApplicable || v.Total.Failed == 0 || v.Total.Passed == 0 {
		t.Errorf("sections %+v, total %+v", sum, v.Total)
	}
	n := 0
	for _, c := range rep.Catalog.All() {
		if len(c.RefsFor(control.CIS)) > 0 {
			n++
		}
	}
	if got := v.Total.Passed + v.Total.Failed + v.Total.NotApplicable; got != n {
		t.Errorf("total counts %d controls, the catalog has %d CIS controls", got, n)
	}
}
