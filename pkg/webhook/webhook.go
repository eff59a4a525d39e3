// Package webhook is kubeguard's admission front door: it answers
// ValidatingAdmissionWebhook and MutatingAdmissionWebhook calls
// (admission.k8s.io/v1) by running the same engine, controls and
// suppressions as scan on the object under admission.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Name is the name of kubeguard's webhook configurations (the chart's
// release name, deploy/helm/kubeguard), whose caBundle --self-signed
// patches.
const Name = "kubeguard"

// Inventory is the live view of the cluster that cross-object controls
// read. Snapshot returns the current inventory and whether it is in sync
// with the API server.
type Inventory interface {
	Snapshot() (*inventory.Inventory, bool)
}

// Options configure a Handler.
type Options struct {
	Engine *engine.Engine
	Config *config.Webhook
	// Inventory may be nil: cross-object controls then do not run.
	Inventory Inventory
	// Images, when set, holds the background image scans whose results
	// decide on the images a request runs (see config.WebhookImages).
	Images *imagescan.Background
	// Verify, when set, judges the signatures and attestations of the
	// images a request runs (images.verify policies, ClusterImagePolicy
	// objects), and the mutating endpoint pins verified images to their
	// digest.
	Verify  *imageverify.Cache
	Logger  *slog.Logger
	Metrics *Metrics
	// Timeout bounds the evaluation of one request; it is lowered to
	// stay below the API server's own timeout for the call.
	Timeout time.Duration
	// MaxBody bounds the size of an AdmissionReview.
	MaxBody int64
	// MaxInFlight bounds the evaluations running at once (0: four per
	// core). An evaluation that outlives its request's deadline keeps
	// its slot until it ends, so work abandoned under overload cannot
	// pile up; a request that finds no slot before its deadline is
	// answered per the failure policy at once.
	MaxInFlight int
}

// Handler serves /validate and /mutate.
type Handler struct {
	opts      Options
	cat       *control.Catalog
	mutations []Mutation
	nsSel     labels.Selector
	objSel    labels.Selector
	slots     chan struct{}
}

// DefaultTimeout is the evaluation deadline: the API server's default
// webhook timeout is 10s, and kubeguard answers well before it.
const DefaultTimeout = 5 * time.Second

// DefaultMaxBody is larger than any object the API server stores (etcd's
// default request limit is 1.5 MiB; a review carries object and oldObject).
const DefaultMaxBody = 8 << 20

// New checks the options and returns a handler.
func New(opts Options) (*Handler, error) {
	if opts.Config == nil {
		opts.Config = &config.Webhook{}
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 4 * runtime.GOMAXPROCS(0)
	}
	h := &Handler{opts: opts, cat: opts.Engine.Catalog(), nsSel: labels.Everything(), objSel: labels.Everything(),
		slots: make(chan struct{}, opts.MaxInFlight)}
	var err error
	if h.mutations, err = lookupMutations(opts.Config.Mutate); err != nil {
		return nil, err
	}
	if s := opts.Config.NamespaceSelector; s != nil {
		if h.nsSel, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return nil, fmt.Errorf("webhook.namespaceSelector: %v", err)
		}
		if opts.Inventory == nil {
			// Without the cluster's namespaces their labels are unknown,
			// and every request would fail the selector: the API server
			// applies it (it is in the webhook configurations) before
			// calling.
			h.nsSel = labels.Everything()
		}
	}
	if s := opts.Config.ObjectSelector; s != nil {
		if h.objSel, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return nil, fmt.Errorf("webhook.objectSelector: %v", err)
		}
	}
	return h, nil
}

// Validate answers validating admission calls.
func (h *Handler) Validate() http.Handler { return h.serve("validate") }

// Mutate answers mutating admission calls.
func (h *Handler) Mutate() http.Handler { return h.serve("mutate") }

// badRequest is an error in the review itself, answered with HTTP 400.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func (h *Handler) serve(op string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		review, err := h.read(w, r)
		if err != nil {
			h.opts.Logger.Warn("malformed admission review", "endpoint", op, "remote", r.RemoteAddr, "error", err)
			h.opts.Metrics.observe(op, "", "bad-request", time.Since(start))
			var br badRequest
			code := http.StatusInternalServerError
			if errors.As(err, &br) {
				code = http.StatusBadRequest
			}
			http.Error(w, err.Error(), code)
			return
		}
		req := review.Request
		ctx, cancel := context.WithTimeout(r.Context(), h.deadline(r))
		defer cancel()
		resp := h.answer(ctx, op, req)
		resp.UID = req.UID
		out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp}
		body, err := json.Marshal(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
		h.opts.Metrics.observe(op, req.Kind.Kind, decision(resp), time.Since(start))
	})
}

