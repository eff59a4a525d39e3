// Package image is the image front door: it reads container images from
// registries, OCI layouts and docker/podman save tarballs, and lists what
// is inside them (OS and language packages, each with the layer that
// added it).
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
)

// DefaultPlatform is the platform picked from a multi-platform index
// when none is asked for.
const DefaultPlatform = "linux/amd64"

// Options say where and how images are read.
type Options struct {
	// Platform selects from multi-platform indexes: "os/arch[/variant]",
	// or "all" for every image of the index. "" means DefaultPlatform.
	Platform string
	// Keychain resolves registry credentials; nil means the Docker
	// configuration and its credential helpers (authn.DefaultKeychain).
	Keychain authn.Keychain
	// Insecure allows plain HTTP to registries (loopback test registries,
	// in-cluster mirrors).
	Insecure bool
	// Context bounds registry requests.
	Context context.Context
}

// Loaded is one image to scan.
type Loaded struct {
	// Ref is the reference as the user gave it.
	Ref string
	// Digest is the image manifest's digest; Index is the digest of the
	// multi-platform index it was picked from, if any.
	Digest, Index v1.Hash
	Platform      string
	Image         v1.Image
}

// Name is the reference with the digest of the image scanned.
func (l Loaded) Name() string {
	base := l.Ref
	if i := strings.IndexByte(base, '@'); i >= 0 {
		base = base[:i]
	}
	return base + "@" + l.Digest.String()
}

// Error says which image could not be read and why.
type Error struct {
	Ref string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("image %s: %v", e.Ref, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Load reads the image(s) a reference names: "oci:DIR" or a directory
// holding an OCI layout, "docker-archive:FILE" or a tar file written by
// docker save or podman save (FILE:TAG picks one of several images), or a
// registry reference (tag or digest).
func Load(ref string, opt Options) ([]Loaded, error) {
	out, err := load(ref, opt)
	if err != nil {
		return nil, &Error{Ref: ref, Err: err}
	}
	return out, nil
}

func load(ref string, opt Options) ([]Loaded, error) {
	want, err := parsePlatform(opt.Platform)
	if err != nil {
		return nil, err
	}
	if dir, ok := strings.CutPrefix(ref, "oci:"); ok {
		return fromLayout(ref, dir, want)
	}
	if file, ok := strings.CutPrefix(ref, "docker-archive:"); ok {
		return fromTarball(ref, file)
	}
	if st, err := os.Stat(ref); err == nil {
		if st.IsDir() {
			return fromLayout(ref, ref, want)
		}
		return fromTarball(ref, ref)
	}
	if file, tag, ok := cutTag(ref); ok {
		if st, err := os.Stat(file); err == nil && !st.IsDir() {
			return fromTarballTag(ref, file, tag)
		}
	}
	return fromRegistry(ref, want, opt)
}

// cutTag splits FILE:TAG where FILE looks like a path.
func cutTag(ref string) (file, tag string, ok bool) {
	if !strings.ContainsAny(ref, `/\.`) {
		return "", "", false
	}
	i := strings.IndexByte(ref, ':')
	if i <= 0 {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

// platform is a parsed --platform; nil matches every platform.
type platform = *v1.Platform

func parsePlatform(s string) (platform, error) {
	switch s {
	case "all":
		return nil, nil
	case "":
		s = DefaultPlatform
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("--platform %q: %w", s, err)
	}
	return p, nil
}

func fromRegistry(ref string, want platform, opt Options) ([]Loaded, error) {
	var nopts []name.Option
	if opt.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("not a file, a directory or an image reference: %w", err)
	}
	kc := opt.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ropts := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithContext(ctx)}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		return fromIndex(ref, idx, desc.Digest, want)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	return one(ref, img, v1.Hash{})
}

func fromLayout(ref, dir string, want platform) ([]Loaded, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, errors.New("a directory must hold an OCI image layout (index.json)")
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	return fromIndex(ref, idx, v1.Hash{}, want)
}

// fromIndex picks the images of an index for a platform, following
// nested indexes (an OCI layout's index.json points at a manifest list).
func fromIndex(ref string, idx v1.ImageIndex, digest v1.Hash, want platform) ([]Loaded, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Loaded
	var seen []string
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			more, err := fromIndex(ref, child, d.Digest, want)
			if err != nil && !errors.Is(err, errNoPlatform) {
				return nil, err
			}
			out = append(out, more...)
		case d.MediaType.IsImage():
			p := d.Platform
			if p != nil {
				seen = append(seen, p.String())
			}
			if isAttestation(d) || (want != nil && p != nil && !p.Satisfies(*want)) {
				continue
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			l := Loaded{Ref: ref, Digest: d.Digest, Index: digest, Image: img}
			if p != nil {
				l.Platform = p.String()
			}
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		if want == nil {
			return nil, errors.New("the index holds no image")
		}
		return nil, fmt.Errorf("%w %s (it has %s; --platform picks one, or all)", errNoPlatform, want, strings.Join(seen, ", "))
	}
	return out, nil
}

var errNoPlatform = errors.New("no image for platform")

// isAttestation tells BuildKit's attestation manifests (platform
// unknown/unknown) from images.
func isAttestation(d v1.Descriptor) bool {
	return d.Platform != nil && d.Platform.OS == "unknown" || d.Annotations["vnd.docker.reference.type"] == "attestation-manifest"
}

func fromTarball(ref, file string) ([]Loaded, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(file) })
	if err != nil {
		return nil, fmt.Errorf("not an image tarball (docker save, podman save) or OCI layout: %w", err)
	}
	if len(m) != 1 {
		var tags []string
		for _, d := range m {
			tags = append(tags, d.RepoTags...)
		}
		return nil, fmt.Errorf("the tarball holds %d images; name one as %s:TAG (tags: %s)", len(m), file, strings.Join(tags, ", "))
	}
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return nil, err
	}
	return one(ref, img, v1.Hash{})
}

func fromTarballTag(ref, file, tag string) ([]Loaded, error) {
	t, err := name.NewTag(tag)
	if err != nil {
		return nil, err
	}
	img, err := tarball.ImageFromPath(file, &t)
	if err != nil {
		return nil, err
	}
	return one(ref, img, v1.Hash{})
}

func one(ref string, img v1.Image, index v1.Hash) ([]Loaded, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	l := Loaded{Ref: ref, Digest: d, Index: index, Image: img}
	if cf, err := img.ConfigFile(); err == nil && cf.OS != "" {
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		l.Platform = p.String()
	} else if err != nil {
		return nil, fmt.Errorf("reading the image configuration: %w", err)
	}
	return []Loaded{l}, nil
}

// PURL is the package URL of an image by digest (the purl spec's oci
// type), as SBOMs and OpenVEX documents name images.
func PURL(ref, digest string) string {
	repo := ctlimage.Unversioned(ref)
	name := strings.ToLower(repo[strings.LastIndexByte(repo, '/')+1:])
	return "pkg:oci/" + name + "@" + url.PathEscape(digest) + "?repository_url=" + url.QueryEscape(repo)
}
