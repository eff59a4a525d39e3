package report

import (
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls/secrets"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

//go:embed html.tmpl
var htmlTemplate string

var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":     func(d time.Duration) int64 { return d.Milliseconds() },
	"plural": plural,
	// a score of nothing checked is no score, as in the table
	"score": func(s SectionView) string {
		if s.Passed+s.Failed == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f%%", s.Score)
	},
}).Parse(htmlTemplate))

// htmlData is what the page shows. The summary, compliance, namespaces
// and worst risks are rendered into the page (readable without
// JavaScript); every finding travels as JSON that the page renders when
// its group is opened, so a report of the whole corpus stays usable.
type htmlData struct {
	Title, Tool, Version, Scanned string
	OnlyFailed                    bool // see Report.OnlyFailed
	Follow                        *Follow
	Summary                       Summary
	Severities                    []htmlSeverity
	Frameworks                    []FrameworkView
	Namespaces                    []htmlNamespace
	Risks                         []htmlFinding
	Diagnostics                   []object.Diagnostic
	Trend                         *htmlTrend
	Pictures                      []htmlPicture
	// Data is the findings and controls as JSON, gzipped in base64 when
	// Packed.
	Data   template.JS
	Packed bool
}

// htmlSeverity is one bar of the severity chart, in pixels.
type htmlSeverity struct {
	Name     string
	Count    int
	Y, Width int
}

type htmlPicture struct {
	Title, Caption string
	SVG            template.HTML
}

// htmlTrend is the open findings of earlier reports and this one, as
// polylines (one per severity and the total) and as a table.
type htmlTrend struct {
	Points []HistoryPoint
	Lines  []htmlLineSeries
	Labels []htmlLabel
	Height int
}

type htmlLineSeries struct{ Name, Points string }

type htmlLabel struct {
	X    int
	Text string
}

func trend(history []HistoryPoint, now Summary) *htmlTrend {
	if len(history) == 0 {
		return nil
	}
	pts := append(slices.Clone(history), HistoryPoint{Label: "this report", Findings: now.Findings, BySeverity: now.BySeverity})
	top := 1
	for _, p := range pts {
		top = max(top, p.Findings)
	}
	const w, h, left = 560, 160, 40
	x := func(i int) int { return left + i*(w-left-60)/max(1, len(pts)-1) }
	y := func(n int) int { return 10 + (h-30)*(top-n)/top }
	t := &htmlTrend{Points: pts, Height: h}
	for _, name := range []string{"total", "critical", "high", "medium", "low"} {
		var b strings.Builder
		for i, p := range pts {
			n := p.BySeverity[name]
			if name == "total" {
				n = p.Findings
			}
			fmt.Fprintf(&b, "%d,%d ", x(i), y(n))
		}
		t.Lines = append(t.Lines, htmlLineSeries{name, strings.TrimSpace(b.String())})
	}
	for i, p := range pts {
		t.Labels = append(t.Labels, htmlLabel{x(i), p.Label})
	}
	return t
}

// htmlNamespace is the highest Pod Security level a namespace's
// workloads meet.
type htmlNamespace struct {
	Name, Level         string
	Workloads, Findings int
}

// htmlFinding is one problem as the page lists it.
type htmlFinding struct {
	ID         int      `json:"id"`
	Control    string   `json:"control"`
	Also       []string `json:"also,omitempty"`
	Severity   string   `json:"severity"`
	Object     string   `json:"object"`
	Namespace  string   `json:"namespace,omitempty"`
	Where      string   `json:"where,omitempty"`
	Origin     string   `json:"origin,omitempty"`
	Path       string   `json:"path,omitempty"`
	Message    string   `json:"message"`
	Suppressed string   `json:"suppressed,omitempty"`
	State      string   `json:"state,omitempty"` // new or unchanged, against --baseline
	// File is 1 + the index of the page's file whose lines around Line
	// the finding quotes: findings on one object share most of their
	// lines, which the page then carries once.
	File        int        `json:"file,omitempty"`
	Line        int        `json:"line,omitempty"`
	Excerpt     []htmlLine `json:"-"` // the worst risks', rendered into the page
	pos         object.Position
	objectKey   string // ReachKey
	More        int    `json:"-"` // the worst risks: other open problems on the object
	Remediation string `json:"-"`
	Title       string `json:"-"`
	Reach       Reach  `json:"-"`
}

