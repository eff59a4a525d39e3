// Package imageverify is the image provenance front door: it verifies
// the signatures and in-toto attestations attached to images (cosign's
// .sig and .att tags, and Sigstore bundles attached as OCI 1.1
// referrers) with sigstore-go, against the policies of images.verify or
// ClusterImagePolicy objects, and reports images that fail as
// IMG-SIGNATURE and IMG-ATTESTATION findings.
package imageverify

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubeguard/kubeguard/pkg/config"
	ctlimage "github.com/kubeguard/kubeguard/pkg/controls/image"
)

// Policy is a compiled images.verify policy.
type Policy struct {
	Name         string
	Mode         config.Mode
	images       []*regexp.Regexp
	namespaces   labels.Selector // nil: every namespace
	authorities  []*authority
	attestations []*attestationRule
}

type authority struct {
	name     string
	verifier *verify.Verifier
	identity *verify.CertificateIdentity // keyless
	key      bool
}

type attestationRule struct {
	name, predicateType string
	authorities         []*authority
	conditions          []condition
}

type condition struct {
	expr, message string
	prg           cel.Program
}

// Policies are the compiled policies of a configuration, with a
// generation that changes whenever any of them does (cached verdicts are
// kept by generation).
type Policies struct {
	List       []*Policy
	Generation string
}

// Compile checks and compiles a configuration's policies; base is the
// directory relative file names are read from. Every error names the
// policy and field it is in.
func Compile(cfg config.ImageVerify, base string) (*Policies, error) {
	return CompileWith(cfg, base, nil)
}

// CompileWith is Compile with the trusted root given (a newer one from
// TUF) instead of read from cfg.TrustedRoot; nil reads the file.
func CompileWith(cfg config.ImageVerify, base string, trustedRoot []byte) (*Policies, error) {
	if t := cfg.TUF; t != nil && (t.URL == "" || t.Root == "") {
		return nil, errors.New("images.verify.tuf: url and root (the TUF root.json the repository is trusted with) are required")
	}
	gen := sha256.New()
	json.NewEncoder(gen).Encode(cfg.Policies)
	var trusted root.TrustedMaterial
	if cfg.TrustedRoot != "" || trustedRoot != nil {
		data := trustedRoot
		if data == nil {
			var err error
			if data, err = os.ReadFile(resolve(base, cfg.TrustedRoot)); err != nil {
				return nil, fmt.Errorf("images.verify.trustedRoot: %v", err)
			}
		}
		tr, err := root.NewTrustedRootFromJSON(data)
		if err != nil {
			return nil, fmt.Errorf("images.verify.trustedRoot: %s is not a Sigstore trusted root: %v", cfg.TrustedRoot, err)
		}
		trusted = tr
		gen.Write(data)
	}
	ps := &Policies{}
	seen := map[string]bool{}
	for i, pc := range cfg.Policies {
		where := fmt.Sprintf("images.verify.policies[%d]", i)
		if pc.Name != "" {
			where += " (" + pc.Name + ")"
		}
		p, err := compilePolicy(pc, base, trusted, gen)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if p.Name == "" {
			p.Name = fmt.Sprintf("policy-%d", i)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: the name %q is used twice", where, p.Name)
		}
		seen[p.Name] = true
		ps.List = append(ps.List, p)
	}
	ps.Generation = hex.EncodeToString(gen.Sum(nil))[:16]
	return ps, nil
}

func resolve(base, file string) string {
	if filepath.IsAbs(file) || base == "" {
		return file
	}
	return filepath.Join(base, file)
}

