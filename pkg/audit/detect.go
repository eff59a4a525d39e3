package audit

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
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
	// Baseline, when set, learns every allowed request; past an
	// identity's learning window its new behaviour is an anomaly.
	// LearnOnly only learns: no rule, control or anomaly is reported.
	Baseline  *Baseline
	LearnOnly bool
	// Networks, when set, are where requests are expected from.
	Networks []netip.Prefix
	// Probing: Failures denied requests of one identity within Window.
	Failures int
	Window   time.Duration
	denied   map[string]*denials
	told     map[string]struct{}
	// Events counts the events judged; Skipped those of stages before
	// the response (a request is judged once, complete); Anomalies the
	// anomalies found. Late counts events more than MaxSkew older than
	// the newest before them, Future those more than MaxSkew ahead of
	// the clock (Now): clock skew between API servers, or a log replayed
	// out of order. Both are still judged.
	Events, Skipped, Anomalies, Late, Future int
	Now                                      func() time.Time
	newest                                   time.Time
}

// MaxSkew is how far event times may disagree before they are counted
// as skewed.
const MaxSkew = 5 * time.Minute

// maxTold bounds the catalog findings remembered as told.
const maxTold = 200000

// denials are an identity's recent denied requests.
type denials struct {
	times    []time.Time
	reported time.Time
}

// NewDetector judges with eng (its configuration's severities and
// suppressions apply), with the audit settings of its configuration.
func NewDetector(eng *engine.Engine, cfg *config.AuditConfig) (*Detector, error) {
	d := &Detector{eng: eng, Failures: 10, Window: time.Minute, denied: map[string]*denials{}, told: map[string]struct{}{}}
	if cfg == nil {
		return d, nil
	}
	var err error
	if d.Networks, err = cfg.Prefixes(); err != nil {
		return nil, err
	}
	if cfg.Probing.Failures > 0 {
		d.Failures = cfg.Probing.Failures
	}
	if cfg.Probing.Window.Duration > 0 {
		d.Window = cfg.Probing.Window.Duration
	}
	return d, nil
}

// BaselineOptionsOf returns the baseline settings of a configuration.
func BaselineOptionsOf(cfg *config.AuditConfig) BaselineOptions {
	return BaselineOptions{Window: cfg.Baseline.Window.Duration, Forget: cfg.Baseline.Forget.Duration, MaxIdentities: cfg.Baseline.MaxIdentities}
}

// Event returns the findings of one event.
func (d *Detector) Event(e *Event) ([]*finding.Finding, []object.Diagnostic) {
	if e.Stage != auditv1.StageResponseComplete && e.Stage != auditv1.StagePanic && e.Stage != "" {
		d.Skipped++
		return nil, nil
	}
	d.Events++
	if t := eventTime(&e.Event); !t.IsZero() {
		switch {
		case t.Before(d.newest.Add(-MaxSkew)):
			d.Late++
		case d.Now != nil && t.After(d.Now().Add(MaxSkew)):
			d.Future++
		}
		if t.After(d.newest) {
			d.newest = t
		}
	}
	if d.LearnOnly {
		if d.Baseline != nil && succeeded(e) {
			d.Baseline.Observe(&e.Event)
		}
		return nil, nil
	}
	var out []*finding.Finding
	ref := objectRef(e)
	var act *finding.Activity
	add := func(c *control.Control, path, msg string, score float64, term string) {
		if act == nil {
			act = activity(e)
		}
		a := act
		if score > 0 {
			cp := *act
			cp.Score, cp.Term, a = score, term, &cp
		}
		sev := c.Severity
		if score > 0 {
			msg += fmt.Sprintf(" (score %.2f)", score)
			if score >= 0.8 && sev < finding.High {
				sev = finding.High // credentials, exec or a person on a workload's token
			}
		}
		f := &finding.Finding{ControlID: c.ID, Severity: sev, Object: ref, Path: path, Position: e.At, ObjectAt: e.At,
			Message: msg + " at " + eventTime(&e.Event).UTC().Format("2006-01-02T15:04:05Z"), Activity: a}
		if d.eng.Accept(f, nil, nil) {
			out = append(out, f)
		}
	}
	for _, r := range ctlaudit.Rules() {
		if msg, ok := r.Match(&e.Event); ok {
			add(r.Control, r.Path, msg, 0, "")
		}
	}
	if msg, ok := d.probing(e); ok {
		add(ctlaudit.Probing, "responseStatus.code", msg, 0, "")
	}
	if len(d.Networks) > 0 && len(e.SourceIPs) > 0 && !d.expected(e.SourceIPs[0]) {
		add(ctlaudit.UnexpectedNetwork, "sourceIPs", fmt.Sprintf("%s made a request (%s %s) from %s, outside the expected networks",
			auditpolicy.Identity(e.User.Username), e.Verb, e.RequestURI, e.SourceIPs[0]), 0, "")
	}
	if d.Baseline != nil && succeeded(e) {
		for _, a := range d.Baseline.Observe(&e.Event) {
			d.Anomalies++
			add(a.Control, a.Path, a.Message, a.Score, a.Term)
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
		// an object's finding is told once: later updates that keep it
		// repeat nothing (a rolled Deployment would otherwise re-raise
		// every finding of its pod template)
		key := f.Object.String() + "\x00" + f.ControlID + "\x00" + f.Path + "\x00" + f.Message
		if _, told := d.told[key]; told {
			continue
		}
		if len(d.told) >= maxTold {
			clear(d.told)
		}
		d.told[key] = struct{}{}
		f.Position, f.ObjectAt = e.At, e.At
		f.Message += " (" + e.Verb + " by " + e.User.Username + ")"
		if act == nil {
			act = activity(e)
		}
		f.Activity = act
		out = append(out, &f)
	}
	return out, nil
}

// probing counts an identity's denied requests and reports the one that
// makes Failures within Window (once per window).
func (d *Detector) probing(e *Event) (string, bool) {
	if e.ResponseStatus == nil || e.ResponseStatus.Code != 403 || e.User.Username == "" {
		return "", false
	}
	now := eventTime(&e.Event)
	dn := d.denied[e.User.Username]
	if dn == nil {
		if len(d.denied) >= 100000 {
			clear(d.denied) // bounded: a flood of identities restarts the count
		}
		dn = &denials{}
		d.denied[e.User.Username] = dn
	}
	keep := dn.times[:0]
	for _, t := range dn.times {
		if now.Sub(t) < d.Window {
			keep = append(keep, t)
		}
	}
	dn.times = append(keep, now)
	if len(dn.times) < d.Failures || now.Sub(dn.reported) < d.Window {
		return "", false
	}
	dn.reported = now
	return fmt.Sprintf("%s was denied %d requests within %s (the last: %s %s)", auditpolicy.Identity(e.User.Username), len(dn.times), d.Window, e.Verb, e.RequestURI), true
}

func (d *Detector) expected(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range d.Networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// succeeded reports whether the request succeeded (or its event has no
// status to say otherwise).
func succeeded(e *Event) bool { return e.ResponseStatus == nil || e.ResponseStatus.Code < 400 }

func activity(e *Event) *finding.Activity {
	a := &finding.Activity{User: e.User.Username, UserAgent: e.UserAgent, Verb: e.Verb, Time: eventTime(&e.Event).UTC(), AuditID: string(e.AuditID)}
	if len(e.SourceIPs) > 0 {
		a.SourceIP = e.SourceIPs[0]
	}
	return a
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
	if !succeeded(e) {
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