// htmlFile is the quoted lines of one source file, by number.
type htmlFile struct {
	Lines map[int]string `json:"lines"`
}

// htmlLine is a source line around a finding; Hit marks the finding's.
type htmlLine struct {
	N    int
	Text string
	Hit  bool
}

type htmlControl struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Severity    string   `json:"severity"`
	Category    string   `json:"category"`
	Rationale   string   `json:"rationale"`
	Remediation string   `json:"remediation"`
	Refs        []string `json:"refs,omitempty"`
}

// packAbove is the size of findings data beyond which the page carries
// it gzipped: smaller reports stay readable as text.
const packAbove = 1 << 20

// HTML writes r as one self-contained page: inline CSS and script, no
// request to anywhere, so it can be mailed or attached to a CI run.
func HTML(w io.Writer, r *Report) error {
	d := htmlData{Title: cmp.Or(r.Title, "kubeguard report"), Tool: r.Tool, Version: r.Version, Scanned: r.Scanned, Summary: r.Summarize(), Diagnostics: r.Diagnostics, OnlyFailed: r.OnlyFailed, Follow: r.Follow}
	if d.Scanned == "" {
		d.Scanned = plural(r.Inputs, "input")
	}
	severities := []finding.Severity{finding.Critical, finding.High, finding.Medium, finding.Low, finding.Info}
	biggest := 0
	for _, s := range severities {
		biggest = max(biggest, d.Summary.BySeverity[s.String()])
	}
	for _, s := range severities {
		n := d.Summary.BySeverity[s.String()]
		w := 0
		if biggest > 0 {
			w = max(1, 320*n/biggest)
		}
		d.Severities = append(d.Severities, htmlSeverity{s.String(), n, 22 * len(d.Severities), w})
	}
	// every framework, unless --framework chose some
	view := *r
	if len(view.Compliance) == 0 {
		view.Compliance = control.Frameworks
	}
	d.Frameworks = view.Frameworks()
	d.Namespaces = namespaceLevels(r)
	d.Trend = trend(r.History, d.Summary)
	for _, p := range r.Pictures {
		d.Pictures = append(d.Pictures, htmlPicture{p.Title, p.Caption, template.HTML(p.SVG)}) // kubeguard's own drawing, names escaped
	}

	listed := r.Listed()
	src := sources{}
	if !r.Live { // see quote
		ps := make([]object.Position, len(listed))
		for i, p := range listed {
			ps[i] = p.Position
		}
		src.prepare(ps)
	}
	var all []htmlFinding
	var files []htmlFile
	fileIndex := map[string]int{}
	controls := map[string]htmlControl{}
	for i, p := range listed {
		hf := htmlFinding{ID: i, Control: p.ControlID, Severity: p.Severity.String(), Object: p.Object.String(), Namespace: p.Object.Namespace,
			Path: p.Path, Message: p.Message, State: r.State(p), Origin: p.Origin, Also: p.ControlIDs()[1:],
			objectKey: ReachKey(p.Object, p.ObjectAt)}
		hf.Reach = r.Reach[hf.objectKey]
		if p.Position.File != "" {
			hf.Where = p.Position.String()
			if ex := src.quote(r, p.Position); len(ex) > 0 {
				fi, ok := fileIndex[p.Position.File]
				if !ok {
					fi = len(files)
					fileIndex[p.Position.File] = fi
					files = append(files, htmlFile{Lines: map[int]string{}})
				}
				for _, l := range ex {
					files[fi].Lines[l.N] = l.Text
				}
				hf.File, hf.Line, hf.pos = fi+1, p.Position.Line, p.Position
			}
		}
		if p.Suppressed != nil {
			hf.Suppressed = p.Suppressed.Reason
			if hf.Suppressed == "" {
				hf.Suppressed = "suppressed"
			}
		}
		for _, id := range p.ControlIDs() {
			if _, ok := controls[id]; ok {
				continue
			}
			if c := r.control(id); c != nil {
				controls[id] = htmlControl{ID: c.ID, Title: c.Title, Severity: c.Severity.String(), Category: c.Category,
					Rationale: c.Rationale, Remediation: c.Remediation, Refs: c.RefKeys()}
			} else {
				controls[id] = htmlControl{ID: id, Title: id}
			}
		}
		all = append(all, hf)
	}
	// the worst risks: open problems by severity, then by the object's
	// reach (the power of its ServiceAccount, its exposure), then by how
	// many objects share the control, then in report order
	shared := map[string]int{}
	for _, f := range all {
		if f.Suppressed == "" {
			shared[f.Control]++
		}
	}
	risks := slices.Clone(all)
	risks = slices.DeleteFunc(risks, func(f htmlFinding) bool { return f.Suppressed != "" })
	rank := func(s string) int { sev, _ := finding.ParseSeverity(s); return int(sev) }
	slices.SortStableFunc(risks, func(a, b htmlFinding) int {
		if d := rank(b.Severity) - rank(a.Severity); d != 0 {
			return d
		}
		if d := b.Reach.Score - a.Reach.Score; d != 0 {
			return d
		}
		return shared[b.Control] - shared[a.Control]
	})
	// ten objects, each with its worst problem: the others on it are
	// counted on its card
	cards := map[string]int{}
	worst := risks[:0]
	for _, f := range risks {
		if i, ok := cards[f.objectKey]; ok {
			worst[i].More++
			continue
		}
		if len(worst) < 10 {
			cards[f.objectKey] = len(worst)
			worst = append(worst, f)
		}
	}
	risks = worst
	for i := range risks {
		c := controls[risks[i].Control]
		risks[i].Title, risks[i].Remediation = c.Title, c.Remediation
		if risks[i].File > 0 {
			risks[i].Excerpt = src.quote(r, risks[i].pos)
		}
	}
	d.Risks = risks
	data, err := json.Marshal(struct {
		Findings []htmlFinding          `json:"findings"`
		Controls map[string]htmlControl `json:"controls"`
		Files    []htmlFile             `json:"files"`
	}{all, controls, files})
	if err != nil {
		return err
	}
	// json.Marshal escapes <, > and &: the data is safe in a script
	// element. Large data travels gzipped in base64 (nothing in it for
	// the template to escape), which the browser's DecompressionStream
	// inflates: the corpus's report is a twentieth of its JSON.
	d.Data, d.Packed = template.JS(data), false
	if len(data) > packAbove {
		var packed bytes.Buffer
		zw := gzip.NewWriter(&packed)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			return err
		}
		d.Data, d.Packed = template.JS(base64.RawURLEncoding.EncodeToString(packed.Bytes())), true
	}
	var buf bytes.Buffer
	if err := htmlPage.Execute(&buf, d); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// namespaceLevels gives each namespace with workloads the highest Pod
