package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/image"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
	"github.com/kubeguard/kubeguard/pkg/sbom"
	"github.com/kubeguard/kubeguard/pkg/vulndb"
)

// imageFlags say how images are read and matched; scan --images and
// cluster --images share them with kubeguard image.
type imageFlags struct {
	platform string
	insecure bool
	db       string
	maxAge   time.Duration
	vex      []string
	parallel int
}

func (f *imageFlags) register(fl *pflag.FlagSet, withDB bool) {
	fl.StringVar(&f.platform, "platform", image.DefaultPlatform, "platform picked from multi-platform images (os/arch[/variant]), or all")
	fl.BoolVar(&f.insecure, "insecure-registry", false, "allow plain HTTP to registries (a local mirror)")
	fl.IntVar(&f.parallel, "image-parallel", 2, "images read at once")
	if withDB {
		fl.StringVar(&f.db, "db", "", "vulnerability database directory (default: $KUBEGUARD_DB, else kubeguard/db in the user cache directory)")
		fl.DurationVar(&f.maxAge, "db-max-age", 7*24*time.Hour, "warn when the vulnerability database is older than this")
		fl.StringArrayVar(&f.vex, "vex", nil, "OpenVEX document whose not_affected and fixed statements accept vulnerabilities (repeatable)")
	}
}

func (f *imageFlags) dbDir() string { return vulndb.Dir(f.db) }

// scanner opens the database and returns a scanner, and the diagnostics
// a missing, corrupt or stale database gives. A missing or corrupt
// database is an error, but images are still read.
func (f *imageFlags) scanner(now time.Time) (*imagescan.Scanner, *vulndb.DB, []object.Diagnostic, error) {
	vx, err := imagescan.LoadVEX(f.vex)
	if err != nil {
		return nil, nil, nil, usageErr("--vex: %v", err)
	}
	var diags []object.Diagnostic
	db, err := vulndb.Open(f.dbDir())
	if err != nil {
		diags = append(diags, object.Diagnostic{Pos: object.Position{File: f.dbDir()}, Severity: object.SeverityError, Message: err.Error()})
		db = nil
	} else if age := db.Age(now); f.maxAge > 0 && age > f.maxAge {
		diags = append(diags, object.Diagnostic{Pos: object.Position{File: f.dbDir()}, Severity: object.SeverityWarning,
			Message: fmt.Sprintf("the vulnerability database is %s old (built %s); run kubeguard db update", days(age), db.Meta.Built.Format(time.DateOnly))})
	}
	s := imagescan.New(imagescan.Options{
		Load: image.Options{Platform: f.platform, Insecure: f.insecure},
		DB:   db, VEX: vx,
	})
	return s, db, diags, nil
}

// inventory reads the one image a reference names on the platform
// asked for.
func (f *imageFlags) inventory(ctx context.Context, ref string) (*image.Inventory, error) {
	imgs, err := image.Load(ref, image.Options{Platform: f.platform, Insecure: f.insecure, Context: ctx})
	if err != nil {
		return nil, err
	}
	if len(imgs) != 1 {
		return nil, fmt.Errorf("%s has %d images; pick one with --platform", ref, len(imgs))
	}
	return image.Extract(ctx, imgs[0], image.Limits{})
}

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 0 {
		return "less than a day"
	}
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func newImageCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Look inside container images: packages, SBOMs, known vulnerabilities, signatures and attestations",
	}
	cmd.AddCommand(newImageScanCmd(s), newImageSBOMCmd(s), newImageInventoryCmd(s), newImageVerifyCmd(s))
	return cmd
}

type imageScanFlags struct {
	out        outputFlags
	img        imageFlags
	configPath string
}

func newImageScanCmd(s *streams) *cobra.Command {
	var f imageScanFlags
	cmd := &cobra.Command{
		Use:   "scan REF...",
		Short: "Report the known vulnerabilities of images (offline, against kubeguard db)",
		Long: "image scan reads each image (a registry reference, an OCI layout directory or a docker/podman\n" +
			"save tarball), lists its OS and language packages and reports every known vulnerability as an\n" +
			"IMG-VULN finding, from the offline database kubeguard db keeps. Nothing but the image is fetched.\n\n" +
			"Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,\n" +
			"2 an image or the database could not be read (the other images are still reported).",
		Example: "  kubeguard image scan ghcr.io/acme/shop:1.4.2\n" +
			"  kubeguard image scan oci:build/layout --platform linux/arm64\n" +
			"  kubeguard image scan shop.tar -o sarif --vex shop.openvex.json",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runImageScan(cmd.Context(), s, &f, args) },
	}
	fl := cmd.Flags()
	f.out.register(fl, "table, json, sarif, junit, html")
	f.img.register(fl, true)
	fl.StringVar(&f.configPath, "config", "", "configuration file (default: .kubeguard.yaml in the working directory or a parent)")
	return cmd
}

