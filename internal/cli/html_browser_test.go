package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's Chromium, which .ci/run installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed (.ci/run installs Debian's chromium package)")
	}
	t.Skip("browser test: Chromium is not installed (apt-get install chromium)")
	return ""
}

// browser is a headless Chromium page that records console errors,
// uncaught exceptions and every network request.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	errors   []string
	requests []string
}

func newBrowser(t *testing.T) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	b := &browser{}
	ctx, cancel2 := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				b.errors = append(b.errors, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, fmt.Sprintf("exception: %s at %d:%d", e.ExceptionDetails.Text, e.ExceptionDetails.LineNumber, e.ExceptionDetails.ColumnNumber))
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, e.Request.URL)
		}
	}))
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	b.ctx = ctx // chromedp enables the runtime and network domains the listener reads
	return b
}

// screenshots go where KUBEGUARD_SCREENSHOTS says (docs/images for the
// README), else into the test's temporary directory: the viewport, or
// the whole page.
func screenshot(t *testing.T, b *browser, name string, full bool) {
	t.Helper()
	dir := os.Getenv("KUBEGUARD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
}

// The HTML report in a real browser: it loads without console errors or
// any network request, its compliance numbers are the JSON report's,
// search and severity filters narrow the findings, and an opened group
// shows each finding's source lines.
func TestHTMLReportInChromium(t *testing.T) {
	dir := t.TempDir()
	page, jsonFile := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.json")
	if code, out, errs := run(t, "", "scan", "../../examples/insecure", "--framework", "CIS,NSA,PSS", "-o", "html="+page, "-o", "json="+jsonFile); code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Summary struct {
			Findings int `json:"findings"`
		} `json:"summary"`
		Frameworks []struct {
			Framework string `json:"framework"`
			Total     struct {
				Passed, Failed int
			} `json:"total"`
		} `json:"frameworks"`
		Findings []struct {
			ControlID string `json:"controlID"`
			Severity  string `json:"severity"`
		} `json:"findings"`
	}
	data, _ := os.ReadFile(jsonFile)
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	url := "file://" + page
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#groups details")))
	frameworks := eval[[][]string](t, b, `[...document.querySelectorAll("#frameworks tbody tr")].map(r => [r.dataset.framework, r.querySelector(".passed").textContent, r.querySelector(".failed").textContent])`)
	screenshot(t, b, "html-report.png", false)
	screenshot(t, b, "html-report-full.png", true)
	if open := text("#open b"); open != fmt.Sprint(rep.Summary.Findings) {
		t.Errorf("the page shows %s open findings, the JSON report %d", open, rep.Summary.Findings)
	}
	if len(frameworks) != len(rep.Frameworks) {
		t.Fatalf("the page shows %d frameworks, the JSON report %d", len(frameworks), len(rep.Frameworks))
	}
	for i, fw := range rep.Frameworks {
		want := []string{fw.Framework, fmt.Sprint(fw.Total.Passed), fmt.Sprint(fw.Total.Failed)}
		if strings.Join(frameworks[i], " ") != strings.Join(want, " ") {
			t.Errorf("compliance row %v, the JSON report says %v", frameworks[i], want)
		}
	}

	// the RBAC escalation graph of the input is drawn in the page
	nodes := eval[[]float64](t, b, `[...document.querySelectorAll("section[aria-labelledby=pictures] g.node")].map(g => g.getBBox().width)`)
	if len(nodes) == 0 || slices.Contains(nodes, 0) {
		t.Errorf("pictures: RBAC graph nodes %v", nodes)
	}

	// search narrows to one control's group, with the JSON's count
	const ctl = "PSS-PRIVILEGED"
	want := 0
	for _, f := range rep.Findings {
		if f.ControlID == ctl {
			want++
		}
	}
	do(chromedp.SendKeys(chromedp.CSS("#q"), ctl))
	keys := eval[[]string](t, b, `[...document.querySelectorAll("#groups details")].map(d => d.dataset.key)`)
	count, shown := text("#groups details summary .count"), text("#shown")
	if want == 0 || len(keys) != 1 || keys[0] != ctl || count != fmt.Sprintf("(%d)", want) {
		t.Errorf("search %q: groups %v %s (%s), want one of %d", ctl, keys, count, shown, want)
	}
	// opening the group renders its findings with their source lines
	do(chromedp.Click(chromedp.CSS("#groups details summary")), chromedp.WaitVisible(chromedp.CSS("#groups .row.finding")))
	rows := eval[int](t, b, `document.querySelectorAll("#groups .row.finding").length`)
	hits := eval[int](t, b, `document.querySelectorAll("#groups .row.finding pre.excerpt span.hit").length`)
	if rows != want || hits != want {
		t.Errorf("the opened group shows %d findings and %d source lines, want %d", rows, hits, want)
	}
	screenshot(t, b, "html-report-finding.png", true)

	// only critical: every group left is critical, as many as the JSON's
	criticals := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity == "critical" {
			criticals[f.ControlID] = true
		}
	}
	eval[bool](t, b, `document.getElementById("q").value = ""; document.querySelectorAll(".sevf").forEach(c => { if (c.value !== "critical") c.click() }); true`)
	sevs := eval[[]string](t, b, `[...document.querySelectorAll("#groups details summary .sev")].map(s => s.textContent)`)
	if len(sevs) != len(criticals) || strings.Trim(strings.Repeat("critical ", len(sevs)), " ") != strings.Join(sevs, " ") {
		t.Errorf("critical only: groups %v, want %d critical ones", sevs, len(criticals))
	}

	// with earlier reports the page draws the trend, and the drawing has
	// a size in the browser
	trendPage := filepath.Join(dir, "trend.html")
	if code, _, errs := run(t, "", "scan", "../../examples/insecure", "--history", jsonFile, "--history", jsonFile, "-o", "html="+trendPage); code != ExitFindings {
		t.Fatalf("--history: exit %d %s", code, errs)
	}
	do(chromedp.Navigate("file://"+trendPage), chromedp.WaitVisible(chromedp.CSS("#trend")))
	lines := eval[[]float64](t, b, `[...document.querySelectorAll("section[aria-labelledby=trend] polyline")].map(p => p.getBBox().width)`)
	rowsN := eval[int](t, b, `document.querySelectorAll("#trend-table tbody tr").length`)
	if len(lines) != 5 || lines[0] <= 0 || rowsN != 3 {
		t.Errorf("trend: polylines %v, %d rows (want 5 drawn, 3 reports)", lines, rowsN)
	}
	screenshot(t, b, "html-report-trend.png", false)

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("console errors: %v", b.errors)
	}
	for _, r := range b.requests {
		if r != url && r != "file://"+trendPage {
			t.Errorf("the page made a request: %s", r)
		}
	}
}

