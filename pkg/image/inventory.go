package image

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/annotator"
	apkdup "github.com/google/osv-scalibr/annotator/osduplicate/apk"
	dpkgdup "github.com/google/osv-scalibr/annotator/osduplicate/dpkg"
	rpmdup "github.com/google/osv-scalibr/annotator/osduplicate/rpm"
	"github.com/google/osv-scalibr/artifact/image/layerscanning/image"
	"github.com/google/osv-scalibr/artifact/image/layerscanning/trace"
	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/dotnet/depsjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	archivemeta "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/pnpmlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/yarnlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/php/composerlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/poetrylock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/requirements"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/uvlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	scalibrfs "github.com/google/osv-scalibr/fs"
	"github.com/google/osv-scalibr/plugin"
	"github.com/google/osv-scalibr/purl"
	"github.com/google/osv-scalibr/stats"
)

// Limits bound what reading one image may cost.
type Limits struct {
	// MaxFileBytes is the largest file read from a layer; larger files
	// are skipped (and a package database that large is reported).
	MaxFileBytes int64
	// MaxSymlinkDepth is how many links are followed for one path.
	MaxSymlinkDepth int
}

// DefaultLimits hold every package database seen in practice and stop a
// hostile layer from filling the disk or looping on links.
var DefaultLimits = Limits{MaxFileBytes: 2 << 30, MaxSymlinkDepth: 6}

// Package is one package found in an image.
type Package struct {
	// Name is the package's name in its ecosystem (for Debian, the
	// binary package; Source names the source package advisories use).
	Name, Source string
	Version      string
	// Ecosystem is the OSV ecosystem with the distribution release
	// ("Debian:12", "Alpine:v3.20") or the language ("Go", "npm").
	Ecosystem string
	PURL      string
	// Paths are the files it was read from (a package database, a
	// binary, a lockfile); one package may be found in several.
	Paths []string
	Layer Layer
	// Licenses are the package's declared licenses.
	Licenses []string
	// InOSPackage says an OS package installed this language package:
	// its advisories come through the OS package.
	InOSPackage bool

	raw *extractor.Package
}

// Raw is the package as the extractor found it, for the matcher.
func (p *Package) Raw() *extractor.Package { return p.raw }

// Layer says which layer added a package.
type Layer struct {
	Index   int    `json:"index"`
	DiffID  string `json:"diffID,omitempty"`
	Command string `json:"command,omitempty"`
	// Base says the layer belongs to the base image, not to the image's
	// own build: the fix is a newer base.
	Base bool `json:"base,omitempty"`
}

// Inventory is what one image holds.
type Inventory struct {
	Image    Loaded
	OS       string // PRETTY_NAME of /etc/os-release
	Packages []*Package
	// Warnings are files the extractors could not read fully.
	Warnings []string
}

