package vulndb

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Builder collects OSV records from archives, directories and files and
// writes a database. A record read twice (it is in several ecosystem
// archives, or in the old database and an import) is kept once, the most
// recently modified copy.
type Builder struct {
	spool   *os.File
	spoolAt int64
	byID    map[string]*entry
	sources []Source
	// Errors are the inputs (or records in them) that could not be read;
	// everything else was still taken.
	Errors []error
	now    func() time.Time
}

type entry struct {
	modified  time.Time
	withdrawn bool
	keys      []string
	at, size  int64
}

// head is the part of a record the index needs.
type head struct {
	ID        string     `json:"id"`
	Modified  time.Time  `json:"modified"`
	Withdrawn *time.Time `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

// NewBuilder starts a build; Close removes its temporary file.
func NewBuilder(tmpDir string) (*Builder, error) {
	f, err := os.CreateTemp(tmpDir, "kubeguard-db-*.spool")
	if err != nil {
		return nil, err
	}
	return &Builder{spool: f, byID: map[string]*entry{}, now: time.Now}, nil
}

// Close removes the builder's temporary file.
func (b *Builder) Close() error {
	b.spool.Close()
	return os.Remove(b.spool.Name())
}

type done struct {
	name string
	h    head
	z    []byte
	err  error
}

// add parses and compresses records on every core and spools them in
// the order they were read.
func (b *Builder) add(src *Source, produce func(emit func(name string, raw []byte)) error) error {
	out := make(chan chan done, 256)
	var perr error
	go func() {
		defer close(out)
		perr = produce(func(name string, raw []byte) {
			c := make(chan done, 1)
			out <- c
			go func() { c <- compress(name, raw) }()
		})
	}()
	w := bufio.NewWriterSize(b.spool, 1<<20)
	for c := range out {
		d := <-c
		if d.err != nil {
			b.Errors = append(b.Errors, d.err)
			continue
		}
		if _, err := w.Write(d.z); err != nil {
			return err
		}
		at := b.spoolAt
		b.spoolAt += int64(len(d.z))
		src.Records++
		if d.h.Modified.After(src.Modified) {
			src.Modified = d.h.Modified
		}
		if prev, ok := b.byID[d.h.ID]; ok && prev.modified.After(d.h.Modified) {
			continue
		}
		e := &entry{modified: d.h.Modified, withdrawn: d.h.Withdrawn != nil, at: at, size: int64(len(d.z))}
		for _, a := range d.h.Affected {
			if a.Package.Ecosystem == "" || a.Package.Name == "" {
				continue
			}
			k := Key(a.Package.Ecosystem, a.Package.Name)
			if !slices.Contains(e.keys, k) {
				e.keys = append(e.keys, k)
			}
		}
		b.byID[d.h.ID] = e
	}
	if err := w.Flush(); err != nil {
		return err
	}
	b.sources = append(b.sources, *src)
	return perr
}

// writers are reused: a deflate writer is hundreds of kilobytes of
// tables, far more than the record it compresses.
var writers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.DefaultCompression)
	return w
}}

// parallel bounds the compressions in flight to the cores.
var parallel = make(chan struct{}, runtime.GOMAXPROCS(0))

func compress(name string, raw []byte) done {
	parallel <- struct{}{}
	defer func() { <-parallel }()
	var h head
	if err := json.Unmarshal(raw, &h); err != nil {
		return done{err: fmt.Errorf("%s: not an OSV record: %w", name, err)}
	}
	if h.ID == "" || (h.Modified.IsZero() && h.Affected == nil) {
		return done{err: fmt.Errorf("%s: not an OSV record (no id, or neither modified nor affected)", name)}
	}
	var compact bytes.Buffer
	compact.Grow(len(raw))
	if err := json.Compact(&compact, raw); err != nil {
		return done{err: fmt.Errorf("%s: %w", name, err)}
	}
	var z bytes.Buffer
	z.Grow(compact.Len() / 3)
	fw := writers.Get().(*flate.Writer)
	fw.Reset(&z)
	fw.Write(compact.Bytes())
	fw.Close()
	writers.Put(fw)
	return done{name: name, h: h, z: z.Bytes()}
}

// AddPath adds a zip archive of records (an OSV ecosystem's all.zip), a
// record file (.json: one record or an array of them) or a directory
// holding either.
func (b *Builder) AddPath(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return b.addFile(path, path)
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".zip")) {
			return nil
		}
		return b.addFile(p, p)
	})
}

func (b *Builder) addFile(name, path string) error {
	if strings.HasSuffix(path, ".zip") {
		return b.AddZip(name, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	src := &Source{Name: name, SHA256: digest(raw)}
	return b.add(src, func(emit func(string, []byte)) error {
		t := bytes.TrimSpace(raw)
		if len(t) > 0 && t[0] == '[' {
			var list []json.RawMessage
			if err := json.Unmarshal(t, &list); err != nil {
				return fmt.Errorf("%s: not OSV records: %w", name, err)
			}
			for i, r := range list {
				emit(fmt.Sprintf("%s[%d]", name, i), r)
			}
			return nil
		}
		emit(name, raw)
		return nil
	})
}

// AddZip adds every .json entry of a zip archive; reading each entry
// checks its CRC, so a damaged archive is reported, not half taken.
func (b *Builder) AddZip(name, path string) error {
	sum, err := fileDigest(path)
	if err != nil {
		return err
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("%s: not a zip archive of OSV records: %w", name, err)
	}
	defer zr.Close()
	src := &Source{Name: name, SHA256: sum}
	return b.add(src, func(emit func(string, []byte)) error {
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".json") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("%s:%s: %w", name, f.Name, err)
			}
			raw, err := io.ReadAll(io.LimitReader(rc, 64<<20))
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s:%s: %w", name, f.Name, err)
			}
			emit(name+":"+f.Name, raw)
		}
		return nil
	})
}

// AddDB adds the records of an existing database (an import adds to it).
func (b *Builder) AddDB(db *DB) error {
	src := &Source{Name: db.Dir}
	err := b.add(src, func(emit func(string, []byte)) error {
		return db.each(func(raw []byte) error {
			emit(db.Dir, raw)
			return nil
		})
	})
	// the old database's own sources are still where records came from
	b.sources = append(b.sources[:len(b.sources)-1], db.Meta.Sources...)
	return err
}

// Write writes the database into dir, replacing what was there only once
// the new one is complete.
func (b *Builder) Write(dir string) (*Meta, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(b.byID))
	for id, e := range b.byID {
		if !e.withdrawn {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	tmp, err := os.CreateTemp(dir, ".records-*.db")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.WriteString(magic)
	at := uint64(len(magic))
	offs := make([]uint64, 0, len(ids)+1)
	index := map[string][]uint32{}
	meta := &Meta{Format: 1, Built: b.now().UTC(), Records: len(ids), Ecosystems: map[string]int{}, Sources: b.sources}
	buf := make([]byte, 0, 1<<16)
	for n, id := range ids {
		e := b.byID[id]
		buf = slices.Grow(buf[:0], int(e.size))[:e.size]
		if _, err := b.spool.ReadAt(buf, e.at); err != nil {
			tmp.Close()
			return nil, err
		}
		w.Write(buf)
		offs = append(offs, at)
		at += uint64(e.size)
		ecos := map[string]bool{}
		for _, k := range e.keys {
			index[k] = append(index[k], uint32(n))
			eco, _, _ := strings.Cut(k, "\x00")
			ecos[eco] = true
		}
		for eco := range ecos {
			meta.Ecosystems[eco]++
		}
	}
	offs = append(offs, at)
	keys := make([]string, 0, len(index))
	for k := range index {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var tail bytes.Buffer
	put32 := func(v uint32) { binary.Write(&tail, binary.LittleEndian, v) }
	put32(uint32(len(keys)))
	for _, k := range keys {
		put32(uint32(len(k)))
		tail.WriteString(k)
		put32(uint32(len(index[k])))
		for _, n := range index[k] {
			put32(n)
		}
	}
	offsAt := at + uint64(tail.Len())
	put32(uint32(len(ids)))
	for _, o := range offs {
		binary.Write(&tail, binary.LittleEndian, o)
	}
	w.Write(tail.Bytes())
	var foot [footerSize]byte
	binary.LittleEndian.PutUint64(foot[0:], at)
	binary.LittleEndian.PutUint64(foot[8:], offsAt)
	binary.LittleEndian.PutUint32(foot[16:], crc32.ChecksumIEEE(tail.Bytes()))
	copy(foot[20:], magic)
	w.Write(foot[:])
	if err := w.Flush(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	st, _ := tmp.Stat()
	meta.Size = st.Size()
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	mb, _ := json.MarshalIndent(meta, "", "  ")
	// records first, then the metadata that describes them: a crash in
	// between leaves a database whose counts are stale, never unreadable
	if err := os.Rename(tmp.Name(), filepath.Join(dir, recordsDB)); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, metaFile), mb); err != nil {
		return nil, err
	}
	return meta, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// errs joins the builder's errors for a caller that wants one.
func (b *Builder) Err() error { return errors.Join(b.Errors...) }
