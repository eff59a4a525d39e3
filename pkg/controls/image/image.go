// Package image holds controls on container image references.
package image

import (
	"strings"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Controls returns the image controls.
func Controls() []*control.Control {
	return []*control.Control{latestTag}
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

var latestTag = &control.Control{
	ID:       "IMG-LATEST-TAG",
	Title:    "Image uses latest or no tag",
	Severity: finding.Medium,
	Category: "image",
	Rationale: "A missing or latest tag is mutable: the code that runs changes without a change to the manifest, " +
		"rollbacks are unreliable and the image that was scanned is not the one that runs.",
	Remediation:   "Use an immutable version tag, ideally pinned by digest (image: repo/app:1.4.2@sha256:...).",
	Refs:          control.Refs("NSA:image-scanning", "NIST:4.1.5", "MITRE:T1525"),
	WorkloadsOnly: true,
	Check: func(p *control.Pass) {
		for _, c := range p.Workload.Containers {
			tag, digest := Tag(c.Image)
			if digest != "" {
				continue
			}
			switch tag {
			case "":
				p.ReportContainer(c.Name, c.Field("image"), "%s %q uses image %q without a tag", c.Kind, c.Name, c.Image)
			case "latest":
				p.ReportContainer(c.Name, c.Field("image"), "%s %q uses image %q with the mutable latest tag", c.Kind, c.Name, c.Image)
			}
		}
	},
}