func compilePolicy(pc config.ImagePolicy, base string, trusted root.TrustedMaterial, gen interface{ Write([]byte) (int, error) }) (*Policy, error) {
	p := &Policy{Name: pc.Name, Mode: pc.Mode}
	switch p.Mode {
	case "":
		p.Mode = config.Enforce
	case config.Enforce, config.Warn, config.Audit:
	default:
		return nil, fmt.Errorf("mode %q is not one of enforce, warn, audit", pc.Mode)
	}
	if len(pc.Images) == 0 {
		return nil, errors.New("images: at least one pattern is needed")
	}
	for _, g := range pc.Images {
		re, err := globRegexp(g)
		if err != nil {
			return nil, fmt.Errorf("images: %v", err)
		}
		p.images = append(p.images, re)
	}
	if pc.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(pc.NamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("namespaceSelector: %v", err)
		}
		p.namespaces = sel
	}
	if len(pc.Authorities) == 0 {
		return nil, errors.New("authorities: at least one is needed")
	}
	var err error
	if p.authorities, err = compileAuthorities(pc.Authorities, "authorities", base, trusted, gen); err != nil {
		return nil, err
	}
	for i, ac := range pc.Attestations {
		where := fmt.Sprintf("attestations[%d]", i)
		if ac.PredicateType == "" {
			return nil, fmt.Errorf("%s: predicateType is required", where)
		}
		r := &attestationRule{name: ac.Name, predicateType: ac.PredicateType, authorities: p.authorities}
		if r.name == "" {
			r.name = ac.PredicateType
		}
		if len(ac.Authorities) > 0 {
			if r.authorities, err = compileAuthorities(ac.Authorities, where+".authorities", base, trusted, gen); err != nil {
				return nil, err
			}
		}
		for j, cc := range ac.Conditions {
			c, err := compileCondition(cc)
			if err != nil {
				return nil, fmt.Errorf("%s.conditions[%d]: %v", where, j, err)
			}
			r.conditions = append(r.conditions, c)
		}
		p.attestations = append(p.attestations, r)
	}
	return p, nil
}

// globRegexp turns an image pattern into an anchored expression: "**"
// crosses path segments, "*" and "?" do not.
func globRegexp(g string) (*regexp.Regexp, error) {
	if g == "" {
		return nil, errors.New("empty pattern")
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

func compileAuthorities(acs []config.Authority, where, base string, trusted root.TrustedMaterial, gen interface{ Write([]byte) (int, error) }) ([]*authority, error) {
	var out []*authority
	for i, ac := range acs {
		a, err := compileAuthority(ac, base, trusted, gen)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", where, i, err)
		}
		if a.name == "" {
			a.name = fmt.Sprintf("authority-%d", i)
		}
		out = append(out, a)
	}
	return out, nil
}

func readRef(k *config.KeyRef, base string) ([]byte, error) {
	switch {
	case k.PEM != "" && k.File != "":
		return nil, errors.New("pem and file are exclusive")
	case k.PEM != "":
		return []byte(k.PEM), nil
	case k.File != "":
		return os.ReadFile(resolve(base, k.File))
	}
	return nil, errors.New("pem or file is required")
}

func compileAuthority(ac config.Authority, base string, trusted root.TrustedMaterial, gen interface{ Write([]byte) (int, error) }) (*authority, error) {
	a := &authority{name: ac.Name}
	tlog := ac.TransparencyLog == nil || *ac.TransparencyLog
	if tlog && trusted == nil {
		return nil, errors.New("the transparency log is required (transparencyLog: true) but images.verify.trustedRoot is not set")
	}
	var opts []verify.VerifierOption
	if tlog {
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	}
	switch {
	case ac.Key != nil && ac.Keyless != nil:
		return nil, errors.New("key and keyless are exclusive")
	case ac.Key != nil:
		data, err := readRef(ac.Key, base)
		if err != nil {
			return nil, fmt.Errorf("key: %v", err)
		}
		gen.Write(data)
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("key: not a PEM public key: %v", err)
		}
		sv, err := signature.LoadDefaultVerifier(pub)
		if err != nil {
			return nil, fmt.Errorf("key: %v", err)
		}
		key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
		keys := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		var tm root.TrustedMaterial = keys
		if trusted != nil {
			tm = root.TrustedMaterialCollection{trusted, keys}
		}
		if !tlog {
			opts = append(opts, verify.WithNoObserverTimestamps())
		}
		if a.verifier, err = verify.NewVerifier(tm, opts...); err != nil {
			return nil, fmt.Errorf("key: %v", err)
		}
		a.key = true
	case ac.Keyless != nil:
		k := ac.Keyless
		if k.Subject == "" && k.SubjectRegExp == "" {
			return nil, errors.New("keyless: subject or subjectRegExp is required")
		}
		if k.Issuer == "" && k.IssuerRegExp == "" {
			return nil, errors.New("keyless: issuer or issuerRegExp is required")
		}
		id, err := verify.NewShortCertificateIdentity(k.Issuer, k.IssuerRegExp, k.Subject, k.SubjectRegExp)
		if err != nil {
			return nil, fmt.Errorf("keyless: %v", err)
		}
		a.identity = &id
		tm := trusted
		if k.Roots != nil {
			data, err := readRef(k.Roots, base)
			if err != nil {
				return nil, fmt.Errorf("keyless.roots: %v", err)
			}
			gen.Write(data)
			ca, err := chainCA(data)
			if err != nil {
				return nil, fmt.Errorf("keyless.roots: %v", err)
			}
			tm = ownCA{TrustedMaterial: trusted, ca: ca}
		} else if trusted == nil {
			return nil, errors.New("keyless: images.verify.trustedRoot (or keyless.roots) is required")
		}
		if !tlog {
			opts = append(opts, verify.WithCurrentTime())
		}
		if a.verifier, err = verify.NewVerifier(tm, opts...); err != nil {
			return nil, fmt.Errorf("keyless: %v", err)
		}
	default:
		return nil, errors.New("key or keyless is required")
	}
	return a, nil
}

