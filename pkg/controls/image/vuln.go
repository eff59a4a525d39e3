package image

import (
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Vuln is reported by the image front door (kubeguard image scan, scan
// --images, cluster --images and the controller), which looks inside the
// images: each finding carries its own severity from the advisory.
var Vuln = &control.Control{
	ID:       "IMG-VULN",
	Title:    "Image contains a package with a known vulnerability",
	Severity: finding.High,
	Category: "image",
	Rationale: "A package with a published vulnerability is the most common way in: exploits for it are public, " +
		"and scanners and attackers find it the same way. Each finding takes the advisory's severity: the highest CVSS base " +
		"score among the vulnerability's records, else the ecosystem's own rating, and medium when no record rates it.",
	Remediation: "Update the package to the fixed version: rebuild on a patched base image when the layer came with the base, " +
		"or bump the dependency in the image's own build. If it cannot be reached, accept the risk with an exclusion " +
		"naming the vulnerability (and a reason and expiry) or an OpenVEX not_affected statement.",
	Refs:     control.Refs("CIS-Docker:4.4", "NSA:image-scanning", "NIST:4.1.1", "NIST:4.1.3", "MITRE:T1190"),
	External: true,
	Kinds:    []string{control.ImageKind},
}
