package audit

import (
	"strings"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	ctlaudit "github.com/kubeguard/kubeguard/pkg/controls/audit"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Detector judges audit events: the AUD-* rules on every event, and the
// catalog's controls on the objects that created or changed ones carry
// (a privileged pod that got past admission is found here, with the
// control ID scan gives it). Findings point at the event's file and line.
type Detector struct {
	eng *engine.Engine
	// Events counts the events judged; Skipped those of stages before
	// the response (a request is judged once, complete).
	Events, Skipped int
}

// NewDetector judges with eng (its configuration's severities and
// suppressions apply).
func NewDetector(eng *engine.Engine) *Detector { return &Detector{eng: eng} }

// Event returns the findings of one event.
func (d *Detector) Event(e *Event) ([]*finding.Finding, []object.Diagnostic) {
	if e.Stage != auditv1.StageResponseComplete && e.Stage != auditv1.StagePanic && e.Stage != "" {
		d.Skipped++
		return nil, nil
	}
	d.Events++
	var out []*finding.Finding
	ref := objectRef(e)
	for _, r := range ctlaudit.Rules() {
		msg, ok := r.Match(&e.Event)
		if !ok {
			continue
		}
		f := &finding.Finding{ControlID: r.ID, Severity: r.Severity, Object: ref, Position: e.At, ObjectAt: e.At,
			Message: msg + " at " + e.StageTimestamp.UTC().Format("2006-01-02T15:04:05Z")}
		if d.eng.Accept(f, nil, nil) {
			out = append(out, f)
		}
	}
	o, err := d.subject(e)
	if err != nil {
		return out, []object.Diagnostic{{Pos: e.At, Severity: object.SeverityError, Message: "request object: " + err.Error()}}
	}
	if o == nil {
		return out, nil
	}
	adm := d.eng.Admit(o, nil)
	for i := range adm.Findings {
		f := adm.Findings[i]
		f.Position, f.ObjectAt = e.At, e.At
		f.Message += " (" + e.Verb + " by " + e.User.Username + ")"
		out = append(out, &f)
	}
	return out, nil
}

// subject is the object a successful create or update stored, when the
// event carries it (Request level or higher).
func (d *Detector) subject(e *Event) (*object.Object, error) {
	if e.Verb != "create" && e.Verb != "update" && e.Verb != "patch" {
		return nil, nil
	}
	if e.ObjectRef == nil || (e.ObjectRef.Subresource != "" && e.ObjectRef.Subresource != "ephemeralcontainers") {
		return nil, nil
	}
	if e.ResponseStatus != nil && e.ResponseStatus.Code >= 400 {
		return nil, nil
	}
	// a patch's request object is the patch; the response object is
	// what was stored
	raw := e.RequestObject
	if e.Verb == "patch" || raw == nil || len(raw.Raw) == 0 {
		raw = e.ResponseObject
	}
	if raw == nil || len(raw.Raw) == 0 {
		return nil, nil
	}
	o, err := object.FromJSON(raw.Raw, e.At)
	if err != nil {
		return nil, err
	}
	if o.Kind == "" || o.Kind == "Status" {
		return nil, nil
	}
	if o.Namespace == "" && e.ObjectRef.Namespace != "" {
		if md, ok := o.Content["metadata"].(map[string]any); ok {
			md["namespace"] = e.ObjectRef.Namespace
		}
		o.Namespace = e.ObjectRef.Namespace
		o.Ref.Namespace = e.ObjectRef.Namespace
	}
	if o.Name == "" {
		o.Name, o.Ref.Name = e.ObjectRef.Name, e.ObjectRef.Name
	}
	return o, nil
}

// objectRef names what an event is about: its object, or the request
// URI when it names none.
func objectRef(e *Event) object.Ref {
	r := e.ObjectRef
	if r == nil {
		return object.Ref{Kind: "Request", Name: e.RequestURI}
	}
	kind := r.Resource
	if r.Subresource != "" {
		kind += "/" + r.Subresource
	}
	api := r.APIVersion
	if r.APIGroup != "" {
		api = r.APIGroup + "/" + r.APIVersion
	}
	name := r.Name
	if name == "" {
		name = "(all)"
	}
	return object.Ref{APIVersion: api, Kind: kind, Namespace: r.Namespace, Name: strings.TrimSpace(name)}
}