// Security Standards level all its workloads meet: restricted when no
// open finding of a PSS control is in it, baseline when only restricted
// ones are, else privileged.
func namespaceLevels(r *Report) []htmlNamespace {
	byNS := map[string]*htmlNamespace{}
	for _, c := range r.Checked {
		if !c.Workload {
			continue
		}
		ns := c.Ref.Namespace
		if ns == "" {
			ns = "default"
		}
		if byNS[ns] == nil {
			byNS[ns] = &htmlNamespace{Name: ns, Level: "restricted"}
		}
		byNS[ns].Workloads++
	}
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			continue
		}
		ns := f.Object.Namespace
		if ns == "" {
			ns = "default"
		}
		n := byNS[ns]
		if n == nil {
			continue
		}
		c := r.control(f.ControlID)
		if c == nil {
			continue
		}
		levels := c.RefsFor(control.PSS)
		if len(levels) > 0 {
			n.Findings++
		}
		for _, lvl := range levels {
			switch {
			case lvl == "baseline":
				n.Level = "privileged"
			case lvl == "restricted" && n.Level == "restricted":
				n.Level = "baseline"
			}
		}
	}
	out := make([]htmlNamespace, 0, len(byNS))
	for _, n := range byNS {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b htmlNamespace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// sources reads the files findings point at, once each, with every
// credential in the quoted lines redacted: the page quotes source lines,
// and a report must never quote a secret.
type sources map[string]*sourceFile

// sourceFile is a file's lines, redacted one YAML document at a time as
// they are first quoted: a credential never spans documents, and the
// large ones nothing is found in (CustomResourceDefinitions) are never
// searched.
type sourceFile struct {
	path     string
	lines    []string
	docs     []int  // the first line (0-based) of each document
	redacted []bool // per document
}

func readSource(path string) *sourceFile {
	f := &sourceFile{}
	if st, err := os.Stat(path); err != nil || st.Size() > 4<<20 {
		return f
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return f
	}
	f.lines = strings.Split(string(data), "\n")
	f.docs = []int{0}
	for i, l := range f.lines {
		if i > 0 && strings.HasPrefix(l, "---") && strings.TrimSpace(l[3:]) == "" || strings.HasPrefix(l, "--- ") {
			f.docs = append(f.docs, i)
		}
	}
	f.redacted = make([]bool, len(f.docs))
	return f
}

// redact redacts the documents holding lines lo..hi (0-based).
func (f *sourceFile) redact(lo, hi int) {
	for d, start := range f.docs {
		end := len(f.lines)
		if d+1 < len(f.docs) {
			end = f.docs[d+1]
		}
		if f.redacted[d] || end <= lo || start > hi {
			continue
		}
		copy(f.lines[start:end], secrets.RedactLines(strings.Join(f.lines[start:end], "\n")))
		f.redacted[d] = true
	}
}

// window is the lines an excerpt quotes, 1-based.
func window(p object.Position, lines int) (lo, hi int) {
	return max(1, p.Line-2), min(lines, p.Line+2)
}

// prepare reads and redacts what the excerpts of ps will quote, a file
// per core at a time: searching for credentials is most of the time the
// report of a large scan takes.
func (s sources) prepare(ps []object.Position) {
	byFile := map[string][]object.Position{}
	for _, p := range ps {
		if p.File != "" {
			byFile[p.File] = append(byFile[p.File], p)
		}
	}
	files := make(chan string)
	done := make(chan *sourceFile)
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for path := range files {
				f := readSource(path)
				for _, p := range byFile[path] {
					if p.Line >= 1 && p.Line <= len(f.lines) {
						lo, hi := window(p, len(f.lines))
						f.redact(lo-1, hi-1)
					}
				}
				f.path = path
				done <- f
			}
		}()
	}
	go func() {
		for path := range byFile {
			files <- path
		}
		close(files)
	}()
	for range byFile {
		f := <-done
		s[f.path] = f
	}
}

// quote is the excerpt of p, unless r is a live report: its positions
// come from the cluster (a PolicyReport's properties), and a file they
// name is never read.
func (s sources) quote(r *Report, p object.Position) []htmlLine {
	if r.Live {
		return nil
	}
	return s.excerpt(p)
}

// excerpt is the finding's line with two lines either side.
func (s sources) excerpt(p object.Position) []htmlLine {
	f, ok := s[p.File]
	if !ok {
		f = readSource(p.File)
		s[p.File] = f
	}
	if p.Line < 1 || p.Line > len(f.lines) {
		return nil
	}
	lo, hi := window(p, len(f.lines))
	f.redact(lo-1, hi-1)
	var out []htmlLine
	for n := lo; n <= hi; n++ {
		out = append(out, htmlLine{N: n, Text: strings.TrimRight(f.lines[n-1], "\r"), Hit: n == p.Line})
	}
	return out
}
