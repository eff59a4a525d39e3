// Command fetch-sarif-schema downloads the official SARIF 2.1.0 JSON schema
// for the SARIF report test. The schema ships in Microsoft's
// @microsoft/jest-sarif npm package (lib/schemas/sarif-2.1.0-rtm.5.json);
// the tarball is verified against its published sha512 integrity.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

const (
	tarball   = "https://registry.npmjs.org/@microsoft/jest-sarif/-/jest-sarif-1.0.0-beta.0.tgz"
	integrity = "A1fOhPd6Ic5iDk4F9YPw1qNB4XF+7+IviR7xl8r2F6QzQkx5cpY9LsGk2rExiFIEcBbjpVnSmwWGBukASkiQ9A=="
	member    = "package/lib/schemas/sarif-2.1.0-rtm.5.json"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fetch-sarif-schema OUTPUT")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "fetch-sarif-schema:", err)
		os.Exit(1)
	}
}

func run(out string) error {
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
