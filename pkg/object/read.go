package object

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Input is one file (or stdin) to read, or a rendered chart or
// kustomization.
type Input struct {
	Name string
	// Explicit is true when the user named the file (rather than a
	// directory walk finding it).
	Explicit bool
	open     func() (io.ReadCloser, error)
	// path is set for files found on disk, which Split reads whole.
	path string
	// Rendered holds the documents of a rendered input, Objects the
	// objects of an input that is not YAML (a Dockerfile); Open is not used.
	Rendered []Document
	Objects  []*Object
	// Scope names the application the input belongs to: references
	// between objects resolve within a scope (see Object.Scope).
	Scope string
	// Kind is what a renderer read ("Helm chart"); "" for a file.
	Kind string
}

// Open opens the input for reading.
func (in Input) Open() (io.ReadCloser, error) { return in.open() }

// Split reads the input and calls emit for every run of its documents,
// as the function Split does; regular files on disk are read whole with
// the fewest system calls (see openInput).
func (in Input) Split(lim Limits, emit func(Batch)) []Diagnostic {
	lim = lim.withDefaults()
	var rc io.ReadCloser
	var err error
	if in.path != "" {
		var data []byte
		var f *os.File
		data, f, err = openInput(in.path, lim.MaxDocumentBytes)
		if err == nil && f == nil {
			return splitBatches(in.Name, data, emit)
		}
		if f != nil {
			rc = f
		}
	} else {
		rc, err = in.Open()
	}
	if err != nil {
		return []Diagnostic{{Pos: Position{File: in.Name}, Severity: SeverityError, Message: err.Error()}}
	}
	defer rc.Close()
	return Split(in.Name, rc, lim, emit)
}

// IsRendered reports whether the input was produced by a Renderer.
func (in Input) IsRendered() bool { return in.open == nil }

// A Renderer turns a directory or file that is not plain YAML (a Helm
// chart, a kustomization, a Dockerfile) into documents or objects.
type Renderer interface {
	// Claims reports whether path is this renderer's input.
	Claims(path string, isDir bool) bool
	// Render renders path; problems are diagnostics, never fatal.
	Render(path string) Rendered
	// Owns reports whether file, inside dir (a directory the renderer
	// claims), is part of what it renders rather than a manifest of its
	// own: a chart's files, a kustomization file.
	Owns(dir, file string) bool
}

// Rendered is what a Renderer produced.
type Rendered struct {
	// Kind names what was rendered, for people: "Helm chart".
	Kind    string
	Docs    []Document
	Objects []*Object
	Diags   []Diagnostic
	// Read lists the files the rendering read, which a directory walk
	// then does not scan again as plain YAML.
	Read []string
	// Output is the rendered text of each file, as the tool itself
	// prints it (helm template), for writing plain manifests; scans read
	// Docs and Objects.
	Output []Document
}

// StdinName is how stdin appears in positions.
const StdinName = "<stdin>"

