package engine

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Annotations that suppress findings on one object:
//
//	kubeguard.io/ignore: "PSS-PRIVILEGED, CTR-READONLY-ROOTFS@sidecar"
//	kubeguard.io/ignore-reason: "node agent needs host access"
//	kubeguard.io/ignore-until: "2027-03-31"
//
// An entry ID@name only applies to the container of that name. They are read
// from the object's metadata and, for workloads, from the pod template.
const (
	AnnotationIgnore = "kubeguard.io/ignore"
	AnnotationReason = "kubeguard.io/ignore-reason"
	AnnotationUntil  = "kubeguard.io/ignore-until"
)

type annSuppression struct {
	control   string
	container string // "" = whole object
	reason    string
	until     config.Date
}

// annotationSuppressions parses the suppression annotations of an object.
// Errors are returned as diagnostics; a suppression with an error is not
// applied.
func (e *Engine) annotationSuppressions(o *object.Object, w *inventory.Workload) ([]annSuppression, []object.Diagnostic) {
	var out []annSuppression
	var diags []object.Diagnostic
	sources := []struct {
		path string
		ann  map[string]string
	}{{"metadata.annotations", o.Metadata("annotations")}}
	if w != nil && w.MetaPath != "metadata" {
		sources = append(sources, struct {
			path string
			ann  map[string]string
		}{w.MetaPath + ".annotations", w.Meta.Annotations})
	}
	for _, src := range sources {
		list, ok := src.ann[AnnotationIgnore]
		if !ok {
			continue
		}
		bad := func(key, format string, args ...any) {
			diags = append(diags, object.Diagnostic{
				Pos:      o.Locate(object.Key(src.path, key)),
				Severity: object.SeverityError,
				Message:  fmt.Sprintf("%s: %s", key, fmt.Sprintf(format, args...)),
			})
		}
		if e.cfg.ForbidAnnotationSuppressions {
			diags = append(diags, object.Diagnostic{Pos: o.Locate(object.Key(src.path, AnnotationIgnore)), Severity: object.SeverityWarning,
				Message: AnnotationIgnore + " ignored: the configuration forbids annotation suppressions"})
			continue
		}
		reason := strings.TrimSpace(src.ann[AnnotationReason])
		if reason == "" {
			bad(AnnotationIgnore, "a suppression needs a reason in %s", AnnotationReason)
			continue
		}
		var until config.Date
		if s, ok := src.ann[AnnotationUntil]; ok {
			t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
			if err != nil {
				bad(AnnotationUntil, "%q is not a date (want YYYY-MM-DD)", s)
				continue
			}
			until.Time = t
		}
		for _, entry := range strings.Split(list, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			id, ctr, _ := strings.Cut(entry, "@")
			cs := e.cat.Match(id)
			if len(cs) == 0 {
				bad(AnnotationIgnore, "unknown control ID %q", id)
				continue
			}
			if ctr != "" && w != nil && !hasContainer(w, ctr) {
				bad(AnnotationIgnore, "no container named %q", ctr)
				continue
			}
			for _, c := range cs {
				out = append(out, annSuppression{control: c.ID, container: ctr, reason: reason, until: until})
			}
		}
	}
	return out, diags
}

func hasContainer(w *inventory.Workload, name string) bool {
	for _, c := range w.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// suppress marks f as suppressed when a configuration exclusion or an
// annotation of its object accepts it. Expired suppressions no longer
// apply.
func (e *Engine) suppress(f *finding.Finding, anns []annSuppression) {
	for _, x := range e.cfg.Exclude {
		if !matchExclusion(x, f) {
			continue
		}
		if x.Expires.Expired(e.now) {
			f.Expired = &finding.Suppression{Kind: "config", Reason: x.Reason, Expires: x.Expires.String()}
			continue
		}
		f.Suppressed = &finding.Suppression{Kind: "config", Reason: x.Reason, Expires: x.Expires.String()}
		return
	}
	for _, a := range anns {
		if a.control != f.ControlID || (a.container != "" && a.container != f.Container) {
			continue
		}
		if a.until.Expired(e.now) {
			f.Expired = &finding.Suppression{Kind: "annotation", Reason: a.reason, Expires: a.until.String()}
			continue
		}
		f.Suppressed = &finding.Suppression{Kind: "annotation", Reason: a.reason, Expires: a.until.String()}
		return
	}
}

func matchExclusion(x config.Exclusion, f *finding.Finding) bool {
	return matchAny(x.Controls, f.ControlID, control.MatchID) &&
		matchAny(x.Kinds, f.Object.Kind, strings.EqualFold) &&
		matchAny(x.Namespaces, f.Object.Namespace, glob) &&
		matchAny(x.Names, f.Object.Name, glob) &&
		matchVuln(x, f.Vuln) &&
		(len(x.Users) == 0 || f.Activity != nil && matchAny(x.Users, f.Activity.User, glob))
}

// matchVuln matches the vulnerability fields of an exclusion; an
// exclusion naming none of them matches any finding.
func matchVuln(x config.Exclusion, v *finding.Vulnerability) bool {
	if len(x.Vulnerabilities) == 0 && len(x.Images) == 0 && len(x.Packages) == 0 {
		return true
	}
	if v == nil {
		return false
	}
	return matchAny(x.Vulnerabilities, "", func(id, _ string) bool { return v.Names(id) }) &&
		matchAny(x.Images, v.Image, func(p, ref string) bool { return glob(p, ref) || glob(p, ctlimage.Unversioned(ref)) }) &&
		matchAny(x.Packages, v.Package, func(p, name string) bool { return glob(p, name) || (v.SourcePackage != "" && glob(p, v.SourcePackage)) })
}

func matchAny(patterns []string, v string, match func(pattern, v string) bool) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == "*" || match(p, v) {
			return true
		}
	}
	return false
}

func glob(pattern, v string) bool {
	ok, err := path.Match(pattern, v)
	return err == nil && ok
}

// enabled decides which controls run, from the configuration and flags.
func enabled(cat *control.Catalog, cfg *config.Config) map[string]bool {
	on := map[string]bool{}
	only := map[string]bool{}
	for _, id := range cfg.Controls.Enable {
		for _, c := range cat.Match(id) {
			only[c.ID] = true
		}
	}
	for _, c := range cat.All() {
		on[c.ID] = len(only) == 0 || only[c.ID]
	}
	for _, id := range cfg.Controls.Disable {
		for _, c := range cat.Match(id) {
			on[c.ID] = false
		}
	}
	return on
}

// Accept takes a finding of an External control: it reports whether
// the control is enabled and applies severity overrides and the
// suppressions of the configuration and, when given, of the object the
// finding is about (whose scan reports any error in them).
func (e *Engine) Accept(f *finding.Finding, o *object.Object, w *inventory.Workload) bool {
	if !e.on[f.ControlID] {
		return false
	}
	if s, ok := e.severity[f.ControlID]; ok {
		f.Severity = s
	}
	var anns []annSuppression
	if o != nil {
		anns, _ = e.annotationSuppressions(o, w)
	}
	e.suppress(f, anns)
	return true
}
