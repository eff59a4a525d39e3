// Package secrets holds controls on credentials: how pods consume Secrets,
// credentials hard-coded in manifests, references to keys that do not
// exist, and TLS certificates due for rotation. Findings never quote a
// secret value; they redact it.
package secrets

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Controls returns the secrets controls.
func Controls() []*control.Control {
	return []*control.Control{envSecret, hardcoded, inManifest, missingRef, tlsExpired, tlsExpiring}
}

var envSecret = &control.Control{
	ID:       "SEC-ENV-SECRET",
	Title:    "Secret exposed as environment variable",
	Severity: finding.Low,
	Category: "secrets",
	Rationale: "Environment variables leak: they are inherited by every child process, printed by crash reports " +
		"and debug endpoints, and visible in /proc. Secrets mounted as files can be rotated and have file permissions.",
	Remediation:   "Mount the Secret as a volume (optionally with defaultMode 0400) and read the file.",
	Refs:          control.Refs("CIS:5.4.1", "NSA:secrets", "NIST:4.1.4", "MITRE:T1552.007"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			for i, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					p.ReportContainer(c.Name, object.Index(c.Field("env"), i)+".valueFrom.secretKeyRef",
						"%s %q reads Secret %q into environment variable %s", c.Kind, c.Name, e.ValueFrom.SecretKeyRef.Name, e.Name)
				}
			}
			for i, e := range c.EnvFrom {
				if e.SecretRef != nil {
					p.ReportContainer(c.Name, object.Index(c.Field("envFrom"), i)+".secretRef",
						"%s %q loads every key of Secret %q into its environment", c.Kind, c.Name, e.SecretRef.Name)
				}
			}
		}
	},
}

var (
	// sensitiveName matches names of variables and keys that hold
	// credentials.
	sensitiveName = regexp.MustCompile(`(?i)(passw(or)?d|passwd|\bpwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|credential|auth[_-]?key|signing[_-]?key|encryption[_-]?key)`)
	// notACredential matches names that merely point at one.
	notACredential = regexp.MustCompile(`(?i)(_ID|_USER|USERNAME|_FILE|_PATH|_DIR|_URL|_URI|_ENDPOINT|_HOST|_PORT|_NAME|_REF|_KEY_ID|_ENABLED|_ENABLE|_TTL|_EXPIR\w*|_TIMEOUT|_LENGTH|_SIZE|_TYPE|_MODE|_HEADER|_FIELD|_ALGORITHM|_ISSUER|_AUDIENCE|_VERSION|_PROVIDER|_METHOD|_STORE|_SECRET_NAME)$`)
	// placeholder values are templates, references or examples, not secrets.
	placeholder = regexp.MustCompile(`^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$\(.*\)|\{\{.*\}\}|<.*>|%.*%|\*+|x+|X+|changeme|CHANGEME|REPLACE_?ME|replace[_-]?me|TODO|todo|none|None|null|nil|true|false|yes|no|[0-9.]+|(/[\w.\-]+)+/?)$`)
)

// sensitiveWords holds a word of every alternative of sensitiveName.
var sensitiveWords = []string{"passw", "pwd", "secret", "token", "key", "credential"}

