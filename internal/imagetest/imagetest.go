// Package imagetest builds container images for tests in-process with
// go-containerregistry: layers holding real package databases, a Go
// binary built against a module release with a published advisory, and
// a registry on loopback that asks for credentials.
package imagetest

import (
	"archive/tar"
	"bytes"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kubeguard/kubeguard/pkg/vulndb"
	_ "modernc.org/sqlite" // the driver rpm databases are read with
)

// T is what the builders need of a test (testing.TB has it); the image
// benchmark, which is not a test, brings its own.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// File is one entry of a layer.
type File struct {
	Path string
	Body []byte
	Mode int64
	// Link makes the entry a symbolic link to Link.
	Link string
}

// Layer is a layer holding files; a path "dir/.wh.name" is a whiteout.
func Layer(t T, files ...File) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Path, Mode: f.Mode, Size: int64(len(f.Body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if f.Link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.Link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if f.Link == "" {
			tw.Write(f.Body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Step is a layer and the Dockerfile instruction that made it.
type Step struct {
	Layer     v1.Layer
	CreatedBy string
}

// Image stacks layers into a linux/amd64 image whose history names the
// instruction of each layer.
func Image(t T, steps ...Step) v1.Image {
	t.Helper()
	return ImageFor(t, "amd64", steps...)
}

// ImageFor is Image for another architecture.
func ImageFor(t T, arch string, steps ...Step) v1.Image {
	t.Helper()
	img := empty.Image
	for _, s := range steps {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: s.Layer, History: v1.History{CreatedBy: s.CreatedBy, Created: v1.Time{Time: time.Unix(0, 0)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Index is a multi-platform index of images.
func Index(t T, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}}})
	}
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
}

// Debian7 holds the files a Debian 7 (wheezy) image identifies itself
// and its packages with: nginx at a version DSA-3029-1 fixes, and libc6.
func Debian7() []File {
	return []File{
		{Path: "etc/os-release", Body: []byte(`PRETTY_NAME="Debian GNU/Linux 7 (wheezy)"
NAME="Debian GNU/Linux"
VERSION_ID="7"
VERSION="7 (wheezy)"
ID=debian
`)},
		{Path: "var/lib/dpkg/status", Body: []byte(`Package: libc6
Status: install ok installed
Priority: required
Section: libs
Installed-Size: 9734
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: eglibc
Version: 2.13-38+deb7u10
Description: Embedded GNU C Library: Shared libraries

Package: nginx-full
Status: install ok installed
Priority: optional
Section: httpd
Installed-Size: 1003
Maintainer: Kartik Mistry <kartik@debian.org>
Architecture: amd64
Source: nginx
Version: 1.2.1-2.2+wheezy2
Provides: httpd, nginx
Depends: nginx-common (= 1.2.1-2.2+wheezy2), libc6 (>= 2.11)
Description: nginx web/proxy server (standard version)

Package: nginx-common
Status: install ok installed
Priority: optional
Section: httpd
Installed-Size: 212
Maintainer: Kartik Mistry <kartik@debian.org>
Architecture: all
Source: nginx
Version: 1.2.1-2.2+wheezy2
Description: small, powerful, scalable web/proxy server - common files
`)},
	}
}

// Debian8 is Debian7's nginx on Debian 8: DSA-3029-1 is about Debian 7
// only, so it must not match.
func Debian8() []File {
	fs := Debian7()
	fs[0].Body = []byte("PRETTY_NAME=\"Debian GNU/Linux 8 (jessie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"8\"\nID=debian\n")
	return fs
}

// Alpine311 holds an Alpine 3.11 image's release and installed database:
// xen at a version ALPINE-CVE-2021-28687 fixes, and a fixed musl.
func Alpine311(xen string) []File {
	return []File{
		{Path: "etc/os-release", Body: []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.11.6\nPRETTY_NAME=\"Alpine Linux v3.11\"\n")},
		{Path: "etc/alpine-release", Body: []byte("3.11.6\n")},
		{Path: "etc/apk/arch", Body: []byte("x86_64\n")},
		{Path: "etc/apk/repositories", Body: []byte("https://dl-cdn.alpinelinux.org/alpine/v3.11/main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.11/community\n")},
		{Path: "lib/apk/db/installed", Body: []byte(`C:Q1Gq+uOJ9vPGr+iIPz6sM6N0y1l5k=
P:musl
V:1.1.24-r3
A:x86_64
S:377675
I:614400
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1590000000

C:Q1xR7bQ0WcO1CwE0dZ6VuYf3v3Wc8=
P:xen
V:` + xen + `
A:x86_64
S:4063232
I:12156928
T:Xen hypervisor
U:https://www.xenproject.org/
L:GPL-2.0-only
o:xen
m:Natanael Copa <ncopa@alpinelinux.org>
t:1590000000

`)},
	}
}

// PackageLock is an npm lockfile pinning lodash at a version
// GHSA-p6mc-m468-83gw fixes.
func PackageLock(lodash string) []byte {
	return []byte(`{
  "name": "shop",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "shop",
      "version": "1.0.0",
      "dependencies": {
        "lodash": "^4.17.0"
      }
    },
    "node_modules/lodash": {
      "version": "` + lodash + `",
      "resolved": "https://registry.npmjs.org/lodash/-/lodash-` + lodash + `.tgz"
    }
  }
}
`)
}

var (
	goBinOnce sync.Once
	goBin     []byte
	goBinErr  error
)

// GoBinary builds a program against github.com/gogo/protobuf v1.3.1
// (GO-2021-0053) once per test binary.
func GoBinary(t T) []byte {
	t.Helper()
	goBinOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(file), "testdata", "gobin")
		out := filepath.Join(os.TempDir(), "kubeguard-imagetest-gobin")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			goBinErr = &buildError{string(b), err}
			return
		}
		goBin, goBinErr = os.ReadFile(out)
		os.Remove(out)
	})
	if goBinErr != nil {
		t.Fatalf("building the test Go binary: %v", goBinErr)
	}
	return goBin
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// Shop is the image most tests scan: a Debian 7 base layer, an
// application layer with a Go binary and an npm project (its lockfile
// and installed node_modules), and a layer
// that deletes a file of the base with a whiteout.
func Shop(t T) v1.Image {
	t.Helper()
	base := append(Debian7(), File{Path: "etc/motd", Body: []byte("wheezy\n")})
	return Image(t,
		Step{Layer(t, base...), "/bin/sh -c #(nop) ADD file:wheezy in / "},
		Step{Layer(t, File{Path: "usr/local/bin/shop", Body: GoBinary(t), Mode: 0o755},
			File{Path: "app/package-lock.json", Body: PackageLock("4.17.15")},
			File{Path: "app/node_modules/.package-lock.json", Body: PackageLock("4.17.15")},
			File{Path: "app/node_modules/lodash/package.json", Body: []byte(`{"name": "lodash", "version": "4.17.15", "license": "MIT"}`)}),
			"COPY shop /usr/local/bin/ # buildkit"},
		Step{Layer(t, File{Path: "etc/.wh.motd"}), "RUN rm /etc/motd # buildkit"},
	)
}

