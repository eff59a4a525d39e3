package image

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/binary/proto/metadata"
	"github.com/google/osv-scalibr/extractor"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
)

// The wire form of an inventory carries what matching needs of each
// package as the extractor found it (its purl type, name, version and
// metadata, in osv-scalibr's own proto form), so that an inventory read
// in one process (a scan Job) is matched in another.
type wireInventory struct {
	Ref, Digest, Index, Platform, OS string
	Packages                         []wirePackage
	Warnings                         []string
}

type wirePackage struct {
	Package
	RawName, RawVersion, PURLType string
	Metadata                      json.RawMessage `json:",omitempty"`
}

// EncodeInventory writes an inventory compressed, for a ConfigMap.
func EncodeInventory(inv *Inventory) ([]byte, error) {
	w := wireInventory{Ref: inv.Image.Ref, Digest: inv.Image.Digest.String(), Platform: inv.Image.Platform, OS: inv.OS, Warnings: inv.Warnings}
	if inv.Image.Index.Hex != "" {
		w.Index = inv.Image.Index.String()
	}
	for _, p := range inv.Packages {
		wp := wirePackage{Package: *p}
		if r := p.raw; r != nil {
			wp.RawName, wp.RawVersion, wp.PURLType = r.Name, r.Version, r.PURLType
			if r.Metadata != nil {
				a, err := metadata.StructToProto(r.Metadata)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", p.Name, err)
				}
				if a != nil {
					if wp.Metadata, err = protojson.Marshal(a); err != nil {
						return nil, err
					}
				}
			}
		}
		w.Packages = append(w.Packages, wp)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(w); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeInventory reads what EncodeInventory wrote.
func DecodeInventory(b []byte) (*Inventory, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("not an encoded inventory: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 256<<20))
	if err != nil {
		return nil, err
	}
	var w wireInventory
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("not an encoded inventory: %w", err)
	}
	inv := &Inventory{Image: Loaded{Ref: w.Ref, Platform: w.Platform}, OS: w.OS, Warnings: w.Warnings}
	if inv.Image.Digest, err = v1.NewHash(w.Digest); err != nil {
		return nil, err
	}
	if w.Index != "" {
		if inv.Image.Index, err = v1.NewHash(w.Index); err != nil {
			return nil, err
		}
	}
	for _, wp := range w.Packages {
		p := wp.Package
		p.raw = &extractor.Package{Name: wp.RawName, Version: wp.RawVersion, PURLType: wp.PURLType}
		if len(wp.Metadata) > 0 {
			var a anypb.Any
			if err := protojson.Unmarshal(wp.Metadata, &a); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			m, err := metadata.ProtoToStruct(&a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			p.raw.Metadata = m
		}
		inv.Packages = append(inv.Packages, &p)
	}
	return inv, nil
}
