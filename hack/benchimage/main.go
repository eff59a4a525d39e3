// Command benchimage measures kubeguard's image scanning against
// osv-scanner on the same images and OSV records, in one run:
//
//  1. agreement: the test images (internal/imagetest) against the real
//     OSV records under pkg/imagescan/testdata/osv, compared as (package,
//     advisory) pairs;
//  2. performance: a generated image with 1,000 Debian packages, a Go
//     binary with 300 modules and 2,000 npm packages, against a database
//     of generated OSV records (200,000 by default): database import
//     time and size, then scan time (warm, one core) and peak RSS, with
//     the same (package, advisory) comparison.
//
// osv-scanner is the peer: build it with `make .cache/osv-scanner`.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kubeguard/kubeguard/internal/imagetest"
)

var (
	records  = flag.Int("records", 200000, "generated OSV records")
	peer     = flag.String("osv-scanner", ".cache/osv-scanner", "osv-scanner binary (empty: kubeguard only)")
	runs     = flag.Int("runs", 3, "scans of each tool; the fastest counts (warm)")
	keepWork = flag.Bool("keep", false, "keep the work directory")
)

func main() {
	flag.Parse()
	work, err := os.MkdirTemp("", "benchimage-")
	check(err)
	if !*keepWork {
		defer os.RemoveAll(work)
	} else {
		fmt.Println("work directory:", work)
	}
	t := &imagetest.Program{}
	defer t.Close()
	kg := filepath.Join(work, "kubeguard")
	run("", nil, "go", "build", "-o", kg, "./cmd/kubeguard")
	if *peer != "" {
		if _, err := os.Stat(*peer); err != nil {
			fmt.Fprintf(os.Stderr, "benchimage: %v (make .cache/osv-scanner builds it; -osv-scanner '' skips it)\n", err)
			os.Exit(2)
		}
		*peer, _ = filepath.Abs(*peer)
	}
	ok := agreement(t, work, kg)
	performance(t, work, kg)
	if !ok {
		os.Exit(1)
	}
}

// ---- agreement on the test images and real records ----

func agreement(t imagetest.T, work, kg string) bool {
	dir := filepath.Join(work, "agree")
	zips := filepath.Join(dir, "zips")
	byEco := map[string][]string{}
	files, _ := filepath.Glob("pkg/imagescan/testdata/osv/*.json")
	for _, f := range files {
		var h struct {
			Affected []struct{ Package struct{ Ecosystem string } }
		}
		b, _ := os.ReadFile(f)
		check(json.Unmarshal(b, &h))
		eco, _, _ := strings.Cut(h.Affected[0].Package.Ecosystem, ":")
		byEco[eco] = append(byEco[eco], f)
	}
	for eco, fs := range byEco {
		writeZip(filepath.Join(zips, "osv-scalibr", eco, "all.zip"), fs, nil)
	}
	images := map[string]v1.Image{
		"shop (Debian 7, Go, npm)": imagetest.Shop(t),
		"xen (Alpine 3.11)":        imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.Alpine311("4.13.2-r0")...), CreatedBy: "ADD"}),
		"xen fixed (Alpine 3.11)":  imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.Alpine311("4.13.3-r0")...), CreatedBy: "ADD"}),
		"nginx (Debian 8)":         imagetest.Image(t, imagetest.Step{Layer: imagetest.Layer(t, imagetest.Debian8()...), CreatedBy: "ADD"}),
	}
	db := filepath.Join(dir, "db")
	allZips, _ := filepath.Glob(filepath.Join(zips, "osv-scalibr", "*", "all.zip"))
	run("", nil, kg, append([]string{"db", "import", "--replace", "--db", db}, allZips...)...)
	fmt.Println("## Agreement with osv-scanner on the test images (real OSV records)")
	fmt.Println()
	fmt.Println("| image | kubeguard | osv-scanner | both | only kubeguard | only osv-scanner |")
	fmt.Println("|---|---|---|---|---|---|")
	names := make([]string, 0, len(images))
	for n := range images {
		names = append(names, n)
	}
	sort.Strings(names)
	all := true
	for _, n := range names {
		tar := filepath.Join(dir, strings.Fields(n)[0]+strings.ReplaceAll(n, " ", "")+".tar")
		imagetest.WriteTarball(t, tar, map[string]v1.Image{"bench/" + strings.Fields(n)[0] + ":1": images[n]})
		k, _ := kubeguardPairs(kg, db, tar, nil)
		var o pairs
		if *peer != "" {
			o, _ = osvPairs(filepath.Join(zips), tar, nil)
		}
		row, same := compare(k, o)
		all = all && same
		fmt.Printf("| %s | %s |\n", n, row)
	}
	fmt.Println()
	return all || *peer == ""
}

