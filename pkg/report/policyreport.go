package report

import (
	"io"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// PolicyReportAPI is the group and version of the policy report CRDs that
// Kyverno, Falco and Trivy share (wg-policy).
const PolicyReportAPI = "wgpolicyk8s.io/v1alpha2"

// ReportName names kubeguard's reports: one PolicyReport per namespace
// and one ClusterPolicyReport, replaced on every run.
const ReportName = "kubeguard"

// PolicyReports groups the unsuppressed findings into a PolicyReport per
// namespace and a ClusterPolicyReport for cluster-scoped objects. Findings
// become results with result fail; the object's uid comes from r.UIDs.
func PolicyReports(r *Report, now time.Time) []map[string]any {
	byNS := map[string][]any{}
	ts := map[string]any{"seconds": now.Unix(), "nanos": 0}
	inChecklist := r.inChecklist()
	for _, f := range r.Findings {
		if f.Suppressed != nil || inChecklist(f) { // a checklist's own report has them
			continue
		}
		res := map[string]any{
			"source":    "kubeguard",
			"policy":    f.ControlID,
			"rule":      f.ControlID,
			"result":    "fail",
			"severity":  policySeverity(f.Severity),
			"message":   f.Message,
			"scored":    true,
			"timestamp": ts,
		}
		if c := r.control(f.ControlID); c != nil {
			res["category"] = c.Category
		}
		ref := map[string]any{"apiVersion": f.Object.APIVersion, "kind": f.Object.Kind, "name": f.Object.Name}
		if f.Object.Namespace != "" {
			ref["namespace"] = f.Object.Namespace
		}
		if uid := r.UIDs[f.Object]; uid != "" {
			ref["uid"] = uid
		}
		res["resources"] = []any{ref}
		props := map[string]any{}
		if f.Path != "" {
			props["path"] = f.Path
		}
		if f.Position.File != "" {
			props["file"] = f.Position.String()
		}
		if f.Origin != "" {
			props["origin"] = f.Origin
		}
		if f.Container != "" {
			props["container"] = f.Container
		}
		if len(props) > 0 {
			res["properties"] = props
		}
		byNS[f.Object.Namespace] = append(byNS[f.Object.Namespace], res)
	}
	var namespaces []string
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	var out []map[string]any
	for _, ns := range namespaces {
		results := byNS[ns]
		md := map[string]any{"name": ReportName, "labels": map[string]any{"app.kubernetes.io/managed-by": "kubeguard"}}
		kind := "ClusterPolicyReport"
		if ns != "" {
			kind, md["namespace"] = "PolicyReport", ns
		}
		out = append(out, map[string]any{
			"apiVersion": PolicyReportAPI, "kind": kind, "metadata": md,
			"summary": map[string]any{"pass": 0, "fail": len(results), "warn": 0, "error": 0, "skip": 0},
			"results": results,
		})
	}
	for _, c := range r.Checklists {
		results, summary := checklistResults(c, ts)
		out = append(out, map[string]any{
			"apiVersion": PolicyReportAPI, "kind": "ClusterPolicyReport",
			"metadata": map[string]any{"name": ChecklistReportName(c.Target), "labels": map[string]any{
				"app.kubernetes.io/managed-by": "kubeguard", "kubeguard.io/benchmark": c.Benchmark}},
			"scope":   map[string]any{"apiVersion": c.Target.APIVersion, "kind": c.Target.Kind, "name": c.Target.Name},
			"summary": summary, "results": results,
		})
	}
	return out
}

// ChecklistReportName names the ClusterPolicyReport of a checklist's
// target: one per node, so that each node's writer replaces its own.
func ChecklistReportName(target object.Ref) string {
	return ReportName + "-" + strings.ToLower(target.Kind) + "-" + target.Name
}

// policySeverity maps kubeguard severities onto the report's enum
// (critical, high, medium, low, info).
func policySeverity(s finding.Severity) string { return s.String() }

// PolicyReport writes the reports as a YAML stream (kubectl apply -f -).
func PolicyReport(w io.Writer, r *Report) error {
	for i, rep := range PolicyReports(r, time.Now()) {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		data, err := yaml.Marshal(rep)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}