func decision(r *admissionv1.AdmissionResponse) string {
	switch {
	case !r.Allowed:
		return "deny"
	case len(r.Patch) > 0:
		return "patch"
	case len(r.Warnings) > 0:
		return "warn"
	}
	return "allow"
}

// deadline returns the evaluation budget: the configured timeout, and at
// most 80% of the timeout the API server passes in the URL (?timeout=10s).
func (h *Handler) deadline(r *http.Request) time.Duration {
	d := h.opts.Timeout
	if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > 0 {
		d = min(d, t*8/10)
	}
	return d
}

func (h *Handler) read(w http.ResponseWriter, r *http.Request) (*admissionv1.AdmissionReview, error) {
	if r.Method != http.MethodPost {
		return nil, badRequest{"admission reviews are POSTed"}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, badRequest{fmt.Sprintf("content type %q is not application/json", ct)}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, badRequest{fmt.Sprintf("admission review larger than %d bytes", h.opts.MaxBody)}
		}
		return nil, badRequest{"reading the admission review: " + err.Error()}
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil {
		return nil, badRequest{"not an AdmissionReview: " + err.Error()}
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		return nil, badRequest{fmt.Sprintf("not an admission.k8s.io/v1 AdmissionReview (apiVersion %q, kind %q)", review.APIVersion, review.Kind)}
	}
	if review.Request == nil {
		return nil, badRequest{"AdmissionReview has no request"}
	}
	if review.Request.UID == "" {
		return nil, badRequest{"AdmissionReview request has no uid"}
	}
	return &review, nil
}

// answer evaluates the request within ctx's deadline. A request that runs
// out of time, or a panic anywhere in the evaluation, is answered per the
// failure policy: the webhook never hangs the API server and never
// crashes.
func (h *Handler) answer(ctx context.Context, op string, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		h.opts.Metrics.shed.Inc()
		h.opts.Logger.Warn("overloaded: no evaluation slot before the deadline", "endpoint", op, "uid", req.UID, "kind", req.Kind.Kind)
		return h.failure("overloaded: no evaluation slot before the deadline")
	}
	done := make(chan *admissionv1.AdmissionResponse, 1)
	go func() {
		defer func() { <-h.slots }()
		defer func() {
			if r := recover(); r != nil {
				h.opts.Logger.Error("internal error", "endpoint", op, "uid", req.UID, "panic", fmt.Sprint(r))
				done <- h.failure(fmt.Sprintf("internal error: %v", r))
			}
		}()
		if op == "mutate" {
			done <- h.mutate(ctx, req)
		} else {
			done <- h.validate(ctx, req)
		}
	}()
	select {
	case resp := <-done:
		return resp
	case <-ctx.Done():
		h.opts.Logger.Error("evaluation timed out", "endpoint", op, "uid", req.UID, "kind", req.Kind.Kind)
		return h.failure("evaluation timed out")
	}
}

// failure answers a request kubeguard could not evaluate.
func (h *Handler) failure(msg string) *admissionv1.AdmissionResponse {
	h.opts.Metrics.failures.Inc()
	if h.opts.Config.FailurePolicy == "Fail" {
		return &admissionv1.AdmissionResponse{Result: &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
			Message: "kubeguard could not evaluate this request (failurePolicy Fail): " + msg}}
	}
	return &admissionv1.AdmissionResponse{Allowed: true, Warnings: []string{"kubeguard could not evaluate this request: " + msg}}
}

// capList joins at most n items and says how many more there are.
func capList(items []string, n int, sep string) string {
	if len(items) <= n {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:n], sep) + fmt.Sprintf("%s... and %d more", sep, len(items)-n)
}

