// Package sigtest signs test images the way cosign does, with
// sigstore-go's in-memory Fulcio, Rekor and timestamp authority and
// throwaway keys, and pushes the signatures and attestations to a
// registry: cosign's .sig and .att tags and Sigstore bundles attached as
// OCI 1.1 referrers.
package sigtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
)

// T is what the helpers need of a test.
type T interface {
	Helper()
	Fatal(args ...any)
}

// Sigstore is an in-memory Sigstore: a Fulcio CA, a Rekor log and a
// timestamp authority.
type Sigstore struct {
	VS *ca.VirtualSigstore
}

// New starts an in-memory Sigstore.
func New(t T) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{VS: vs}
}

// WriteTrustedRoot writes the trusted_root.json that trusts this
// Sigstore into dir and returns its path.
func (s *Sigstore) WriteTrustedRoot(t T, dir string) string {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, s.VS.FulcioCertificateAuthorities(), rawIDs(t, s.VS.CTLogs()),
		s.VS.TimestampingAuthorities(), rawIDs(t, s.VS.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawIDs gives the logs the binary IDs a trusted root file holds (the
// in-memory logs carry their hex form).
func rawIDs(t T, logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
	out := map[string]*root.TransparencyLog{}
	for id, l := range logs {
		raw, err := hex.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		c := *l
		c.ID = raw
		out[id] = &c
	}
	return out
}

// Key is a throwaway ECDSA P-256 signing key.
type Key struct{ priv *ecdsa.PrivateKey }

// NewKey generates a key.
func NewKey(t T) *Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{k}
}

// PublicPEM is the key's public half as cosign.pub holds it.
func (k *Key) PublicPEM(t T) string {
	t.Helper()
	data, err := cryptoutils.MarshalPublicKeyToPEM(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Payload is cosign's simple-signing payload for a digest.
func Payload(ref name.Digest) []byte {
	data, _ := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": ref.Context().Name()},
			"image":    map[string]string{"docker-manifest-digest": ref.DigestStr()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	return data
}

// Layer is one signature or attestation layer of a .sig or .att image.
type Layer struct {
	MediaType   types.MediaType
	Data        []byte
	Annotations map[string]string
}

// KeySignature is a cosign signature of a digest with a key, without a
// transparency log entry (cosign sign --key --tlog-upload=false).
func (k *Key) KeySignature(t T, ref name.Digest) Layer {
	t.Helper()
	payload := Payload(ref)
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return Layer{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: payload,
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}}
}

// KeylessSignature is a cosign keyless signature of a digest: a Fulcio
// certificate for identity and issuer, and a Rekor entry integrated at
// the given time (zero: a minute from now, inside the certificate's ten
// minutes).
func (s *Sigstore) KeylessSignature(t T, ref name.Digest, identity, issuer string, at time.Time) Layer {
	t.Helper()
	if at.IsZero() {
		at = time.Now().Add(time.Minute)
	}
	payload := Payload(ref)
	e, err := s.VS.SignAtTime(identity, issuer, payload, at)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	entries, _ := e.TlogEntries()
	return Layer{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: payload, Annotations: map[string]string{
		"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sc.Signature()),
		"dev.sigstore.cosign/certificate":    string(certPEM(vc.Certificate().Raw)),
		"dev.sigstore.cosign/bundle":         s.rekorBundle(t, entries[0]),
	}}
}

// Statement is an in-toto statement about a digest.
func Statement(ref name.Digest, predicateType string, predicate any) []byte {
	hexd := ref.DigestStr()[len("sha256:"):]
	data, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": ref.Context().Name(), "digest": map[string]string{"sha256": hexd}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	return data
}

// KeylessAttestation is a cosign .att layer: a DSSE envelope of the
// statement, signed keyless.
func (s *Sigstore) KeylessAttestation(t T, statement []byte, identity, issuer string) Layer {
	t.Helper()
	e, err := s.VS.AttestAtTime(identity, issuer, statement, time.Now().Add(time.Minute), false)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	entries, _ := e.TlogEntries()
	env, err := json.Marshal(sc.EnvelopeContent().RawEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	json.Unmarshal(statement, &st)
	return Layer{MediaType: "application/vnd.dsse.envelope.v1+json", Data: env, Annotations: map[string]string{
		"dev.cosignproject.cosign/signature": "",
		"dev.sigstore.cosign/certificate":    string(certPEM(vc.Certificate().Raw)),
		"dev.sigstore.cosign/bundle":         s.rekorBundle(t, entries[0]),
		"predicateType":                      st.PredicateType,
	}}
}

// rekorBundle is cosign's bundle annotation of an entry: its body, time,
// index and log, with the log's signed entry timestamp.
func (s *Sigstore) rekorBundle(t T, e *tlog.Entry) string {
	t.Helper()
	p, set := s.promise(t, e.TransparencyLogEntry())
	data, _ := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": p})
	return string(data)
}

// promise is what the log signs for an entry (its body, time, index and
// log) and the signed entry timestamp it signs it with.
func (s *Sigstore) promise(t T, tle *protorekor.TransparencyLogEntry) (tlog.RekorPayload, []byte) {
	t.Helper()
	p := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId)}
	set, err := s.VS.RekorSignPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, set
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// PushTag writes a cosign signature or attestation image of layers under
// the tag cosign uses for a digest (sha256-HEX.sig, .att).
func PushTag(t T, ref name.Digest, suffix string, layers ...Layer) {
	t.Helper()
	if err := remote.Write(ref.Context().Tag(Tag(ref, suffix)), SignatureImage(t, layers...)); err != nil {
		t.Fatal(err)
	}
}

// Tag is the tag cosign stores a digest's signatures (".sig") or
// attestations (".att") under.
func Tag(ref name.Digest, suffix string) string {
	return "sha256-" + ref.DigestStr()[len("sha256:"):] + suffix
}

// SignatureImage is a cosign signature or attestation image of layers.
func SignatureImage(t T, layers ...Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(l.Data, l.MediaType), Annotations: l.Annotations})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// Bundle is a Sigstore bundle (v0.3) of a statement about a digest,
// signed keyless, with its Rekor entry's inclusion proof and promise.
func (s *Sigstore) Bundle(t T, statement []byte, identity, issuer string) []byte {
	t.Helper()
	e, err := s.VS.AttestAtTime(identity, issuer, statement, time.Now().Add(time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	entries, _ := e.TlogEntries()
	tss, _ := e.Timestamps()
	tle := entries[0].TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	_, set := s.promise(t, tle)
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	env := sc.EnvelopeContent().RawEnvelope()
	var sigs []*protodsse.Signature
	for _, sg := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sg.Sig)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, &protodsse.Signature{Sig: raw, Keyid: sg.KeyID})
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var rfc []*protocommon.RFC3161SignedTimestamp
	for _, ts := range tss {
		rfc = append(rfc, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType, Signatures: sigs}},
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	// the bundle must read back as sigstore-go reads it
	if err := (&bundle.Bundle{}).UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	return data
}

// rawManifest is a manifest pushed as written.
type rawManifest struct {
	data []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.data, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// Referrer is a bundle attached to an image as the Sigstore bundle
// specification for OCI lays it out: an image manifest with the bundle's
// artifactType, an empty config, the bundle as its one layer and the
// image as its subject.
type Referrer struct {
	Manifest []byte
	Digest   v1.Hash
	Blobs    []v1.Layer // the bundle and the empty config
}

const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// NewReferrer lays out a bundle about subject.
func NewReferrer(subject v1.Descriptor, bundleJSON []byte, predicateType string) Referrer {
	layer := static.NewLayer(bundleJSON, bundleType)
	cfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	desc := func(l v1.Layer) map[string]any {
		d, _ := l.Digest()
		n, _ := l.Size()
		mt, _ := l.MediaType()
		return map[string]any{"mediaType": mt, "digest": d.String(), "size": n}
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  bundleType,
		"config":        desc(cfg),
		"layers":        []any{desc(layer)},
		"subject":       map[string]any{"mediaType": subject.MediaType, "digest": subject.Digest.String(), "size": subject.Size},
		"annotations": map[string]string{
			"dev.sigstore.bundle.content":       "dsse-envelope",
			"dev.sigstore.bundle.predicateType": predicateType,
		},
	})
	h, _, _ := v1.SHA256(bytes.NewReader(m))
	return Referrer{Manifest: m, Digest: h, Blobs: []v1.Layer{layer, cfg}}
}

// PushReferrer attaches a bundle to a digest in a registry.
func PushReferrer(t T, ref name.Digest, bundleJSON []byte, predicateType string) v1.Hash {
	t.Helper()
	subj, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReferrer(*subj, bundleJSON, predicateType)
	for _, l := range r.Blobs {
		if err := remote.WriteLayer(ref.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(ref.Context().Digest(r.Digest.String()), rawManifest{r.Manifest, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	return r.Digest
}

// WriteLayout writes an OCI layout holding img (tagged tag and named
// fullName, as containerd records it), its cosign signature image of
// sigs and the referrers, as oras copy lays a repository out on disk.
func WriteLayout(t T, dir string, img v1.Image, fullName, tag string, sigs []Layer, refs []Referrer) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag, "io.containerd.image.name": fullName})); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewDigest("example.invalid/image@" + d.String())
	if len(sigs) > 0 {
		if err := p.AppendImage(SignatureImage(t, sigs...), layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": Tag(ref, ".sig")})); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range refs {
		for _, l := range r.Blobs {
			h, _ := l.Digest()
			rc, _ := l.Compressed()
			if err := p.WriteBlob(h, rc); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.WriteBlob(r.Digest, io.NopCloser(bytes.NewReader(r.Manifest))); err != nil {
			t.Fatal(err)
		}
		if err := p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: r.Digest, Size: int64(len(r.Manifest)),
			ArtifactType: bundleType}); err != nil {
			t.Fatal(err)
		}
	}
}