// Extractors are the package extractors run on images: OS package
// databases, binaries carrying their dependencies and the lockfiles and
// metadata language package managers install.
func Extractors() ([]filesystem.Extractor, error) {
	cfg := &cpb.PluginConfig{}
	var out []filesystem.Extractor
	for _, f := range []func(*cpb.PluginConfig) (filesystem.Extractor, error){
		dpkg.New, apk.New, rpm.New,
		gobinary.New, cargoauditable.New,
		packagejson.New, packagelockjson.New, pnpmlock.New, yarnlock.New,
		wheelegg.New, requirements.New, poetrylock.New, uvlock.New,
		archive.New, gemspec.New, composerlock.New, depsjson.New,
	} {
		e, err := f(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func annotators() ([]annotator.Annotator, error) {
	var out []annotator.Annotator
	for _, f := range []func(*cpb.PluginConfig) (annotator.Annotator, error){dpkgdup.New, apkdup.New, rpmdup.New} {
		a, err := f(&cpb.PluginConfig{})
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Extract lists the packages of an image, each with the layer that added
// it. Layers are read once as a stream into a bounded virtual filesystem:
// whiteouts apply, links resolve inside the image and nothing is written
// outside a temporary file that is removed on return.
func Extract(ctx context.Context, l Loaded, lim Limits) (*Inventory, error) {
	if lim.MaxFileBytes <= 0 {
		lim = DefaultLimits
	}
	img, err := image.FromV1Image(l.Image, &image.Config{MaxFileBytes: lim.MaxFileBytes, MaxSymlinkDepth: lim.MaxSymlinkDepth})
	if err != nil {
		return nil, &Error{Ref: l.Ref, Err: fmt.Errorf("reading the layers: %w", err)}
	}
	defer img.CleanUp()
	exs, err := Extractors()
	if err != nil {
		return nil, err
	}
	anns, err := annotators()
	if err != nil {
		return nil, err
	}
	root := &scalibrfs.ScanRoot{FS: img.FS()}
	cfg := &filesystem.Config{Extractors: exs, ScanRoots: []*scalibrfs.ScanRoot{root}, Stats: stats.NoopCollector{}}
	found, statuses, err := filesystem.Run(ctx, cfg)
	if err != nil {
		return nil, &Error{Ref: l.Ref, Err: fmt.Errorf("extraction failed: %w", err)}
	}
	more, err := annotator.Run(ctx, &annotator.Config{Annotators: anns, ScanRoot: root}, &found)
	if err != nil {
		return nil, &Error{Ref: l.Ref, Err: fmt.Errorf("extraction failed: %w", err)}
	}
	chain, err := img.ChainLayers()
	if err != nil {
		return nil, &Error{Ref: l.Ref, Err: err}
	}
	trace.PopulateLayerDetails(ctx, &found, chain, exs, cfg)
	inv := &Inventory{Image: l}
	for _, st := range append(statuses, more...) {
		if st.Status == nil {
			continue
		}
		for _, fe := range st.Status.FileErrors {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("/%s: %s: %s", strings.TrimPrefix(fe.FilePath, "/"), st.Name, fe.ErrorMessage))
		}
		if st.Status.Status == plugin.ScanStatusFailed && len(st.Status.FileErrors) == 0 {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("%s: %s", st.Name, st.Status.FailureReason))
		}
	}
	if osr, err := osrelease.GetOSRelease(img.FS()); err == nil {
		inv.OS = osr["PRETTY_NAME"]
	}
	byKey := map[string]*Package{}
	for _, p := range found.Packages {
		pk := convert(p)
		if pk.Ecosystem == "" || pk.Version == "" {
			continue // nothing to match, nothing an SBOM can name
		}
		key := pk.Ecosystem + "\x00" + pk.Name + "\x00" + pk.Version
		if prev, ok := byKey[key]; ok {
			prev.Paths = appendNew(prev.Paths, pk.Paths...)
			prev.InOSPackage = prev.InOSPackage && pk.InOSPackage
			continue
		}
		byKey[key] = pk
		inv.Packages = append(inv.Packages, pk)
	}
	slices.SortFunc(inv.Packages, func(a, b *Package) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	slices.Sort(inv.Warnings)
	return inv, nil
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}

func convert(p *extractor.Package) *Package {
	out := &Package{Name: OSVName(p), Version: p.Version, Ecosystem: p.Ecosystem().String(), Licenses: p.Licenses, raw: p}
	if p.PURLType == purl.TypeDebian || p.PURLType == purl.TypeApk {
		out.Source, out.Name = out.Name, p.Name
	}
	if u := p.PURL(); u != nil {
		out.PURL = u.String()
	}
	if path := p.Location.PathOrEmpty(); path != "" {
		out.Paths = []string{"/" + strings.TrimPrefix(path, "/")}
	}
	if lm := p.LayerMetadata; lm != nil {
		out.Layer = Layer{Index: lm.Index, DiffID: lm.DiffID.String(), Command: lm.Command, Base: lm.BaseImageIndex > 0}
	}
	for _, s := range p.ExploitabilitySignals {
		if s != nil && s.MatchesAllVulns {
			out.InOSPackage = true
		}
	}
	return out
}

var pythonName = regexp.MustCompile(`[-_.]+`)

// OSVName is the name advisories use for a package: Debian and Alpine
// advisories name source packages, Maven ones group:artifact, PyPI ones
// the normalised name, Go's toolchain is "stdlib".
func OSVName(p *extractor.Package) string {
	switch m := p.Metadata.(type) {
	case *dpkgmeta.Metadata:
		if m.SourceName != "" {
			return m.SourceName
		}
	case *apkmeta.Metadata:
		if m.OriginName != "" {
			return m.OriginName
		}
	case *archivemeta.Metadata:
		if m.GroupID != "" && m.ArtifactID != "" {
			return m.GroupID + ":" + m.ArtifactID
		}
	}
	name := p.Name
	u := p.PURL()
	switch p.PURLType {
	case purl.TypePyPi:
		return strings.ToLower(pythonName.ReplaceAllString(name, "-"))
	case purl.TypeGolang:
		if name == "go" {
			return "stdlib"
		}
	case purl.TypeMaven:
		if u != nil && u.Namespace != "" && !strings.HasPrefix(name, u.Namespace+":") {
			return u.Namespace + ":" + name
		}
		return name
	}
	if u != nil && u.Namespace != "" && !isOSType(p.PURLType) && !strings.HasPrefix(name, u.Namespace+"/") {
		return u.Namespace + "/" + name
	}
	return name
}

func isOSType(t string) bool {
	switch t {
	case purl.TypeDebian, purl.TypeApk, purl.TypeRPM, purl.TypeAlpm, purl.TypeOpkg, purl.TypeCOS, purl.TypeSnap, purl.TypePacman, purl.TypePortage:
		return true
	}
	return false
}