// eval runs a JavaScript expression in the page and returns its value.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// The RBAC escalation graph and the NetworkPolicy matrix, drawn by
// kubeguard as SVG, render in Chromium: every node and cell is there and
// has a size, and the page makes no request.
func TestSVGPicturesInChromium(t *testing.T) {
	dir := t.TempDir()
	rbacSVG, matrixSVG := filepath.Join(dir, "rbac.svg"), filepath.Join(dir, "matrix.svg")
	code, out, errs := run(t, "", "rbac", "risks", "../../examples/insecure", "-o", "svg")
	if code == ExitError {
		t.Fatalf("rbac risks -o svg: %s", errs)
	}
	os.WriteFile(rbacSVG, []byte(out), 0o644)
	_, dot, _ := run(t, "", "rbac", "risks", "../../examples/insecure", "-o", "dot")
	code, out, errs = run(t, "", "netpol", "matrix", "../../examples/netpol", "-o", "svg")
	if code == ExitError {
		t.Fatalf("netpol matrix -o svg: %s", errs)
	}
	os.WriteFile(matrixSVG, []byte(out), 0o644)
	_, js, _ := run(t, "", "netpol", "matrix", "../../examples/netpol", "-o", "json")
	var cells []struct{ Src, Dst, Allow string }
	if err := json.Unmarshal([]byte(js), &cells); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.Navigate("file://" + rbacSVG))
	nodes := eval[[]float64](t, b, `[...document.querySelectorAll("g.node")].map(g => g.getBBox().width)`)
	edges := eval[int](t, b, `document.querySelectorAll("g.edge path").length`)
	if want := strings.Count(dot, " -> "); len(nodes) == 0 || edges != want || slices.Contains(nodes, 0) {
		t.Errorf("rbac graph: nodes %v, %d edges (DOT has %d)", nodes, edges, want)
	}
	screenshot(t, b, "rbac-risks.png", false)
	do(chromedp.Navigate("file://" + matrixSVG))
	drawn := eval[int](t, b, `[...document.querySelectorAll("rect.cell")].filter(r => r.getBBox().width > 0).length`)
	if drawn != len(cells) || drawn == 0 {
		t.Errorf("matrix: %d cells drawn, %d in the JSON", drawn, len(cells))
	}
	screenshot(t, b, "netpol-matrix.png", false)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("console errors: %v", b.errors)
	}
	for _, r := range b.requests {
		if r != "file://"+rbacSVG && r != "file://"+matrixSVG {
			t.Errorf("a request: %s", r)
		}
	}
}

