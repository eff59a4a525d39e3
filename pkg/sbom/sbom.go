// Package sbom writes the inventory of an image as a software bill of
// materials: CycloneDX 1.6 and SPDX 2.3 JSON, with the official Go
// libraries of each format.
package sbom

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/image"
)

// Formats are the SBOM formats kubeguard writes.
var Formats = []string{"cyclonedx", "spdx"}

// Tool names the program in a document's metadata.
type Tool struct{ Name, Version string }

// Write writes inv in a format.
func Write(w io.Writer, format string, inv *image.Inventory, tool Tool, now time.Time) error {
	switch format {
	case "cyclonedx":
		return CycloneDX(w, inv, tool, now)
	case "spdx":
		return SPDX(w, inv, tool, now)
	}
	return fmt.Errorf("unknown SBOM format %q (want %s)", format, strings.Join(Formats, " or "))
}

// properties every package carries: where in the image it was found.
func props(p *image.Package) []cdx.Property {
	out := []cdx.Property{
		{Name: "kubeguard:ecosystem", Value: p.Ecosystem},
		{Name: "kubeguard:layer:index", Value: strconv.Itoa(p.Layer.Index)},
	}
	if p.Layer.DiffID != "" {
		out = append(out, cdx.Property{Name: "kubeguard:layer:diffID", Value: p.Layer.DiffID})
	}
	if p.Layer.Command != "" {
		out = append(out, cdx.Property{Name: "kubeguard:layer:command", Value: p.Layer.Command})
	}
	if p.Source != "" {
		out = append(out, cdx.Property{Name: "kubeguard:sourcePackage", Value: p.Source})
	}
	for _, path := range p.Paths {
		out = append(out, cdx.Property{Name: "kubeguard:path", Value: path})
	}
	return out
}

// CycloneDX writes a CycloneDX 1.6 JSON document: the image is the
// metadata component, its packages the components.
func CycloneDX(w io.Writer, inv *image.Inventory, tool Tool, now time.Time) error {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(inv.Image.Name())).String()
	img := &cdx.Component{
		BOMRef: inv.Image.Name(), Type: cdx.ComponentTypeContainer, Name: ctlimage.Unversioned(inv.Image.Ref), Version: inv.Image.Digest.String(),
		PackageURL: image.PURL(inv.Image.Ref, inv.Image.Digest.String()),
	}
	if inv.Image.Platform != "" {
		img.Properties = &[]cdx.Property{{Name: "kubeguard:platform", Value: inv.Image.Platform}}
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: now.UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: tool.Name, Version: tool.Version}}},
		Component: img,
	}
	comps := make([]cdx.Component, 0, len(inv.Packages)+1)
	var refs []string
	if inv.OS != "" {
		comps = append(comps, cdx.Component{BOMRef: "os", Type: cdx.ComponentTypeOS, Name: inv.OS})
	}
	for i, p := range inv.Packages {
		ref := p.PURL
		if ref == "" {
			ref = fmt.Sprintf("package-%d", i)
		}
		ref = fmt.Sprintf("%s#%d", ref, i) // one package may be found twice under one purl
		c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: p.PURL}
		ps := props(p)
		c.Properties = &ps
		if len(p.Licenses) > 0 {
			lic := cdx.Licenses{}
			for _, l := range p.Licenses {
				lic = append(lic, licenseChoice(l))
			}
			c.Licenses = &lic
		}
		comps = append(comps, c)
		refs = append(refs, ref)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: img.BOMRef, Dependencies: &refs}}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	return enc.EncodeVersion(bom, cdx.SpecVersion1_6)
}

// licenseChoice keeps SPDX expressions as expressions and anything else
// (a name a package declared) as a named license.
func licenseChoice(l string) cdx.LicenseChoice {
	if spdxID.MatchString(l) {
		return cdx.LicenseChoice{License: &cdx.License{ID: l}}
	}
	return cdx.LicenseChoice{License: &cdx.License{Name: l}}
}

var spdxID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+-]*$`)

// SPDX writes an SPDX 2.3 JSON document: the image package DESCRIBES,
// and CONTAINS each package found in it.
func SPDX(w io.Writer, inv *image.Inventory, tool Tool, now time.Time) error {
	name := inv.Image.Name()
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://kubeguard.io/spdx/" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(name)).String(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: tool.Name + "-" + tool.Version}},
			Created:  now.UTC().Format(time.RFC3339),
		},
	}
	imgID := common.ElementID("Image")
	imgPkg := &spdx.Package{
		PackageName: ctlimage.Unversioned(inv.Image.Ref), PackageSPDXIdentifier: imgID, PackageVersion: inv.Image.Digest.String(),
		PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "CONTAINER",
		PackageExternalReferences: []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: image.PURL(inv.Image.Ref, inv.Image.Digest.String())}},
		PackageChecksums:          []common.Checksum{{Algorithm: common.SHA256, Value: inv.Image.Digest.Hex}},
	}
	doc.Packages = append(doc.Packages, imgPkg)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", string(imgID)), Relationship: "DESCRIBES",
	})
	for i, p := range inv.Packages {
		id := common.ElementID(fmt.Sprintf("Package-%d", i))
		sp := &spdx.Package{
			PackageName: p.Name, PackageSPDXIdentifier: id, PackageVersion: p.Version,
			PackageDownloadLocation: "NOASSERTION", PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION",
			PackageCopyrightText: "NOASSERTION", PrimaryPackagePurpose: "LIBRARY",
			PackageComment: fmt.Sprintf("ecosystem %s; layer %d %s; found at %s", p.Ecosystem, p.Layer.Index, p.Layer.DiffID, strings.Join(p.Paths, ", ")),
		}
		if p.Source != "" {
			sp.PackageSourceInfo = "built from source package " + p.Source
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(imgID)), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	return spdxjson.Write(doc, w, spdxjson.Indent("  "))
}
