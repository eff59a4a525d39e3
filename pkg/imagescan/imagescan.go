// Package imagescan joins the image front door to the engine: it reads
// images, matches their packages against the vulnerability database and
// turns each vulnerability into an IMG-VULN finding about the image, or
// about every workload that runs it. Results are cached by digest, so an
// image shared by many workloads is read once.
package imagescan

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/kubeguard/kubeguard/pkg/control"
	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/image"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/vulndb"
)

// Options configure a Scanner.
type Options struct {
	Load   image.Options
	Limits image.Limits
	// DB is the vulnerability database; nil lists packages only.
	DB *vulndb.DB
	// VEX statements accept vulnerabilities their authors declare not
	// exploitable.
	VEX *VEX
}

// Scanned is one image read and matched.
type Scanned struct {
	Inventory *image.Inventory
	Matches   []vulndb.Match
}

// Scanner scans images, each digest once.
type Scanner struct {
	opts Options

	mu   sync.Mutex
	refs map[string]*entry // by reference as given
	digs map[string]*Scanned
}

type entry struct {
	once sync.Once
	res  []*Scanned
	err  error
}

// New returns a scanner.
func New(opts Options) *Scanner {
	return &Scanner{opts: opts, refs: map[string]*entry{}, digs: map[string]*Scanned{}}
}

// SetKeychain sets the registry credentials of later scans (a cluster's
// pull secrets).
func (s *Scanner) SetKeychain(kc authn.Keychain) { s.opts.Load.Keychain = kc }

// Scan reads the images a reference names (one per platform) and their
// vulnerabilities. Concurrent calls for one reference share the work.
func (s *Scanner) Scan(ctx context.Context, ref string) ([]*Scanned, error) {
	s.mu.Lock()
	e, ok := s.refs[ref]
	if !ok {
		e = &entry{}
		s.refs[ref] = e
	}
	s.mu.Unlock()
	e.once.Do(func() { e.res, e.err = s.scan(ctx, ref) })
	return e.res, e.err
}

func (s *Scanner) scan(ctx context.Context, ref string) ([]*Scanned, error) {
	lopt := s.opts.Load
	lopt.Context = ctx
	imgs, err := image.Load(ref, lopt)
	if err != nil {
		return nil, err
	}
	var out []*Scanned
	for _, l := range imgs {
		key := l.Digest.String()
		s.mu.Lock()
		sc, ok := s.digs[key]
		s.mu.Unlock()
		if !ok {
			inv, err := image.Extract(ctx, l, s.opts.Limits)
			if err != nil {
				return nil, err
			}
			sc = &Scanned{Inventory: inv}
			if s.opts.DB != nil {
				if sc.Matches, err = s.opts.DB.Matches(inv.Packages); err != nil {
					return nil, err
				}
			}
			s.mu.Lock()
			s.digs[key] = sc
			s.mu.Unlock()
		}
		if sc.Inventory.Image.Ref != ref {
			cp := *sc.Inventory
			cp.Image.Ref = ref
			sc = &Scanned{Inventory: &cp, Matches: sc.Matches}
		}
		out = append(out, sc)
	}
	return out, nil
}

// Site is what a finding is about and where it points: the image itself,
// or the image field of a container in a manifest or a cluster object.
type Site struct {
	Object    object.Ref
	ObjectAt  object.Position
	Position  object.Position
	Rendered  *object.Position
	Origin    string
	Path      string
	Container string
}

// ImageSite is the site of an image scanned on its own.
func ImageSite(ref string) Site {
	return Site{Object: object.Ref{Kind: control.ImageKind, Name: ref}}
}

// Findings are the IMG-VULN findings of a scanned image at a site.
func (s *Scanner) Findings(sc *Scanned, at Site) []finding.Finding {
	out := make([]finding.Finding, 0, len(sc.Matches))
	l := sc.Inventory.Image
	for _, m := range sc.Matches {
		p := m.Package
		v := &finding.Vulnerability{
			ID: m.ID, Aliases: m.Aliases, Summary: m.Summary, URL: m.URL,
			Package: p.Name, SourcePackage: p.Source, Ecosystem: p.Ecosystem, PURL: p.PURL,
			Installed: p.Version, Fixed: m.Fixed, Score: m.Score, Vector: m.Vector, Unrated: !m.Rated,
			Image: l.Ref, Digest: l.Digest.String(), Platform: l.Platform, Paths: p.Paths,
			Layer: p.Layer.Index, LayerDigest: p.Layer.DiffID, LayerCommand: p.Layer.Command, BaseLayer: p.Layer.Base,
		}
		f := finding.Finding{
			ControlID: ctlimage.Vuln.ID, Severity: m.Severity, Object: at.Object, Container: at.Container,
			Path: at.Path, Position: at.Position, ObjectAt: at.ObjectAt, Rendered: at.Rendered, Origin: at.Origin,
			Message: Message(v), Vuln: v,
		}
		if s.opts.VEX != nil {
			if st := s.opts.VEX.NotAffected(v); st != nil {
				f.Suppressed = st
			}
		}
		out = append(out, f)
	}
	return out
}

