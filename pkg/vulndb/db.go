// Package vulndb is kubeguard's offline vulnerability database: OSV
// records stored compressed and indexed by (ecosystem, package), so a
// scan decodes only the records of the packages it found.
package vulndb

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	osvpb "github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/encoding/protojson"
)

// File layout of records.db:
//
//	magic "KGOSVDB1"
//	records: each OSV record as compact JSON, deflated
//	index:   count, then per key (sorted "ecosystem\x00name"): key
//	         length, key, record count, record numbers
//	offsets: record count, then one uint64 offset per record plus the
//	         end of the last one
//	footer:  index offset, offsets offset, CRC-32 of index and offsets,
//	         magic
const (
	magic      = "KGOSVDB1"
	recordsDB  = "records.db"
	metaFile   = "meta.json"
	footerSize = 8 + 8 + 4 + len(magic)
)

// Meta describes a database: where its records came from and when.
type Meta struct {
	Format  int       `json:"format"`
	Built   time.Time `json:"built"`
	Records int       `json:"records"`
	// Ecosystems counts records per ecosystem (a record affecting
	// several ecosystems counts in each).
	Ecosystems map[string]int `json:"ecosystems"`
	// Sources are the archives, files or URLs the records were read from.
	Sources []Source `json:"sources"`
	Size    int64    `json:"size"`
}

// Source is one input of a database build.
type Source struct {
	Name string `json:"name"`
	// Modified is the newest record's modification time.
	Modified time.Time `json:"modified"`
	Records  int       `json:"records"`
	SHA256   string    `json:"sha256,omitempty"`
}

// Dir is where the database lives: the directory given (--db), else
// KUBEGUARD_DB, else kubeguard/db in the user's cache directory.
func Dir(given string) string {
	if given != "" {
		return given
	}
	if d := os.Getenv("KUBEGUARD_DB"); d != "" {
		return d
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "kubeguard", "db")
}

// ErrMissing says there is no database at a directory.
var ErrMissing = errors.New("no vulnerability database (run kubeguard db update, or kubeguard db import in an air-gapped network)")

// DB is an open database. It is safe for concurrent use.
type DB struct {
	Dir  string
	Meta Meta
	f    *os.File
	keys []string
	ids  [][]uint32
	offs []uint64

	mu    sync.Mutex
	cache map[uint32]*osvpb.Vulnerability
}

// Open opens the database in dir, checking that it is whole.
func Open(dir string) (*DB, error) {
	mb, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrMissing)
	}
	if err != nil {
		return nil, err
	}
	db := &DB{Dir: dir, cache: map[uint32]*osvpb.Vulnerability{}}
	if err := json.Unmarshal(mb, &db.Meta); err != nil {
		return nil, fmt.Errorf("%s: corrupt database metadata: %w (run kubeguard db update)", filepath.Join(dir, metaFile), err)
	}
	path := filepath.Join(dir, recordsDB)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrMissing)
	}
	if err := db.load(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: corrupt database: %w (run kubeguard db update)", path, err)
	}
	db.f = f
	return db, nil
}

