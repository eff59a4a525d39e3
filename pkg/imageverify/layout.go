package imageverify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// errNotInLayout is a tag or digest an OCI layout does not hold.
var errNotInLayout = errors.New("not in the OCI layout")

// layoutRepo names the repository of references into a layout: only
// their tags and digests are read.
var layoutRepo, _ = name.NewRepository("oci.layout.invalid/image")

// ociLayout reads an OCI layout directory as one repository, as oras,
// crane and skopeo copy images with what is attached to them: its tags
// are the org.opencontainers.image.ref.name annotations of index.json,
// its referrers the manifests whose subject is the image. "oci:DIR"
// names the one image of the layout that is not a signature, an
// attestation or a referrer; "oci:DIR:TAG" and "oci:DIR@sha256:..." pick
// one. Policies match the image's io.containerd.image.name annotation,
// else the reference as given.
type ociLayout struct {
	dir, want string
	path      layout.Path
	index     *v1.IndexManifest
}

const (
	refName = "org.opencontainers.image.ref.name"
	// imageName is the full name containerd, BuildKit and skopeo record
	// for an image in a layout: policies match it.
	imageName = "io.containerd.image.name"
)

func openLayout(spec string) (*ociLayout, error) {
	l := &ociLayout{dir: spec}
	if i := strings.LastIndex(spec, "@sha256:"); i >= 0 {
		l.dir, l.want = spec[:i], spec[i+1:]
	} else if i := strings.LastIndexByte(spec, ':'); i > strings.LastIndexByte(spec, '/') {
		l.dir, l.want = spec[:i], spec[i+1:]
	}
	p, err := layout.FromPath(l.dir)
	if err != nil {
		return nil, fmt.Errorf("oci:%s: not an OCI layout: %v", l.dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("oci:%s: %v", l.dir, err)
	}
	if l.index, err = idx.IndexManifest(); err != nil {
		return nil, fmt.Errorf("oci:%s: %v", l.dir, err)
	}
	l.path = p
	return l, nil
}

func (l *ociLayout) lookup(id string) (v1.Descriptor, bool) {
	for _, d := range l.index.Manifests {
		if d.Digest.String() == id || d.Annotations[refName] == id {
			return d, true
		}
	}
	return v1.Descriptor{}, false
}

// resolve is the digest of the image the reference names.
func (l *ociLayout) resolve() (name.Digest, error) {
	d, err := l.subject()
	if err != nil {
		return name.Digest{}, err
	}
	return layoutRepo.Digest(d.Digest.String()), nil
}

// named is the image's full name, if the layout records one.
func (l *ociLayout) named() string {
	d, err := l.subject()
	if err != nil {
		return ""
	}
	return d.Annotations[imageName]
}

// subject is the descriptor of the image the reference names.
func (l *ociLayout) subject() (v1.Descriptor, error) {
	if l.want != "" {
		d, ok := l.lookup(l.want)
		if !ok {
			return v1.Descriptor{}, fmt.Errorf("oci:%s: no image %s in the layout", l.dir, l.want)
		}
		return d, nil
	}
	var found []v1.Descriptor
	for _, d := range l.index.Manifests {
		tag := d.Annotations[refName]
		if strings.HasSuffix(tag, ".sig") || strings.HasSuffix(tag, ".att") || l.isReferrer(d) {
			continue
		}
		found = append(found, d)
	}
	if len(found) != 1 {
		return v1.Descriptor{}, fmt.Errorf("oci:%s: the layout holds %d images; name one as oci:DIR:TAG or oci:DIR@sha256:...", l.dir, len(found))
	}
	return found[0], nil
}

func (l *ociLayout) isReferrer(d v1.Descriptor) bool {
	img, err := l.path.Image(d.Digest)
	if err != nil {
		return false
	}
	m, err := img.Manifest()
	return err == nil && m.Subject != nil
}

func (l *ociLayout) image(_ context.Context, ref name.Reference) (v1.Image, error) {
	d, ok := l.lookup(ref.Identifier())
	if !ok {
		return nil, errNotInLayout
	}
	return l.path.Image(d.Digest)
}

func (l *ociLayout) referrers(_ context.Context, d name.Digest) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	for _, desc := range l.index.Manifests {
		img, err := l.path.Image(desc.Digest)
		if err != nil {
			continue // an index, not a manifest
		}
		m, err := img.Manifest()
		if err != nil || m.Subject == nil || m.Subject.Digest.String() != d.DigestStr() {
			continue
		}
		desc.ArtifactType = m.ArtifactType
		out = append(out, desc)
	}
	return out, nil
}
