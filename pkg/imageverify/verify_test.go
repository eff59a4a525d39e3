package imageverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/pkg/config"
)

const (
	ciIssuer   = "https://token.actions.githubusercontent.com"
	ciIdentity = "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
)

// fixture is a loopback registry with images, an in-memory Sigstore and
// a trusted root that trusts it.
type fixture struct {
	host, rootFile string
	ss             *sigtest.Sigstore
	key, otherKey  *sigtest.Key
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{host: imagetest.Registry(t, false), ss: sigtest.New(t), key: sigtest.NewKey(t), otherKey: sigtest.NewKey(t)}
	f.rootFile = f.ss.WriteTrustedRoot(t, t.TempDir())
	return f
}

// push writes a distinct image and returns its digest reference.
func (f *fixture) push(t *testing.T, repo, tag string) name.Digest {
	ref := f.host + "/" + repo + ":" + tag
	h := imagetest.Push(t, ref, imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "etc/" + repo + "-" + tag, Body: []byte(tag)})}), authn.Anonymous)
	d, err := name.NewDigest(f.host+"/"+repo+"@"+h.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) verifier(t *testing.T, policies ...config.ImagePolicy) *Verifier {
	t.Helper()
	ps, err := Compile(config.ImageVerify{TrustedRoot: f.rootFile, Policies: policies}, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(ps, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func keyless(subject string) config.Authority {
	return config.Authority{Name: "release-ci", Keyless: &config.Keyless{Issuer: ciIssuer, Subject: subject}}
}

func off() *bool { b := false; return &b }

func verdict(t *testing.T, v *Verifier, image string) Verdict {
	t.Helper()
	res, err := v.Verify(context.Background(), image)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Verdicts) != 1 {
		t.Fatalf("%s: %d verdicts, want 1", image, len(res.Verdicts))
	}
	return res.Verdicts[0]
}

func wantFail(t *testing.T, vd Verdict, reason string) {
	t.Helper()
	if vd.OK() {
		t.Fatalf("verified (%s), want a failure with %q", vd.SignedBy, reason)
	}
	got := vd.Reason
	for _, a := range vd.Attestations {
		got += " | " + a.Reason
	}
	if !strings.Contains(got, reason) {
		t.Fatalf("reason %q, want it to say %q", got, reason)
	}
}

// Cosign's tag scheme: keyless and key signatures verify, and every way
// a signature can be wrong has its own reason.
func TestSignatures(t *testing.T) {
	f := newFixture(t)
	policy := config.ImagePolicy{Name: "acme", Images: []string{f.host + "/acme/**"}, Authorities: []config.Authority{keyless(ciIdentity)}}
	v := f.verifier(t, policy)

	signed := f.push(t, "acme/shop", "1.0")
	sigtest.PushTag(t, signed, ".sig", f.ss.KeylessSignature(t, signed, ciIdentity, ciIssuer, time.Time{}))
	vd := verdict(t, v, f.host+"/acme/shop:1.0")
	if !vd.OK() || !strings.Contains(vd.SignedBy, "release-ci ("+ciIdentity+", issuer "+ciIssuer+")") {
		t.Fatalf("a keyless signature by the release workflow: %+v", vd)
	}

	unsigned := f.push(t, "acme/unsigned", "1.0")
	wantFail(t, verdict(t, v, unsigned.String()), "no signature is attached to "+unsigned.DigestStr())

	other := f.push(t, "acme/forked", "1.0")
	sigtest.PushTag(t, other, ".sig", f.ss.KeylessSignature(t, other, "https://github.com/mallory/shop/.github/workflows/x.yml@refs/heads/main", ciIssuer, time.Time{}))
	wantFail(t, verdict(t, v, other.String()), "signed by https://github.com/mallory/shop/.github/workflows/x.yml@refs/heads/main (issuer "+ciIssuer+"), which release-ci does not trust")

	// signed at a time the certificate was not valid (its ten minutes passed)
	expired := f.push(t, "acme/expired", "1.0")
	sigtest.PushTag(t, expired, ".sig", f.ss.KeylessSignature(t, expired, ciIdentity, ciIssuer, time.Now().Add(20*time.Minute)))
	wantFail(t, verdict(t, v, expired.String()), "the signing certificate (valid ")

	// a layer changed: the new image's digest differs, and the old
	// signature copied beside it signs the old digest
	tampered := f.push(t, "acme/shop", "1.0-tampered")
	sigtest.PushTag(t, tampered, ".sig", f.ss.KeylessSignature(t, signed, ciIdentity, ciIssuer, time.Time{}))
	wantFail(t, verdict(t, v, tampered.String()), "the signature is for "+signed.DigestStr()+", not for this image's "+tampered.DigestStr())

	malformed := f.push(t, "acme/malformed", "1.0")
	bad := f.ss.KeylessSignature(t, malformed, ciIdentity, ciIssuer, time.Time{})
	bad.Annotations["dev.cosignproject.cosign/signature"] = "not base64!"
	sigtest.PushTag(t, malformed, ".sig", bad)
	wantFail(t, verdict(t, v, malformed.String()), "malformed signature: the signature annotation is missing or not base64")

	// a signature whose bytes were altered does not verify
	altered := f.push(t, "acme/altered", "1.0")
	alt := f.ss.KeylessSignature(t, altered, ciIdentity, ciIssuer, time.Time{})
	alt.Data = []byte(strings.Replace(string(alt.Data), "cosign container image signature", "cosign container image signaturE", 1))
	sigtest.PushTag(t, altered, ".sig", alt)
	if verdict(t, v, altered.String()).OK() {
		t.Fatal("a signature over an altered payload verified")
	}

	// images no policy matches are not judged
	res, err := v.Verify(context.Background(), f.host+"/elsewhere/app@"+unsigned.DigestStr())
	if err == nil && len(res.Verdicts) != 0 {
		t.Fatalf("an image outside the policy's patterns was judged: %+v", res.Verdicts)
	}
}

func TestKeySignatures(t *testing.T) {
	f := newFixture(t)
	keyFile := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(keyFile, []byte(f.key.PublicPEM(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	v := f.verifier(t, config.ImagePolicy{Name: "team-key", Images: []string{f.host + "/acme/*"},
		Authorities: []config.Authority{{Name: "release-key", Key: &config.KeyRef{File: keyFile}, TransparencyLog: off()}}})

	good := f.push(t, "acme/api", "2.0")
	sigtest.PushTag(t, good, ".sig", f.key.KeySignature(t, good))
	if vd := verdict(t, v, good.String()); !vd.OK() || vd.SignedBy != "release-key" {
		t.Fatalf("signed with the team's key: %+v", vd)
	}
	wrong := f.push(t, "acme/api", "2.1")
	sigtest.PushTag(t, wrong, ".sig", f.otherKey.KeySignature(t, wrong))
	wantFail(t, verdict(t, v, wrong.String()), "the signature does not verify with the key of release-key")

	keylessOnly := f.push(t, "acme/api", "2.2")
	sigtest.PushTag(t, keylessOnly, ".sig", f.ss.KeylessSignature(t, keylessOnly, ciIdentity, ciIssuer, time.Time{}))
	wantFail(t, verdict(t, v, keylessOnly.String()), "signed keyless by "+ciIdentity)

	// one of several signatures is enough
	both := f.push(t, "acme/api", "2.3")
	sigtest.PushTag(t, both, ".sig", f.otherKey.KeySignature(t, both), f.key.KeySignature(t, both))
	if vd := verdict(t, v, both.String()); !vd.OK() {
		t.Fatalf("one good signature among two: %+v", vd)
	}
}

// Sigstore bundles attached as referrers: the cosign signature
// predicate, and attestations with CEL conditions over the predicate.
func TestBundlesAndAttestations(t *testing.T) {
	f := newFixture(t)
	provenance := config.AttestationRule{Name: "slsa", PredicateType: "https://slsa.dev/provenance/v1", Conditions: []config.Condition{
		{Expression: `predicate.runDetails.builder.id == "https://github.com/actions/runner"`, Message: "built by GitHub Actions"},
		{Expression: `predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/shop"`, Message: "built from acme/shop"},
	}}
	scan := config.AttestationRule{Name: "scan", PredicateType: "https://cosign.sigstore.dev/attestation/vuln/v1", Conditions: []config.Condition{
		{Expression: `timestamp(predicate.metadata.scanFinishedOn) > now - duration("168h")`, Message: "scanned within 7 days"},
	}}
	v := f.verifier(t, config.ImagePolicy{Name: "slsa", Images: []string{f.host + "/acme/**"},
		Authorities: []config.Authority{keyless(ciIdentity)}, Attestations: []config.AttestationRule{provenance, scan}})

	prov := func(repo string) map[string]any {
		return map[string]any{
			"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1",
				"externalParameters": map[string]any{"workflow": map[string]any{"repository": repo, "path": ".github/workflows/release.yml"}}},
			"runDetails": map[string]any{"builder": map[string]any{"id": "https://github.com/actions/runner"}},
		}
	}
	vuln := func(age time.Duration) map[string]any {
		return map[string]any{"scanner": map[string]any{"uri": "pkg:github/aquasecurity/trivy"},
			"metadata": map[string]any{"scanStartedOn": time.Now().Add(-age - time.Minute).UTC().Format(time.RFC3339), "scanFinishedOn": time.Now().Add(-age).UTC().Format(time.RFC3339)}}
	}
	attach := func(d name.Digest, pt string, pred any, identity string) {
		sigtest.PushReferrer(t, d, f.ss.Bundle(t, sigtest.Statement(d, pt, pred), identity, ciIssuer), pt)
	}

	good := f.push(t, "acme/shop", "3.0")
	attach(good, CosignSignPredicate, map[string]any{}, ciIdentity)
	attach(good, provenance.PredicateType, prov("https://github.com/acme/shop"), ciIdentity)
	// the scan as cosign attest --type vuln stores it: the .att tag
	sigtest.PushTag(t, good, ".att", f.ss.KeylessAttestation(t, sigtest.Statement(good, scan.PredicateType, vuln(24*time.Hour)), ciIdentity, ciIssuer))
	vd := verdict(t, v, good.String())
	if !vd.OK() {
		t.Fatalf("signed, with provenance and a recent scan: %+v", vd)
	}

	fork := f.push(t, "acme/shop", "3.1")
	attach(fork, CosignSignPredicate, map[string]any{}, ciIdentity)
	attach(fork, provenance.PredicateType, prov("https://github.com/mallory/shop"), ciIdentity)
	sigtest.PushTag(t, fork, ".att", f.ss.KeylessAttestation(t, sigtest.Statement(fork, scan.PredicateType, vuln(10*24*time.Hour)), ciIdentity, ciIssuer))
	vd = verdict(t, v, fork.String())
	if vd.SignedBy == "" {
		t.Fatalf("the bundle signature: %+v", vd)
	}
	wantFail(t, vd, "condition not met: built from acme/shop")
	wantFail(t, vd, "condition not met: scanned within 7 days")

	// an attestation of another image, attached to this one
	stray := f.push(t, "acme/shop", "3.2")
	attach(stray, CosignSignPredicate, map[string]any{}, ciIdentity)
	sigtest.PushReferrer(t, stray, f.ss.Bundle(t, sigtest.Statement(good, provenance.PredicateType, prov("https://github.com/acme/shop")), ciIdentity, ciIssuer), provenance.PredicateType)
	wantFail(t, verdict(t, v, stray.String()), "no https://slsa.dev/provenance/v1 attestation by release-ci passes")
	wantFail(t, verdict(t, v, stray.String()), "no https://cosign.sigstore.dev/attestation/vuln/v1 attestation is attached")
}

func TestPolicyErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		cfg  config.ImageVerify
		want string
	}{
		{config.ImageVerify{Policies: []config.ImagePolicy{{Name: "p", Images: []string{"*"}, Authorities: []config.Authority{keyless(ciIdentity)}}}},
			"images.verify.policies[0] (p): authorities[0]: the transparency log is required (transparencyLog: true) but images.verify.trustedRoot is not set"},
		{config.ImageVerify{TrustedRoot: "missing.json"}, "images.verify.trustedRoot: open missing.json: no such file or directory"},
		{config.ImageVerify{TrustedRoot: f.rootFile, Policies: []config.ImagePolicy{{Images: []string{"*"},
			Authorities: []config.Authority{{Keyless: &config.Keyless{Issuer: ciIssuer}}}}}}, "keyless: subject or subjectRegExp is required"},
		{config.ImageVerify{TrustedRoot: f.rootFile, Policies: []config.ImagePolicy{{Images: []string{"*"},
			Authorities: []config.Authority{{Key: &config.KeyRef{PEM: "nope"}, TransparencyLog: off()}}}}}, "key: not a PEM public key"},
		{config.ImageVerify{TrustedRoot: f.rootFile, Policies: []config.ImagePolicy{{Images: []string{"*"}, Authorities: []config.Authority{keyless(ciIdentity)},
			Attestations: []config.AttestationRule{{PredicateType: "x", Conditions: []config.Condition{{Expression: "predicate.a +"}}}}}}}, "attestations[0].conditions[0]: ERROR"},
		{config.ImageVerify{TrustedRoot: f.rootFile, Policies: []config.ImagePolicy{{Images: []string{"*"}, Mode: "block", Authorities: []config.Authority{keyless(ciIdentity)}}}},
			`mode "block" is not one of enforce, warn, audit`},
	} {
		_, err := Compile(tc.cfg, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestImagePatterns(t *testing.T) {
	ps, err := Compile(config.ImageVerify{Policies: []config.ImagePolicy{
		{Name: "acme", Images: []string{"ghcr.io/acme/*"}, Authorities: []config.Authority{{Key: &config.KeyRef{PEM: sigtest.NewKey(t).PublicPEM(t)}, TransparencyLog: off()}}},
		{Name: "hub", Images: []string{"docker.io/library/**"}, Authorities: []config.Authority{{Key: &config.KeyRef{PEM: sigtest.NewKey(t).PublicPEM(t)}, TransparencyLog: off()}}},
	}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for image, want := range map[string]string{
		"ghcr.io/acme/shop:1.0":                               "acme",
		"ghcr.io/acme/shop@sha256:" + strings.Repeat("a", 64): "acme",
		"ghcr.io/acme/team/shop:1.0":                          "",
		"ghcr.io/acmecorp/shop":                               "",
		"nginx:1.27":                                          "hub",
		"docker.io/library/nginx":                             "hub",
		"registry.example.com/nginx:1.0":                      "",
	} {
		var got []string
		for _, p := range ps.For(image) {
			got = append(got, p.Name)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: policies %v, want %q", image, got, want)
		}
	}
}

// A registry that is down or stalls is an error, never a verdict.
func TestRegistryFailures(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer stall.Close()
	v := f.verifier(t, config.ImagePolicy{Images: []string{"**"}, Authorities: []config.Authority{keyless(ciIdentity)}})
	for _, host := range []string{down, strings.TrimPrefix(stall.URL, "http://")} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := v.Verify(ctx, host+"/acme/shop:1.0")
		cancel()
		var re *RegistryError
		if !errors.As(err, &re) {
			t.Errorf("%s: error %v, want a registry error", host, err)
		}
	}
}

// A CA of the team's own (keyless.roots) instead of Fulcio: certificates
// it issued verify without a transparency log; Fulcio's do not.
func TestOwnCA(t *testing.T) {
	f := newFixture(t)
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	interCert, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.GenerateLeafCert("release@acme.example", "https://sso.acme.example", time.Now().Add(-time.Minute), leafKey, interCert, interKey)
	if err != nil {
		t.Fatal(err)
	}
	chain := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: interCert.Raw})) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootCert.Raw}))
	v := f.verifier(t, config.ImagePolicy{Name: "own-ca", Images: []string{f.host + "/acme/**"}, Authorities: []config.Authority{{Name: "acme-ca",
		Keyless: &config.Keyless{Issuer: "https://sso.acme.example", Subject: "release@acme.example", Roots: &config.KeyRef{PEM: chain}}, TransparencyLog: off()}}})

	good := f.push(t, "acme/internal", "1.0")
	payload := sigtest.Payload(good)
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, leafKey, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sigtest.PushTag(t, good, ".sig", sigtest.Layer{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: payload, Annotations: map[string]string{
		"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig),
		"dev.sigstore.cosign/certificate":    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})),
	}})
	if vd := verdict(t, v, good.String()); !vd.OK() || !strings.Contains(vd.SignedBy, "acme-ca (release@acme.example, issuer https://sso.acme.example)") {
		t.Fatalf("signed by the team's CA: %+v", vd)
	}
	fulcio := f.push(t, "acme/internal", "1.1")
	sigtest.PushTag(t, fulcio, ".sig", f.ss.KeylessSignature(t, fulcio, "release@acme.example", "https://sso.acme.example", time.Time{}))
	wantFail(t, verdict(t, v, fulcio.String()), "the signing certificate (release@acme.example, issuer https://sso.acme.example) was not issued by a certificate authority acme-ca trusts")
}
