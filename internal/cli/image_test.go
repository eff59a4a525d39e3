package cli

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kubeguard/kubeguard/internal/imagetest"
)

const osvRecords = "../../pkg/imagescan/testdata/osv"

// testDB imports the test records with kubeguard db import.
func testDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	if code, out, errs := run(t, "", "db", "import", "--db", dir, osvRecords); code != 0 || !strings.Contains(out, "4 records") {
		t.Fatalf("db import: %d %s %s", code, out, errs)
	}
	return dir
}

func shopLayout(t *testing.T) string {
	return imagetest.WriteLayout(t, t.TempDir(), imagetest.Index(t, imagetest.Shop(t)))
}

func TestImageScan(t *testing.T) {
	db := testDB(t)
	lay := shopLayout(t)
	code, out, errs := run(t, "", "image", "scan", "--db", db, lay)
	if code != ExitFindings {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	for _, want := range []string{"CVE-2020-8203 in lodash 4.17.15: fixed in 4.17.20", "CVE-2021-3121 in github.com/gogo/protobuf 1.3.1: fixed in 1.3.2",
		"CVE-2014-3616 in nginx-full 1.2.1-2.2+wheezy2 (source nginx): fixed in 1.2.1-2.2+wheezy3", "IMG-VULN"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// JSON carries the vulnerability, layer and path
	code, out, _ = run(t, "", "image", "scan", "--db", db, lay, "-o", "json", "--fail-on", "none")
	var rep struct {
		Findings []struct {
			ControlID string `json:"controlID"`
			Severity  string `json:"severity"`
			Vuln      struct {
				ID           string   `json:"id"`
				Package      string   `json:"package"`
				Fixed        string   `json:"fixedVersion"`
				Layer        int      `json:"layer"`
				LayerCommand string   `json:"layerCommand"`
				Paths        []string `json:"paths"`
				Digest       string   `json:"digest"`
			} `json:"vulnerability"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("%d %v\n%s", code, err, out)
	}
	n := 0
	for _, f := range rep.Findings {
		if f.Vuln.ID == "CVE-2020-8203" {
			n++
			if f.Severity != "high" || f.Vuln.Fixed != "4.17.20" || f.Vuln.Layer != 1 || !strings.HasPrefix(f.Vuln.LayerCommand, "COPY shop") ||
				!slices.Contains(f.Vuln.Paths, "/app/package-lock.json") || !strings.HasPrefix(f.Vuln.Digest, "sha256:") {
				t.Errorf("lodash finding %+v", f)
			}
		}
	}
	if n != 1 || len(rep.Findings) != 4 {
		t.Errorf("want 4 findings, one for lodash: %+v", rep.Findings)
	}
}

// Risk is accepted by vulnerability ID (or alias) with a reason and an
// expiry, or by an OpenVEX statement; --show-suppressed says why.
func TestImageScanAcceptingRisk(t *testing.T) {
	db := testDB(t)
	lay := shopLayout(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".kubeguard.yaml")
	os.WriteFile(cfg, []byte(`exclude:
  - controls: [IMG-VULN]
    vulnerabilities: [GHSA-p6mc-m468-83gw]
    reason: zipObjectDeep is never called with user input
    expires: 2999-01-01
  - controls: [IMG-VULN]
    vulnerabilities: [DSA-3029-1]
    packages: [nginx-common]
    reason: expired acceptance
    expires: 2020-01-01
`), 0o644)
	vex := filepath.Join(dir, "shop.openvex.json")
	os.WriteFile(vex, []byte(`{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/shop-1",
  "author": "shop team",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2021-3121"},
    "products": [{"@id": "pkg:golang/github.com/gogo/protobuf@v1.3.1"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path",
    "impact_statement": "shop never unmarshals untrusted protobuf"
  }]
}`), 0o644)
	code, out, errs := run(t, "", "image", "scan", "--db", db, "--config", cfg, "--vex", vex, "--show-suppressed", "--fail-on", "medium", lay)
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"zipObjectDeep is never called with user input", "vulnerable_code_not_in_execute_path: shop never unmarshals untrusted protobuf"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "suppression of IMG-VULN") || !strings.Contains(errs, "expired on 2020-01-01") {
		t.Errorf("the expired acceptance is not said:\n%s", errs)
	}
	// only nginx-full (no suppression) and nginx-common (expired) are open
	code, out, _ = run(t, "", "image", "scan", "--db", db, "--config", cfg, "--vex", vex, lay, "-o", "json", "--fail-on", "none")
	if code != 0 || !strings.Contains(out, `"suppressed": 2,`) || !strings.Contains(out, `"findings": 2,`) || strings.Count(out, `"controlID": "IMG-VULN"`) != 2 {
		t.Errorf("want 2 open and 2 suppressed findings:\n%s", out)
	}
}

func TestImageSources(t *testing.T) {
	db := testDB(t)
	img := imagetest.Shop(t)
	other := imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.Alpine311("4.13.2-r0")...), CreatedBy: "ADD"})
	tarPath := imagetest.WriteTarball(t, filepath.Join(t.TempDir(), "shop.tar"), map[string]v1.Image{"shop:1.0": img})
	multi := imagetest.WriteTarball(t, filepath.Join(t.TempDir(), "two.tar"), map[string]v1.Image{"shop:1.0": img, "xen:3.11": other})
	host := imagetest.Registry(t, true)
	ref := host + "/acme/shop:1.0"
	imagetest.Push(t, ref, img, &authn.Basic{Username: "user", Password: "password"})
	// credentials come from the Docker configuration
	cfgDir := t.TempDir()
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("user:password"))+`"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", cfgDir)
	for _, src := range []string{tarPath, "docker-archive:" + tarPath, multi + ":xen:3.11", ref} {
		code, out, errs := run(t, "", "image", "scan", "--db", db, "--insecure-registry", "--fail-on", "medium", src)
		if code != ExitFindings || !strings.Contains(out, "CVE-") {
			t.Errorf("%s: exit %d\n%s\n%s", src, code, out, errs)
		}
	}
	// without credentials the registry refuses, and the error says which image
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	code, _, errs := run(t, "", "image", "scan", "--db", db, "--insecure-registry", ref)
	if code != ExitError || !strings.Contains(errs, ref+": error:") || !strings.Contains(errs, "401 Unauthorized") {
		t.Errorf("no credentials: exit %d\n%s", code, errs)
	}
	// a tarball of several images needs a tag
	code, _, errs = run(t, "", "image", "scan", "--db", db, multi)
	if code != ExitError || !strings.Contains(errs, "holds 2 images") {
		t.Errorf("multi-image tarball: exit %d\n%s", code, errs)
	}
}

// Bad input is named, exits 2, and the rest is still scanned.
func TestImageScanBadInput(t *testing.T) {
	db := testDB(t)
	lay := shopLayout(t)
	notImage := filepath.Join(t.TempDir(), "notes.tar")
	os.WriteFile(notImage, []byte("not a tarball"), 0o644)
	corrupt := shopLayout(t)
	blobs, _ := filepath.Glob(filepath.Join(corrupt, "blobs", "sha256", "*"))
	for _, b := range blobs { // the largest blob is a layer
		if st, _ := os.Stat(b); st.Size() > 1<<20 {
			os.WriteFile(b, []byte("garbage"), 0o644)
		}
	}
	code, out, errs := run(t, "", "image", "scan", "--db", db, notImage, corrupt, lay, "--fail-on", "none")
	if code != ExitError || !strings.Contains(out, "CVE-2020-8203") {
		t.Errorf("exit %d, the good image must still be reported:\n%s", code, out)
	}
	if !strings.Contains(errs, notImage+": error: not an image tarball") || !strings.Contains(errs, corrupt+": error: reading the layers") {
		t.Errorf("errors do not name the inputs:\n%s", errs)
	}
	// a missing database is an error, a stale one a warning
	code, _, errs = run(t, "", "image", "scan", "--db", filepath.Join(t.TempDir(), "none"), lay, "--fail-on", "none")
	if code != ExitError || !strings.Contains(errs, "no vulnerability database") {
		t.Errorf("missing database: exit %d\n%s", code, errs)
	}
	code, _, errs = run(t, "", "image", "scan", "--db", db, "--db-max-age", "1ns", lay, "--fail-on", "none")
	if code != 0 || !strings.Contains(errs, "warning: the vulnerability database is less than a day old") {
		t.Errorf("stale database: exit %d\n%s", code, errs)
	}
	// a damaged database is refused with the way out
	os.WriteFile(filepath.Join(db, "records.db"), []byte("KGOSVDB1 truncated"), 0o644)
	code, _, errs = run(t, "", "image", "scan", "--db", db, lay, "--fail-on", "none")
	if code != ExitError || !strings.Contains(errs, "corrupt database") || !strings.Contains(errs, "kubeguard db update") {
		t.Errorf("corrupt database: exit %d\n%s", code, errs)
	}
}

// osvMirror serves ecosystem archives as the OSV bucket does, with the
// CRC-32C header gsutil checks.
func osvMirror(t *testing.T, damage bool) string {
	t.Helper()
	archive := func(files ...string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(osvRecords, f))
			if err != nil {
				t.Fatal(err)
			}
			w, _ := zw.Create(f)
			w.Write(b)
		}
		zw.Close()
		return buf.Bytes()
	}
	zips := map[string][]byte{
		"/Debian/all.zip": archive("DSA-3029-1.json"),
		"/Go/all.zip":     archive("GO-2021-0053.json"),
		"/npm/all.zip":    archive("GHSA-p6mc-m468-83gw.json"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := zips[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var sum [4]byte
		binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
		w.Header().Set("X-Goog-Hash", "crc32c="+base64.StdEncoding.EncodeToString(sum[:])+",md5=x")
		if damage {
			b = append([]byte{}, b...)
			b[len(b)/2] ^= 0xff
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDBUpdateAndStatus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	mirror := osvMirror(t, false)
	code, out, errs := run(t, "", "db", "update", "--db", dir, "--mirror", mirror, "--ecosystems", "Debian,Go,npm")
	if code != 0 || !strings.Contains(out, "3 records from Debian, Go, npm") {
		t.Fatalf("update: %d %s %s", code, out, errs)
	}
	code, out, _ = run(t, "", "db", "status", "--db", dir)
	if code != 0 || !strings.Contains(out, "records   3") || !strings.Contains(out, "Debian     1") {
		t.Errorf("status: %d\n%s", code, out)
	}
	code, out, _ = run(t, "", "db", "status", "--db", dir, "-o", "json")
	var st struct {
		Records    int            `json:"records"`
		Ecosystems map[string]int `json:"ecosystems"`
		Sources    []struct {
			Name   string `json:"name"`
			SHA256 string `json:"sha256"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 || st.Records != 3 || st.Ecosystems["npm"] != 1 || len(st.Sources) != 3 || len(st.Sources[0].SHA256) != 64 {
		t.Errorf("status json: %d %v\n%s", code, err, out)
	}
	// a stale database fails status
	if code, _, errs := run(t, "", "db", "status", "--db", dir, "--max-age", "1ns"); code != ExitFindings || !strings.Contains(errs, "run kubeguard db update") {
		t.Errorf("stale status: %d %s", code, errs)
	}
	// a damaged download and a missing ecosystem leave the database as it was
	before, _ := os.ReadFile(filepath.Join(dir, "records.db"))
	if code, _, errs := run(t, "", "db", "update", "--db", dir, "--mirror", osvMirror(t, true), "--ecosystems", "Debian"); code != ExitError || !strings.Contains(errs, "CRC-32C mismatch") {
		t.Errorf("damaged download: %d %s", code, errs)
	}
	if code, _, errs := run(t, "", "db", "update", "--db", dir, "--mirror", mirror, "--ecosystems", "Debian,Nope"); code != ExitError || !strings.Contains(errs, "Nope/all.zip: HTTP 404") {
		t.Errorf("missing ecosystem: %d %s", code, errs)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "records.db"))
	if !bytes.Equal(before, after) {
		t.Error("a failed update changed the database")
	}
	// import adds to the database; a bad record file is refused whole
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"summary": "no id"}`), 0o644)
	if code, _, errs := run(t, "", "db", "import", "--db", dir, bad); code != ExitError || !strings.Contains(errs, bad+": not an OSV record") {
		t.Errorf("bad import: %d %s", code, errs)
	}
	if code, out, _ := run(t, "", "db", "import", "--db", dir, filepath.Join(osvRecords, "ALPINE-CVE-2021-28687.json")); code != 0 || !strings.Contains(out, "4 records") {
		t.Errorf("import: %d %s", code, out)
	}
	if code, _, errs := run(t, "", "db", "status", "--db", filepath.Join(t.TempDir(), "none")); code != ExitError || !strings.Contains(errs, "no vulnerability database") {
		t.Errorf("missing: %d %s", code, errs)
	}
}

// scan --images reports each image's vulnerabilities on the image field
// of every container that runs it, reading each digest once.
func TestScanImages(t *testing.T) {
	db := testDB(t)
	host := imagetest.Registry(t, false)
	img := imagetest.Shop(t)
	d := imagetest.Push(t, host+"/acme/shop:1.0", img, authn.Anonymous)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "shop.yaml")
	os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: shop
        image: `+host+`/acme/shop:1.0
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: report
            image: `+host+`/acme/shop@`+d.String()+`
`), 0o644)
	code, out, errs := run(t, "", "scan", manifest, "--images", "--db", db, "--insecure-registry", "--controls", "IMG-VULN", "-o", "json", "--fail-on", "high")
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Summary struct {
			Scanned string `json:"scanned"`
		} `json:"summary"`
		Findings []struct {
			Object struct {
				Kind string `json:"kind"`
			} `json:"object"`
			Container string `json:"container"`
			Path      string `json:"path"`
			Position  struct {
				Line, Column int
			} `json:"position"`
			Vuln struct {
				ID string `json:"id"`
			} `json:"vulnerability"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for _, f := range rep.Findings {
		at[f.Object.Kind+" "+f.Container+" "+f.Path] = f.Position.Line
		if f.Position.Column != 9 && f.Position.Column != 13 { // the image key
			t.Errorf("column %d: %+v", f.Position.Column, f)
		}
	}
	want := map[string]int{
		"Deployment shop spec.template.spec.containers[0].image":                 12,
		"CronJob report spec.jobTemplate.spec.template.spec.containers[0].image": 27,
	}
	if len(rep.Findings) != 8 || len(at) != 2 || at["Deployment shop spec.template.spec.containers[0].image"] != 12 ||
		at["CronJob report spec.jobTemplate.spec.template.spec.containers[0].image"] != 27 {
		t.Errorf("findings at %v, want 4 on each of %v", at, want)
	}
	if _, out, _ := run(t, "", "scan", manifest, "--images", "--db", db, "--insecure-registry", "--summary"); !strings.Contains(out, "1 file and 1 image") {
		t.Errorf("one image read once:\n%s", out)
	}
	// SARIF points at the image line too
	code, out, _ = run(t, "", "scan", manifest, "--images", "--db", db, "--insecure-registry", "--controls", "IMG-VULN", "-o", "sarif", "--fail-on", "none")
	if code != 0 || !strings.Contains(out, `"startLine": 12`) || !strings.Contains(out, "CVE-2020-8203 in lodash") {
		t.Errorf("sarif: %d\n%s", code, out)
	}
}

func TestImageSBOM(t *testing.T) {
	lay := shopLayout(t)
	for format, want := range map[string]string{"cyclonedx": `"specVersion": "1.6"`, "spdx": `"spdxVersion": "SPDX-2.3"`} {
		code, out, errs := run(t, "", "image", "sbom", lay, "-o", format)
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "nginx-full") {
			t.Errorf("%s: %d %s\n%.300s", format, code, errs, out)
		}
	}
	file := filepath.Join(t.TempDir(), "shop.cdx.json")
	if code, _, errs := run(t, "", "image", "sbom", lay, "--output-file", file); code != 0 {
		t.Errorf("--output-file: %d %s", code, errs)
	} else if b, _ := os.ReadFile(file); !bytes.Contains(b, []byte("pkg:npm/lodash@4.17.15")) {
		t.Errorf("--output-file wrote %.300s", b)
	}
	if code, _, errs := run(t, "", "image", "sbom", lay, "-o", "swid"); code != ExitError || !strings.Contains(errs, `--output "swid"`) {
		t.Errorf("unknown format: %d %s", code, errs)
	}
}

// The documentation's image is the one hack/exampleimage writes.
func TestExampleImageUpToDate(t *testing.T) {
	got, err := tarball.ImageFromPath("../../examples/images/shop.tar", nil)
	if err != nil {
		t.Fatal(err)
	}
	gd, err := got.Digest()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := imagetest.Example(t).Digest()
	if gd != wd {
		t.Errorf("examples/images/shop.tar is stale: run go run ./hack/exampleimage")
	}
}
