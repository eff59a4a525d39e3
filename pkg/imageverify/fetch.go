package imageverify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// The media types and annotations of cosign's storage schemes and of
// the Sigstore bundle specification for OCI.
const (
	simpleSigningType   = "application/vnd.dev.cosign.simplesigning.v1+json"
	dsseType            = "application/vnd.dsse.envelope.v1+json"
	bundleTypePrefix    = "application/vnd.dev.sigstore.bundle"
	emptyType           = "application/vnd.oci.empty.v1+json"
	signatureAnnotation = "dev.cosignproject.cosign/signature"
	certAnnotation      = "dev.sigstore.cosign/certificate"
	rekorAnnotation     = "dev.sigstore.cosign/bundle"
	// CosignSignPredicate is the predicate type of an image signature in
	// cosign's bundle format: a signature is an attestation of it.
	CosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"
	// maxBlob bounds a signature, attestation or bundle read.
	maxBlob = 4 << 20
)

// candidate is one signature or attestation found for an image, not
// verified yet.
type candidate struct {
	// where says where it was found, for reasons: "sha256-….sig[0]",
	// "referrer sha256:…".
	where  string
	entity verify.SignedEntity
	// payload is the signed simple-signing payload of a cosign .sig
	// signature (it names the digest it signs); nil otherwise.
	payload       []byte
	predicateType string // attestations
	// malformed says why the candidate could not be read; entity is nil.
	malformed string
}

// found is what the registry holds for one digest.
type found struct {
	signatures, attestations []*candidate
}

// registry reads images' signatures and attestations.
type registry struct {
	opts     []remote.Option
	insecure bool
	requests atomic.Int64
}

// Options say how registries are reached.
type Options struct {
	// Keychain resolves registry credentials (nil: the Docker
	// configuration).
	Keychain authn.Keychain
	// Insecure allows plain HTTP (loopback test registries, in-cluster
	// mirrors).
	Insecure bool
	// Transport replaces the default HTTP transport.
	Transport http.RoundTripper
}

type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

func newRegistry(o Options) (*registry, error) {
	r := &registry{insecure: o.Insecure}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	next := o.Transport
	if next == nil {
		next = remote.DefaultTransport
	}
	// One quick retry: the default backoff (1s, 3s) outlasts an
	// admission budget, and the cache retries a failure soon enough.
	p, err := remote.NewPuller(remote.WithAuthFromKeychain(kc), remote.WithTransport(countingTransport{next, &r.requests}),
		remote.WithRetryBackoff(remote.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 2}))
	if err != nil {
		return nil, err
	}
	r.opts = []remote.Option{remote.Reuse(p)}
	return r, nil
}

func (r *registry) parse(image string) (name.Reference, error) {
	opts := []name.Option{name.WeakValidation}
	if r.insecure {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(image, opts...)
}

func (r *registry) with(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, r.opts...)
}

// resolve returns the digest a reference names: its own, or the one its
// tag points at now.
func (r *registry) resolve(ctx context.Context, ref name.Reference) (name.Digest, error) {
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(ref, r.with(ctx)...)
	if err != nil {
		return name.Digest{}, registryErr(ref.Name(), err)
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// RegistryError is a registry that could not be read: no verdict, the
// failure policy decides.
type RegistryError struct {
	Ref string
	Err error
}

func (e *RegistryError) Error() string {
	return fmt.Sprintf("registry unreachable for %s: %v", e.Ref, e.Err)
}
func (e *RegistryError) Unwrap() error { return e.Err }

func registryErr(ref string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: not found in the registry", ref)
	}
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%s: the registry refused the credentials (%d)", ref, terr.StatusCode)
	}
	return &RegistryError{Ref: ref, Err: err}
}

func notFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound || errors.Is(err, errNotInLayout)
}

// store is where images and what is attached to them are read: a
// registry, or an OCI layout on disk.
type store interface {
	// image reads a manifest by tag or digest; notFound(err) when there
	// is none.
	image(ctx context.Context, ref name.Reference) (v1.Image, error)
	// referrers lists the manifests whose subject is d.
	referrers(ctx context.Context, d name.Digest) ([]v1.Descriptor, error)
}

