package imagescan

import (
	"fmt"
	"strings"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/image"
)

// VEX holds OpenVEX documents: statements from an image's or a
// package's authors on whether a vulnerability affects it.
type VEX struct {
	docs  []*vex.VEX
	names []string
}

// LoadVEX reads OpenVEX documents (JSON).
func LoadVEX(paths []string) (*VEX, error) {
	v := &VEX{}
	for _, p := range paths {
		d, err := vex.Open(p)
		if err != nil {
			return nil, fmt.Errorf("%s: not an OpenVEX document: %w", p, err)
		}
		for i := range d.Statements {
			if err := d.Statements[i].Validate(); err != nil {
				return nil, fmt.Errorf("%s: statement %d: %w", p, i+1, err)
			}
		}
		v.docs = append(v.docs, d)
		v.names = append(v.names, p)
	}
	return v, nil
}

// NotAffected returns the suppression of a not_affected or fixed
// statement about a vulnerability of an image's package, nil if no
// document says so. A statement may name the image (its OCI package URL,
// reference or digest) with the package as a subcomponent, or the
// package alone.
func (v *VEX) NotAffected(f *finding.Vulnerability) *finding.Suppression {
	if v == nil {
		return nil
	}
	ids := append([]string{f.ID}, f.Aliases...)
	products := []string{image.PURL(f.Image, f.Digest), f.Image, f.Digest}
	subs := purlVariants(f.PURL)
	for i, d := range v.docs {
		for _, id := range ids {
			var st *vex.Statement
			for _, p := range products {
				if m := d.Matches(id, p, subs); len(m) > 0 {
					st = &m[len(m)-1]
					break
				}
			}
			for _, p := range subs {
				if st != nil {
					break
				}
				if m := d.Matches(id, p, nil); len(m) > 0 {
					st = &m[len(m)-1]
				}
			}
			if st == nil {
				continue
			}
			if st.Status != vex.StatusNotAffected && st.Status != vex.StatusFixed {
				return nil // the latest word on it says it matters
			}
			reason := string(st.Status)
			if st.Justification != "" {
				reason += ": " + string(st.Justification)
			}
			if st.ImpactStatement != "" {
				reason += ": " + st.ImpactStatement
			}
			return &finding.Suppression{Kind: "vex", Reason: reason + " (" + v.names[i] + ")"}
		}
	}
	return nil
}

// purlVariants are the package URLs a document may name a package by:
// Go module versions are written with and without their "v".
func purlVariants(p string) []string {
	if p == "" {
		return nil
	}
	out := []string{p}
	if rest, ok := strings.CutPrefix(p, "pkg:golang/"); ok {
		if name, ver, ok := strings.Cut(rest, "@"); ok && !strings.HasPrefix(ver, "v") {
			out = append(out, "pkg:golang/"+name+"@v"+ver)
		}
	}
	return out
}
