// Command examplesigned writes the signed image the documentation
// verifies, examples/images/signed: an OCI layout holding a small image
// (recorded as registry.example.com/acme/shop:1.0), its cosign signatures
// (keyless by the shop's release workflow, and with a team key) and a
// SLSA provenance attestation as a Sigstore bundle referrer; beside it the
// trusted_root.json of the in-memory Sigstore that signed it and the
// key's cosign.pub. The private keys are thrown away.
package main

import (
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"time"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/internal/sigtest"
)

const (
	dir      = "examples/images/signed"
	issuer   = "https://token.actions.githubusercontent.com"
	identity = "https://github.com/acme/shop/.github/workflows/release.yml@refs/tags/v1.0"
)

func main() {
	t := &imagetest.Program{}
	defer t.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	img := imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "app/index.html", Body: []byte("<h1>shop</h1>\n")}), CreatedBy: "COPY index.html /app/"})
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest("registry.example.com/acme/shop@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	ss := sigtest.New(t)
	key := sigtest.NewKey(t)
	sigs := []sigtest.Layer{ss.KeylessSignature(t, ref, identity, issuer, time.Time{}), key.KeySignature(t, ref)}
	provenance := map[string]any{
		"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"repository": "https://github.com/acme/shop", "path": ".github/workflows/release.yml", "ref": "refs/tags/v1.0"}}},
		"runDetails": map[string]any{"builder": map[string]any{"id": "https://github.com/actions/runner/github-hosted"}},
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	bundle := ss.Bundle(t, sigtest.Statement(ref, "https://slsa.dev/provenance/v1", provenance), identity, issuer)
	sigtest.WriteLayout(t, dir, img, "registry.example.com/acme/shop:1.0", "1.0", sigs, []sigtest.Referrer{sigtest.NewReferrer(*desc, bundle, "https://slsa.dev/provenance/v1")})
	ss.WriteTrustedRoot(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "cosign.pub"), []byte(key.PublicPEM(t)), 0o644); err != nil {
		t.Fatal(err)
	}
}