// ownCA is trusted material whose certificate authority is the team's
// own; logs and timestamp authorities come from the trusted root, if any.
type ownCA struct {
	root.TrustedMaterial
	ca root.CertificateAuthority
}

func (o ownCA) FulcioCertificateAuthorities() []root.CertificateAuthority {
	return []root.CertificateAuthority{o.ca}
}

func (o ownCA) TimestampingAuthorities() []root.TimestampingAuthority {
	if o.TrustedMaterial == nil {
		return nil
	}
	return o.TrustedMaterial.TimestampingAuthorities()
}

func (o ownCA) RekorLogs() map[string]*root.TransparencyLog {
	if o.TrustedMaterial == nil {
		return nil
	}
	return o.TrustedMaterial.RekorLogs()
}

func (o ownCA) CTLogs() map[string]*root.TransparencyLog {
	if o.TrustedMaterial == nil {
		return nil
	}
	return o.TrustedMaterial.CTLogs()
}

func (o ownCA) PublicKeyVerifier(hint string) (root.TimeConstrainedVerifier, error) {
	if o.TrustedMaterial == nil {
		return nil, errors.New("no public keys")
	}
	return o.TrustedMaterial.PublicKeyVerifier(hint)
}

// chainCA reads a PEM chain: the self-signed certificate is the root,
// the others intermediates.
func chainCA(data []byte) (root.CertificateAuthority, error) {
	ca := &root.FulcioCertificateAuthority{}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		if c.CheckSignatureFrom(c) == nil {
			ca.Root = c
		} else {
			ca.Intermediates = append(ca.Intermediates, c)
		}
	}
	if ca.Root == nil {
		return nil, errors.New("no self-signed root certificate in the chain")
	}
	return ca, nil
}

var condEnv = func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("predicate", cel.DynType),
		cel.Variable("predicateType", cel.StringType),
		cel.Variable("subject", cel.ListType(cel.DynType)),
		cel.Variable("now", cel.TimestampType),
	)
	if err != nil {
		panic(err)
	}
	return env
}()

func compileCondition(cc config.Condition) (condition, error) {
	ast, iss := condEnv.Compile(cc.Expression)
	if iss.Err() != nil {
		return condition{}, iss.Err()
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return condition{}, fmt.Errorf("%q is %s, not a bool", cc.Expression, ast.OutputType())
	}
	prg, err := condEnv.Program(ast, cel.CostLimit(1_000_000))
	if err != nil {
		return condition{}, err
	}
	msg := cc.Message
	if msg == "" {
		msg = cc.Expression
	}
	return condition{expr: cc.Expression, message: msg, prg: prg}, nil
}

// Matches reports whether the policy applies to an image in a namespace
// with the labels given (nil labels: the namespace is not known, and a
// policy with a namespace selector applies).
func (p *Policy) Matches(image string, ns labels.Set) bool {
	if p.namespaces != nil && ns != nil && !p.namespaces.Matches(ns) {
		return false
	}
	return p.MatchesImage(image)
}

// MatchesImage reports whether the policy's patterns match an image's
// repository, as written or fully qualified.
func (p *Policy) MatchesImage(image string) bool {
	names := []string{ctlimage.Unversioned(image)}
	if r, err := name.ParseReference(image, name.WeakValidation); err == nil {
		names = append(names, r.Context().Name())
		if r.Context().RegistryStr() == name.DefaultRegistry {
			names = append(names, "docker.io/"+r.Context().RepositoryStr())
		}
	}
	for _, re := range p.images {
		for _, n := range names {
			if re.MatchString(n) {
				return true
			}
		}
	}
	return false
}

// For returns the policies that match an image, regardless of namespace.
func (ps *Policies) For(image string) []*Policy {
	if ps == nil {
		return nil
	}
	var out []*Policy
	for _, p := range ps.List {
		if p.MatchesImage(image) {
			out = append(out, p)
		}
	}
	return out
}
