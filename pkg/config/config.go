// Package config reads .kubeguard.yaml, the one configuration file shared
// by every front door (scan, and later webhook and cluster).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kubeguard/kubeguard/pkg/finding"
)

// FileNames are looked for, in this order, in the scanned directory and
// each of its parents.
var FileNames = []string{".kubeguard.yaml", ".kubeguard.yml"}

// Config is the content of .kubeguard.yaml.
type Config struct {
	Controls struct {
		// Enable, when not empty, runs only these controls.
		Enable []string `yaml:"enable"`
		// Disable never runs these controls.
		Disable []string `yaml:"disable"`
	} `yaml:"controls"`
	// Severity overrides the severity of controls.
	Severity map[string]finding.Severity `yaml:"severity"`
	// Exclude accepts findings matching every given field of an entry.
	Exclude []Exclusion `yaml:"exclude"`
	// Images configures the image controls.
	Images struct {
		// AllowedRegistries, when not empty, are the only registries (glob
		// patterns such as "registry.example.com" or "*.gcr.io", or
		// repository prefixes such as "ghcr.io/acme/*") images may come
		// from (IMG-UNTRUSTED-REGISTRY).
		AllowedRegistries []string `yaml:"allowedRegistries"`
		// Verify says whose signatures and attestations images must
		// carry (IMG-SIGNATURE, IMG-ATTESTATION).
		Verify ImageVerify `yaml:"verify"`
	} `yaml:"images"`
	// ForbidAnnotationSuppressions ignores kubeguard.io/ignore annotations,
	// so workload owners cannot exempt themselves.
	ForbidAnnotationSuppressions bool `yaml:"forbidAnnotationSuppressions"`
	// Webhook configures the admission webhook.
	Webhook Webhook `yaml:"webhook"`
	// Audit configures kubeguard audit.
	Audit AuditConfig `yaml:"audit"`
	// BackupSettings configure the backup controls (see Backup).
	BackupSettings BackupConfig `yaml:"backup"`
	// Policies are files or directories of the team's
	// ValidatingAdmissionPolicies, bindings and parameters, relative to
	// the configuration file (see PolicyPaths).
	Policies []string `yaml:"policies"`

	// Path is the file the configuration was read from ("" for defaults).
	Path string `yaml:"-"`
	root *yaml.Node
}

// Exclusion accepts findings; empty lists match anything. Names and
// namespaces are glob patterns (path.Match syntax).
type Exclusion struct {
	Controls   []string `yaml:"controls"`
	Namespaces []string `yaml:"namespaces"`
	Kinds      []string `yaml:"kinds"`
	Names      []string `yaml:"names"`
	// Vulnerabilities accept image vulnerability findings (IMG-VULN) by
	// ID or alias (CVE-2024-1234, GHSA-..., DSA-...); Images and Packages
	// narrow them to image references (glob patterns, matched without
	// the tag or digest too) and package names.
	Vulnerabilities []string `yaml:"vulnerabilities"`
	Images          []string `yaml:"images"`
	Packages        []string `yaml:"packages"`
	// Users accept audit findings (AUD-*) of these identities (glob
	// patterns on the username, as system:serviceaccount:ops:*): the
	// allow-list of who may exec, approve CSRs or request tokens.
	Users   []string `yaml:"users"`
	Reason  string   `yaml:"reason"`
	Expires Date     `yaml:"expires"`
	Line    int      `yaml:"-"`
}

// Date is a calendar day written as YYYY-MM-DD.
type Date struct{ time.Time }

func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a date (want YYYY-MM-DD)", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// Expired reports whether the day has passed (the day itself still counts).
func (d Date) Expired(now time.Time) bool {
	return !d.IsZero() && now.After(d.AddDate(0, 0, 1))
}

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

func (e *Exclusion) UnmarshalYAML(n *yaml.Node) error {
	type plain Exclusion
	if err := n.Decode((*plain)(e)); err != nil {
		return err
	}
	e.Line = n.Line
	return nil
}

// Finder finds the configuration of many paths, looking each directory
// up once.
type Finder struct{ dirs map[string]string }

// Find is the package's Find, with the directories seen before cached.
func (f *Finder) Find(path string) string {
	if f.dirs == nil {
		f.dirs = map[string]string{}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if st, err := os.Stat(abs); err == nil && !st.IsDir() {
		abs = filepath.Dir(abs)
	}
	var walked []string
	found := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		if c, ok := f.dirs[dir]; ok {
			found = c
			break
		}
		walked = append(walked, dir)
		if c := inDir(dir); c != "" {
			found = c
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	for _, d := range walked {
		f.dirs[d] = found
	}
	return found
}

func inDir(dir string) string {
	for _, n := range FileNames {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Find returns the configuration file that applies to path: the first
// .kubeguard.yaml in path's directory or above. It returns "" when there
// is none.
func Find(path string) string {
	var f Finder
	return f.Find(path)
}

// Load reads and checks a configuration file. Control IDs are validated
// by the caller against the catalog (see Validate).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &Config{Path: path}
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, locate(path, nil, err)
	}
	c.root = &root
	if root.Kind == 0 {
		return c, nil // empty
	}
	// decoding the node again keeps unknown fields errors
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, locate(path, &root, err)
	}
	if err := c.Webhook.Validate(); err != nil {
		return nil, locate(path, &root, err)
	}
	if _, err := c.Audit.Prefixes(); err != nil {
		return nil, locate(path, &root, err)
	}
	if f := c.BackupSettings.StaleFactor; f != 0 && f < 1 {
		return nil, locate(path, &root, fmt.Errorf("backup.staleFactor: %v is below 1, and a backup cannot be due before its interval ends", f))
	}
	for i, e := range c.Exclude {
		if e.Reason == "" {
			return nil, locate(path, &root, fmt.Errorf("exclude[%d]: an exclusion needs a reason", i))
		}
		if len(e.Controls) == 0 {
			return nil, locate(path, &root, fmt.Errorf(`exclude[%d]: name the controls it accepts (controls: ["*"] for every control)`, i))
		}
	}
	return c, nil
}

// ValidateIDs checks every control ID or pattern the configuration names
// with known (true when it names at least one control), reporting each
// unknown one at its position.
func (c *Config) ValidateIDs(known func(string) bool) error {
	var errs []error
	for _, id := range c.IDs() {
		if known(id) {
			continue
		}
		e := &Error{File: c.Path, Msg: fmt.Sprintf("unknown control ID %q (see `kubeguard controls`)", id)}
		if n := find(c.root, func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Value == id }); n != nil {
			e.Line, e.Column = n.Line, n.Column
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// IDs returns every control ID the configuration mentions, for validation.
func (c *Config) IDs() []string {
	ids := append([]string{}, c.Controls.Enable...)
	ids = append(ids, c.Controls.Disable...)
	for id := range c.Severity {
		ids = append(ids, id)
	}
	for _, e := range c.Exclude {
		for _, id := range e.Controls {
			if id != "*" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// PolicyPaths returns the policies' paths, relative ones resolved
// against the configuration file's directory.
func (c *Config) PolicyPaths() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, p := range c.Policies {
		if !filepath.IsAbs(p) && c.Path != "" {
			p = filepath.Join(filepath.Dir(c.Path), p)
		}
		out = append(out, p)
	}
	return out
}
