// Command compareverify holds kubeguard's image verification to cosign's
// (make compare-verify; cosign built from source into .cache): the same
// images, signed every way a signature can be right or wrong, served by
// a loopback registry, verified by both against the same trusted root
// and identities, verdict by verdict, with the time each took.
package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
)

const (
	issuer   = "https://token.actions.githubusercontent.com"
	identity = "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
)

// tc is one image and how it is verified.
type tc struct {
	name, repo string
	key        bool // verified with the key instead of the identity
	bundle     bool // Sigstore bundles attached as referrers
	attest     string
	sign       func(d name.Digest)
	ref        string
}

func main() {
	cosign := flag.String("cosign", ".cache/cosign", "cosign binary")
	flag.Parse()
	t := &imagetest.Program{}
	defer t.Close()
	host := imagetest.Registry(t, false)
	ss := sigtest.New(t)
	key, other := sigtest.NewKey(t), sigtest.NewKey(t)
	dir, err := os.MkdirTemp("", "compareverify")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	root := ss.WriteTrustedRoot(t, dir)
	fulcio, rekor := trustFiles(t, root, dir)
	keyFile := filepath.Join(dir, "cosign.pub")
	os.WriteFile(keyFile, []byte(key.PublicPEM(t)), 0o644)

	var signed name.Digest
	provenance := map[string]any{"buildDefinition": map[string]any{"buildType": "x"}, "runDetails": map[string]any{"builder": map[string]any{"id": "y"}}}
	cases := []*tc{
		{name: "keyless, the trusted workflow", repo: "good", sign: func(d name.Digest) {
			signed = d
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
		}},
		{name: "unsigned", repo: "unsigned", sign: func(name.Digest) {}},
		{name: "keyless, another workflow", repo: "fork", sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, "https://github.com/mallory/shop/.github/workflows/x.yml@refs/heads/main", issuer, time.Time{}))
		}},
		{name: "keyless, another issuer", repo: "issuer", sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, "https://accounts.google.com", time.Time{}))
		}},
		{name: "keyless, logged after the certificate expired", repo: "expired", sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Now().Add(20*time.Minute)))
		}},
		{name: "another image's signature copied beside it", repo: "tampered", sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, signed, identity, issuer, time.Time{}))
		}},
		{name: "signature annotation not base64", repo: "malformed", sign: func(d name.Digest) {
			l := ss.KeylessSignature(t, d, identity, issuer, time.Time{})
			l.Annotations["dev.cosignproject.cosign/signature"] = "not base64!"
			sigtest.PushTag(t, d, ".sig", l)
		}},
		{name: "payload altered after signing", repo: "altered", sign: func(d name.Digest) {
			l := ss.KeylessSignature(t, d, identity, issuer, time.Time{})
			l.Data = []byte(strings.Replace(string(l.Data), "cosign container image signature", "cosign container image signaturE", 1))
			sigtest.PushTag(t, d, ".sig", l)
		}},
		{name: "signed with the key", repo: "keyed", key: true, sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", key.KeySignature(t, d))
		}},
		{name: "signed with another key", repo: "otherkey", key: true, sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", other.KeySignature(t, d))
		}},
		{name: "keyless signature, verified with the key", repo: "keylessforkey", key: true, sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
		}},
		{name: "SLSA provenance attestation (.att)", repo: "attested", attest: "slsaprovenance1", sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
			sigtest.PushTag(t, d, ".att", ss.KeylessAttestation(t, sigtest.Statement(d, "https://slsa.dev/provenance/v1", provenance), identity, issuer))
		}},
		{name: "provenance attestation of another identity", repo: "attestedfork", attest: "slsaprovenance1", sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
			sigtest.PushTag(t, d, ".att", ss.KeylessAttestation(t, sigtest.Statement(d, "https://slsa.dev/provenance/v1", provenance), "https://github.com/mallory/x", issuer))
		}},
		{name: "bundle referrer: signature", repo: "bundled", bundle: true, sign: func(d name.Digest) {
			sigtest.PushReferrer(t, d, ss.Bundle(t, sigtest.Statement(d, imageverify.CosignSignPredicate, map[string]any{}), identity, issuer), imageverify.CosignSignPredicate)
		}},
		{name: "bundle referrer: signature by another workflow", repo: "bundledfork", bundle: true, sign: func(d name.Digest) {
			sigtest.PushReferrer(t, d, ss.Bundle(t, sigtest.Statement(d, imageverify.CosignSignPredicate, map[string]any{}), "https://github.com/mallory/x", issuer), imageverify.CosignSignPredicate)
		}},
		{name: "bundle referrer: another image's statement", repo: "bundledstray", bundle: true, sign: func(d name.Digest) {
			sigtest.PushReferrer(t, d, ss.Bundle(t, sigtest.Statement(signed, imageverify.CosignSignPredicate, map[string]any{}), identity, issuer), imageverify.CosignSignPredicate)
		}},
		{name: "bundle referrer: SLSA provenance", repo: "bundledprov", bundle: true, attest: "slsaprovenance1", sign: func(d name.Digest) {
			sigtest.PushReferrer(t, d, ss.Bundle(t, sigtest.Statement(d, imageverify.CosignSignPredicate, map[string]any{}), identity, issuer), imageverify.CosignSignPredicate)
			sigtest.PushReferrer(t, d, ss.Bundle(t, sigtest.Statement(d, "https://slsa.dev/provenance/v1", provenance), identity, issuer), "https://slsa.dev/provenance/v1")
		}},
		{name: "no attestation", repo: "unattested", attest: "slsaprovenance1", sign: func(d name.Digest) {
			sigtest.PushTag(t, d, ".sig", ss.KeylessSignature(t, d, identity, issuer, time.Time{}))
		}},
	}
	for _, c := range cases {
		c.ref = host + "/acme/" + c.repo + ":1.0"
		img := imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "id", Body: []byte(c.repo)})})
		h := imagetest.Push(t, c.ref, img, authn.Anonymous)
		d, _ := name.NewDigest(host+"/acme/"+c.repo+"@"+h.String(), name.Insecure)
		c.sign(d)
	}

	off := false
	policy := func(c *tc) config.ImagePolicy {
		p := config.ImagePolicy{Name: "p", Images: []string{"**"},
			Authorities: []config.Authority{{Name: "ci", Keyless: &config.Keyless{Issuer: issuer, Subject: identity}}}}
		if c.key {
			p.Authorities = []config.Authority{{Name: "key", Key: &config.KeyRef{File: keyFile}, TransparencyLog: &off}}
		}
		if c.attest != "" {
			p.Attestations = []config.AttestationRule{{PredicateType: "https://slsa.dev/provenance/v1"}}
		}
		return p
	}
	fmt.Printf("%-50s %-9s %-9s %s\n", "case", "kubeguard", "cosign", "kubeguard's reason")
	agree := 0
	var kgTime, csTime time.Duration
	for _, c := range cases {
		ps, err := imageverify.Compile(config.ImageVerify{TrustedRoot: root, Policies: []config.ImagePolicy{policy(c)}}, "")
		if err != nil {
			t.Fatal(err)
		}
		v, err := imageverify.New(ps, imageverify.Options{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := v.Verify(context.Background(), c.ref)
		kgTime += time.Since(start)
		kg, reason := "error", fmt.Sprint(err)
		if err == nil {
			kg, reason = "fail", res.Verdicts[0].Reason
			if res.Verdicts[0].OK() {
				kg, reason = "pass", res.Verdicts[0].SignedBy
			} else if reason == "" {
				reason = res.Verdicts[0].Attestations[0].Reason
			}
		}
		args := []string{"verify", "--allow-http-registry", "--offline", "--trusted-root", root}
		env := os.Environ()
		switch {
		case c.bundle && c.attest != "":
			args = []string{"verify-attestation", "--type", c.attest, "--new-bundle-format", "--allow-http-registry", "--offline", "--trusted-root", root}
		case c.bundle:
			args = append(args, "--new-bundle-format")
		case c.attest != "":
			// cosign v2 reads a trusted root file for attestations only
			// with --new-bundle-format: its older custom-trust variables
			// name the same Fulcio chain and Rekor key
			args = []string{"verify-attestation", "--type", c.attest, "--allow-http-registry", "--offline"}
			env = append(env, "SIGSTORE_ROOT_FILE="+fulcio, "SIGSTORE_REKOR_PUBLIC_KEY="+rekor)
		}
		if c.key {
			args = append(args, "--key", keyFile, "--insecure-ignore-tlog")
		} else {
			args = append(args, "--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--insecure-ignore-sct")
		}
		start = time.Now()
		cmd := exec.Command(*cosign, append(args, c.ref)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		csTime += time.Since(start)
		cs := "pass"
		if err != nil {
			cs = "fail"
		}
		if os.Getenv("VERBOSE") != "" {
			fmt.Printf("  cosign %s\n  %s\n", strings.Join(args, " "), strings.TrimSpace(string(out)))
		}
		if cs == kg {
			agree++
		}
		if len(reason) > 110 {
			reason = reason[:107] + "..."
		}
		fmt.Printf("%-50s %-9s %-9s %s\n", c.name, kg, cs, reason)
	}
	fmt.Printf("\nagreement: %d/%d   time: kubeguard %s in-process, cosign %s as %d processes (%.0fx)\n",
		agree, len(cases), kgTime.Round(time.Millisecond), csTime.Round(time.Millisecond), len(cases), float64(csTime)/float64(kgTime))
}

// trustFiles writes the trusted root's Fulcio chain and Rekor key as PEM
// files, for cosign's SIGSTORE_ROOT_FILE and SIGSTORE_REKOR_PUBLIC_KEY.
func trustFiles(t *imagetest.Program, rootFile, dir string) (fulcio, rekor string) {
	tr, err := root.NewTrustedRootFromPath(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, ca := range tr.FulcioCertificateAuthorities() {
		f := ca.(*root.FulcioCertificateAuthority)
		for _, c := range append(f.Intermediates, f.Root) {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	var key []byte
	for _, l := range tr.RekorLogs() {
		der, err := x509.MarshalPKIXPublicKey(l.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		key = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	fulcio, rekor = filepath.Join(dir, "fulcio.pem"), filepath.Join(dir, "rekor.pub")
	os.WriteFile(fulcio, chain, 0o644)
	os.WriteFile(rekor, key, 0o644)
	return fulcio, rekor
}