// Message says what is vulnerable and what fixes it.
func Message(v *finding.Vulnerability) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s %s", v.ID, v.Package, v.Installed)
	if v.SourcePackage != "" && v.SourcePackage != v.Package {
		fmt.Fprintf(&b, " (source %s)", v.SourcePackage)
	}
	if v.Fixed != "" {
		fmt.Fprintf(&b, ": fixed in %s", v.Fixed)
	} else {
		b.WriteString(": no fix yet")
	}
	if v.BaseLayer {
		b.WriteString(", from the base image")
	}
	return b.String()
}

// SiteOf is the image field of a container of a workload.
func SiteOf(o *object.Object, c inventory.Container) Site {
	path := c.Field("image")
	return Site{Object: o.Ref, ObjectAt: o.Source, Position: o.Locate(path), Rendered: o.RenderedAt(path),
		Origin: o.Origin, Path: path, Container: c.Name}
}

// Accept decides on a finding as the engine does for its own controls
// (enabled, severity overrides, suppressions of the configuration and of
// the object).
type Accept func(f *finding.Finding, o *object.Object, w *inventory.Workload) bool

// Resolve names the image to scan for a container: its image field
// (nil Resolve), or in a cluster the digests its pods run. No reference
// means nothing to scan.
type Resolve func(o *object.Object, c inventory.Container) []string

// Workloads scans the images the workloads run, each reference once and
// at most parallel at a time, and reports their vulnerabilities on each
// container's image field. An image that cannot be read is an error at
// the first place it is named; the others are still scanned.
func (s *Scanner) Workloads(ctx context.Context, entries []inventory.Entry, resolve Resolve, accept Accept, parallel int) ([]*finding.Finding, []*Scanned, []object.Diagnostic) {
	return s.workloads(ctx, entries, resolve, accept, parallel, nil)
}

// workloads is Workloads; cached, when set, answers from results known
// instead of scanning.
func (s *Scanner) workloads(ctx context.Context, entries []inventory.Entry, resolve Resolve, accept Accept, parallel int,
	cached func(ref string) ([]*Scanned, error)) ([]*finding.Finding, []*Scanned, []object.Diagnostic) {
	if resolve == nil {
		resolve = func(_ *object.Object, c inventory.Container) []string { return []string{c.Image} }
	}
	type use struct {
		o *object.Object
		w *inventory.Workload
		c inventory.Container
	}
	uses := map[string][]use{}
	var refs []string
	for _, e := range entries {
		if e.Workload == nil {
			continue
		}
		for _, c := range e.Workload.Containers {
			if c.Image == "" {
				continue
			}
			for _, ref := range resolve(e.Object, c) {
				if _, ok := uses[ref]; !ok {
					refs = append(refs, ref)
				}
				uses[ref] = append(uses[ref], use{e.Object, e.Workload, c})
			}
		}
	}
	results := make([][]*Scanned, len(refs))
	errs := make([]error, len(refs))
	if cached != nil {
		for i, ref := range refs {
			results[i], errs[i] = cached(ref)
		}
	} else {
		sem := make(chan struct{}, max(parallel, 1))
		var wg sync.WaitGroup
		for i, ref := range refs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				results[i], errs[i] = s.Scan(ctx, ref)
			}()
		}
		wg.Wait()
	}
	var out []*finding.Finding
	var scanned []*Scanned
	var diags []object.Diagnostic
	for i, ref := range refs {
		if errs[i] != nil {
			first := uses[ref][0]
			diags = append(diags, object.Diagnostic{Pos: SiteOf(first.o, first.c).Position, Severity: object.SeverityError, Message: errs[i].Error()})
			continue
		}
		for _, sc := range results[i] {
			scanned = append(scanned, sc)
			for _, u := range uses[ref] {
				for _, f := range s.Findings(sc, SiteOf(u.o, u.c)) {
					if accept(&f, u.o, u.w) {
						out = append(out, &f)
					}
				}
			}
		}
	}
	slices.SortFunc(out, finding.Compare)
	return out, scanned, diags
}

// SetDB matches later scans against a new database; images already
// scanned are read again when asked for (Background matches its own
// results again without reading them).
func (s *Scanner) SetDB(db *vulndb.DB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.DB = db
	s.refs = map[string]*entry{}
	s.digs = map[string]*Scanned{}
}

// FromInventory matches an inventory read elsewhere (a scan Job) and
// keeps the result by digest.
func (s *Scanner) FromInventory(inv *image.Inventory) (*Scanned, error) {
	s.mu.Lock()
	db := s.opts.DB
	s.mu.Unlock()
	sc := &Scanned{Inventory: inv}
	if db != nil {
		var err error
		if sc.Matches, err = db.Matches(inv.Packages); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.digs[inv.Image.Digest.String()] = sc
	s.mu.Unlock()
	return sc, nil
}