// Example is the image of the documentation (examples/images/shop.tar,
// written by go run ./hack/exampleimage): Shop without the Go binary,
// so that it stays small and needs no build.
func Example(t T) v1.Image {
	t.Helper()
	base := append(Debian7(), File{Path: "etc/motd", Body: []byte("wheezy\n")})
	return Image(t,
		Step{Layer(t, base...), "/bin/sh -c #(nop) ADD file:wheezy in / "},
		Step{Layer(t, File{Path: "app/package-lock.json", Body: PackageLock("4.17.15")},
			File{Path: "app/node_modules/lodash/package.json", Body: []byte(`{"name": "lodash", "version": "4.17.15", "license": "MIT"}`)}),
			"COPY app /app # buildkit"},
	)
}

// WriteLayout writes an image index as an OCI layout.
func WriteLayout(t T, dir string, idx v1.ImageIndex) string {
	t.Helper()
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatal(err)
	}
	return dir
}

// WriteTarball writes images as docker save does, each under its tag.
func WriteTarball(t T, path string, imgs map[string]v1.Image) string {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for tag, img := range imgs {
		r, err := name.NewTag(tag)
		if err != nil {
			t.Fatal(err)
		}
		refs[r] = img
	}
	if err := tarball.MultiRefWriteToFile(path, refs); err != nil {
		t.Fatal(err)
	}
	return path
}