// maySensitive is a necessary condition of sensitiveName that costs a
// fraction of the expression, which runs on every environment variable
// and ConfigMap key and which most names fail: an ASCII name without one
// of sensitiveWords cannot match. Other names (non-ASCII letters fold in
// ways ASCII lowering does not, such as the Kelvin sign to k) are left to
// the expression.
func maySensitive(name string) bool {
	var buf [128]byte
	if len(name) > len(buf) {
		return true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			return true
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	lower := buf[:len(name)]
	for _, w := range sensitiveWords {
		if bytes.Contains(lower, []byte(w)) {
			return true
		}
	}
	return false
}

// literal reports whether a credential-like name holds a literal value
// rather than a reference, template or placeholder. Passwords chosen by
// people are too short and regular for the format and entropy rules.
func literal(name, value string) bool {
	v := strings.TrimSpace(value)
	if !maySensitive(name) || !sensitiveName.MatchString(name) || notACredential.MatchString(name) || len(v) < 6 || placeholder.MatchString(v) {
		return false
	}
	return !strings.ContainsAny(v, " \n") || entropy(v) >= 4 // prose or configuration is not a credential
}

// entropy is the Shannon entropy of s in bits per character.
func entropy(s string) float64 {
	counts := map[rune]float64{}
	n := 0.0
	for _, r := range s {
		counts[r]++
		n++
	}
	h := 0.0
	for _, c := range counts {
		h -= c / n * math.Log2(c/n)
	}
	return h
}

// Redact shows the length and shape of a value, never its content.
func Redact(v string) string {
	if len(v) <= 8 {
		return fmt.Sprintf("<redacted, %d characters>", len(v))
	}
	return fmt.Sprintf("%s…<redacted, %d characters>", v[:3], len(v))
}

var hardcoded = &control.Control{
	ID:       "SEC-HARDCODED",
	Title:    "Credential hard-coded in a manifest",
	Severity: finding.High,
	Category: "secrets",
	Rationale: "Credentials written into environment variables, ConfigMaps, Secret manifests, annotations or Helm " +
		"values end up in git history, CI logs and every copy of the manifest. Detection uses the gitleaks rule set " +
		"(named in the finding) plus credential-like names with literal values; placeholders such as ${VAR}, " +
		"<your-token> or changeme are ignored, and values are never printed.",
	Remediation: "Rotate the credential, then store it in a Secret created from an external secret store " +
		"(External Secrets, Sealed Secrets, SOPS) and reference it.",
	Refs:      control.Refs("CIS:5.4.2", "NSA:secrets", "NIST:4.1.4", "MITRE:T1552.001"),
	FileKinds: []string{"Secret"},
	Prepare:   Prepare,
	Check: func(p *control.Pass) {
		o := p.Object
		var found []string // the credentials reported on this object
		report := func(container, path, what string, l Leak) {
			found = append(found, l.Secret)
			p.ReportContainer(container, path, "%s holds a credential (rule %s: %s)", what, l.Rule, Redact(l.Secret))
		}
		if t, ok := o.Native.(*object.Text); ok {
			for _, l := range ScanText(t.Data) {
				report("", object.LinePath(l.Index), fmt.Sprintf("line %d", l.Index), l)
			}
			return
		}
		if w := p.Workload; w != nil {
			for _, c := range w.Containers {
				var pairs []Pair
				var idx []int
				for i, e := range c.Env {
					if e.ValueFrom == nil && e.Value != "" {
						pairs, idx = append(pairs, Pair{e.Name, e.Value}), append(idx, i)
					}
				}
				for _, l := range ScanPairs(pairs, true) {
					i := idx[l.Index]
					report(c.Name, object.Index(c.Field("env"), i)+".value", fmt.Sprintf("%s %q variable %s", c.Kind, c.Name, c.Env[i].Name), l)
				}
			}
		}
		core := o.Group() == ""
		for _, f := range []struct {
			field  string
			ok     bool
			decode bool
		}{{"data", core && o.Kind == "ConfigMap", false}, {"data", core && o.Kind == "Secret", true}, {"stringData", core && o.Kind == "Secret", false}} {
			if !f.ok {
				continue
			}
			m, _ := o.Content[f.field].(map[string]any)
			keys := slices.Sorted(maps.Keys(m))
			pairs := make([]Pair, len(keys))
			for i, k := range keys {
				v, _ := m[k].(string)
				if f.decode {
					if b, err := base64.StdEncoding.DecodeString(v); err == nil {
						v = string(b)
					}
				}
				pairs[i] = Pair{k, v}
			}
			for _, l := range ScanPairs(pairs, true) {
				report("", object.Key(f.field, keys[l.Index]), fmt.Sprintf("%s key %s", o.Kind, keys[l.Index]), l)
			}
		}
		// annotations (last-applied-configuration copies whole objects):
		// format rules only, annotation names say nothing
		if anns, _ := object.Get(o.Content, "metadata.annotations"); anns != nil {
			m, _ := anns.(map[string]any)
			keys := slices.Sorted(maps.Keys(m))
			pairs := make([]Pair, len(keys))
			for i, k := range keys {
				v, _ := m[k].(string)
				pairs[i] = Pair{k, v}
			}
			for _, l := range ScanPairs(pairs, false) {
				// a copy of the object (last-applied-configuration) repeats
				// what its fields showed: one finding per credential
				repeated := l.Secret != "" && slices.ContainsFunc(found, func(s string) bool {
					return s != "" && (strings.Contains(l.Secret, s) || strings.Contains(s, l.Secret))
				})
				if !repeated {
					report("", object.Key("metadata.annotations", keys[l.Index]), "annotation "+keys[l.Index], l)
				}
			}
		}
	},
}

var inManifest = &control.Control{
	ID:       "SEC-SECRET-IN-MANIFEST",
	Title:    "Secret values stored in a manifest",
	Severity: finding.Medium,
	Category: "secrets",
	Rationale: "A Secret manifest with data is only base64, not encryption: committing it puts the credential in " +
		"version control for good.",
	Remediation: "Keep Secret values out of git: use Sealed Secrets, SOPS, External Secrets or the CSI secrets store, and rotate what was committed.",
	Refs:        control.Refs("CIS:5.4.2", "NSA:secrets", "NIST:4.1.4", "MITRE:T1552.001"),
	Kinds:       []string{"Secret"},
	FileKinds:   []string{"Secret"},
	Check: func(p *control.Pass) {
		if p.Object.Kind != "Secret" || p.Object.Group() != "" {
			return
		}
		for _, f := range []string{"data", "stringData"} {
			if m, _ := p.Object.Content[f].(map[string]any); len(m) > 0 {
				p.Report(f, "Secret carries %d value(s) in %s", len(m), f)
			}
		}
	},
}

// keysOf returns the keys a ConfigMap or Secret defines.
func keysOf(o *object.Object) map[string]bool {
	out := map[string]bool{}
	for _, f := range []string{"data", "stringData", "binaryData"} {
		if m, ok := o.Content[f].(map[string]any); ok {
			for k := range m {
				out[k] = true
			}
		}
	}
	return out
}

var missingRef = &control.Control{
	ID:       "SEC-MISSING-REF",
	Title:    "Reference to a missing ConfigMap or Secret key",
	Severity: finding.Medium,
	Category: "secrets",
	Rationale: "A pod that references a ConfigMap or Secret key that does not exist fails to start; if it is " +
		"created later by someone else, the pod silently consumes their data.",
	Remediation:   "Define the ConfigMap or Secret with the key in the same input, fix the name, or mark the reference optional: true.",
	Refs:          control.Refs("NIST:4.3.2"),
	Scope:         control.InventoryScope,
	Reads:         []string{"Secret", "ConfigMap"},
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		ns := p.Object.Namespace
		check := func(c inventory.Container, path, kind, name, key string, optional *bool) {
			if optional != nil && *optional {
				return
			}
			// Only a definition in the input proves a key missing: an object
			// the input lacks may be created by another team or a controller.
			defs := p.Inventory.All(kind, ns, name)
			for _, e := range defs {
				if keysOf(e.Object)[key] {
					return
				}
			}
			if len(defs) > 0 {
				p.ReportContainer(c.Name, path, "%s %q references key %q of %s %q, which has no such key", c.Kind, c.Name, key, kind, name)
			}
		}
		for _, c := range p.Workload.Containers {
			for i, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				base := object.Index(c.Field("env"), i) + ".valueFrom"
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					check(c, base+".secretKeyRef.key", "Secret", r.Name, r.Key, r.Optional)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					check(c, base+".configMapKeyRef.key", "ConfigMap", r.Name, r.Key, r.Optional)
				}
			}

		}
	},
}
