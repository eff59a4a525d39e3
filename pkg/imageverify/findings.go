package imageverify

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubeguard/kubeguard/pkg/config"
	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Check verifies one image (a Verifier's Verify, or a Cache's Check).
type Check func(ctx context.Context, image string) (*Result, error)

// Accept decides on a finding as the engine does for its own controls.
type Accept func(f *finding.Finding, o *object.Object, w *inventory.Workload) bool

// Namespaces returns the labels of a namespace from the Namespace
// objects of an inventory (see inventory.NamespaceLabels).
func Namespaces(inv *inventory.Inventory) func(ns string) labels.Set {
	return func(ns string) labels.Set { return labels.Set(inventory.NamespaceLabels(inv, ns)) }
}

// Use is one container of one workload that runs an image.
type Use struct {
	Object    *object.Object
	Workload  *inventory.Workload
	Container inventory.Container
	// Image is the reference verified: the container's image field, or
	// in a cluster a digest its pods run.
	Image string
}

// Resolve names the images to verify for a container: its image field
// (nil Resolve), or in a cluster the digests its pods run.
type Resolve func(o *object.Object, c inventory.Container) []string

// Uses lists the containers whose image a policy matches, in the
// namespace of their workload; policies match the image field as
// written.
func (ps *Policies) Uses(entries []inventory.Entry, nsLabels func(string) labels.Set, resolve Resolve) []Use {
	var out []Use
	for _, e := range entries {
		if e.Workload == nil {
			continue
		}
		for _, c := range e.Workload.Containers {
			if c.Image == "" || len(ps.matching(c.Image, e.Object.Namespace, nsLabels)) == 0 {
				continue
			}
			refs := []string{c.Image}
			if resolve != nil {
				if r := resolve(e.Object, c); len(r) > 0 {
					refs = r
				}
			}
			for _, ref := range refs {
				out = append(out, Use{e.Object, e.Workload, c, ref})
			}
		}
	}
	return out
}

func (ps *Policies) matching(image, ns string, nsLabels func(string) labels.Set) []*Policy {
	var out []*Policy
	for _, p := range ps.For(image) {
		if p.namespaces == nil || p.namespaces.Matches(nsLabels(ns)) {
			out = append(out, p)
		}
	}
	return out
}

// Workloads verifies the images the workloads run (per resolve, nil: the
// image fields), each at most once and
// parallel at a time, and reports the policies they fail on each
// container's image field. An image that cannot be verified is an error
// at the first place it is named; the others are still verified.
func (ps *Policies) Workloads(ctx context.Context, entries []inventory.Entry, nsLabels func(string) labels.Set, resolve Resolve, check Check, accept Accept, parallel int) ([]*finding.Finding, []object.Diagnostic) {
	uses := ps.Uses(entries, nsLabels, resolve)
	var images []string
	for _, u := range uses {
		if !slices.Contains(images, u.Image) {
			images = append(images, u.Image)
		}
	}
	results := make(map[string]*Result, len(images))
	errs := make(map[string]error)
	var mu sync.Mutex
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for _, img := range images {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := check(ctx, img)
			mu.Lock()
			results[img], errs[img] = res, err
			mu.Unlock()
		}()
	}
	wg.Wait()
	var out []*finding.Finding
	var diags []object.Diagnostic
	reported := map[string]bool{}
	for _, u := range uses {
		img := u.Image
		if err := errs[img]; err != nil {
			if !reported[img] {
				reported[img] = true
				path := u.Container.Field("image")
				diags = append(diags, object.Diagnostic{Pos: u.Object.Locate(path), Severity: object.SeverityError,
					Message: "image " + img + " could not be verified: " + err.Error()})
			}
			continue
		}
		for _, f := range ps.Judge(u, results[img], nsLabels) {
			if accept == nil || accept(&f, u.Object, u.Workload) {
				out = append(out, &f)
			}
		}
	}
	slices.SortFunc(out, finding.Compare)
	return out, diags
}

// Judge turns the verdicts on a container's image into findings on its
// image field, for the policies that apply in its namespace.
func (ps *Policies) Judge(u Use, res *Result, nsLabels func(string) labels.Set) []finding.Finding {
	if res == nil {
		return nil
	}
	apply := ps.matching(u.Container.Image, u.Object.Namespace, nsLabels)
	path := u.Container.Field("image")
	at := finding.Finding{Object: u.Object.Ref, Container: u.Container.Name, Path: path, Position: u.Object.Locate(path),
		ObjectAt: u.Object.Source, Rendered: u.Object.RenderedAt(path), Origin: u.Object.Origin}
	return res.Findings(at, func(p *Policy) bool { return slices.Contains(apply, p) })
}

// Findings are the findings of the verdicts of the policies keep
// accepts (nil: all), placed as at is: one IMG-SIGNATURE per policy
// without a valid signature, one IMG-ATTESTATION per attestation missing
// or failing its conditions. Each carries the action of the policy's
// mode.
func (r *Result) Findings(at finding.Finding, keep func(*Policy) bool) []finding.Finding {
	var out []finding.Finding
	for _, v := range r.Verdicts {
		if keep != nil && !keep(v.Policy) {
			continue
		}
		action := actionOf(v.Policy.Mode)
		if v.SignedBy == "" {
			f := at
			f.ControlID, f.Severity, f.Action = ctlimage.Signature.ID, ctlimage.Signature.Severity, action
			f.Message = fmt.Sprintf("image %s (%s) fails policy %s: %s", r.Image, r.Digest, v.Policy.Name, v.Reason)
			out = append(out, f)
		}
		for _, a := range v.Attestations {
			if a.OK {
				continue
			}
			f := at
			f.ControlID, f.Severity, f.Action = ctlimage.Attestation.ID, ctlimage.Attestation.Severity, action
			f.Message = fmt.Sprintf("image %s (%s) fails policy %s, attestation %s: %s", r.Image, r.Digest, v.Policy.Name, a.Name, a.Reason)
			out = append(out, f)
		}
	}
	return out
}

func actionOf(m config.Mode) string {
	switch m {
	case config.Warn:
		return finding.ActionWarn
	case config.Audit:
		return finding.ActionAudit
	}
	return finding.ActionDeny
}
