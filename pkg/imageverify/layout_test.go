package imageverify

import (
	"context"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/config"
)

// The documentation's signed layout (hack/examplesigned) verifies
// against its policy; the same layout fails a policy trusting another
// workflow, and one asking for an attestation it does not carry.
func TestLayoutExample(t *testing.T) {
	cfg, err := config.Load("../../examples/images/.kubeguard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const image = "oci:../../examples/images/signed"
	verify := func(v config.ImageVerify) Verdict {
		t.Helper()
		ps, err := Compile(v, "../../examples/images")
		if err != nil {
			t.Fatal(err)
		}
		ver, err := New(ps, Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ver.Verify(context.Background(), image)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Verdicts) != 1 || !strings.HasPrefix(res.Digest, "sha256:") {
			t.Fatalf("result %+v", res)
		}
		return res.Verdicts[0]
	}
	if vd := verify(cfg.Images.Verify); !vd.OK() || len(vd.Attestations) != 1 || !vd.Attestations[0].OK {
		t.Fatalf("the example: %+v", vd)
	}
	other := cfg.Images.Verify
	other.Policies = []config.ImagePolicy{other.Policies[0]}
	other.Policies[0].Authorities = []config.Authority{{Name: "deploy", Keyless: &config.Keyless{Issuer: ciIssuer, Subject: "https://github.com/acme/shop/.github/workflows/deploy.yml@refs/heads/main"}}}
	other.Policies[0].Attestations = append(other.Policies[0].Attestations, config.AttestationRule{PredicateType: "https://spdx.dev/Document"})
	vd := verify(other)
	wantFail(t, vd, "signed by https://github.com/acme/shop/.github/workflows/release.yml@refs/tags/v1.0 (issuer "+ciIssuer+"), which deploy does not trust")
	wantFail(t, vd, "no https://spdx.dev/Document attestation is attached")
}