// subject returns the object under admission, or nil when kubeguard has
// nothing to say about the request.
func (h *Handler) subject(req *admissionv1.AdmissionRequest) (*object.Object, error) {
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	default:
		return nil, nil
	}
	// Status, scale and binding updates cannot change what the controls
	// look at; ephemeral containers can.
	if req.SubResource != "" && req.SubResource != "ephemeralcontainers" {
		return nil, nil
	}
	if len(req.Object.Raw) == 0 || h.exempt(req) {
		return nil, nil
	}
	o, err := object.FromJSON(req.Object.Raw, object.Position{})
	if err != nil {
		return nil, err
	}
	if o.Namespace == "" && req.Namespace != "" {
		// Objects created without metadata.namespace get the request's.
		if md, ok := o.Content["metadata"].(map[string]any); ok {
			md["namespace"] = req.Namespace
		}
		o.Namespace = req.Namespace
	}
	if o.Name == "" {
		o.Name = req.Name
	}
	if !h.objSel.Matches(labels.Set(o.Metadata("labels"))) || !h.nsSel.Matches(h.namespaceLabels(req.Namespace)) {
		return nil, nil
	}
	return o, nil
}

func (h *Handler) exempt(req *admissionv1.AdmissionRequest) bool {
	c := h.opts.Config
	if c.ExemptNamespace(req.Namespace) {
		return true
	}
	for _, u := range c.Exempt.Users {
		if u == req.UserInfo.Username {
			return true
		}
	}
	for _, g := range c.Exempt.Groups {
		for _, rg := range req.UserInfo.Groups {
			if g == rg {
				return true
			}
		}
	}
	return false
}

// namespaceLabels returns the labels of a namespace from the live
// inventory; without one, only the label the API server sets on every
// namespace is known.
func (h *Handler) namespaceLabels(ns string) labels.Set {
	var inv *inventory.Inventory
	if h.opts.Inventory != nil {
		inv, _ = h.opts.Inventory.Snapshot()
	}
	return labels.Set(inventory.NamespaceLabels(inv, ns))
}

// verdict is a finding with the mode it is handled in.
type verdict struct {
	finding.Finding
	mode config.Mode
	ctl  *control.Control
}

func (h *Handler) validate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	o, err := h.subject(req)
	if err != nil {
		return h.failure("object: " + err.Error())
	}
	if o == nil {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	var base *inventory.Inventory
	synced := false
	if h.opts.Inventory != nil {
		base, synced = h.opts.Inventory.Snapshot()
	}
	adm := h.opts.Engine.Admit(o, base)
	if len(adm.Rejected) > 0 {
		// The object does not decode as its kind: nothing can be judged,
		// and the API server's own validation refuses it too.
		msg := "kubeguard: " + o.Ref.String() + " is not a valid " + o.Kind + ": " + capList(adm.Rejected, 10, "; ")
		return &admissionv1.AdmissionResponse{Result: &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity,
			Reason: metav1.StatusReasonInvalid, Message: msg}}
	}
	for _, d := range adm.Diagnostics {
		if d.Severity == object.SeverityError {
			return h.failure(d.Message)
		}
	}
	dryRun := req.DryRun != nil && *req.DryRun
	var deny, warn []verdict
	var unscanned []verdict
	if h.opts.Images != nil {
		var fs []finding.Finding
		fs, unscanned = h.images(o, adm.Workload)
		adm.Findings = append(adm.Findings, fs...)
	}
	if h.opts.Verify != nil {
		fs, unverified := h.verifyImages(ctx, o, adm.Workload)
		adm.Findings = append(adm.Findings, fs...)
		unscanned = append(unscanned, unverified...)
	}
	for _, v := range unscanned {
		switch v.mode {
		case config.Enforce:
			deny = append(deny, v)
		case config.Warn:
			warn = append(warn, v)
		}
	}
	for _, f := range adm.Findings {
		if f.Suppressed != nil {
			continue
		}
		c, _ := h.cat.Get(f.ControlID)
		// a rule of the configuration decides; else the action the
		// team's policy asks for; else the default mode
		mode, ruled := h.opts.Config.RuleFor(c.ID, c.Category, f.Severity, c.RefKeys())
		if m, ok := config.ActionMode(f.Action); ok && !ruled {
			mode = m
		}
		if c.Scope == control.InventoryScope && !synced && mode != config.Audit {
			// The live inventory may be missing the object that makes
			// this finding wrong: never deny or warn on a guess.
			mode = config.Audit
		}
		v := verdict{f, mode, c}
		switch mode {
		case config.Enforce:
			deny = append(deny, v)
		case config.Warn:
			warn = append(warn, v)
		}
		if !dryRun {
			h.opts.Metrics.finding(c.ID, string(mode))
			h.opts.Logger.Info("finding", "control", c.ID, "mode", string(mode), "severity", f.Severity.String(),
				"object", o.Ref.String(), "path", f.Path, "user", req.UserInfo.Username, "uid", req.UID, "message", f.Message)
		}
	}
	resp := &admissionv1.AdmissionResponse{Allowed: len(deny) == 0}
	for i, v := range warn {
		if i == maxListed {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("... and %d more kubeguard warnings", len(warn)-maxListed))
			break
		}
		resp.Warnings = append(resp.Warnings, warning(v))
	}
	if len(deny) > 0 {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: denyMessage(o, deny)}
	}
	return resp
}