func runImageScan(ctx context.Context, s *streams, f *imageScanFlags, refs []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	outs, err := f.out.parse(nil)
	if err != nil {
		return err
	}
	_, cat, eng, err := configEngine(f.configPath, engine.Options{})
	if err != nil {
		return err
	}
	if err := f.out.checkControls(cat); err != nil {
		return err
	}
	sc, _, diags, err := f.img.scanner(time.Now())
	if err != nil {
		return err
	}
	rep := &report.Report{Tool: "kubeguard", Version: Version(), Catalog: cat}
	for _, ref := range refs {
		res, err := sc.Scan(ctx, ref)
		if err != nil {
			var ie *image.Error
			if errors.As(err, &ie) {
				err = ie.Err // the position names the image
			}
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: ref}, Severity: object.SeverityError, Message: err.Error()})
			continue
		}
		for _, r := range res {
			site := imagescan.ImageSite(r.Inventory.Image.Name())
			rep.Checked = append(rep.Checked, report.Checked{Ref: site.Object})
			rep.Objects++
			for _, w := range r.Inventory.Warnings {
				diags = append(diags, object.Diagnostic{Pos: object.Position{File: ref}, Severity: object.SeverityWarning, Message: w})
			}
			for _, fd := range sc.Findings(r, site) {
				if eng.Accept(&fd, nil, nil) {
					rep.Findings = append(rep.Findings, &fd)
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

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%s %s", thousands(int64(n)), many)
}

// loadConfig reads --config, else the .kubeguard.yaml of the working
// directory or a parent (nil when there is none).
func loadConfig(explicit string) (*config.Config, error) {
	path := explicit
	if path == "" {
		path = config.Find(".")
	}
	if path == "" {
		return nil, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return cfg, nil
}

type imageSBOMFlags struct {
	img        imageFlags
	format     string
	outputFile string
}

func newImageSBOMCmd(s *streams) *cobra.Command {
	var f imageSBOMFlags
	cmd := &cobra.Command{
		Use:   "sbom REF",
		Short: "Write the software bill of materials of an image (CycloneDX 1.6 or SPDX 2.3 JSON)",
		Long: "image sbom lists every package in an image (OS packages, Go binaries' modules, npm, Python,\n" +
			"Java, Rust, Ruby, PHP and .NET packages) with the layer that added it and the file it was read\n" +
			"from, as a CycloneDX 1.6 or SPDX 2.3 JSON document.",
		Example: "  kubeguard image sbom ghcr.io/acme/shop:1.4.2 -o spdx > shop.spdx.json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(sbom.Formats, f.format) {
				return usageErr("--output %q: want cyclonedx or spdx", f.format)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			inv, err := f.img.inventory(ctx, args[0])
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			for _, w := range inv.Warnings {
				fmt.Fprintf(s.err, "%s: warning: %s\n", args[0], w)
			}
			w := s.out
			if f.outputFile != "" {
				file, err := os.Create(f.outputFile)
				if err != nil {
					return &exitError{code: ExitError, err: err}
				}
				defer file.Close()
				w = file
			}
			if err := sbom.Write(w, f.format, inv, sbom.Tool{Name: "kubeguard", Version: Version()}, time.Now()); err != nil {
				return usageErr("%v", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	f.img.register(fl, false)
	fl.StringVarP(&f.format, "output", "o", "cyclonedx", "SBOM format: cyclonedx or spdx")
	fl.StringVar(&f.outputFile, "output-file", "", "write the SBOM to this file instead of stdout")
	return cmd
}

func newImageInventoryCmd(s *streams) *cobra.Command {
	var img imageFlags
	var to, kubeconfig, kubeContext string
	cmd := &cobra.Command{
		Use:   "inventory REF",
		Short: "List the packages of an image, each with the layer and file it came from",
		Long: "inventory lists an image's packages. With --to-configmap it leaves the inventory in a\n" +
			"ConfigMap instead, for the controller that started it as a scan Job to match.",
		Example: "  kubeguard image inventory examples/images/shop.tar",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			inv, err := img.inventory(ctx, args[0])
			if to != "" {
				ns, name, ok := strings.Cut(to, "/")
				if !ok {
					return usageErr("--to-configmap %q: want NAMESPACE/NAME", to)
				}
				rc, rerr := restConfig(kubeconfig, kubeContext)
				if rerr != nil {
					return usageErr("cluster connection: %v", rerr)
				}
				client, rerr := kubernetes.NewForConfig(rc)
				if rerr != nil {
					return usageErr("cluster connection: %v", rerr)
				}
				if werr := imagescan.WriteInventory(ctx, client, ns, name, inv, err); werr != nil {
					return &exitError{code: ExitError, err: werr}
				}
			}
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if to != "" {
				return nil
			}
			tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "ECOSYSTEM\tPACKAGE\tVERSION\tLAYER\tPATH\n")
			for _, p := range inv.Packages {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Ecosystem, p.Name, p.Version, p.Layer.Index, strings.Join(p.Paths, ", "))
			}
			tw.Flush()
			for _, w := range inv.Warnings {
				fmt.Fprintf(s.err, "%s: warning: %s\n", args[0], w)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	img.register(fl, false)
	fl.StringVar(&to, "to-configmap", "", "leave the inventory (or the error) in this ConfigMap, NAMESPACE/NAME, as scan Jobs do")
	fl.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig for --to-configmap (default: in-cluster configuration, then $KUBECONFIG and ~/.kube/config)")
	fl.StringVar(&kubeContext, "context", "", "kubeconfig context")
	return cmd
}
