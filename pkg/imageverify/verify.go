package imageverify

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Result is what verification found for one image.
type Result struct {
	// Image is the reference asked about; Digest the digest verified.
	Image, Digest string
	// Verdicts has one entry per policy matching the image.
	Verdicts []Verdict
	// Requests counts the registry requests the verification made.
	Requests int64
	Took     time.Duration
}

// Pinned is the image reference with the digest verified: the tag, if
// any, stays for readers, and the digest decides what runs.
func (r *Result) Pinned() string {
	base := r.Image
	if i := strings.IndexByte(base, '@'); i >= 0 {
		base = base[:i]
	}
	return base + "@" + r.Digest
}

// Verdict is one policy's judgement of an image.
type Verdict struct {
	Policy *Policy
	// SignedBy names the authority and identity whose signature verified;
	// empty when none did, and Reason says why.
	SignedBy, Reason string
	Attestations     []AttestationVerdict
}

// AttestationVerdict is one required attestation's judgement.
type AttestationVerdict struct {
	Name, PredicateType string
	OK                  bool
	// By names who signed the attestation that passed; Reason says why
	// none did.
	By, Reason string
}

// OK reports whether the image satisfies the policy.
func (v Verdict) OK() bool {
	if v.SignedBy == "" {
		return false
	}
	for _, a := range v.Attestations {
		if !a.OK {
			return false
		}
	}
	return true
}

// Verifier verifies images against compiled policies.
type Verifier struct {
	policies atomic.Pointer[Policies]
	reg      *registry
	now      func() time.Time
}

// New returns a verifier of the policies, reaching registries per o.
func New(ps *Policies, o Options) (*Verifier, error) {
	reg, err := newRegistry(o)
	if err != nil {
		return nil, err
	}
	v := &Verifier{reg: reg, now: time.Now}
	v.policies.Store(ps)
	return v, nil
}

// Policies are the policies the verifier holds.
func (v *Verifier) Policies() *Policies { return v.policies.Load() }

// SetPolicies replaces the policies; verdicts cached under the old ones
// are not read again (their generation differs).
func (v *Verifier) SetPolicies(ps *Policies) { v.policies.Store(ps) }

// Requests is the number of registry requests made so far.
func (v *Verifier) Requests() int64 { return v.reg.requests.Load() }

// Resolve returns the digest reference an image names now.
func (v *Verifier) Resolve(ctx context.Context, image string) (name.Digest, error) {
	ref, err := v.reg.parse(image)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%s: not an image reference: %v", image, err)
	}
	return v.reg.resolve(ctx, ref)
}

// Verify judges an image by every policy matching it; a registry that
// cannot be read is an error (*RegistryError), not a verdict. An image
// no policy matches is not looked up. "oci:DIR" reads an OCI layout,
// whose recorded image name the policies match (see ociLayout).
func (v *Verifier) Verify(ctx context.Context, image string) (*Result, error) {
	if dir, ok := strings.CutPrefix(image, "oci:"); ok {
		l, err := openLayout(dir)
		if err != nil {
			return nil, err
		}
		match := image
		if n := l.named(); n != "" {
			match = n
		}
		if len(v.Policies().For(match)) == 0 {
			return &Result{Image: image}, nil
		}
		d, err := l.resolve()
		if err != nil {
			return nil, err
		}
		return v.verify(ctx, image, match, l, d)
	}
	if len(v.Policies().For(image)) == 0 {
		return &Result{Image: image}, nil // nothing to verify: the registry is not asked
	}
	d, err := v.Resolve(ctx, image)
	if err != nil {
		return nil, err
	}
	return v.verify(ctx, image, image, v.reg, d)
}

// VerifyDigest is Verify of a registry image whose digest is resolved.
func (v *Verifier) VerifyDigest(ctx context.Context, image string, d name.Digest) (*Result, error) {
	return v.verify(ctx, image, image, v.reg, d)
}