func (r *registry) image(ctx context.Context, ref name.Reference) (v1.Image, error) {
	return remote.Image(ref, r.with(ctx)...)
}

func (r *registry) referrers(ctx context.Context, d name.Digest) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(d, r.with(ctx)...)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return im.Manifests, nil
}

// fetch reads the signatures and attestations of a digest: cosign's
// sha256-HEX.sig and .att tags and the Sigstore bundles among its
// referrers. A candidate that cannot be read is kept with the reason.
func fetch(ctx context.Context, st store, d name.Digest) (*found, error) {
	f := &found{}
	prefix := strings.Replace(d.DigestStr(), ":", "-", 1)
	for _, suffix := range []string{".sig", ".att"} {
		tag := d.Context().Tag(prefix + suffix)
		img, err := st.image(ctx, tag)
		if notFound(err) {
			continue
		}
		if err != nil {
			return nil, registryErr(tag.Name(), err)
		}
		cs, err := layers(img, prefix+suffix)
		if err != nil {
			return nil, registryErr(tag.Name(), err)
		}
		for _, c := range cs {
			if suffix == ".sig" {
				f.signatures = append(f.signatures, c)
			} else {
				f.attestations = append(f.attestations, c)
			}
		}
	}
	descs, err := st.referrers(ctx, d)
	if err != nil {
		return nil, registryErr(d.Name(), err)
	}
	for _, desc := range descs {
		// Registries that do not report a manifest's artifactType
		// give its config's media type, empty for bundles.
		if !strings.HasPrefix(desc.ArtifactType, bundleTypePrefix) && desc.ArtifactType != "" && desc.ArtifactType != emptyType {
			continue
		}
		c, err := readBundle(ctx, st, d.Context().Digest(desc.Digest.String()))
		if err != nil {
			return nil, registryErr(d.Name(), err)
		}
		if c == nil {
			continue
		}
		if c.predicateType == "" || c.predicateType == CosignSignPredicate {
			f.signatures = append(f.signatures, c)
		} else {
			f.attestations = append(f.attestations, c)
		}
	}
	return f, nil
}

func readBlob(img v1.Image, h v1.Hash) ([]byte, error) {
	l, err := img.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxBlob+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBlob {
		return nil, fmt.Errorf("blob %s is larger than %d bytes", h, maxBlob)
	}
	return data, nil
}

// layers reads the layers of a cosign signature or attestation image.
func layers(img v1.Image, tag string) ([]*candidate, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []*candidate
	for i, l := range m.Layers {
		where := fmt.Sprintf("%s[%d]", tag, i)
		data, err := readBlob(img, l.Digest)
		if err != nil {
			return nil, err
		}
		c := &candidate{where: where}
		switch l.MediaType {
		case simpleSigningType:
			c.payload = data
			c.entity, err = legacySignature(data, l.Annotations)
		case dsseType:
			c.entity, c.predicateType, err = legacyAttestation(data, l.Annotations)
		default:
			err = fmt.Errorf("layer media type %q is neither a cosign signature nor a DSSE envelope", l.MediaType)
		}
		if err != nil {
			c.entity, c.malformed = nil, err.Error()
		}
		out = append(out, c)
	}
	return out, nil
}

// readBundle reads a Sigstore bundle attached as a referrer; nil when the
// referrer is something else.
func readBundle(ctx context.Context, st store, d name.Digest) (*candidate, error) {
	c := &candidate{where: "referrer " + d.DigestStr()}
	img, err := st.image(ctx, d)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if m.ArtifactType != "" && !strings.HasPrefix(m.ArtifactType, bundleTypePrefix) ||
		len(m.Layers) > 0 && !strings.HasPrefix(string(m.Layers[0].MediaType), bundleTypePrefix) {
		return nil, nil
	}
	if len(m.Layers) != 1 {
		c.malformed = fmt.Sprintf("a bundle manifest has one layer, this one %d", len(m.Layers))
		return c, nil
	}
	data, err := readBlob(img, m.Layers[0].Digest)
	if err != nil {
		return nil, err
	}
	b := &bundle.Bundle{}
	if err := b.UnmarshalJSON(data); err != nil {
		c.malformed = "not a Sigstore bundle: " + err.Error()
		return c, nil
	}
	c.entity = b
	if env := b.GetDsseEnvelope(); env != nil {
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if err := json.Unmarshal(env.GetPayload(), &st); err != nil {
			c.entity, c.malformed = nil, "the bundle's DSSE payload is not an in-toto statement: "+err.Error()
			return c, nil
		}
		c.predicateType = st.PredicateType
		if c.predicateType == "" {
			c.entity, c.malformed = nil, "the bundle's in-toto statement has no predicateType"
		}
	}
	return c, nil
}