// ---- performance on a generated image and database ----

const (
	debPackages = 1000
	goModules   = 300
	npmPackages = 2000
)

func performance(t imagetest.T, work, kg string) {
	dir := filepath.Join(work, "bench")
	start := time.Now()
	img := benchImage(t, dir)
	tar := imagetest.WriteTarball(t, filepath.Join(dir, "bench.tar"), map[string]v1.Image{"bench/big:1": img})
	zips := benchRecords(filepath.Join(dir, "zips", "osv-scalibr"), *records)
	fmt.Printf("## Image scan benchmark (%s OSV records; generated in %s)\n\n", thousands(*records), time.Since(start).Round(time.Second))
	st, _ := os.Stat(tar)
	fmt.Printf("image: %d Debian packages, a Go binary with %d modules, %d npm packages; %.1f MiB tarball\n\n", debPackages, goModules, npmPackages, float64(st.Size())/(1<<20))

	db := filepath.Join(dir, "db")
	imp := measure(nil, kg, append([]string{"db", "import", "--replace", "--db", db}, zips...)...)
	size := int64(0)
	filepath.Walk(db, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	var zipSize int64
	for _, z := range zips {
		fi, _ := os.Stat(z)
		zipSize += fi.Size()
	}
	fmt.Printf("kubeguard db import: %s wall, %s CPU, peak RSS %d MiB; database %.1f MiB (the OSV zips: %.1f MiB)\n\n",
		imp.wall.Round(time.Millisecond), imp.cpu.Round(time.Millisecond), imp.rss>>20, float64(size)/(1<<20), float64(zipSize)/(1<<20))

	one := []string{"GOMAXPROCS=1"}
	var kbest, obest result
	var kp, op pairs
	for i := 0; i < *runs; i++ {
		var r result
		kp, r = kubeguardPairs(kg, db, tar, one)
		kbest = best(kbest, r)
	}
	if *peer != "" {
		for i := 0; i < *runs; i++ {
			var r result
			op, r = osvPairs(filepath.Join(dir, "zips"), tar, one)
			obest = best(obest, r)
		}
	}
	fmt.Println("| one core, warm (fastest of", *runs, "runs) | wall | CPU | peak RSS | packages with findings |")
	fmt.Println("|---|---|---|---|---|")
	fmt.Printf("| kubeguard image scan | %s | %s | %d MiB | %d |\n", kbest.wall.Round(time.Millisecond), kbest.cpu.Round(time.Millisecond), kbest.rss>>20, len(kp))
	if *peer != "" {
		fmt.Printf("| osv-scanner scan image --offline | %s | %s | %d MiB | %d |\n", obest.wall.Round(time.Millisecond), obest.cpu.Round(time.Millisecond), obest.rss>>20, len(op))
		fmt.Printf("| ratio kubeguard / osv-scanner | %.2f | %.2f | %.2f | |\n\n", ratio(kbest.wall, obest.wall), ratio(kbest.cpu, obest.cpu), float64(kbest.rss)/float64(obest.rss))
		row, _ := compare(kp, op)
		fmt.Println("| agreement | kubeguard | osv-scanner | both | only kubeguard | only osv-scanner |")
		fmt.Println("|---|---|---|---|---|---|")
		fmt.Printf("| generated image | %s |\n", row)
	}
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func best(a, b result) result {
	if a.wall == 0 || b.wall < a.wall {
		a.wall, a.cpu = b.wall, b.cpu
	}
	a.rss = max(a.rss, b.rss)
	return a
}

// benchImage is a Debian 12 image with the bench's packages in three
// layers.
func benchImage(t imagetest.T, dir string) v1.Image {
	var status strings.Builder
	for i := 0; i < debPackages; i++ {
		fmt.Fprintf(&status, "Package: pkg%04d\nStatus: install ok installed\nArchitecture: amd64\nSource: src%04d\nVersion: 1.%d-1\nDescription: bench package %d\n\n", i, i/2, i%50, i)
	}
	// as npm install leaves them: each package's package.json and the
	// hidden lockfile of node_modules
	var lock strings.Builder
	lock.WriteString(`{"name":"bench","version":"1.0.0","lockfileVersion":3,"packages":{`)
	npm := []imagetest.File{}
	for i := 0; i < npmPackages; i++ {
		if i > 0 {
			lock.WriteString(",")
		}
		fmt.Fprintf(&lock, `"node_modules/npm%05d":{"version":"1.0.%d"}`, i, i%40)
		npm = append(npm, imagetest.File{Path: fmt.Sprintf("srv/app/node_modules/npm%05d/package.json", i),
			Body: []byte(fmt.Sprintf(`{"name":"npm%05d","version":"1.0.%d","license":"MIT"}`, i, i%40))})
	}
	lock.WriteString("}}\n")
	npm = append(npm, imagetest.File{Path: "srv/app/node_modules/.package-lock.json", Body: []byte(lock.String())})
	return imagetest.Image(t,
		imagetest.Step{Layer: imagetest.Layer(t,
			imagetest.File{Path: "etc/os-release", Body: []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")},
			imagetest.File{Path: "var/lib/dpkg/status", Body: []byte(status.String())}), CreatedBy: "ADD rootfs.tar.xz /"},
		imagetest.Step{Layer: imagetest.Layer(t, imagetest.File{Path: "usr/local/bin/app", Body: goBinary(dir), Mode: 0o755}), CreatedBy: "COPY app /usr/local/bin/"},
		imagetest.Step{Layer: imagetest.Layer(t, npm...), CreatedBy: "RUN npm ci"},
	)
}

// goBinary builds a program that imports goModules modules, served by a
// file-system module proxy, so its build information lists them all.
func goBinary(dir string) []byte {
	proxy := filepath.Join(dir, "goproxy")
	src := filepath.Join(dir, "gosrc")
	os.MkdirAll(src, 0o755)
	var imports, uses, requires strings.Builder
	for i := 0; i < goModules; i++ {
		mod := fmt.Sprintf("bench.example/mod%03d", i)
		ver := fmt.Sprintf("v1.%d.0", i%20)
		at := filepath.Join(proxy, mod, "@v")
		os.MkdirAll(at, 0o755)
		gomod := "module " + mod + "\n\ngo 1.22\n"
		os.WriteFile(filepath.Join(at, "list"), []byte(ver+"\n"), 0o644)
		os.WriteFile(filepath.Join(at, ver+".info"), []byte(`{"Version":"`+ver+`","Time":"2024-01-01T00:00:00Z"}`), 0o644)
		os.WriteFile(filepath.Join(at, ver+".mod"), []byte(gomod), 0o644)
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		w, _ := zw.Create(mod + "@" + ver + "/go.mod")
		w.Write([]byte(gomod))
		w, _ = zw.Create(mod + "@" + ver + "/m.go")
		fmt.Fprintf(w, "package mod%03d\n\nconst N = %d\n", i, i)
		zw.Close()
		os.WriteFile(filepath.Join(at, ver+".zip"), zb.Bytes(), 0o644)
		fmt.Fprintf(&imports, "\tm%03d %q\n", i, mod)
		fmt.Fprintf(&uses, "\tn += m%03d.N\n", i)
		fmt.Fprintf(&requires, "\t%s %s\n", mod, ver)
	}
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module bench.example/app\n\ngo 1.22\n\nrequire (\n"+requires.String()+")\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport (\n\t\"fmt\"\n"+imports.String()+")\n\nfunc main() {\n\tn := 0\n"+uses.String()+"\tfmt.Println(n)\n}\n"), 0o644)
	env := []string{"GOPROXY=file://" + proxy, "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64",
		"GOMODCACHE=" + filepath.Join(dir, "gomodcache")}
	out := filepath.Join(dir, "app")
	run(src, env, "go", "build", "-o", out, ".")
	b, err := os.ReadFile(out)
	check(err)
	return b
}

// benchRecords writes n OSV records as the OSV export's per-ecosystem
// all.zip archives: most name packages the image does not hold (as in
// the real database), a share name the image's packages, some with
// ranges that include the installed version, some that fixed it before.
func benchRecords(dir string, n int) []string {
	type eco struct {
		name     string
		share    float64
		universe int
		used     int
		pkg      func(i int) string
		version  func(i, k int) (introduced, fixed string)
	}
	ecos := []eco{
		{"Debian", 0.4, 20000, debPackages / 2, func(i int) string { return fmt.Sprintf("src%04d", i) },
			func(i, k int) (string, string) { return "0", fmt.Sprintf("1.%d-%d", (2*i)%50+(k%3)-1, 2) }},
		{"Go", 0.25, 12000, goModules, func(i int) string { return fmt.Sprintf("bench.example/mod%03d", i) },
			func(i, k int) (string, string) { return "0", fmt.Sprintf("1.%d.%d", i%20+(k%3)-1, 1) }},
		{"npm", 0.35, 30000, npmPackages, func(i int) string { return fmt.Sprintf("npm%05d", i) },
			func(i, k int) (string, string) { return "0", fmt.Sprintf("1.0.%d", i%40+(k%3)) }},
	}
	details := strings.Repeat("A crafted input to the parser of this package can make it read past the end of a buffer. ", 5)
	var out []string
	id := 0
	for _, e := range ecos {
		path := filepath.Join(dir, e.name, "all.zip")
		os.MkdirAll(filepath.Dir(path), 0o755)
		f, err := os.Create(path)
		check(err)
		zw := zip.NewWriter(f)
		count := int(float64(n) * e.share)
		for k := 0; k < count; k++ {
			id++
			u := (k * 7919) % e.universe
			name := fmt.Sprintf("other-%s-%05d", strings.ToLower(e.name), u)
			intro, fixed := "0", "1.0.0"
			if u < e.used {
				name = e.pkg(u)
				intro, fixed = e.version(u, k)
			}
			ecosystem := e.name
			if e.name == "Debian" {
				ecosystem = "Debian:12"
			}
			rec := map[string]any{
				"id": fmt.Sprintf("BENCH-%s-%06d", strings.ToUpper(e.name), id), "modified": "2026-11-01T00:00:00Z", "published": "2025-01-01T00:00:00Z",
				"aliases": []string{fmt.Sprintf("CVE-2099-%06d", id)}, "summary": "Out-of-bounds read in " + name, "details": details,
				"severity":   []map[string]string{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}},
				"affected":   []map[string]any{{"package": map[string]string{"ecosystem": ecosystem, "name": name}, "ranges": []map[string]any{{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": intro}, {"fixed": fixed}}}}}},
				"references": []map[string]string{{"type": "ADVISORY", "url": fmt.Sprintf("https://security.example/CVE-2099-%06d", id)}},
			}
			if e.name == "Go" {
				rec["affected"].([]map[string]any)[0]["ranges"].([]map[string]any)[0]["type"] = "SEMVER"
			}
			b, _ := json.Marshal(rec)
			w, _ := zw.Create(rec["id"].(string) + ".json")
			w.Write(b)
		}
		check(zw.Close())
		check(f.Close())
		out = append(out, path)
	}
	return out
}

// ---- running the tools ----

type result struct {
	wall, cpu time.Duration
	rss       int64
}

func measure(env []string, name string, args ...string) result {
	r, _ := measureOut(env, name, args...)
	return r
}

func measureOut(env []string, name string, args ...string) (result, []byte) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil && cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n%s", name, err, errb.String())
		os.Exit(1)
	}
	if code := cmd.ProcessState.ExitCode(); code > 1 {
		fmt.Fprintf(os.Stderr, "%s %s: exit %d\n%s", name, strings.Join(args, " "), code, errb.String())
		os.Exit(1)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return result{wall, cpu, ru.Maxrss << 10}, out.Bytes()
}

func run(dir string, env []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	check(cmd.Run())
}

// pairs are (package, advisory) findings; a finding names its advisory
// by every ID it carries, so tools that report a record's own ID and
// tools that report its CVE still meet. A package is its ecosystem,
// advisory name (Debian's source package) and version.
type pairs map[string][]string

func (p pairs) add(key, ids string) {
	if !slices.Contains(p[key], ids) {
		p[key] = append(p[key], ids)
	}
}

func kubeguardPairs(kg, db, tar string, env []string) (pairs, result) {
	r, out := measureOut(env, kg, "image", "scan", "--db", db, tar, "-o", "json", "--fail-on", "none", "--db-max-age", "0")
	var rep struct {
		Findings []struct {
			Vuln struct {
				ID        string   `json:"id"`
				Aliases   []string `json:"aliases"`
				Package   string   `json:"package"`
				Source    string   `json:"sourcePackage"`
				Ecosystem string   `json:"ecosystem"`
				Installed string   `json:"installedVersion"`
			} `json:"vulnerability"`
		} `json:"findings"`
	}
	check(json.Unmarshal(out, &rep))
	p := pairs{}
	for _, f := range rep.Findings {
		v := f.Vuln
		name := v.Package
		if v.Source != "" {
			name = v.Source
		}
		eco, _, _ := strings.Cut(v.Ecosystem, ":")
		key := eco + " " + name + "@" + v.Installed
		ids := append([]string{v.ID}, v.Aliases...)
		p.add(key, strings.Join(ids, ","))
	}
	return p, r
}

func osvPairs(cache, tar string, env []string) (pairs, result) {
	env = append(env, "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="+cache)
	r, out := measureOut(env, *peer, "scan", "image", "--archive", "--offline", "--offline-vulnerabilities", "--format", "json", tar)
	var rep struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name, Version, Ecosystem string
				}
				Vulnerabilities []struct {
					ID string `json:"id"`
				}
			}
		}
	}
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	check(json.Unmarshal(out, &rep))
	p := pairs{}
	for _, res := range rep.Results {
		for _, pk := range res.Packages {
			eco, _, _ := strings.Cut(pk.Package.Ecosystem, ":")
			key := eco + " " + pk.Package.Name + "@" + pk.Package.Version
			for _, v := range pk.Vulnerabilities {
				p.add(key, v.ID)
			}
		}
	}
	return p, r
}

