package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/imageverify"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// imagePolicies compiles the images.verify policies of a configuration,
// whose files are relative to it; nil when it has none.
func imagePolicies(cfg *config.Config) (*imageverify.Policies, error) {
	if cfg == nil || len(cfg.Images.Verify.Policies) == 0 {
		return nil, nil
	}
	ps, err := imageverify.Compile(cfg.Images.Verify, filepath.Dir(cfg.Path))
	if err != nil {
		return nil, usageErr("%s: %v", cfg.Path, err)
	}
	return ps, nil
}

type imageVerifyFlags struct {
	out        outputFlags
	configPath string
	insecure   bool
	// a policy given on the command line, as cosign verify takes it
	key, identity, identityRegexp, issuer, issuerRegexp, trustedRoot string
	ignoreTlog                                                       bool
	attestations                                                     []string
}

func newImageVerifyCmd(s *streams) *cobra.Command {
	var f imageVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify REF...",
		Short: "Verify images' signatures and attestations against the images.verify policies",
		Long: "image verify resolves each image reference to its digest and verifies the signatures and\n" +
			"in-toto attestations attached to it (cosign's .sig and .att tags, and Sigstore bundles attached\n" +
			"as OCI referrers) against the policies of images.verify in .kubeguard.yaml, or against the one\n" +
			"policy the flags describe. Transparency-log entries are verified offline against the pinned\n" +
			"trusted root; nothing but the registry is contacted. A policy an image fails is an\n" +
			"IMG-SIGNATURE or IMG-ATTESTATION finding saying why.\n\n" +
			"Exit codes: 0 every image satisfies its policies, 1 a policy failed,\n" +
			"2 an image could not be read, no policy matches it, or the policy is wrong.",
		Example: "  kubeguard image verify ghcr.io/acme/shop:1.4.2\n" +
			"  kubeguard image verify ghcr.io/acme/shop:1.4.2 --key cosign.pub --insecure-ignore-tlog\n" +
			"  kubeguard image verify ghcr.io/acme/shop:1.4.2 --trusted-root trusted_root.json \\\n" +
			"      --certificate-oidc-issuer https://token.actions.githubusercontent.com \\\n" +
			"      --certificate-identity-regexp '^https://github.com/acme/' --attestation https://slsa.dev/provenance/v1",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runImageVerify(cmd.Context(), s, &f, args) },
	}
	fl := cmd.Flags()
	f.out.register(fl, "table, json, sarif, junit, html")
	fl.StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the working directory or a parent)")
	fl.BoolVar(&f.insecure, "insecure-registry", false, "allow plain HTTP to registries (a local mirror)")
	fl.StringVar(&f.key, "key", "", "verify with this PEM public key instead of the configured policies")
	fl.StringVar(&f.identity, "certificate-identity", "", "verify keyless signatures by this certificate subject (SAN)")
	fl.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "verify keyless signatures by a subject matching this regular expression")
	fl.StringVar(&f.issuer, "certificate-oidc-issuer", "", "the OIDC issuer of keyless signatures")
	fl.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "the OIDC issuer of keyless signatures, as a regular expression")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json (default: images.verify.trustedRoot of the configuration)")
	fl.BoolVar(&f.ignoreTlog, "insecure-ignore-tlog", false, "accept signatures without a transparency log entry")
	fl.StringArrayVar(&f.attestations, "attestation", nil, "also require an attestation of this predicate type, by the same signer (repeatable)")
	return cmd
}

// commandLine is the policy the flags describe, if they describe one.
func (f *imageVerifyFlags) commandLine(cfg *config.Config) (config.ImageVerify, bool) {
	if f.key == "" && f.identity == "" && f.identityRegexp == "" {
		return config.ImageVerify{}, false
	}
	v := config.ImageVerify{TrustedRoot: f.trustedRoot}
	if v.TrustedRoot == "" && cfg != nil && cfg.Images.Verify.TrustedRoot != "" {
		v.TrustedRoot = filepath.Join(filepath.Dir(cfg.Path), cfg.Images.Verify.TrustedRoot)
	}
	a := config.Authority{Name: "command line"}
	if f.key != "" {
		a.Key = &config.KeyRef{File: f.key}
	} else {
		a.Keyless = &config.Keyless{Subject: f.identity, SubjectRegExp: f.identityRegexp, Issuer: f.issuer, IssuerRegExp: f.issuerRegexp}
	}
	if f.ignoreTlog {
		off := false
		a.TransparencyLog = &off
	}
	p := config.ImagePolicy{Name: "command-line", Images: []string{"**"}, Authorities: []config.Authority{a}}
	for _, pt := range f.attestations {
		p.Attestations = append(p.Attestations, config.AttestationRule{PredicateType: pt})
	}
	v.Policies = []config.ImagePolicy{p}
	return v, true
}

func runImageVerify(ctx context.Context, s *streams, f *imageVerifyFlags, refs []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	outs, err := f.out.parse(nil)
	if err != nil {
		return err
	}
	cfg, cat, eng, err := configEngine(f.configPath, engine.Options{})
	if err != nil {
		return err
	}
	if err := f.out.checkControls(cat); err != nil {
		return err
	}
	var ps *imageverify.Policies
	if v, ok := f.commandLine(cfg); ok {
		if ps, err = imageverify.Compile(v, ""); err != nil {
			return usageErr("%v (the flags: give --trusted-root, or --insecure-ignore-tlog for a key whose signatures are not logged)", err)
		}
	} else if ps, err = imagePolicies(cfg); err != nil {
		return err
	} else if ps == nil {
		return usageErr("no policy to verify against: give --key or --certificate-identity, or write images.verify policies in .kubeguard.yaml")
	}
	v, err := imageverify.New(ps, imageverify.Options{Insecure: f.insecure})
	if err != nil {
		return err
	}
	rep := &report.Report{Tool: "kubeguard", Version: Version(), Catalog: cat}
	var diags []object.Diagnostic
	for _, ref := range refs {
		res, err := v.Verify(ctx, ref)
		if err != nil {
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: ref}, Severity: object.SeverityError, Message: err.Error()})
			continue
		}
		if len(res.Verdicts) == 0 {
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: ref}, Severity: object.SeverityError,
				Message: "no images.verify policy matches this image: nothing to verify it against"})
			continue
		}
		site := imagescan.ImageSite(res.Pinned())
		rep.Checked = append(rep.Checked, report.Checked{Ref: site.Object})
		rep.Objects++
		for _, fd := range res.Findings(finding.Finding{Object: site.Object}, nil) {
			if eng.Accept(&fd, nil, nil) {
				rep.Findings = append(rep.Findings, &fd)
			}
		}
		if !machineOnly(outs) {
			for _, vd := range res.Verdicts {
				if vd.OK() {
					fmt.Fprintf(s.err, "%s: policy %s: signed by %s%s\n", res.Pinned(), vd.Policy.Name, vd.SignedBy, attested(vd))
				}
			}
		}
	}
	rep.Inputs = len(refs)
	rep.Scanned = plural(len(refs), "image", "images")
	object.SortDiagnostics(diags)
	rep.Diagnostics = diags
	slices.SortFunc(rep.Findings, finding.Compare)
	f.out.apply(rep, s)
	return finish(s, &f.out, outs, rep)
}

func attested(vd imageverify.Verdict) string {
	s := ""
	for _, a := range vd.Attestations {
		s += fmt.Sprintf("; %s attested by %s", a.Name, a.By)
	}
	return s
}
