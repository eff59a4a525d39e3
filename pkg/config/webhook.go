package config

import (
	"fmt"
	"path"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Mode is what the admission webhook does with a finding.
type Mode string

const (
	// Enforce denies the request.
	Enforce Mode = "enforce"
	// Warn admits it with an admission warning (kubectl prints it).
	Warn Mode = "warn"
	// Audit admits it and records the finding in logs and metrics.
	Audit Mode = "audit"
)

// Webhook configures kubeguard webhook. Controls, severities, exclusions
// and annotation suppressions are the top-level settings shared with scan.
type Webhook struct {
	// DefaultMode applies to findings no rule matches (default warn).
	// Without rules and a default mode, SafeDefaults apply: what Pod
	// Security Admission users expect, baseline enforced and everything
	// else warned.
	DefaultMode Mode `yaml:"defaultMode"`
	// Rules assign modes; the first rule that matches a finding wins.
	Rules []ModeRule `yaml:"rules"`
	// NamespaceSelector and ObjectSelector limit which requests are
	// evaluated (they are also written into the webhook configurations
	// by install-manifests, so the API server does not even call).
	NamespaceSelector *metav1.LabelSelector `yaml:"namespaceSelector"`
	ObjectSelector    *metav1.LabelSelector `yaml:"objectSelector"`
	// Exempt requests are admitted without evaluation.
	Exempt struct {
		Namespaces []string `yaml:"namespaces"` // glob patterns
		Users      []string `yaml:"users"`
		Groups     []string `yaml:"groups"`
	} `yaml:"exempt"`
	// Mutate lists the safe defaults the mutating endpoint sets when a
	// pod spec leaves them unset (see webhook.Mutations).
	Mutate []string `yaml:"mutate"`
	// FailurePolicy says what happens when kubeguard cannot answer: it is
	// written into the webhook configurations (the API server applies it
	// when the webhook is down or too slow) and applied by kubeguard
	// itself when a control fails (Fail denies, Ignore admits). The
	// default is Ignore: a broken webhook must not stop the cluster.
	FailurePolicy string `yaml:"failurePolicy"`
	// Images decides on the vulnerabilities of the images a request runs,
	// from the results the background scanner holds (kubeguard webhook
	// --images): nothing is scanned while the request waits.
	Images WebhookImages `yaml:"images"`
}

// WebhookImages says which vulnerabilities of a scanned image count. A
// counted vulnerability is an IMG-VULN finding, whose mode the rules
// decide like any other's.
type WebhookImages struct {
	// Severity is the least severity counted (default critical).
	Severity finding.Severity `yaml:"severity"`
	// FixableOnly counts only vulnerabilities with a fixed version.
	FixableOnly bool `yaml:"fixableOnly"`
	// Unscanned is the mode for an image not scanned yet: audit admits
	// it (the default), warn admits it with a warning, enforce denies it
	// until its scan is done.
	Unscanned Mode `yaml:"unscanned"`
}

// ModeRule matches findings by control ID (glob), category and severity;
// empty lists match anything.
type ModeRule struct {
	Controls   []string           `yaml:"controls"`
	Categories []string           `yaml:"categories"`
	Severities []finding.Severity `yaml:"severities"`
	// Frameworks match a control's framework references, as
	// FRAMEWORK:ID globs: "PSS:baseline", "CIS:5.2.*".
	Frameworks []string `yaml:"frameworks"`
	Mode       Mode     `yaml:"mode"`
}

// SafeDefaults are the modes of a webhook configured with neither rules
// nor a default mode: the Pod Security Standards' baseline enforced, the
// rest (restricted included) warned, as namespaces labelled enforce:
// baseline, warn: restricted behave.
var SafeDefaults = []ModeRule{{Frameworks: []string{"PSS:baseline"}, Mode: Enforce}}

// Validate checks modes and the failure policy.
func (w *Webhook) Validate() error {
	if w.Images.Unscanned != "" && w.Images.Unscanned != Enforce && w.Images.Unscanned != Warn && w.Images.Unscanned != Audit {
		return fmt.Errorf("webhook.images.unscanned: unknown mode %q (want enforce, warn or audit)", w.Images.Unscanned)
	}
	check := func(m Mode, where string) error {
		switch m {
		case Enforce, Warn, Audit:
			return nil
		}
		return fmt.Errorf("%s: mode %q is not one of enforce, warn, audit", where, m)
	}
	if w.DefaultMode == "" {
		if len(w.Rules) == 0 {
			w.Rules = SafeDefaults
		}
		w.DefaultMode = Warn
	}
	if err := check(w.DefaultMode, "webhook.defaultMode"); err != nil {
		return err
	}
	for i, r := range w.Rules {
		if err := check(r.Mode, fmt.Sprintf("webhook.rules[%d]", i)); err != nil {
			return err
		}
		for _, g := range r.Controls {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("webhook.rules[%d]: bad pattern %q", i, g)
			}
		}
	}
	switch w.FailurePolicy {
	case "":
		w.FailurePolicy = "Ignore"
	case "Fail", "Ignore":
	default:
		return fmt.Errorf("webhook.failurePolicy: %q is not Fail or Ignore", w.FailurePolicy)
	}
	for _, g := range w.Exempt.Namespaces {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("webhook.exempt.namespaces: bad pattern %q", g)
		}
	}
	return nil
}

// ModeFor returns the mode of a finding of a control, whose framework
// references are refs ("PSS:baseline").
func (w *Webhook) ModeFor(id, category string, sev finding.Severity, refs []string) Mode {
	m, _ := w.RuleFor(id, category, sev, refs)
	return m
}

// RuleFor is ModeFor, and whether a rule set the mode rather than the
// default.
func (w *Webhook) RuleFor(id, category string, sev finding.Severity, refs []string) (Mode, bool) {
	for _, r := range w.Rules {
		if r.matches(id, category, sev, refs) {
			return r.Mode, true
		}
	}
	if w.DefaultMode == "" {
		return Warn, false
	}
	return w.DefaultMode, false
}

// ActionMode is the mode of the action a team's policy asks for.
func ActionMode(action string) (Mode, bool) {
	switch action {
	case finding.ActionDeny:
		return Enforce, true
	case finding.ActionWarn:
		return Warn, true
	case finding.ActionAudit:
		return Audit, true
	}
	return "", false
}

func (r *ModeRule) matches(id, category string, sev finding.Severity, refs []string) bool {
	if len(r.Controls) > 0 && !anyGlob(r.Controls, id) {
		return false
	}
	if len(r.Frameworks) > 0 && !slices.ContainsFunc(refs, func(ref string) bool { return anyGlob(r.Frameworks, ref) }) {
		return false
	}
	if len(r.Categories) > 0 && !anyGlob(r.Categories, category) {
		return false
	}
	if len(r.Severities) > 0 {
		ok := false
		for _, s := range r.Severities {
			ok = ok || s == sev
		}
		if !ok {
			return false
		}
	}
	return true
}

// ExemptNamespace reports whether a namespace is exempt.
func (w *Webhook) ExemptNamespace(ns string) bool {
	return ns != "" && anyGlob(w.Exempt.Namespaces, ns)
}

func anyGlob(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}
