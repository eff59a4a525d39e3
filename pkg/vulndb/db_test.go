package vulndb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func build(t *testing.T, inputs ...string) *DB {
	t.Helper()
	b, err := NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, in := range inputs {
		if err := b.AddPath(in); err != nil {
			t.Fatal(err)
		}
	}
	if len(b.Errors) > 0 {
		t.Fatal(b.Err())
	}
	dir := filepath.Join(t.TempDir(), "db")
	if _, err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A record read twice keeps its latest copy; a withdrawn one is left out;
// lookups ignore the release of OS ecosystems and the case of PyPI names.
func TestBuildAndLookup(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a-old.json", `{"id": "A-1", "modified": "2024-01-01T00:00:00Z", "summary": "old",
		"affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}}]}`)
	write(t, dir, "a-new.json", `{"id": "A-1", "modified": "2025-01-01T00:00:00Z", "summary": "new",
		"affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}}, {"package": {"ecosystem": "Debian:11", "name": "openssl"}}]}`)
	write(t, dir, "w.json", `{"id": "W-1", "modified": "2025-01-01T00:00:00Z", "withdrawn": "2025-02-01T00:00:00Z",
		"affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}}]}`)
	write(t, dir, "py.json", `[{"id": "P-1", "modified": "2025-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "Django"}}]},
		{"id": "P-2", "modified": "2025-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}}]}]`)
	db := build(t, dir)
	if db.Meta.Records != 3 || db.Meta.Ecosystems["Debian"] != 1 || db.Meta.Ecosystems["PyPI"] != 2 {
		t.Errorf("meta %+v", db.Meta)
	}
	got, err := db.Lookup("Debian:12", "openssl")
	if err != nil || len(got) != 1 || got[0].GetSummary() != "new" {
		t.Fatalf("openssl: %v %v", got, err)
	}
	if got, _ := db.Lookup("Debian:11", "openssl"); len(got) != 1 {
		t.Errorf("another release finds the record too (the matcher checks the release): %v", got)
	}
	if got, _ := db.Lookup("PyPI", "django"); len(got) != 1 || got[0].GetId() != "P-1" {
		t.Errorf("django: %v", got)
	}
	if got, _ := db.Lookup("npm", "openssl"); len(got) != 0 {
		t.Errorf("another ecosystem: %v", got)
	}
}

// Damage anywhere in the index is found when the database is opened;
// damage in a record when it is read.
func TestDamage(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.json", `{"id": "A-1", "modified": "2025-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Go", "name": "x"}}]}`)
	db := build(t, dir)
	path := filepath.Join(db.Dir, recordsDB)
	good, _ := os.ReadFile(path)
	for name, mutate := range map[string]func([]byte) []byte{
		"truncated":  func(b []byte) []byte { return b[:len(b)-3] },
		"index flip": func(b []byte) []byte { b[len(b)-footerSize-2] ^= 0xff; return b },
		"not a db":   func(b []byte) []byte { return append([]byte("XXXXXXXX"), b[8:]...) },
		"empty":      func([]byte) []byte { return nil },
	} {
		bad := mutate(append([]byte{}, good...))
		os.WriteFile(path, bad, 0o644)
		if _, err := Open(db.Dir); err == nil || !strings.Contains(err.Error(), "corrupt database") {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := append([]byte{}, good...)
	bad[len(magic)+2] ^= 0xff // inside the one record
	os.WriteFile(path, bad, 0o644)
	d, err := Open(db.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Lookup("Go", "x"); err == nil {
		t.Error("a damaged record was read without error")
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no vulnerability database") {
		t.Errorf("missing: %v", err)
	}
}

func TestNotRecords(t *testing.T) {
	dir := t.TempDir()
	b, _ := NewBuilder(t.TempDir())
	defer b.Close()
	b.AddPath(write(t, dir, "x.json", `{"summary": "no id"}`))
	b.AddPath(write(t, dir, "y.json", `not json`))
	if err := b.AddPath(write(t, dir, "z.zip", `not a zip`)); err == nil || !strings.Contains(err.Error(), "not a zip archive") {
		t.Errorf("zip: %v", err)
	}
	if len(b.Errors) != 2 || !strings.Contains(b.Errors[0].Error(), "x.json: not an OSV record") {
		t.Errorf("errors: %v", b.Errors)
	}
}
