// Package image holds controls on container image references: mutable
// tags, digests, trusted registries and pull policies.
package image

import (
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
)

// Controls returns the image controls. allowed are the trusted registry
// patterns of the configuration; without them IMG-UNTRUSTED-REGISTRY
// reports nothing.
func Controls(allowed []string) []*control.Control {
	return []*control.Control{latestTag, notPinned, untrusted(allowed), pullPolicy, deprecatedRegistry, Vuln, Signature, Attestation}
}

// Tag splits an image reference into its tag and digest ("" when absent).
func Tag(image string) (tag, digest string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image, digest = image[:i], image[i+1:]
	}
	// the tag follows the last colon after the last slash (a colon before
	// it belongs to a registry port)
	slash := strings.LastIndexByte(image, '/')
	if i := strings.LastIndexByte(image, ':'); i > slash {
		tag = image[i+1:]
	}
	return tag, digest
}

// Unversioned is an image reference as written, without its tag and
// digest.
func Unversioned(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// Repository returns the registry host and the repository path of an image
// the way the container runtime resolves them: a first component without a
// dot, a colon or "localhost" is a Docker Hub repository.
func Repository(image string) (registry, repo string) {
	image = Unversioned(image)
	first, rest, ok := strings.Cut(image, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	if !ok {
		return "docker.io", "library/" + image
	}
	return "docker.io", image
}

// each calls f for every container with an image (ephemeral ones
// included: they run in the pod too).
func each(p *control.Pass, f func(c inventory.Container)) {
	for _, c := range p.Workload.Containers {
		if c.Image != "" {
			f(c)
		}
	}
}

var latestTag = &control.Control{
	ID:       "IMG-LATEST-TAG",
	Title:    "Image uses latest or no tag",
	Severity: finding.Medium,
	Category: "image",
	Rationale: "A missing or latest tag is mutable: the code that runs changes without a change to the manifest, " +
		"rollbacks are unreliable and the image that was scanned is not the one that runs.",
	Remediation:   "Use an immutable version tag, ideally pinned by digest (image: repo/app:1.4.2@sha256:...).",
	Refs:          control.Refs("NSA:image-scanning", "NIST:4.1.5", "NIST:4.2.2", "MITRE:T1525"),
	WorkloadsOnly: true,
	// A digest pins the image whatever the tag; otherwise the last path
	// segment must carry a tag other than latest.
	CEL: `variables.containers.all(c, !has(c.image) || c.image == '' || c.image.contains('@') || ` +
		`(c.image.substring(c.image.lastIndexOf('/') + 1).contains(':') && !c.image.endsWith(':latest')))`,
	Check: func(p *control.Pass) {
		each(p, func(c inventory.Container) {
			tag, digest := Tag(c.Image)
			if digest != "" {
				return
			}
			switch tag {
			case "":
				p.ReportContainer(c.Name, c.Field("image"), "%s %q uses image %q without a tag", c.Kind, c.Name, c.Image)
			case "latest":
				p.ReportContainer(c.Name, c.Field("image"), "%s %q uses image %q with the mutable latest tag", c.Kind, c.Name, c.Image)
			}
		})
	},
}

var notPinned = &control.Control{
	ID:       "IMG-NOT-PINNED",
	Title:    "Image not pinned by digest",
	Severity: finding.Low,
	Category: "image",
	Rationale: "Tags can be moved to other content at any time, by mistake or by an attacker with registry " +
		"access. Only a digest guarantees that what runs is what was built, scanned and signed (immutable deployments).",
	Remediation:   "Reference the image by digest, e.g. registry.example.com/app:1.4.2@sha256:..., and let a bot such as Renovate update it.",
	Refs:          control.Refs("CIS:5.5.1", "NSA:image-scanning", "NIST:4.1.5", "NIST:4.2.2", "MITRE:T1525"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		each(p, func(c inventory.Container) {
			if tag, digest := Tag(c.Image); digest == "" && tag != "" && tag != "latest" {
				p.ReportContainer(c.Name, c.Field("image"), "%s %q uses image %q without a digest", c.Kind, c.Name, c.Image)
			}
		})
	},
}

// Trusted reports whether image comes from one of the allowed patterns:
// a pattern without "/" matches the registry host ("*.gcr.io"), one with
// "/" matches registry/repository ("ghcr.io/acme/*").
func Trusted(image string, allowed []string) bool {
	reg, repo := Repository(image)
	for _, a := range allowed {
		target := reg
		if strings.Contains(a, "/") {
			target = reg + "/" + repo
		}
		if ok, _ := path.Match(a, target); ok {
			return true
		}
	}
	return false
}

func untrusted(allowed []string) *control.Control {
	return &control.Control{
		ID:       "IMG-UNTRUSTED-REGISTRY",
		Title:    "Image from a registry outside the allow-list",
		Severity: finding.High,
		Category: "image",
		Rationale: "Images from registries the organisation does not control may be tampered with or carry " +
			"malware; only images from trusted registries should run. Configure the allow-list in .kubeguard.yaml " +
			"(images.allowedRegistries); without one this control reports nothing.",
		Remediation:   "Mirror the image into an allowed registry and reference it there, or add the registry to images.allowedRegistries.",
		Refs:          control.Refs("CIS:5.5.1", "NSA:image-scanning", "NIST:4.1.5", "MITRE:T1204.003"),
		WorkloadsOnly: true,
		Check: func(p *control.Pass) {
			if len(allowed) == 0 {
				return
			}
			each(p, func(c inventory.Container) {
				if !Trusted(c.Image, allowed) {
					reg, _ := Repository(c.Image)
					p.ReportContainer(c.Name, c.Field("image"), "%s %q uses image %q from registry %s, which is not allowed", c.Kind, c.Name, c.Image, reg)
				}
			})
		},
	}
}

var pullPolicy = &control.Control{
	ID:       "IMG-PULL-POLICY",
	Title:    "Mutable image tag without imagePullPolicy: Always",
	Severity: finding.Low,
	Category: "image",
	Rationale: "With a tag that is not pinned by digest and a pull policy other than Always, each node runs " +
		"whatever it cached under that tag, so replicas can run different code, and a pod can use an image its " +
		"credentials would no longer allow it to pull.",
	Remediation:   "Pin the image by digest, or set imagePullPolicy: Always.",
	Refs:          control.Refs("NSA:image-scanning", "NIST:4.2.2", "MITRE:T1525"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		each(p, func(c inventory.Container) {
			if _, digest := Tag(c.Image); digest != "" || c.ImagePullPolicy == corev1.PullAlways {
				return
			}
			tag, _ := Tag(c.Image)
			if tag == "" || tag == "latest" {
				if c.ImagePullPolicy == "" {
					return // the API server defaults these to Always
				}
			}
			path := c.Field("imagePullPolicy")
			if c.ImagePullPolicy == "" {
				path = c.Field("image")
			}
			p.ReportContainer(c.Name, path, "%s %q pulls mutable image %q with policy %s", c.Kind, c.Name, c.Image, orDefault(string(c.ImagePullPolicy)))
		})
	},
}

func orDefault(s string) string {
	if s == "" {
		return "IfNotPresent (default)"
	}
	return s
}

var deprecatedRegistry = &control.Control{
	ID:       "IMG-DEPRECATED-REGISTRY",
	Title:    "Image from the frozen k8s.gcr.io registry",
	Severity: finding.Medium,
	Category: "image",
	Rationale: "k8s.gcr.io was frozen in 2023 and no longer receives images or security fixes; images still " +
		"pulled from it are outdated and may disappear.",
	Remediation:   "Use registry.k8s.io, the community-owned replacement, with a current version.",
	Refs:          control.Refs("NIST:4.2.2", "NIST:4.1.1"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		each(p, func(c inventory.Container) {
			if reg, _ := Repository(c.Image); reg == "k8s.gcr.io" || strings.HasSuffix(reg, ".k8s.gcr.io") {
				p.ReportContainer(c.Name, c.Field("image"), "%s %q uses image %q from the frozen k8s.gcr.io registry", c.Kind, c.Name, c.Image)
			}
		})
	},
}