func (db *DB) load(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size < int64(len(magic)+footerSize) {
		return errors.New("too short")
	}
	head := make([]byte, len(magic))
	if _, err := f.ReadAt(head, 0); err != nil || string(head) != magic {
		return errors.New("not a kubeguard database")
	}
	foot := make([]byte, footerSize)
	if _, err := f.ReadAt(foot, size-int64(footerSize)); err != nil {
		return err
	}
	if string(foot[20:]) != magic {
		return errors.New("truncated (no footer)")
	}
	indexAt := int64(binary.LittleEndian.Uint64(foot[0:]))
	offsAt := int64(binary.LittleEndian.Uint64(foot[8:]))
	sum := binary.LittleEndian.Uint32(foot[16:])
	end := size - int64(footerSize)
	if indexAt < int64(len(magic)) || offsAt < indexAt || offsAt > end {
		return errors.New("bad section offsets")
	}
	tail := make([]byte, end-indexAt)
	if _, err := f.ReadAt(tail, indexAt); err != nil {
		return err
	}
	if crc32.ChecksumIEEE(tail) != sum {
		return errors.New("index checksum mismatch")
	}
	r := &reader{b: tail[:offsAt-indexAt]}
	n := r.u32()
	db.keys = make([]string, 0, n)
	db.ids = make([][]uint32, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		k := r.bytes(int(r.u32()))
		c := r.u32()
		ids := make([]uint32, c)
		for j := range ids {
			ids[j] = r.u32()
		}
		db.keys = append(db.keys, string(k))
		db.ids = append(db.ids, ids)
	}
	o := &reader{b: tail[offsAt-indexAt:]}
	m := o.u32()
	db.offs = make([]uint64, m+1)
	for i := range db.offs {
		db.offs[i] = o.u64()
	}
	if r.err != nil || o.err != nil {
		return errors.New("index truncated")
	}
	if m > 0 && (db.offs[m] > uint64(indexAt) || db.offs[0] < uint64(len(magic))) {
		return errors.New("record offsets out of range")
	}
	return nil
}

// Close releases the database file.
func (db *DB) Close() error {
	if db == nil || db.f == nil {
		return nil
	}
	return db.f.Close()
}

// Age is how long ago the database was built.
func (db *DB) Age(now time.Time) time.Duration { return now.Sub(db.Meta.Built) }

// Key is the index key of a package: the ecosystem without its release
// ("Debian:12" → "Debian") and the name as advisories write it.
func Key(ecosystem, name string) string {
	eco, _, _ := strings.Cut(ecosystem, ":")
	if eco == "PyPI" {
		name = strings.ToLower(name)
	}
	return eco + "\x00" + name
}

// Lookup returns the records that name a package in an ecosystem.
func (db *DB) Lookup(ecosystem, name string) ([]*osvpb.Vulnerability, error) {
	k := Key(ecosystem, name)
	i := sort.SearchStrings(db.keys, k)
	if i == len(db.keys) || db.keys[i] != k {
		return nil, nil
	}
	out := make([]*osvpb.Vulnerability, 0, len(db.ids[i]))
	for _, id := range db.ids[i] {
		v, err := db.record(id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// record decodes record n once per open database.
func (db *DB) record(n uint32) (*osvpb.Vulnerability, error) {
	db.mu.Lock()
	v, ok := db.cache[n]
	db.mu.Unlock()
	if ok {
		return v, nil
	}
	if int(n)+1 >= len(db.offs) {
		return nil, fmt.Errorf("%s: corrupt database: record %d out of range", db.Dir, n)
	}
	raw, err := db.raw(n)
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt database: record %d: %w (run kubeguard db update)", db.Dir, n, err)
	}
	v = &osvpb.Vulnerability{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("%s: record %d is not an OSV record: %w", db.Dir, n, err)
	}
	db.mu.Lock()
	db.cache[n] = v
	db.mu.Unlock()
	return v, nil
}

func (db *DB) raw(n uint32) ([]byte, error) {
	start, end := db.offs[n], db.offs[n+1]
	if end < start {
		return nil, errors.New("bad offsets")
	}
	buf := make([]byte, end-start)
	if _, err := db.f.ReadAt(buf, int64(start)); err != nil {
		return nil, err
	}
	return io.ReadAll(flate.NewReader(bytes.NewReader(buf)))
}

// each calls f with every record's JSON, for rebuilding.
func (db *DB) each(f func(raw []byte) error) error {
	for n := 0; n+1 < len(db.offs); n++ {
		raw, err := db.raw(uint32(n))
		if err != nil {
			return fmt.Errorf("%s: corrupt database: record %d: %w", db.Dir, n, err)
		}
		if err := f(raw); err != nil {
			return err
		}
	}
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = io.ErrUnexpectedEOF
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}