// The HTML report is readable and operable by everyone: all text meets
// WCAG AA contrast (4.5:1) against what is behind it, the findings open
// from the keyboard alone, and without JavaScript the summary,
// compliance and worst risks still read, with a note for the rest.
func TestHTMLReportAccessibleInChromium(t *testing.T) {
	page := filepath.Join(t.TempDir(), "report.html")
	if code, _, errs := run(t, "", "scan", "../../examples/insecure", "-o", "html="+page); code != ExitFindings {
		t.Fatalf("exit %d %s", code, errs)
	}
	b := newBrowser(t)
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS("#groups details")))
	// an opened group, so that its rows are judged too
	do(chromedp.Click(chromedp.CSS("#groups details summary")), chromedp.WaitVisible(chromedp.CSS("#groups .row.finding")))
	// the judge itself: grey #999 on white is 2.8:1
	probe := eval[[]string](t, b, `document.body.insertAdjacentHTML("beforeend", '<p id="probe" style="color:#999">probe</p>'); `+contrastJS)
	if len(probe) != 3 || !strings.Contains(probe[2], `"probe" 2.85`) {
		t.Fatalf("contrast of a grey probe: %q", probe)
	}
	judged := eval[[]string](t, b, `document.getElementById("probe").remove(); `+contrastJS)
	if n, _ := strconv.Atoi(judged[1]); n < 200 {
		t.Fatalf("contrast: only %d elements judged", n)
	}
	if low := judged[2:]; len(low) > 0 {
		t.Errorf("text below 4.5:1 contrast, of %s elements: %q", judged[1], low)
	}

	// from the top of the page, Tab reaches the search box and then the
	// first group; Enter opens it
	do(chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS("#groups details")))
	var path []string
	for range 40 {
		do(chromedp.KeyEvent("\t"))
		at := eval[string](t, b, `(a => a.closest("#groups") ? "group" : a.id || a.tagName.toLowerCase())(document.activeElement)`)
		path = append(path, at)
		if at == "group" {
			break
		}
	}
	if !slices.Contains(path, "q") || path[len(path)-1] != "group" {
		t.Fatalf("Tab went through %v, never the search box and then a group", path)
	}
	do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#groups details[open] .row.finding")))

	// without JavaScript
	do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS("#risks")))
	shown := eval[map[string]bool](t, b, `Object.fromEntries(["#open", "#frameworks", "#risks", ".noscript"].map(s => [s, !!document.querySelector(s) && document.querySelector(s).getBoundingClientRect().height > 0]))`)
	for sel, ok := range shown {
		if !ok {
			t.Errorf("without JavaScript %s is not shown", sel)
		}
	}
}

// contrastJS judges every element with text of its own: "judged", how
// many, then those whose colour has less than 4.5:1 contrast with the
// first opaque background behind it (WCAG 2 relative luminance); SVG
// text is judged by its fill.
const contrastJS = `(() => {
  const rgb = s => { const m = s.match(/[\d.]+/g).map(Number); return m.length > 3 ? m : [...m, 1]; };
  const lum = ([r, g, b]) => { const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
  const behind = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c[3] > 0.5) return c; } return [255, 255, 255, 1]; };
  const low = [];
  let n = 0;
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    n++;
    const style = getComputedStyle(el);
    const fg = rgb(el instanceof SVGElement ? style.fill : style.color);
    const l1 = lum(fg), l2 = lum(behind(el instanceof SVGElement ? el.ownerSVGElement || el : el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) low.push(el.tagName.toLowerCase() + "." + el.className + " " + JSON.stringify(el.textContent.trim().slice(0, 30)) + " " + ratio.toFixed(2));
  }
  return ["judged", String(n), ...low];
})()`