// IsManifestFile reports whether a directory walk should read name. A
// kustomization file is never a Kubernetes object, rendered or not, and
// neither is kubeguard's own configuration (config.FileNames).
func IsManifestFile(name string) bool {
	switch filepath.Base(name) {
	case "kustomization.yaml", "kustomization.yml", ".kubeguard.yaml", ".kubeguard.yml":
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// Expand turns command-line paths into inputs. Directories are walked
// recursively for .yaml, .yml and .json files (version control
// directories are skipped); "-" is stdin. A directory or file a renderer
// claims (a chart, a kustomization) is rendered instead, and the files it
// reads are not scanned again as plain YAML. Without renderers, chart
// directories are skipped with a note. Inputs come in a stable order.
func Expand(paths []string, stdin io.Reader, renderers ...Renderer) ([]Input, []Diagnostic) {
	var out []Input
	var diags []Diagnostic
	owned := map[string]bool{}
	enclosed := map[string]bool{}
	wd, _ := os.Getwd()
	render := func(r Renderer, p string, explicit bool) {
		res := r.Render(p)
		diags = append(diags, res.Diags...)
		for _, f := range res.Read {
			owned[absPath(wd, f)] = true
		}
		out = append(out, Input{Name: p, Explicit: explicit, Rendered: res.Docs, Objects: res.Objects, Scope: p, Kind: res.Kind})
	}
	claim := func(p string, isDir bool) Renderer {
		for _, r := range renderers {
			if r.Claims(p, isDir) {
				return r
			}
		}
		return nil
	}
	var plain []Input
	for _, p := range paths {
		if p == "-" {
			plain = append(plain, Input{Name: StdinName, Explicit: true, Scope: StdinName, open: func() (io.ReadCloser, error) {
				return io.NopCloser(stdin), nil
			}})
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			diags = append(diags, Diagnostic{Pos: Position{File: p}, Severity: SeverityError, Message: cleanErr(err)})
			continue
		}
		if r := claim(p, st.IsDir()); r != nil {
			render(r, p, true)
			continue
		}
		if !st.IsDir() || len(renderers) > 0 {
			// Pre-commit hooks and changed-files jobs pass a chart's or a
			// kustomization's files one by one: render what they belong to.
			if dir, r := enclosing(p, renderers); r != nil {
				if key := absPath(wd, dir); !enclosed[key] {
					enclosed[key] = true
					diags = append(diags, Diagnostic{Pos: Position{File: p}, Severity: SeverityNote,
						Message: "part of " + dir + ", which is rendered and scanned instead"})
					render(r, dir, true)
				}
				continue
			}
		}
		if !st.IsDir() {
			// Files named one by one (a pre-commit hook's list) form an
			// application with the other files of their directory.
			in := fileInput(p, true)
			in.Scope = filepath.Dir(p)
			plain = append(plain, in)
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				diags = append(diags, Diagnostic{Pos: Position{File: path}, Severity: SeverityError, Message: cleanErr(err)})
				return nil
			}
			if d.IsDir() {
				if path != p && skipDirs[d.Name()] {
					return filepath.SkipDir
				}
				if r := claim(path, true); r != nil {
					render(r, path, false)
					if isChart(path) {
						return filepath.SkipDir // everything below belongs to the chart
					}
					return nil
				}
				if isChart(path) {
					// Templates are not YAML until rendered; reading them
					// as manifests would only produce parse errors.
					diags = append(diags, Diagnostic{Pos: Position{File: path}, Severity: SeverityNote,
						Message: "Helm chart skipped: rendering is turned off"})
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// kubectl apply -R reads linked files too (an overlay
				// linking a base file); linked directories are not
				// walked, which could loop, and say so
				st, err := os.Stat(path)
				switch {
				case err != nil:
					if IsManifestFile(path) {
						diags = append(diags, Diagnostic{Pos: Position{File: path}, Severity: SeverityWarning, Message: "broken symbolic link: " + cleanErr(err)})
					}
					return nil
				case st.IsDir():
					diags = append(diags, Diagnostic{Pos: Position{File: path}, Severity: SeverityNote, Message: "symbolic link to a directory not followed"})
					return nil
				case !st.Mode().IsRegular():
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			if r := claim(path, false); r != nil {
				render(r, path, false)
			} else if IsManifestFile(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			diags = append(diags, Diagnostic{Pos: Position{File: p}, Severity: SeverityError, Message: cleanErr(err)})
		}
		sort.Strings(files)
		for _, f := range files {
			in := fileInput(f, false)
			in.Scope = p
			plain = append(plain, in)
		}
	}
	// A file named twice (overlapping arguments: a directory and a file
	// in it) is read once.
	seen := make(map[string]bool, len(plain))
	for _, in := range plain {
		if in.path != "" {
			key := absPath(wd, in.path)
			if seen[key] {
				continue
			}
			seen[key] = true
		}
		// only files a renderer read can be owned
		if in.Explicit || len(owned) == 0 || !owned[absPath(wd, in.Name)] {
			out = append(out, in)
		}
	}
	return out, diags
}

// enclosing returns the nearest directory above path that a renderer
// claims and that owns path, with that renderer.
func enclosing(path string, renderers []Renderer) (string, Renderer) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil
	}
	rel := path
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		rel = filepath.Join(rel, "..")
		for _, r := range renderers {
			if r.Claims(dir, true) && r.Owns(dir, abs) {
				return filepath.Clean(rel), r
			}
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil || filepath.Dir(dir) == dir {
			return "", nil // the repository's root: nothing above belongs to it
		}
	}
}

// absPath is filepath.Abs against wd, the working directory looked up
// once per Expand: os.Getwd stats two directories on every call, which for
// thousands of files cost more than walking the tree.
func absPath(wd, p string) string {
	if filepath.IsAbs(p) || wd == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(wd, p)
}

// skipDirs are never walked: version control and dependency trees.
var skipDirs = map[string]bool{".git": true, ".hg": true, ".svn": true, ".github": true, "node_modules": true}

func isChart(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil && !st.IsDir()
}

func fileInput(path string, explicit bool) Input {
	return Input{Name: path, Explicit: explicit, path: path, open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

func cleanErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// Batch is a run of consecutive documents of one input, starting at line
// Line: workers take documents a batch at a time.
type Batch struct {
	File  string
	Line  int
	Scope string // the input's
	Docs  []Document
	// Objects are passed through as they are (inputs that are not YAML).
	Objects []*Object
}

// batchDocs is how many documents a batch holds at most: enough to
// amortise handing work over, few enough that the documents of one large
// file still spread over every worker.
const batchDocs = 32

// Split reads r and calls emit for every run of YAML documents in it, in
// order. Documents are separated by "---" lines (and ended by "..."
// lines), the way kubectl splits them. A UTF-8 byte order mark is dropped,
// a binary file is skipped with a note, and a document larger than the
// limit is skipped with an error without ever being held in memory whole.
func Split(name string, r io.Reader, lim Limits, emit func(Batch)) []Diagnostic {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(8000)
	if utf16BOM(head) {
		br = bufio.NewReaderSize(transform.NewReader(br, fromUTF16()), 64<<10)
		head, _ = br.Peek(8000)
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return []Diagnostic{{Pos: Position{File: name}, Severity: SeverityNote, Message: "binary file skipped"}}
	}
	var diags []Diagnostic
	var buf bytes.Buffer
	start, line := 1, 0
	oversized := false
	flush := func() {
		if oversized {
			diags = append(diags, Diagnostic{Pos: Position{File: name, Line: start, Column: 1}, Severity: SeverityError,
				Message: fmt.Sprintf("document is larger than %s; refused (--max-document-size raises the limit)", byteSize(lim.MaxDocumentBytes))})
		} else if buf.Len() > 0 {
			emit(Batch{File: name, Line: start, Docs: []Document{{File: name, Line: start, Data: bytes.Clone(buf.Bytes())}}})
		}
		buf.Reset()
		oversized = false
	}
	atLineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atLineStart {
				line++
				if line == 1 {
					chunk = bytes.TrimPrefix(chunk, []byte("\xef\xbb\xbf"))
				}
				switch {
				case isMarker(chunk, "---"):
					flush()
					start = line
				case isMarker(chunk, "..."):
					// document end: the marker itself is not content
					flush()
					start = line + 1
					chunk = nil
				}
			}
			if !oversized {
				if buf.Len()+len(chunk) > lim.MaxDocumentBytes {
					oversized = true
					buf.Reset()
				} else {
					buf.Write(chunk)
				}
			}
			atLineStart = chunk == nil || chunk[len(chunk)-1] == '\n'
			if len(chunk) == 0 {
				atLineStart = true
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err != io.EOF {
				diags = append(diags, Diagnostic{Pos: Position{File: name, Line: line}, Severity: SeverityError, Message: "read: " + err.Error()})
			}
			break
		}
	}
	flush()
	return diags
}

// splitBatches splits data in place into batches of up to batchDocs
// documents.
func splitBatches(name string, data []byte, emit func(Batch)) []Diagnostic {
	var b Batch
	flush := func() {
		if len(b.Docs) > 0 {
			emit(b)
		}
		b = Batch{}
	}
	diags := SplitBytes(name, data, func(d Document) {
		if len(b.Docs) == batchDocs {
			flush()
		}
		if len(b.Docs) == 0 {
			b.File, b.Line = name, d.Line
		}
		b.Docs = append(b.Docs, d)
	})
	flush()
	return diags
}

// utf16BOM reports whether data starts with a UTF-16 byte order mark, as
// files do that Windows PowerShell 5 writes ("kubectl get -o yaml > f"):
// they are read as UTF-8 after conversion, not skipped as binary.
func utf16BOM(data []byte) bool {
	return len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff)
}

// fromUTF16 converts text with a UTF-16 byte order mark to UTF-8 without
// one.
func fromUTF16() transform.Transformer {
	return unicode.BOMOverride(unicode.UTF8.NewDecoder())
}

// SplitBytes splits data, already in memory, into documents that share
// its backing array.
func SplitBytes(name string, data []byte, emit func(Document)) []Diagnostic {
	if utf16BOM(data) {
		u, _, err := transform.Bytes(fromUTF16(), data)
		if err != nil {
			return []Diagnostic{{Pos: Position{File: name}, Severity: SeverityError, Message: "UTF-16: " + err.Error()}}
		}
		data = u
	}
	if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
		return []Diagnostic{{Pos: Position{File: name}, Severity: SeverityNote, Message: "binary file skipped"}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	doc := func(line, start, end int) {
		if end > start {
			emit(Document{File: name, Line: line, Data: data[start:end:end]})
		}
	}
	start, startOff, line := 1, 0, 1
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		l := data[off:next]
		switch {
		case isMarker(l, "---"):
			doc(start, startOff, off)
			start, startOff = line, off
		case isMarker(l, "..."):
			doc(start, startOff, off)
			start, startOff = line+1, next
		}
		off = next
		line++
	}
	doc(start, startOff, len(data))
	return nil
}

// isMarker reports whether line is a document marker: the three characters
// at column 1 followed by the end of the line, a space or a tab.
func isMarker(line []byte, marker string) bool {
	if !bytes.HasPrefix(line, []byte(marker)) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// byteSize says n bytes in MiB when it is a whole number of them.
func byteSize(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Describe says in words what inputs are: "1 file", "3 files, 1 Helm
// chart and stdin".
func Describe(inputs []Input) string {
	var kinds []string
	count := map[string]int{}
	for _, in := range inputs {
		k := in.Kind
		switch {
		case in.Name == StdinName:
			k = "stdin"
		case k == "":
			k = "file"
		}
		if count[k] == 0 {
			kinds = append(kinds, k)
		}
		count[k]++
	}
	if len(kinds) == 0 {
		return "no input"
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		switch n := count[k]; {
		case k == "stdin":
			parts[i] = k
		case n == 1:
			parts[i] = "1 " + k
		default:
			parts[i] = fmt.Sprintf("%d %ss", n, k)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
