package sbom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kubeguard/kubeguard/internal/imagetest"
	"github.com/kubeguard/kubeguard/pkg/image"
	"github.com/kubeguard/kubeguard/pkg/sbom"
)

// schema compiles a schema fetched by `make schemas`, with the schemas
// it references by URL.
func schema(t *testing.T, env, fallback string, refs map[string]string) *jsonschema.Schema {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = fallback
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("schema missing under CI: %v (run make schemas)", err)
		}
		t.Skip("schema not fetched; run make schemas")
	}
	c := jsonschema.NewCompiler()
	for url, file := range refs {
		f, err := os.Open(filepath.Join(filepath.Dir(path), file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func inventory(t *testing.T) *image.Inventory {
	t.Helper()
	dir := imagetest.WriteLayout(t, t.TempDir(), imagetest.Index(t, imagetest.Shop(t)))
	imgs, err := image.Load(dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := image.Extract(context.Background(), imgs[0], image.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Fatalf("does not validate: %v\n%s", err, doc)
	}
}

func TestCycloneDX(t *testing.T) {
	s := schema(t, "KUBEGUARD_CYCLONEDX_SCHEMA", "../../.cache/cyclonedx/bom-1.6.schema.json", map[string]string{
		"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schemax.json",
	})
	var buf bytes.Buffer
	if err := sbom.Write(&buf, "cyclonedx", inventory(t), sbom.Tool{Name: "kubeguard", Version: "test"}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	validate(t, s, buf.Bytes())
	var bom struct {
		SpecVersion string `json:"specVersion"`
		Metadata    struct {
			Component struct{ Type, Purl string }
		}
		Components []struct {
			Name, Version, Purl string
			Properties          []struct{ Name, Value string }
		}
	}
	json.Unmarshal(buf.Bytes(), &bom)
	if bom.SpecVersion != "1.6" || bom.Metadata.Component.Type != "container" || !strings.HasPrefix(bom.Metadata.Component.Purl, "pkg:oci/") {
		t.Errorf("metadata: %+v", bom)
	}
	found := map[string]string{}
	for _, c := range bom.Components {
		for _, p := range c.Properties {
			if p.Name == "kubeguard:layer:index" {
				found[c.Name+"@"+c.Version] = p.Value
			}
		}
	}
	for pkg, layer := range map[string]string{"nginx-full@1.2.1-2.2+wheezy2": "0", "libc6@2.13-38+deb7u10": "0", "lodash@4.17.15": "1", "github.com/gogo/protobuf@1.3.1": "1"} {
		if found[pkg] != layer {
			t.Errorf("%s: layer %q, want %q (components %v)", pkg, found[pkg], layer, found)
		}
	}
	// the schema is not vacuous
	validateFails(t, s, bytes.Replace(buf.Bytes(), []byte(`"type": "library"`), []byte(`"type": "gadget"`), 1))
}

func TestSPDX(t *testing.T) {
	s := schema(t, "KUBEGUARD_SPDX_SCHEMA", "../../.cache/spdx-schema-2.3.json", nil)
	var buf bytes.Buffer
	if err := sbom.Write(&buf, "spdx", inventory(t), sbom.Tool{Name: "kubeguard", Version: "test"}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	validate(t, s, buf.Bytes())
	var doc struct {
		SPDXVersion   string `json:"spdxVersion"`
		Packages      []struct{ Name, VersionInfo string }
		Relationships []struct{ RelationshipType string }
	}
	json.Unmarshal(buf.Bytes(), &doc)
	contains := 0
	for _, r := range doc.Relationships {
		if r.RelationshipType == "CONTAINS" {
			contains++
		}
	}
	if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) != 8 || contains != 7 {
		t.Errorf("want the image and the 7 packages it contains: %+v", doc)
	}
	validateFails(t, s, bytes.Replace(buf.Bytes(), []byte(`"spdxVersion": "SPDX-2.3"`), []byte(`"spdxVersion": 23`), 1))
}

func validateFails(t *testing.T, s *jsonschema.Schema, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if s.Validate(v) == nil {
		t.Error("the schema accepted a broken document")
	}
}
