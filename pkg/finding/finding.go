// Package finding defines what a control reports. Reports are pure
// functions of findings.
package finding

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Severity orders findings. The zero value is invalid.
type Severity int

const (
	Info Severity = iota + 1
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"", "info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity parses a severity name (case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if i > 0 && strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of info, low, medium, high, critical)", s)
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Finding is one violation of one control by one object.
type Finding struct {
	ControlID string
	Severity  Severity
	Object    object.Ref
	// Container names the container the finding is about, if any.
	Container string
	// Path is the field path of the offending field, e.g.
	// spec.template.spec.containers[0].securityContext.privileged.
	Path     string
	Position object.Position
	// ObjectAt is where the object starts: two objects of one name in one
	// file are told apart by it.
	ObjectAt object.Position
	// Rendered is where the field is in the output of a chart or
	// kustomization build, when Position points at its source instead.
	Rendered *object.Position
	// Origin is a second source (for example a chart template).
	Origin  string
	Message string
	// Suppressed is set when a suppression matched; the finding then
	// does not count towards the exit code.
	Suppressed *Suppression
	// Expired is a suppression that matched but has expired: the finding
	// counts again, and reports say why.
	Expired *Suppression
	// Vuln is what an image vulnerability finding (IMG-VULN) is about.
	Vuln *Vulnerability
	// Activity is the request an audit finding (AUD-*) is about.
	Activity *Activity
	// Action is what a team's policy asks admission to do with the
	// finding (ActionDeny, ActionWarn, ActionAudit): a binding's
	// validationActions, a constraint's enforcementAction. Empty for
	// built-in controls, whose mode the configuration alone sets.
	Action string
}

// The actions a team's policy can ask for.
const (
	ActionDeny  = "deny"
	ActionWarn  = "warn"
	ActionAudit = "audit"
)

// Activity is who made a request the audit trail recorded, and for an
// anomaly, how unusual it was against the identity's learned baseline.
type Activity struct {
	User      string    `json:"user"`
	SourceIP  string    `json:"sourceIP,omitempty"`
	UserAgent string    `json:"userAgent,omitempty"`
	Verb      string    `json:"verb,omitempty"`
	Time      time.Time `json:"time"`
	AuditID   string    `json:"auditID,omitempty"`
	// Score (0 to 1) ranks an anomaly: how sensitive the new behaviour
	// is and how long a baseline it departs from; Term is what was new.
	Score float64 `json:"score,omitempty"`
	Term  string  `json:"term,omitempty"`
}

// Vulnerability is a known vulnerability of a package in an image.
type Vulnerability struct {
	// ID is the vulnerability's name (its CVE when it has one); Aliases
	// are the other advisories' names for it (GHSA, DSA, GO-...).
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	URL     string   `json:"url,omitempty"`
	// Package is the installed package; SourcePackage the source
	// package advisories name (Debian, Alpine).
	Package       string `json:"package"`
	SourcePackage string `json:"sourcePackage,omitempty"`
	Ecosystem     string `json:"ecosystem"`
	PURL          string `json:"purl,omitempty"`
	Installed     string `json:"installedVersion"`
	Fixed         string `json:"fixedVersion,omitempty"`
	// Score and Vector are the CVSS rating the severity comes from;
	// Unrated says no advisory rated it (the severity is a default).
	Score   float64 `json:"cvssScore,omitempty"`
	Vector  string  `json:"cvssVector,omitempty"`
	Unrated bool    `json:"unrated,omitempty"`
	// Image is the reference scanned, Digest the image manifest's.
	Image    string `json:"image"`
	Digest   string `json:"digest"`
	Platform string `json:"platform,omitempty"`
	// Paths are the files in the image the package was read from.
	Paths []string `json:"paths,omitempty"`
	// Layer added the package: its index, digest and the Dockerfile
	// instruction that made it; BaseLayer says it came with the base
	// image.
	Layer        int    `json:"layer"`
	LayerDigest  string `json:"layerDigest,omitempty"`
	LayerCommand string `json:"layerCommand,omitempty"`
	BaseLayer    bool   `json:"baseLayer,omitempty"`
}

// Key names the vulnerability of one package of one image.
func (v *Vulnerability) Key() string {
	if v == nil {
		return ""
	}
	return v.ID + "\x00" + v.Ecosystem + "\x00" + v.Package + "\x00" + v.Installed + "\x00" + v.Digest
}

// Names reports whether id is the vulnerability's ID or an alias.
func (v *Vulnerability) Names(id string) bool {
	if v == nil {
		return false
	}
	if strings.EqualFold(v.ID, id) {
		return true
	}
	for _, a := range v.Aliases {
		if strings.EqualFold(a, id) {
			return true
		}
	}
	return false
}

// Suppression records why a finding was accepted.
type Suppression struct {
	Kind    string `json:"kind"` // "annotation" or "config"
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
}

// Compare orders findings by position, then object, control, container,
// path and message: a total order, so sorting needs no stability and the
// output never depends on scheduling. Objects read from a cluster have no
// position; their findings group by object. Fields are compared one by
// one: building strings here would dominate sorting large scans.
func Compare(a, b *Finding) int {
	if c := cmp.Compare(a.Position.File, b.Position.File); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Position.Line, b.Position.Line); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Position.Column, b.Position.Column); c != 0 {
		return c
	}
	if c := a.Object.Compare(b.Object); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ControlID, b.ControlID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Container, b.Container); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return cmp.Compare(a.Message, b.Message)
}