// warning formats a finding as an admission warning; kubectl prints each
// on its own line, and the API server truncates long ones.
func warning(v verdict) string {
	s := fmt.Sprintf("[%s] %s (%s)", v.ControlID, v.Message, v.Path)
	if len(s) > 250 {
		s = s[:247] + "..."
	}
	return s
}

// maxListed bounds the violations a denial lists and the warnings a
// response carries: a pod with thousands of containers must not produce
// a response of megabytes.
const maxListed = 20

func denyMessage(o *object.Object, deny []verdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kubeguard denied %s %s: %d violation(s)", o.Kind, o.Name, len(deny))
	for i, v := range deny {
		if i == maxListed {
			fmt.Fprintf(&b, "\n... and %d more", len(deny)-maxListed)
			break
		}
		fmt.Fprintf(&b, "\n- [%s] %s", v.ControlID, v.Message)
		if v.Path != "" {
			fmt.Fprintf(&b, "\n  field: %s", v.Path)
		}
		fmt.Fprintf(&b, "\n  fix: %s", v.ctl.Remediation)
	}
	return b.String()
}

func (h *Handler) mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	if len(h.mutations) == 0 && h.opts.Verify == nil {
		return resp
	}
	// Pods are immutable after creation except for a few fields; their
	// templates are not.
	if req.Operation == admissionv1.Update && req.Kind.Kind == "Pod" && req.Kind.Group == "" {
		return resp
	}
	o, err := h.subject(req)
	if err != nil || o == nil {
		return resp // the validating endpoint reports bad objects
	}
	w, err := inventory.ExtractWorkload(o)
	if err != nil || w == nil {
		return resp
	}
	ops := mutate(o, w, h.mutations)
	if h.opts.Verify != nil {
		ops = append(ops, h.pinImages(ctx, o, w)...)
	}
	if len(ops) == 0 {
		return resp
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return h.failure("patch: " + err.Error())
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	if !(req.DryRun != nil && *req.DryRun) {
		h.opts.Metrics.mutations.Add(float64(len(ops)))
	}
	return resp
}

// images are the counted vulnerabilities of the images a workload runs,
// from the background scans known now, and a verdict for each image not
// scanned yet (which is queued). Nothing here waits for a registry.
func (h *Handler) images(o *object.Object, wl *inventory.Workload) ([]finding.Finding, []verdict) {
	if wl == nil {
		return nil, nil
	}
	cfg := h.opts.Config.Images
	least := cfg.Severity
	if least == 0 {
		least = finding.Critical
	}
	inv := inventory.New()
	inv.Add(o, wl)
	var refs []string
	var pending []verdict
	ctl, _ := h.cat.Get(ctlimage.Vuln.ID)
	mode := cfg.Unscanned
	if mode == "" {
		mode = config.Audit
	}
	for _, c := range wl.Containers {
		if c.Image == "" || slices.Contains(refs, c.Image) {
			continue
		}
		refs = append(refs, c.Image)
		if _, err, done := h.opts.Images.Result(c.Image); !done || err != nil {
			msg := "image " + c.Image + " has not been scanned yet"
			if err != nil {
				msg = "image " + c.Image + " could not be scanned: " + err.Error()
			}
			pending = append(pending, verdict{finding.Finding{ControlID: ctlimage.Vuln.ID, Severity: finding.Info, Object: o.Ref,
				Container: c.Name, Path: c.Field("image"), Message: msg}, mode, ctl})
		}
	}
	h.opts.Images.Want(refs)
	fs, _ := h.opts.Images.Findings(inv.Entries(), nil, h.opts.Engine.Accept)
	var out []finding.Finding
	for _, f := range fs {
		if f.Severity < least || (cfg.FixableOnly && f.Vuln.Fixed == "") {
			continue
		}
		out = append(out, *f)
	}
	return out, pending
}
