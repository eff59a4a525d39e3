package imagescan_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/image"
	"github.com/kubeguard/kubeguard/pkg/imagescan"
	"github.com/kubeguard/kubeguard/pkg/vulndb"
)

// testDB builds a database from the real OSV records under testdata.
func testDB(t *testing.T) *vulndb.DB { return imagetest.DB(t, filepath.Join(t.TempDir(), "db")) }

func layout(t *testing.T, imgs ...v1.Image) string {
	return imagetest.WriteLayout(t, t.TempDir(), imagetest.Index(t, imgs...))
}

func scan(t *testing.T, s *imagescan.Scanner, ref string) []finding.Finding {
	t.Helper()
	res, err := s.Scan(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var out []finding.Finding
	for _, r := range res {
		out = append(out, s.Findings(r, imagescan.ImageSite(r.Inventory.Image.Name()))...)
	}
	return out
}

type row struct{ id, pkg, installed, fixed, sev string }

func rows(fs []finding.Finding) []row {
	var out []row
	for _, f := range fs {
		out = append(out, row{f.Vuln.ID, f.Vuln.Package, f.Vuln.Installed, f.Vuln.Fixed, f.Severity.String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pkg < out[j].pkg })
	return out
}

func TestShopImage(t *testing.T) {
	s := imagescan.New(imagescan.Options{DB: testDB(t)})
	fs := scan(t, s, layout(t, imagetest.Shop(t)))
	want := []row{
		{"CVE-2021-3121", "github.com/gogo/protobuf", "1.3.1", "1.3.2", "medium"},
		{"CVE-2020-8203", "lodash", "4.17.15", "4.17.20", "high"},
		{"CVE-2014-3616", "nginx-common", "1.2.1-2.2+wheezy2", "1.2.1-2.2+wheezy3", "medium"},
		{"CVE-2014-3616", "nginx-full", "1.2.1-2.2+wheezy2", "1.2.1-2.2+wheezy3", "medium"},
	}
	if got := rows(fs); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, f := range fs {
		v := f.Vuln
		switch v.Package {
		case "nginx-full":
			if v.SourcePackage != "nginx" || v.Ecosystem != "Debian:7" || !slices.Equal(v.Aliases, []string{"DSA-3029-1"}) ||
				v.Layer != 0 || !strings.Contains(v.LayerCommand, "ADD file:wheezy") || !slices.Equal(v.Paths, []string{"/var/lib/dpkg/status"}) || !v.Unrated {
				t.Errorf("nginx-full: %+v", v)
			}
			if f.Message != "CVE-2014-3616 in nginx-full 1.2.1-2.2+wheezy2 (source nginx): fixed in 1.2.1-2.2+wheezy3" {
				t.Errorf("message %q", f.Message)
			}
		case "lodash":
			if v.Layer != 1 || !slices.Equal(v.Paths, []string{"/app/node_modules/lodash/package.json", "/app/package-lock.json"}) || v.Score != 7.4 ||
				v.Vector != "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H" || !slices.Equal(v.Aliases, []string{"GHSA-p6mc-m468-83gw"}) {
				t.Errorf("lodash: %+v", v)
			}
		case "github.com/gogo/protobuf":
			if v.Layer != 1 || !slices.Equal(v.Paths, []string{"/usr/local/bin/shop"}) ||
				!slices.Equal(v.Aliases, []string{"GHSA-c3h9-896r-86jm", "BIT-consul-2021-3121", "BIT-protobuf-2021-3121", "GO-2021-0053"}) {
				t.Errorf("gogo/protobuf: %+v", v)
			}
		}
		if f.ControlID != "IMG-VULN" || f.Object.Kind != "Image" || !strings.Contains(f.Object.Name, "@sha256:") {
			t.Errorf("finding %+v", f)
		}
	}
}

// The release decides: DSA-3029-1 is about Debian 7, and a fixed
// version is not vulnerable.
func TestReleaseAndFixedVersion(t *testing.T) {
	s := imagescan.New(imagescan.Options{DB: testDB(t)})
	step := func(fs []imagetest.File) imagetest.Step {
		return imagetest.Step{Layer: imagetest.Layer(t, fs...), CreatedBy: "ADD"}
	}
	if fs := scan(t, s, layout(t, imagetest.Image(t, step(imagetest.Debian8())))); len(fs) != 0 {
		t.Errorf("Debian 8: %v", rows(fs))
	}
	if got := rows(scan(t, s, layout(t, imagetest.Image(t, step(imagetest.Alpine311("4.13.2-r0")))))); !slices.Equal(got,
		[]row{{"CVE-2021-28687", "xen", "4.13.2-r0", "4.13.3-r0", "medium"}}) {
		t.Errorf("Alpine xen 4.13.2-r0: %v", got)
	}
	if fs := scan(t, s, layout(t, imagetest.Image(t, step(imagetest.Alpine311("4.13.3-r0"))))); len(fs) != 0 {
		t.Errorf("Alpine xen 4.13.3-r0: %v", rows(fs))
	}
}

// A whiteout removes what a lower layer added; entries that climb out
// of the image or link outside it neither escape nor break the scan.
func TestLayersAreReadSafely(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "escaped")
	img := imagetest.Image(t,
		imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "app/package-lock.json", Body: imagetest.PackageLock("4.17.15")}), CreatedBy: "COPY"},
		imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "app/.wh.package-lock.json"},
			imagetest.File{Path: "../../../../../../.." + outside, Body: []byte("x")},
			imagetest.File{Path: "app/link", Link: "/../../../../etc/passwd"},
			imagetest.File{Path: "app/loop", Link: "/app/loop"}), CreatedBy: "RUN rm"},
	)
	s := imagescan.New(imagescan.Options{DB: testDB(t)})
	if fs := scan(t, s, layout(t, img)); len(fs) != 0 {
		t.Errorf("a deleted lockfile still reported: %v", rows(fs))
	}
	if _, err := os.Stat(outside); err == nil {
		t.Errorf("a layer entry was written outside the image: %s", outside)
	}
}