// verify judges digest d of image, read from st, by the policies that
// match the name match.
func (v *Verifier) verify(ctx context.Context, image, match string, st store, d name.Digest) (*Result, error) {
	start, before := time.Now(), v.reg.requests.Load()
	res := &Result{Image: image, Digest: d.DigestStr()}
	ps := v.Policies().For(match)
	if len(ps) > 0 {
		f, err := fetch(ctx, st, d)
		if err != nil {
			return nil, err
		}
		raw, err := hex.DecodeString(strings.TrimPrefix(d.DigestStr(), "sha256:"))
		if err != nil || !strings.HasPrefix(d.DigestStr(), "sha256:") {
			return nil, fmt.Errorf("%s: only sha256 digests can be verified", image)
		}
		for _, p := range ps {
			res.Verdicts = append(res.Verdicts, v.judge(p, f, d.DigestStr(), raw))
		}
	}
	res.Requests, res.Took = v.reg.requests.Load()-before, time.Since(start)
	return res, nil
}

func (v *Verifier) judge(p *Policy, f *found, digest string, raw []byte) Verdict {
	vd := Verdict{Policy: p}
	vd.SignedBy, vd.Reason = signedBy(p.authorities, f.signatures, digest, raw)
	for _, r := range p.attestations {
		vd.Attestations = append(vd.Attestations, v.attestation(r, f.attestations, raw))
	}
	return vd
}

// signedBy finds a signature by one of the authorities, or says why
// there is none.
func signedBy(auths []*authority, cands []*candidate, digest string, raw []byte) (by, reason string) {
	if len(cands) == 0 {
		return "", "no signature is attached to " + digest
	}
	var why reasons
	for _, c := range cands {
		if c.malformed != "" {
			why.add(c.where, "malformed signature: "+c.malformed)
			continue
		}
		if c.payload != nil {
			signed, err := signedDigest(c.payload)
			if err != nil {
				why.add(c.where, "malformed signature: "+err.Error())
				continue
			}
			if signed != digest {
				why.add(c.where, "the signature is for "+signed+", not for this image's "+digest)
				continue
			}
		}
		for _, a := range auths {
			if _, err := a.check(c, raw); err != nil {
				why.add(c.where, explain(a, c, err))
				continue
			}
			return a.describe(c), ""
		}
	}
	return "", "no signature by " + names(auths) + " verifies: " + why.String()
}

func (v *Verifier) attestation(r *attestationRule, cands []*candidate, raw []byte) AttestationVerdict {
	av := AttestationVerdict{Name: r.name, PredicateType: r.predicateType}
	var why reasons
	n := 0
	for _, c := range cands {
		if c.predicateType != r.predicateType && c.malformed == "" {
			continue
		}
		if c.malformed != "" {
			why.add(c.where, "malformed attestation: "+c.malformed)
			continue
		}
		n++
		for _, a := range r.authorities {
			res, err := a.check(c, raw)
			if err != nil {
				why.add(c.where, explain(a, c, err))
				continue
			}
			if msg := r.evaluate(res, v.now()); msg != "" {
				why.add(c.where, msg)
				continue
			}
			av.OK, av.By = true, a.describe(c)
			return av
		}
	}
	if n == 0 && why.empty() {
		av.Reason = "no " + r.predicateType + " attestation is attached"
		return av
	}
	av.Reason = "no " + r.predicateType + " attestation by " + names(r.authorities) + " passes: " + why.String()
	return av
}

// evaluate runs the conditions on a verified statement; "" when all
// hold, else the message of the first that does not.
func (r *attestationRule) evaluate(res *verify.VerificationResult, now time.Time) string {
	if len(r.conditions) == 0 {
		return ""
	}
	if res.Statement == nil {
		return "the attestation carries no in-toto statement"
	}
	vars := map[string]any{
		"predicateType": res.Statement.GetPredicateType(),
		"predicate":     map[string]any{},
		"subject":       []any{},
		"now":           now,
	}
	if p := res.Statement.GetPredicate(); p != nil {
		vars["predicate"] = p.AsMap()
	}
	var subj []any
	for _, s := range res.Statement.GetSubject() {
		dg := map[string]any{}
		for k, v := range s.GetDigest() {
			dg[k] = v
		}
		subj = append(subj, map[string]any{"name": s.GetName(), "digest": dg})
	}
	if subj != nil {
		vars["subject"] = subj
	}
	for _, c := range r.conditions {
		out, _, err := c.prg.Eval(vars)
		if err != nil {
			return fmt.Sprintf("condition %q cannot be evaluated: %v", c.expr, err)
		}
		if b, ok := out.Value().(bool); !ok || !b {
			return "condition not met: " + c.message
		}
	}
	return ""
}

