// Command krew writes the krew plugin manifest of a release (kubectl
// kubeguard ...) from its SHA256SUMS: one platform per archive
// kubeguard_OS_ARCH.tar.gz.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

var archiveRE = regexp.MustCompile(`^kubeguard_(linux|darwin|windows)_(amd64|arm64)\.tar\.gz$`)

func main() {
	version := flag.String("version", "", "release tag (v1.2.3)")
	sums := flag.String("sums", "dist/SHA256SUMS", "the release's SHA256SUMS")
	base := flag.String("url", "https://github.com/kubeguard/kubeguard/releases/download", "where releases are downloaded from")
	flag.Parse()
	f, err := os.Open(*sums)
	if err == nil {
		defer f.Close()
		err = write(os.Stdout, f, *version, *base)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
}

func write(w io.Writer, sums io.Reader, version, base string) error {
	if version == "" {
		return fmt.Errorf("-version is required")
	}
	var platforms []map[string]any
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		m := archiveRE.FindStringSubmatch(name)
		if !ok || m == nil || len(sum) != 64 {
			continue
		}
		bin := "kubeguard"
		if m[1] == "windows" {
			bin += ".exe"
		}
		platforms = append(platforms, map[string]any{
			"selector": map[string]any{"matchLabels": map[string]string{"os": m[1], "arch": m[2]}},
			"uri":      fmt.Sprintf("%s/%s/%s", base, version, name),
			"sha256":   sum,
			"bin":      bin,
		})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(platforms) == 0 {
		return fmt.Errorf("no kubeguard_OS_ARCH.tar.gz in the sums")
	}
	manifest := map[string]any{
		"apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
		"kind":       "Plugin",
		"metadata":   map[string]any{"name": "kubeguard"},
		"spec": map[string]any{
			"version":          version,
			"homepage":         "https://github.com/kubeguard/kubeguard",
			"shortDescription": "Scan manifests, charts and live clusters for security issues",
			"description": "kubeguard checks Kubernetes objects against the CIS Kubernetes Benchmark, the NSA/CISA\n" +
				"hardening guide, the Pod Security Standards, NIST SP 800-190 and MITRE ATT&CK:\n" +
				"  kubectl kubeguard scan ./manifests\n  kubectl kubeguard cluster -n shop\n  kubectl kubeguard rbac who-can get secrets",
			"platforms": platforms,
		},
	}
	data, err := yaml.Marshal(manifest)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