// entity is a signature of cosign's tag schemes as sigstore-go verifies
// it: the signing certificate or key, the signature, and the Rekor
// entry with its signed entry timestamp (inclusion promise).
type entity struct {
	vc    verify.VerificationContent
	sc    verify.SignatureContent
	tlogs []*tlog.Entry
}

func (e *entity) HasInclusionPromise() bool                                { return len(e.tlogs) > 0 }
func (e *entity) HasInclusionProof() bool                                  { return false }
func (e *entity) VerificationContent() (verify.VerificationContent, error) { return e.vc, nil }
func (e *entity) SignatureContent() (verify.SignatureContent, error)       { return e.sc, nil }
func (e *entity) Timestamps() ([][]byte, error)                            { return nil, nil }
func (e *entity) TlogEntries() ([]*tlog.Entry, error)                      { return e.tlogs, nil }
func (e *entity) Version() (string, error)                                 { return "v0.1", nil }

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

func verificationMaterial(ann map[string]string) (*entity, error) {
	e := &entity{vc: &bundle.PublicKey{}}
	if s := ann[certAnnotation]; s != "" {
		blk, _ := pem.Decode([]byte(s))
		if blk == nil {
			return nil, errors.New("the certificate annotation is not PEM")
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the certificate annotation: %v", err)
		}
		e.vc = bundle.NewCertificate(cert)
	}
	if s := ann[rekorAnnotation]; s != "" {
		var rb rekorBundle
		if err := json.Unmarshal([]byte(s), &rb); err != nil {
			return nil, fmt.Errorf("the transparency log annotation: %v", err)
		}
		body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
		if err != nil {
			return nil, fmt.Errorf("the transparency log annotation's body: %v", err)
		}
		logID, err := hex.DecodeString(rb.Payload.LogID)
		if err != nil {
			return nil, fmt.Errorf("the transparency log annotation's logID: %v", err)
		}
		entry, err := tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil) //nolint:staticcheck // the legacy annotation carries exactly these fields
		if err != nil {
			return nil, fmt.Errorf("the transparency log annotation's entry: %v", err)
		}
		e.tlogs = []*tlog.Entry{entry}
	}
	return e, nil
}

func legacySignature(payload []byte, ann map[string]string) (verify.SignedEntity, error) {
	sig, err := base64.StdEncoding.DecodeString(ann[signatureAnnotation])
	if err != nil || len(sig) == 0 {
		return nil, errors.New("the signature annotation is missing or not base64")
	}
	e, err := verificationMaterial(ann)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	e.sc = bundle.NewMessageSignature(sum[:], "SHA2_256", sig)
	return e, nil
}

func legacyAttestation(data []byte, ann map[string]string) (verify.SignedEntity, string, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, "", fmt.Errorf("not a DSSE envelope: %v", err)
	}
	if len(env.Signatures) == 0 {
		return nil, "", errors.New("the DSSE envelope has no signature")
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("the DSSE payload is not base64: %v", err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(payload, &st); err != nil || st.PredicateType == "" {
		return nil, "", errors.New("the DSSE payload is not an in-toto statement with a predicateType")
	}
	e, err := verificationMaterial(ann)
	if err != nil {
		return nil, "", err
	}
	e.sc = &bundle.Envelope{Envelope: &env}
	return e, st.PredicateType, nil
}

// signedDigest is the image digest a cosign simple-signing payload signs.
func signedDigest(payload []byte) (string, error) {
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", fmt.Errorf("the signed payload is not a cosign simple-signing document: %v", err)
	}
	if p.Critical.Image.Digest == "" {
		return "", errors.New("the signed payload names no image digest")
	}
	return p.Critical.Image.Digest, nil
}