func (a *authority) check(c *candidate, raw []byte) (*verify.VerificationResult, error) {
	var art verify.ArtifactPolicyOption
	if c.payload != nil {
		art = verify.WithArtifact(bytes.NewReader(c.payload))
	} else {
		art = verify.WithArtifactDigest("sha256", raw)
	}
	id := verify.WithKey()
	if !a.key {
		id = verify.WithCertificateIdentity(*a.identity)
	}
	return a.verifier.Verify(c.entity, verify.NewPolicy(art, id))
}

// describe names the authority and the identity of the certificate that
// signed, if any.
func (a *authority) describe(c *candidate) string {
	if s := summary(c); s != nil {
		return fmt.Sprintf("%s (%s, issuer %s)", a.name, s.SubjectAlternativeName, s.Issuer)
	}
	return a.name
}

func summary(c *candidate) *certificate.Summary {
	vc, err := c.entity.VerificationContent()
	if err != nil || vc == nil || vc.Certificate() == nil {
		return nil
	}
	s, err := certificate.SummarizeCertificate(vc.Certificate())
	if err != nil {
		return nil
	}
	return &s
}

// explain turns a verification error into the reason a person can act on.
func explain(a *authority, c *candidate, err error) string {
	msg := err.Error()
	s := summary(c)
	var idErr *verify.ErrNoMatchingCertificateIdentity
	switch {
	case errors.As(err, &idErr) && s != nil:
		return fmt.Sprintf("signed by %s (issuer %s), which %s does not trust", s.SubjectAlternativeName, s.Issuer, a.name)
	case a.key && s != nil && strings.Contains(msg, "expected key signature"):
		return fmt.Sprintf("signed keyless by %s (issuer %s), not with the key of %s", s.SubjectAlternativeName, s.Issuer, a.name)
	case !a.key && s == nil:
		return "signed with a key, not by a certificate identity " + a.name + " trusts"
	case s != nil && (strings.Contains(msg, "certificate has expired or is not yet valid") || strings.Contains(msg, "outside certificate validity")):
		vc, _ := c.entity.VerificationContent()
		cert := vc.Certificate()
		return fmt.Sprintf("the signing certificate (valid %s to %s) was not valid when the signature was made: %s",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), short(msg))
	case a.key && (strings.Contains(msg, "failed to verify signature") || strings.Contains(msg, "invalid signature")):
		return "the signature does not verify with the key of " + a.name
	case s != nil && (strings.Contains(msg, "leaf certificate verification failed") || strings.Contains(msg, "unknown authority")):
		return fmt.Sprintf("the signing certificate (%s, issuer %s) was not issued by a certificate authority %s trusts", s.SubjectAlternativeName, s.Issuer, a.name)
	case strings.Contains(msg, "artifact digest does not match"):
		return "the signed statement is about another image: its subject is not this digest"
	case strings.Contains(msg, "threshold not met for verified log entry") || strings.Contains(msg, "transparency log"):
		return "no verified transparency log entry: " + short(msg)
	}
	return short(msg)
}

// short drops the "failed to …: " wrapping sigstore-go adds.
func short(msg string) string {
	if len(msg) > 300 {
		msg = msg[:297] + "..."
	}
	return msg
}

func names(auths []*authority) string {
	var ns []string
	for _, a := range auths {
		ns = append(ns, a.name)
	}
	return strings.Join(ns, ", ")
}

// reasons collects why candidates failed, each reason once.
type reasons struct {
	list []string
	seen map[string]bool
}

func (r *reasons) add(where, why string) {
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if r.seen[why] {
		return
	}
	r.seen[why] = true
	r.list = append(r.list, why+" ("+where+")")
}

func (r *reasons) empty() bool { return len(r.list) == 0 }

func (r *reasons) String() string {
	if len(r.list) > 3 {
		return strings.Join(r.list[:3], "; ") + fmt.Sprintf("; and %d more", len(r.list)-3)
	}
	return strings.Join(r.list, "; ")
}

// MarshalJSON writes a verdict for kubeguard image verify -o json.
func (v Verdict) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Policy       string               `json:"policy"`
		Mode         string               `json:"mode"`
		OK           bool                 `json:"ok"`
		SignedBy     string               `json:"signedBy,omitempty"`
		Reason       string               `json:"reason,omitempty"`
		Attestations []AttestationVerdict `json:"attestations,omitempty"`
	}{v.Policy.Name, string(v.Policy.Mode), v.OK(), v.SignedBy, v.Reason, v.Attestations})
}
