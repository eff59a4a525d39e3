package vulndb

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// DefaultMirror is the public OSV export: one all.zip per ecosystem.
const DefaultMirror = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the OSV ecosystems of the packages kubeguard
// extracts from images.
var DefaultEcosystems = []string{
	"Alpine", "Debian", "Ubuntu", "Red Hat", "AlmaLinux", "Rocky Linux", "SUSE", "openSUSE",
	"Go", "npm", "PyPI", "Maven", "crates.io", "RubyGems", "Packagist", "NuGet",
}

// Download fetches the all.zip of each ecosystem from a mirror into dir,
// checks each against the CRC-32C the bucket publishes (x-goog-hash) and
// returns the files. A failed ecosystem is an error; the files fetched
// so far are kept for the caller to remove.
func Download(ctx context.Context, client *http.Client, mirror string, ecosystems []string, dir string) ([]string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	var files []string
	for _, eco := range ecosystems {
		u := strings.TrimSuffix(mirror, "/") + "/" + url.PathEscape(eco) + "/all.zip"
		f, err := os.CreateTemp(dir, "osv-*.zip")
		if err != nil {
			return files, err
		}
		files = append(files, f.Name())
		err = fetch(ctx, client, u, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return files, fmt.Errorf("%s: %w", u, err)
		}
	}
	return files, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func fetch(ctx context.Context, client *http.Client, u string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kubeguard")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return err
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if want, ok := googCRC32C(resp.Header); ok && want != h.Sum32() {
		return fmt.Errorf("CRC-32C mismatch: the download is damaged")
	}
	return nil
}

// googCRC32C reads the crc32c of an x-goog-hash header.
func googCRC32C(h http.Header) (uint32, bool) {
	for _, v := range h.Values("X-Goog-Hash") {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k != "crc32c" {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(val)
			if err != nil || len(b) != 4 {
				continue
			}
			return binary.BigEndian.Uint32(b), true
		}
	}
	return 0, false
}

// Update downloads the ecosystems from a mirror and rebuilds the
// database in dir; the old one stays until the new one is whole.
func Update(ctx context.Context, client *http.Client, mirror string, ecosystems []string, dir string) (*Meta, error) {
	tmp, err := os.MkdirTemp("", "kubeguard-db-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	files, err := Download(ctx, client, mirror, ecosystems, tmp)
	if err != nil {
		return nil, err
	}
	b, err := NewBuilder(tmp)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	for i, f := range files {
		if err := b.AddZip(ecosystems[i], f); err != nil {
			return nil, err
		}
	}
	if len(b.Errors) > 0 {
		return nil, b.Err()
	}
	return b.Write(dir)
}