// compare counts pairs both tools report, and those only one does.
func compare(k, o pairs) (string, bool) {
	names := func(list []string) []string {
		var out []string
		for _, s := range list {
			out = append(out, strings.Split(s, ",")...)
		}
		return out
	}
	both, onlyK, onlyO := 0, 0, 0
	var diffs []string
	nk, no := 0, 0
	for key, groups := range k {
		for _, g := range groups {
			nk++
			if slices.ContainsFunc(strings.Split(g, ","), func(id string) bool { return slices.Contains(o[key], id) }) {
				both++
			} else {
				onlyK++
				diffs = append(diffs, "kubeguard only: "+key+" "+g)
			}
		}
	}
	for key, ids := range o {
		for _, id := range ids {
			no++
			if !slices.Contains(names(k[key]), id) {
				onlyO++
				diffs = append(diffs, "osv-scanner only: "+key+" "+id)
			}
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		fmt.Fprintln(os.Stderr, d)
	}
	return fmt.Sprintf("%d | %d | %d | %d | %d", nk, no, both, onlyK, onlyO), onlyK == 0 && onlyO == 0
}

// ---- plumbing ----

func writeZip(path string, files []string, _ io.Writer) {
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	check(err)
	zw := zip.NewWriter(f)
	for _, src := range files {
		b, err := os.ReadFile(src)
		check(err)
		w, _ := zw.Create(filepath.Base(src))
		w.Write(b)
	}
	check(zw.Close())
	check(f.Close())
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func check(err error) {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		fmt.Fprintf(os.Stderr, "benchimage: %s:%d: %v\n", filepath.Base(file), line, err)
		os.Exit(1)
	}
}
