package config

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageVerify says whose signatures and attestations images must carry
// (images.verify of .kubeguard.yaml). The policies are also what the
// ClusterImagePolicy custom resource holds, one per object.
type ImageVerify struct {
	// TrustedRoot is a Sigstore trusted_root.json (Fulcio CAs, Rekor and
	// CT log keys, timestamp authorities), relative to the configuration
	// file. Keyless authorities and transparency-log checks need it; it
	// is read once and never fetched.
	TrustedRoot string `yaml:"trustedRoot" json:"trustedRoot,omitempty"`
	// TUF, when set, refreshes the trusted root from a TUF repository
	// (a mirror of the Sigstore root, or the team's own) in the
	// background; the pinned TrustedRoot is used until it succeeds.
	TUF *TUFMirror `yaml:"tuf" json:"tuf,omitempty"`
	// Timeout bounds one image's verification at admission (default
	// 3s, always below the webhook's own deadline); a verification that
	// runs out of time still completes in the background and fills the
	// cache.
	Timeout time.Duration `yaml:"timeout" json:"-"`
	// Cache bounds the verdicts kept (by policy generation and digest).
	Cache VerifyCache `yaml:"cache" json:"-"`
	// Policies map images to the authorities that must have signed them
	// and the attestations they must carry. An image must satisfy every
	// policy that matches it; images no policy matches are not verified.
	Policies []ImagePolicy `yaml:"policies" json:"policies,omitempty"`
}

// TUFMirror is a TUF repository serving trusted_root.json.
type TUFMirror struct {
	URL string `yaml:"url" json:"url"`
	// Root is the TUF root.json the repository is trusted with.
	Root string `yaml:"root" json:"root"`
	// Cache is where TUF metadata is kept (default: the user cache
	// directory).
	Cache string `yaml:"cache" json:"cache,omitempty"`
}

// VerifyCache bounds the verdict cache.
type VerifyCache struct {
	// Size is the most verdicts kept (default 10000).
	Size int `yaml:"size"`
	// SuccessTTL keeps a verified digest (default and most 1h).
	SuccessTTL time.Duration `yaml:"successTTL"`
	// FailureTTL keeps a failed verification, or a registry error, before
	// trying again (default and most 30s).
	FailureTTL time.Duration `yaml:"failureTTL"`
}

// ImagePolicy is one rule of images.verify, and the spec of a
// ClusterImagePolicy.
type ImagePolicy struct {
	// Name identifies the policy in findings (a ClusterImagePolicy's is
	// its object name).
	Name string `yaml:"name" json:"name,omitempty"`
	// Images are glob patterns over the image's repository, as written
	// and fully qualified (docker.io/library/nginx): "*" stays within a
	// path segment, "**" crosses them ("ghcr.io/acme/**").
	Images []string `yaml:"images" json:"images"`
	// NamespaceSelector limits the policy to workloads in the namespaces
	// it selects (scan treats a manifest as in its namespace, with the
	// labels known from the Namespaces scanned with it).
	NamespaceSelector *metav1.LabelSelector `yaml:"namespaceSelector" json:"namespaceSelector,omitempty"`
	// Mode is what admission does with an image that fails: enforce
	// (default), warn or audit. A webhook rule naming IMG-SIGNATURE or
	// IMG-ATTESTATION takes precedence.
	Mode Mode `yaml:"mode" json:"mode,omitempty"`
	// Authorities are who may have signed the image: one valid signature
	// by any of them is enough.
	Authorities []Authority `yaml:"authorities" json:"authorities"`
	// Attestations must each be present, signed by one of the policy's
	// authorities (or their own), with every condition true.
	Attestations []AttestationRule `yaml:"attestations" json:"attestations,omitempty"`
}

// Authority is a signer: a public key, or a certificate identity (Fulcio
// keyless, or a CA of the team's own).
type Authority struct {
	Name    string   `yaml:"name" json:"name,omitempty"`
	Key     *KeyRef  `yaml:"key" json:"key,omitempty"`
	Keyless *Keyless `yaml:"keyless" json:"keyless,omitempty"`
	// TransparencyLog requires (default) a Rekor entry for the signature,
	// verified offline from what is attached to the image against the
	// trusted root. A key of the team's own may turn it off.
	TransparencyLog *bool `yaml:"transparencyLog" json:"transparencyLog,omitempty"`
}

// KeyRef is a PEM public key, inline or in a file (relative to the
// configuration file).
type KeyRef struct {
	PEM  string `yaml:"pem" json:"pem,omitempty"`
	File string `yaml:"file" json:"file,omitempty"`
}

// Keyless matches the signing certificate's identity: its OIDC issuer
// and subject (SAN), each exactly or by regular expression.
type Keyless struct {
	Issuer        string `yaml:"issuer" json:"issuer,omitempty"`
	IssuerRegExp  string `yaml:"issuerRegExp" json:"issuerRegExp,omitempty"`
	Subject       string `yaml:"subject" json:"subject,omitempty"`
	SubjectRegExp string `yaml:"subjectRegExp" json:"subjectRegExp,omitempty"`
	// Roots, when set, is a PEM certificate chain (root first or last)
	// that issued the signing certificates instead of the trusted root's
	// Fulcio: a CA of the team's own.
	Roots *KeyRef `yaml:"roots" json:"roots,omitempty"`
}

// AttestationRule requires an in-toto attestation of a predicate type.
type AttestationRule struct {
	Name string `yaml:"name" json:"name,omitempty"`
	// PredicateType, as https://slsa.dev/provenance/v1,
	// https://cosign.sigstore.dev/attestation/vuln/v1 or
	// https://spdx.dev/Document.
	PredicateType string `yaml:"predicateType" json:"predicateType"`
	// Authorities, when set, replace the policy's for this attestation.
	Authorities []Authority `yaml:"authorities" json:"authorities,omitempty"`
	// Conditions are CEL expressions over predicate, predicateType,
	// subject and now (a timestamp): all must be true.
	Conditions []Condition `yaml:"conditions" json:"conditions,omitempty"`
}

// Condition is a CEL expression and what a failure means.
type Condition struct {
	Expression string `yaml:"expression" json:"expression"`
	Message    string `yaml:"message" json:"message,omitempty"`
}
