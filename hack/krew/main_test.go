package main

import (
	"bytes"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The manifest names every platform of the sums with its archive, hash and
// binary, in the layout krew reads.
func TestManifest(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	sums := sum + "  kubeguard_linux_amd64.tar.gz\n" + sum + "  kubeguard_windows_arm64.tar.gz\n" + sum + "  SHA256SUMS.sig\n"
	var buf bytes.Buffer
	if err := write(&buf, strings.NewReader(sums), "v1.2.3", "https://example.test/releases"); err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion, Kind string
		Metadata         struct{ Name string }
		Spec             struct {
			Version   string
			Platforms []struct {
				Selector         struct{ MatchLabels map[string]string }
				URI, Sha256, Bin string
			}
		}
	}
	if err := yaml.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	p := m.Spec.Platforms
	if m.Kind != "Plugin" || m.Metadata.Name != "kubeguard" || m.Spec.Version != "v1.2.3" || len(p) != 2 ||
		p[0].URI != "https://example.test/releases/v1.2.3/kubeguard_linux_amd64.tar.gz" || p[0].Sha256 != sum || p[0].Bin != "kubeguard" ||
		p[1].Selector.MatchLabels["os"] != "windows" || p[1].Bin != "kubeguard.exe" {
		t.Errorf("%+v", m)
	}
	if err := write(&buf, strings.NewReader("nothing\n"), "v1", ""); err == nil {
		t.Error("sums without archives accepted")
	}
}
