package image

import (
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Signature and Attestation are reported by the image provenance front
// door (kubeguard image verify, scan and cluster --verify-images, the
// webhook and the controller) for images an images.verify policy or a
// ClusterImagePolicy matches; without a policy they report nothing.
var Signature = &control.Control{
	ID:       "IMG-SIGNATURE",
	Title:    "Image is not signed by a trusted authority",
	Severity: finding.High,
	Category: "image",
	Rationale: "A registry credential, a compromised mirror or a mistyped tag is enough to run an image nobody " +
		"reviewed. A signature by the team's key or build identity, checked against a pinned trust root and the " +
		"transparency log, proves who built the exact digest that runs.",
	Remediation: "Sign the image in its release pipeline (cosign sign, keyless from CI or with the team's key) " +
		"and deploy it by the digest that was signed; if the signer is legitimate but new, add it as an authority " +
		"of the policy.",
	Refs:     control.Refs("CIS:5.5.1", "NSA:image-scanning", "NIST:4.1.5", "NIST:4.2.3", "MITRE:T1525"),
	External: true,
	Kinds:    []string{control.ImageKind},
}

var Attestation = &control.Control{
	ID:       "IMG-ATTESTATION",
	Title:    "Image lacks a required attestation",
	Severity: finding.High,
	Category: "image",
	Rationale: "A signature says who pushed an image; attestations say how it was made: the SLSA provenance " +
		"names the builder and source repository, a scan attestation says it was checked for vulnerabilities and " +
		"when. A policy that requires them keeps images built outside the trusted pipeline out.",
	Remediation: "Attach the attestation in the build pipeline (cosign attest --type slsaprovenance, or the " +
		"builder's own provenance), signed by an authority the policy trusts, with a predicate that meets the " +
		"policy's conditions (for example a scan newer than the policy's limit).",
	Refs:     control.Refs("CIS:5.5.1", "NSA:image-scanning", "NIST:4.1.5", "MITRE:T1525"),
	External: true,
	Kinds:    []string{control.ImageKind},
}
