package webhook

import (
	"context"
	"slices"

	"github.com/kubeguard/kubeguard/pkg/config"
	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// imageUses are the containers of a workload whose image an image policy
// matches in its namespace.
func (h *Handler) imageUses(o *object.Object, wl *inventory.Workload) []imageverify.Use {
	if wl == nil || h.opts.Verify == nil {
		return nil
	}
	inv := inventory.New()
	inv.Add(o, wl)
	return h.opts.Verify.Verifier().Policies().Uses(inv.Entries(), h.namespaceLabels, nil)
}

// verifyImages judges the images a workload runs by the image policies,
// from the cache or within the request's budget. An image that could not
// be verified (registry down, budget spent) is a verdict of its own: the
// failure policy decides for enforcing policies, a policy that only warns
// or audits keeps its mode.
func (h *Handler) verifyImages(ctx context.Context, o *object.Object, wl *inventory.Workload) ([]finding.Finding, []verdict) {
	uses := h.imageUses(o, wl)
	if len(uses) == 0 {
		return nil, nil
	}
	ps := h.opts.Verify.Verifier().Policies()
	results := map[string]*imageverify.Result{}
	errs := map[string]error{}
	var out []finding.Finding
	var failed []verdict
	ctl, _ := h.cat.Get(ctlimage.Signature.ID)
	for _, u := range uses {
		img := u.Container.Image
		if _, ok := results[img]; !ok && errs[img] == nil {
			res, err := h.opts.Verify.Check(ctx, img)
			results[img], errs[img] = res, err
			if err != nil {
				path := u.Container.Field("image")
				failed = append(failed, verdict{finding.Finding{ControlID: ctlimage.Signature.ID, Severity: finding.Info, Object: o.Ref,
					Container: u.Container.Name, Path: path, Message: "image " + img + " could not be verified: " + err.Error()},
					h.unverifiedMode(img, o.Namespace), ctl})
			}
		}
		if res := results[img]; res != nil {
			out = append(out, ps.Judge(u, res, h.namespaceLabels)...)
		}
	}
	return out, failed
}

// unverifiedMode is the mode of an image that could not be verified.
func (h *Handler) unverifiedMode(img, ns string) config.Mode {
	mode := config.Audit
	for _, p := range h.opts.Verify.Verifier().Policies().For(img) {
		if !p.Matches(img, h.namespaceLabels(ns)) {
			continue
		}
		m := p.Mode
		if m == config.Enforce {
			m = config.Warn
			if h.opts.Config.FailurePolicy == "Fail" {
				m = config.Enforce
			}
		}
		if rank(m) > rank(mode) {
			mode = m
		}
	}
	return mode
}

func rank(m config.Mode) int {
	return slices.Index([]config.Mode{config.Audit, config.Warn, config.Enforce}, m)
}

// pinImages replaces each verified image's tag by the digest verified
// (image:tag@sha256:...), so that what runs is what was judged.
func (h *Handler) pinImages(ctx context.Context, o *object.Object, wl *inventory.Workload) []PatchOp {
	var ops []PatchOp
	for _, u := range h.imageUses(o, wl) {
		img := u.Container.Image
		if _, digest := ctlimage.Tag(img); digest != "" {
			continue
		}
		res, err := h.opts.Verify.Check(ctx, img)
		if err != nil {
			continue // the validating endpoint reports it
		}
		ops = append(ops, PatchOp{"replace", pointer(u.Container.Field("image")), res.Pinned()})
	}
	return ops
}