func TestPlatforms(t *testing.T) {
	amd := imagetest.Shop(t)
	arm := imagetest.ImageFor(t, "arm64", imagetest.Step{Layer: imagetest.Layer(t, imagetest.Alpine311("4.13.2-r0")...), CreatedBy: "ADD"})
	dir := layout(t, amd, arm)
	for _, tc := range []struct {
		platform string
		want     []string
	}{{"", []string{"linux/amd64"}}, {"linux/arm64", []string{"linux/arm64"}}, {"all", []string{"linux/amd64", "linux/arm64"}}} {
		got, err := image.Load(dir, image.Options{Platform: tc.platform})
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, l := range got {
			ps = append(ps, l.Platform)
		}
		if !slices.Equal(ps, tc.want) {
			t.Errorf("--platform %q: %v, want %v", tc.platform, ps, tc.want)
		}
	}
	if _, err := image.Load(dir, image.Options{Platform: "linux/s390x"}); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("missing platform: %v", err)
	}
}

// An inventory encoded in one process and decoded in another matches
// the same (scan Jobs send theirs through a ConfigMap).
func TestInventoryRoundTrip(t *testing.T) {
	db := testDB(t)
	s := imagescan.New(imagescan.Options{DB: db})
	res, err := s.Scan(context.Background(), layout(t, imagetest.Shop(t)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.EncodeInventory(res[0].Inventory)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := image.DecodeInventory(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := imagescan.New(imagescan.Options{DB: db}).FromInventory(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := rows(s.Findings(res[0], imagescan.ImageSite("x")))
	if g := rows(s.Findings(got, imagescan.ImageSite("x"))); !slices.Equal(g, want) || len(want) != 4 {
		t.Errorf("after the round trip: %v\nwant %v", g, want)
	}
	if inv.Image.Digest != res[0].Inventory.Image.Digest || len(inv.Packages) != len(res[0].Inventory.Packages) {
		t.Errorf("inventory changed: %+v", inv.Image)
	}
	if _, err := image.DecodeInventory([]byte("garbage")); err == nil {
		t.Error("garbage decoded")
	}
}

// rpm databases (rpmdb.sqlite) list what go-rpmdb, the reader rpm-based
// scanners share, lists, in the distribution's ecosystem (osv-scalibr
// names Rocky Linux without its release).
func TestRPMDatabase(t *testing.T) {
	files := imagetest.Rocky9(t, 6)
	path := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	os.WriteFile(path, files[1].Body, 0o644)
	ref, err := rpmdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ref.ListPackages()
	ref.Close()
	if err != nil || len(pkgs) != 6 {
		t.Fatalf("reference: %d packages, %v", len(pkgs), err)
	}
	var want []string
	for _, p := range pkgs {
		want = append(want, "Rocky Linux "+p.Name+" "+p.Version+"-"+p.Release)
	}
	s := imagescan.New(imagescan.Options{DB: testDB(t)})
	res, err := s.Scan(context.Background(), layout(t, imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, files...), CreatedBy: "ADD"})))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res[0].Inventory.Packages {
		got = append(got, p.Ecosystem+" "+p.Name+" "+p.Version)
		if p.Paths[0] != "/var/lib/rpm/rpmdb.sqlite" || p.PURL == "" {
			t.Errorf("%+v", p)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