// Registry serves an in-memory registry on loopback that asks for basic
// credentials user/password when auth is set; it returns its host.
func Registry(t T, auth bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(nopLogger()), registry.WithReferrersSupport(true))
	h := reg
	if auth {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:password"))
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != want {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			reg.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// Program is the T of a program that builds images (the benchmarks, the
// examples): a failure ends it; Close runs the cleanups.
type Program struct{ cleanups []func() }

func (*Program) Helper()           {}
func (*Program) Fatal(args ...any) { fmt.Fprintln(os.Stderr, args...); os.Exit(1) }
func (*Program) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
func (p *Program) Cleanup(f func()) { p.cleanups = append(p.cleanups, f) }

// Close runs the cleanups, last first.
func (p *Program) Close() {
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
}

// Push writes an image to a registry by insecure (HTTP) reference and
// returns its digest.
func Push(t T, ref string, img v1.Image, auth authn.Authenticator) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Records is the directory of the real OSV records the tests match
// against (see its README for their sources).
func Records() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "pkg", "imagescan", "testdata", "osv")
}

// DB builds a vulnerability database in dir from some of Records (all
// when none is named) and opens it.
func DB(t T, dir string, records ...string) *vulndb.DB {
	t.Helper()
	b, err := vulndb.NewBuilder("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(records) == 0 {
		records = []string{""}
	}
	for _, r := range records {
		if err := b.AddPath(filepath.Join(Records(), r)); err != nil {
			t.Fatal(err)
		}
	}
	if len(b.Errors) > 0 {
		t.Fatal(b.Err())
	}
	if _, err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// RPMDB writes a Packages table holding the first n package headers of
// a real Fedora 35 rpm database (go-rpmdb's test data, in the module
// cache), the way rpm 4.16 and later store them in rpmdb.sqlite.
func RPMDB(t T, n int) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/erikvarga/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("finding go-rpmdb's test data: %v", err)
	}
	src, err := sql.Open("sqlite", filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata", "fedora35-plus-mongo", "rpmdb.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rows, err := src.Query("SELECT blob FROM Packages ORDER BY hnum LIMIT ?", n)
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	rows.Close()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("kubeguard-rpmdb-%d-%d.sqlite", os.Getpid(), time.Now().UnixNano()))
	defer os.Remove(path)
	dst, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if _, err := dst.Exec("INSERT INTO Packages (blob) VALUES (?)", b); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Rocky9 is a Rocky Linux 9 image's release file and rpm database.
func Rocky9(t T, n int) []File {
	return []File{
		{Path: "etc/os-release", Body: []byte("NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n")},
		{Path: "var/lib/rpm/rpmdb.sqlite", Body: RPMDB(t, n)},
	}
}

// Proxy stands in front of a registry and can take it down (503) or
// make it stall until released or the request gives up.
type Proxy struct {
	Host  string
	mode  atomic.Value // "", "down", "stall"
	stall chan struct{}
	once  sync.Once
}

// NewProxy serves upstream (a loopback registry host) through a Proxy.
func NewProxy(t T, upstream string) *Proxy {
	p := &Proxy{stall: make(chan struct{})}
	p.mode.Store("")
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p.mode.Load() {
		case "down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		case "stall":
			select {
			case <-p.stall:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// Down takes the registry down or brings it back.
func (p *Proxy) Down(down bool) {
	if down {
		p.mode.Store("down")
	} else {
		p.mode.Store("")
	}
}

// Stall makes requests wait until Release.
func (p *Proxy) Stall() { p.mode.Store("stall") }

// Release answers the stalled requests and serves normally again.
func (p *Proxy) Release() {
	p.mode.Store("")
	p.once.Do(func() { close(p.stall) })
}
