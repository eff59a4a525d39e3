// Package controller keeps kubeguard's view of a running cluster current:
// it re-evaluates the cluster when objects change and keeps PolicyReports
// in sync, with Lease-based leader election so that only one replica
// writes.
package controller

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubeguard/kubeguard/pkg/report"
)

var (
	PolicyReports        = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	ClusterPolicyReports = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "clusterpolicyreports"}
)

// WriteReports creates or replaces kubeguard's reports and deletes those
// of earlier runs that have no findings now. Nothing else is modified.
// namespace limits it to one namespace's report; only, when not nil, to
// the reports of these namespaces ("" for the ClusterPolicyReport).
func WriteReports(ctx context.Context, dyn dynamic.Interface, rep *report.Report, namespace string, only map[string]bool) (int, error) {
	written := map[string]bool{}
	for _, r := range report.PolicyReports(rep, time.Now()) {
		u := &unstructured.Unstructured{Object: r}
		if only != nil && !only[u.GetNamespace()] {
			continue
		}
		if u.GetKind() == "ClusterPolicyReport" && namespace != "" {
			continue // a namespaced scan does not own the cluster report
		}
		if err := put(ctx, dyn, u); err != nil {
			return 0, err
		}
		written[u.GetNamespace()] = true
	}
	if only != nil {
		for ns := range only {
			if !written[ns] {
				if err := deleteReport(ctx, dyn, ns); err != nil {
					return 0, err
				}
			}
		}
		return len(written), nil
	}
	// Stale reports: namespaces whose findings are gone.
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubeguard"}
	var old *unstructured.UnstructuredList
	var err error
	if namespace != "" {
		old, err = dyn.Resource(PolicyReports).Namespace(namespace).List(ctx, sel)
	} else {
		old, err = dyn.Resource(PolicyReports).List(ctx, sel)
	}
	if err != nil {
		return 0, fmt.Errorf("listing policy reports: %v", err)
	}
	for _, o := range old.Items {
		if o.GetName() == report.ReportName && !written[o.GetNamespace()] {
			if err := deleteReport(ctx, dyn, o.GetNamespace()); err != nil {
				return 0, err
			}
		}
	}
	if namespace == "" && !written[""] {
		if err := deleteReport(ctx, dyn, ""); err != nil {
			return 0, err
		}
	}
	return len(written), nil
}

// WriteChecklistReports creates or replaces the ClusterPolicyReport of
// each of the report's checklists (kubeguard node's, one per node);
// nothing else is touched.
func WriteChecklistReports(ctx context.Context, dyn dynamic.Interface, rep *report.Report) error {
	names := map[string]bool{}
	for _, c := range rep.Checklists {
		names[report.ChecklistReportName(c.Target)] = true
	}
	for _, r := range report.PolicyReports(rep, time.Now()) {
		u := &unstructured.Unstructured{Object: r}
		if u.GetKind() != "ClusterPolicyReport" || !names[u.GetName()] {
			continue
		}
		if err := put(ctx, dyn, u); err != nil {
			return err
		}
	}
	return nil
}

// put creates a report or replaces the one of its name.
func put(ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured) error {
	ri := dyn.Resource(ClusterPolicyReports).(dynamic.ResourceInterface)
	if u.GetKind() == "PolicyReport" {
		ri = dyn.Resource(PolicyReports).Namespace(u.GetNamespace())
	}
	old, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = ri.Create(ctx, u, metav1.CreateOptions{})
	case err == nil:
		u.SetResourceVersion(old.GetResourceVersion())
		_, err = ri.Update(ctx, u, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("writing %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// deleteReport deletes kubeguard's report of a namespace, or its
// ClusterPolicyReport for "".
func deleteReport(ctx context.Context, dyn dynamic.Interface, ns string) error {
	ri := dyn.Resource(ClusterPolicyReports).(dynamic.ResourceInterface)
	if ns != "" {
		ri = dyn.Resource(PolicyReports).Namespace(ns)
	}
	if err := ri.Delete(ctx, report.ReportName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
